"""Slack's Web API side: posting alerts from the outbox, updating them, routing, threads, ops notices.

All Slack calls go through slack_sdk's ``WebClient`` with a timeout. Errors are translated
at this boundary: a 429 becomes a ``DeliveryError`` with Slack's ``Retry-After``, a 5xx or a
network error a ``DeliveryError`` to retry with backoff; the outbox keeps the alert meanwhile.

Posted exactly once: every alert carries ``metadata.event_payload.item_key``. When an attempt
may have reached Slack without us learning the ``ts`` (a timeout, or a crash before the
outbox was updated), the channel's recent history is searched for that key before posting
again, so a restart or a retry never shows a manager the same alert twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from socialwatch import audit
from socialwatch.alerts import cards, corrections, customer_links
from socialwatch.alerts.outbox import Delivered, DeliveryError
from socialwatch.config.schema import Config, SlackConfig
from socialwatch.models import AccountCheck, parse_time, utcnow
from socialwatch.store import alert_outbox, customers, inbox, reply_outbox
from socialwatch.store import corrections as store_corrections
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

THREAD_WINDOW = timedelta(days=3)  # follow-ups within this time join the earlier alert's thread
HISTORY_LOOKBACK = timedelta(hours=2)  # how far back a possibly-posted alert is searched for


def make_client(slack: SlackConfig, timeout: float) -> WebClient:
    # No automatic retries inside slack_sdk: a retried chat.postMessage after a dropped connection could
    # post twice. The outbox retries instead, after checking the channel for the alert's metadata.
    # slack_sdk annotates ``timeout`` as int but hands it to urllib, which takes seconds as a float.
    return WebClient(
        token=slack.bot_token.get_secret_value(),
        base_url=slack.api_base,
        timeout=timeout,  # type: ignore[arg-type]
        retry_handlers=[],
    )


def route(slack: SlackConfig, item: Mapping[str, Any], source_channel: str | None = None) -> str:
    """The channel for an item: the source's own channel, else the first routing rule matching its
    priority, platform or account (in that order), else the default channel."""
    if source_channel:
        return source_channel
    for key in (str(item.get("priority")), str(item.get("platform")), str(item.get("account"))):
        if key in slack.routing:
            return slack.routing[key]
    return slack.channel


class SlackPoster:
    """Thin posting interface (post, update, upload) used by reminders, incidents and the digest."""

    def __init__(self, client: WebClient):
        self.client = client

    def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        with slack_errors():
            response = self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        return str(response["ts"])

    def update(self, channel: str, ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        with slack_errors():
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    def upload(
        self, channel: str, files: list[tuple[str, bytes]], *, comment: str, thread_ts: str | None = None
    ) -> None:
        uploads = [{"filename": name, "content": data, "title": name} for name, data in files]
        with slack_errors():
            self.client.files_upload_v2(
                file_uploads=uploads, channel=channel, initial_comment=comment, thread_ts=thread_ts
            )


def delivery_error(exc: Exception) -> DeliveryError:
    """What a failed Slack call means for us: slack_sdk's and the network's exceptions, translated here only."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", None)
        error = response.get("error") if hasattr(response, "get") else None
        if status == 429:
            retry = (response.headers or {}).get("Retry-After") or (response.headers or {}).get("retry-after")
            return DeliveryError(
                f"Slack rate limit (429); retry after {retry}s",
                retry_after=float(retry) if retry else 30.0,
                code=error or "ratelimited",
            )
        return DeliveryError(f"Slack refused the call: {error or status}", code=error or str(status))
    return DeliveryError(f"Slack unreachable: {type(exc).__name__}: {exc}")


@contextmanager
def slack_errors() -> Iterator[None]:
    """Every Slack call runs inside this: slack_sdk's exceptions (and a dropped connection's) leave it as a
    ``DeliveryError``, the one Slack error the rest of socialwatch knows (as httpx maps httpcore's)."""
    try:
        yield
    except (SlackApiError, SlackClientError, OSError) as exc:
        raise delivery_error(exc) from exc


