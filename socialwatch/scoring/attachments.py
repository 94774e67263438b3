"""Items with nothing to read: an image, a sticker, a file or a link sent without a word.

No sentiment model can read a photo of a broken parcel, so such an item is never "neutral text": it is
``unscored``, goes to a person at normal priority with the reason in words ("sent an image
(image/jpeg) and no text: someone needs to look at it"), and gets no suggested reply, since nobody
knows yet what it says (Edit & send stays).
"""

from __future__ import annotations

from socialwatch.config.response_times import SlaConfig
from socialwatch.models import PUBLIC_KINDS, Item, Sentiment, describe_attachments
from socialwatch.scoring.hours import due_at
from socialwatch.scoring.triage import Triage

#: The sentiment of an item with no text: nothing was scored.
NOTHING_TO_READ = Sentiment(compound=0.0, neg=0.0, neu=0.0, pos=0.0, label="unscored", lang="und")
PRIORITY = "normal"


def triage_attachment_only(item: Item, sla: SlaConfig) -> Triage:
    """An attachment-only item needs a look: a person decides what it says and whether to answer."""
    where = f"public {item.kind.value}" if item.public and item.kind in PUBLIC_KINDS else "private message"
    reason = f"{describe_attachments(item.attachments)} and no text in a {where}: someone needs to look at it"
    due = due_at(item.created_at, PRIORITY, item.platform, item.kind.value, sla)
    return Triage("other", PRIORITY, True, (reason,), due)
