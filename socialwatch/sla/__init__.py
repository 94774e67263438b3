"""Response times: reminders and escalations, acknowledgements, reopening, follow-ups, incidents."""