class SlackChannel:
    """The alert channel for Slack (``notify.AlertChannel``): renders, routes, threads and posts."""

    def __init__(
        self,
        config: Config,
        store: Store,
        client: WebClient | None = None,
        source_channels: Mapping[str, str | None] | None = None,
        clock: Any = utcnow,
    ):
        assert config.slack is not None
        self.config = config
        self.slack = config.slack
        self.store = store
        self.client = client or make_client(config.slack, config.daemon.http_timeout)
        self.poster = SlackPoster(self.client)
        self.source_channels = dict(source_channels or {})
        self.clock = clock
        self._lock = threading.Lock()  # refreshes come from the Socket Mode thread and the reply sender
        # channel -> (oldest scanned, item key -> (ts, thread_ts)); dropped whenever a post ends uncertainly.
        self._posted: dict[str, tuple[float, dict[str, tuple[str, str | None]]]] = {}

    # --- delivery -------------------------------------------------------------------------------

    def deliver(self, alert: dict[str, Any]) -> Delivered:
        channel = route(self.slack, alert, self.source_channels.get(alert.get("source") or ""))
        brand = self.config.customers.accounts_of(alert["account"])  # a customer's other channels, same brand
        parent = alert_outbox.thread_parent(self.store, alert, self.clock() - THREAD_WINDOW, accounts=brand)
        if parent:
            channel = parent["channel"]
        key = cards.item_key(alert)
        try:
            with slack_errors():
                # A previous attempt (or a run that crashed) may have posted it without our knowing the ts.
                if alert.get("attempts", 0) > 0:
                    found = self._find_posted(channel, key, alert)
                    if found:
                        log.info("alert for %s was already in Slack (ts %s); not posting it again", key, found[0])
                        return Delivered(channel=channel, ts=found[0], thread_ts=found[1])
                message = self.message_for(alert)
                thread = parent["ts"] if parent else None  # slack_sdk leaves None arguments out of the request
                response = self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread,
                    text=cards.followup_text(alert) if parent else message["text"],
                    blocks=message["blocks"],
                    metadata=message["metadata"],
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except DeliveryError as error:
            if error.retry_after is None:  # not a clean 429: the message may have been posted after all
                self._posted.clear()
            raise
        return Delivered(channel=str(response["channel"]), ts=str(response["ts"]), thread_ts=thread)

    def _find_posted(self, channel: str, key: str, alert: Mapping[str, Any]) -> tuple[str, str | None] | None:
        """(ts, thread_ts) of a message carrying this item key, posted by us recently.

        One scan of the channel serves every lookup until a post ends uncertainly again, so a
        storm of retries costs a few history calls, not one per alert (history is tier 3)."""
        created = parse_time(alert.get("created_at")) or self.clock()
        oldest = (created - HISTORY_LOOKBACK).timestamp()
        cached = self._posted.get(channel)
        if cached is None or cached[0] > oldest:
            self._posted[channel] = cached = (oldest, self._scan(channel, oldest))
        return cached[1].get(key)

    def _scan(self, channel: str, oldest: float) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        cursor = None
        for _ in range(20):  # at most 20 pages of 200: a busy channel's last hours
            response = self.client.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", limit=200, include_all_metadata=True, cursor=cursor
            )
            for message in response.get("messages") or []:
                _index(message, found)
                if message.get("reply_count"):  # follow-ups live in threads
                    replies = self.client.conversations_replies(
                        channel=channel, ts=message["ts"], limit=200, include_all_metadata=True
                    )
                    for reply in (replies.get("messages") or [])[1:]:
                        _index(reply, found)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    # --- rendering and refresh ------------------------------------------------------------------

    def message_for(self, item: Mapping[str, Any]) -> dict[str, Any]:
        if str(item.get("author_key") or "").startswith(f"{customers.FORGOTTEN}:"):  # erased on request
            text, blocks = customer_links.redacted_message(item.get("purged_at"))
            return {"text": text, "blocks": blocks, "metadata": cards.render(item)["metadata"]}
        return cards.render(item, history=self._history(item), state=self.state_of(item))

    def state_of(self, item: Mapping[str, Any]) -> cards.AlertState:
        latest = store_corrections.latest(self.store, int(item["id"]))
        # Without an app token no click can reach us: buttons would only mislead.
        alerts_only = self.slack.alerts_only or self.slack.app_token is None
        return cards.AlertState(
            corrections=None if alerts_only else corrections.block(item, latest, self.config.triage.category_names()),
            correction_lines=corrections.lines(latest),
            reply=reply_outbox.latest_reply(self.store, int(item["id"])),
            attempts=reply_outbox.manager_attempts(self.store, int(item["id"])),
            assigned_to=item.get("assigned_to"),
            dismissed_by=item.get("dismissed_by"),
            dismissed_reason=item.get("dismissed_reason"),
            alerts_only=alerts_only,
            now=utcnow(),
        )

    def _history(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Prior contacts of the customer (every linked identity) and the last one, as known before this item."""
        contacts = customers.contacts_before(self.store, item, self.config.customers.brand_of)
        return {**contacts, "words": customer_links.history_words(item, contacts)}

    def refresh(self, item_id: int) -> bool:
        """Re-render the item's alert after a change (sent, dismissed, assigned...). Best effort: the
        database is the record; a failed update is logged and shown again on the next change."""
        where = alert_outbox.alert_message(self.store, item_id)
        item = inbox.item(self.store, item_id)
        if not where or not item:
            return False
        message = self.message_for(item)
        text = cards.followup_text(item) if where.get("thread_ts") else message["text"]
        try:
            with self._lock, slack_errors():
                self.client.chat_update(channel=where["channel"], ts=where["ts"], text=text, blocks=message["blocks"])
        except DeliveryError as exc:
            log.warning("could not update the Slack alert for item %s: %s", item_id, exc)
            return False
        return True

    # --- ops ------------------------------------------------------------------------------------

    def announce(self, event: str, details: Mapping[str, Any]) -> None:
        """Source unhealthy or silent: one line in the ops channel (the daemon calls this once per episode)."""
        channel = self.slack.ops_channel or self.slack.channel
        try:
            self.poster.post(channel, cards.ops_text(event, details))
        except DeliveryError as exc:
            log.error("could not announce %s in Slack: %s", event, exc)


def posted_anchors(config: Config, channel: str, event_type: str, *, pages: int = 50) -> list[audit.Head]:
    """The audit heads the digests anchored in ``channel`` (messages with ``event_type`` metadata), newest
    first, for ``audit verify --slack-anchors``: at most ``pages`` pages of 200 messages."""
    assert config.slack is not None
    client = make_client(config.slack, config.daemon.http_timeout)
    heads: list[audit.Head] = []
    cursor = None
    with slack_errors():
        for _ in range(pages):
            response = client.conversations_history(
                channel=channel, limit=200, include_all_metadata=True, cursor=cursor
            )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") != event_type:
                    continue
                try:
                    heads.append(audit.Head.parse(f"{int(payload['seq'])}:{payload['hash']}"))
                except (KeyError, TypeError, ValueError):
                    log.warning("ignoring an unreadable audit anchor in %s (ts %s)", channel, message.get("ts"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    return heads


def _index(message: Mapping[str, Any], found: dict[str, tuple[str, str | None]]) -> None:
    metadata = message.get("metadata") or {}
    key = (metadata.get("event_payload") or {}).get("item_key")
    if metadata.get("event_type") == cards.EVENT_TYPE and isinstance(key, str):
        thread = message.get("thread_ts")
        found.setdefault(key, (str(message["ts"]), str(thread) if thread and thread != message["ts"] else None))


def check(config: Config) -> list[AccountCheck]:
    """`socialwatch check` for Slack: the bot token (``auth.test``) and the app token (Socket Mode)."""
    if config.slack is None:
        return []
    slack = config.slack
    client = make_client(slack, config.daemon.http_timeout)
    try:
        with slack_errors():
            auth = client.auth_test()
    except DeliveryError as exc:  # refused, or unreachable: the answer the user asked for
        return [AccountCheck("slack", slack.channel, False, f"auth.test: {exc.code or exc}")]
    row = AccountCheck("slack", slack.channel, True, f"{auth.get('user')} in {auth.get('team')}", ["alerts"])
    if slack.app_token is None:
        row.missing.append("buttons: no app_token, so Socket Mode cannot receive clicks")
    else:
        app = WebClient(
            token=slack.app_token.get_secret_value(),
            base_url=slack.api_base,
            timeout=int(config.daemon.http_timeout),
            retry_handlers=[],
        )
        try:
            with slack_errors():
                app.apps_connections_open(app_token=slack.app_token.get_secret_value())
            row.capabilities.append("buttons" if not slack.alerts_only else "alerts only (configured)")
        except DeliveryError as exc:
            row.missing.append(f"buttons: apps.connections.open: {exc.code or exc}")
    return [row]
