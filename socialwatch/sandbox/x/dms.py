"""The X API's direct-message endpoints: DM events (all, with one participant, in one conversation)
and sending a DM.

Events are newest first, kept 30 days, paged by opaque tokens; a DM conversation's id is
the two participants' ids, lower first. The brand may message only someone who accepts
its DMs.
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.x.model import (
    DM_EVENT_FIELDS,
    DM_EVENT_TYPES,
    DM_EXPANSIONS,
    DM_RETENTION_DAYS,
    MEDIA_FIELDS,
    TWEET_FIELDS,
    USER_FIELDS,
    XDmEvent,
    iso,
)
from socialwatch.sandbox.x.params import check_known, csv_param, int_param, json_body, token_for, token_position
from socialwatch.sandbox.x.problems import XApiError, invalid_request, problem
from socialwatch.sandbox.x.state import XState


class XDms(XState):
    """Reading and sending direct messages."""

    def _create_dm(self, req: Request, participant_id: str) -> Response:
        body = json_body(req)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("$.text: is missing but it is required", {"text": [""]})
        if len(text) > 10_000:
            raise invalid_request("$.text: must be at most 10000 characters long", {"text": [text[:20]]})
        recipient = self.users.get(participant_id)
        if recipient is None or recipient.id == self.brand.id:
            raise invalid_request(
                f"The `participant_id` value [{participant_id}] is not a user you can message",
                {"participant_id": [participant_id]},
            )
        if not recipient.receives_your_dm:
            raise XApiError(
                Response.json(
                    problem(403, "Forbidden", "You cannot send messages to users who are not following you."),
                    status=403,
                )
            )
        now = self._now()
        event = XDmEvent(
            id=self._dm_ids.next(now), sender_id=self.brand.id, recipient_id=recipient.id, text=text, created_at=now
        )
        self.dm_events[event.id] = event
        answered = [dm for dm in self.dm_events.values() if dm.sender_id == recipient.id]
        answered.sort(key=lambda dm: int(dm.id))
        self.posted.append(
            {
                "kind": "dm",
                "id": event.id,
                "text": text,
                "recipient_id": recipient.id,
                "dm_conversation_id": event.dm_conversation_id,
                "in_reply_to": answered[-1].id if answered else None,
                "created_at": iso(now),
            }
        )
        return Response.json(
            {"data": {"dm_conversation_id": event.dm_conversation_id, "dm_event_id": event.id}}, status=201
        )

    def _dm_page(self, req: Request, events: list[XDmEvent]) -> Response:
        check_known(
            req,
            {
                "max_results",
                "pagination_token",
                "event_types",
                "dm_event.fields",
                "expansions",
                "media.fields",
                "user.fields",
                "tweet.fields",
            },
        )
        max_results = int_param(req, "max_results", 1, 100, 100)
        event_types = csv_param(req, "event_types", DM_EVENT_TYPES) or set(DM_EVENT_TYPES)
        fields = csv_param(req, "dm_event.fields", DM_EVENT_FIELDS)
        expansions = csv_param(req, "expansions", DM_EXPANSIONS)
        user_fields = csv_param(req, "user.fields", USER_FIELDS)
        csv_param(req, "tweet.fields", TWEET_FIELDS)
        csv_param(req, "media.fields", MEDIA_FIELDS)
        token_raw = req.arg("pagination_token")
        token = token_position(token_raw, "pagination_token") if token_raw else None
        horizon = self._now() - DM_RETENTION_DAYS * 86400
        selected = [
            event
            for event in sorted(events, key=lambda e: int(e.id), reverse=True)
            if event.event_type in event_types
            and event.created_at >= horizon
            and (token is None or int(event.id) < token)
        ]
        page = selected[:max_results]
        body: dict[str, Any] = {}
        if page:
            body["data"] = [event.render(fields) for event in page]
            user_ids: list[str] = []
            for event in page:
                if "sender_id" in expansions:
                    user_ids.append(event.sender_id)
                if "participant_ids" in expansions:
                    user_ids.extend([event.sender_id, event.recipient_id])
            users = [self.users[uid] for uid in dict.fromkeys(user_ids) if uid in self.users]
            if users:
                body["includes"] = {"users": [user.render(user_fields) for user in users]}
        meta: dict[str, Any] = {"result_count": len(page)}
        if len(selected) > len(page):
            meta["next_token"] = token_for(int(page[-1].id))
        body["meta"] = meta
        return Response.json(body)

    def _dm_events(self, req: Request) -> Response:
        return self._dm_page(req, list(self.dm_events.values()))

    def _dm_events_with(self, req: Request, participant_id: str) -> Response:
        return self._dm_page(
            req, [event for event in self.dm_events.values() if participant_id in (event.sender_id, event.recipient_id)]
        )

    def _dm_events_conversation(self, req: Request, dm_conversation_id: str) -> Response:
        return self._dm_page(
            req, [event for event in self.dm_events.values() if event.dm_conversation_id == dm_conversation_id]
        )
