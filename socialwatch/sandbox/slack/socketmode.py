"""Slack's Socket Mode, emulated: a WebSocket server that delivers envelopes and records acks.

``apps.connections.open`` hands out single-use tickets; a client connecting to
``/link/?ticket=...`` gets Slack's ``hello`` frame, then ``interactive`` envelopes. Each
delivery is recorded with whether (and how fast) the client acked it with an
``{"envelope_id": ...}`` frame. An envelope that is not acked within ``ack_timeout`` is
delivered again, as Slack does, with ``retry_attempt`` + 1 and ``retry_reason`` "timeout"
(a fresh envelope id each attempt, so a client cannot dedupe retries by envelope id alone),
at most ``max_redeliveries`` times. Several connections may be open at once; deliveries are
spread across them round-robin, as Slack load-balances.
"""

from __future__ import annotations

import http
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.sync.server import Server, ServerConnection, serve

logger = logging.getLogger(__name__)

#: Slack refuses more than ten open Socket Mode connections per app.
MAX_CONNECTIONS = 10
#: How long a ticket from apps.connections.open may wait before being used.
TICKET_TTL = 60.0
#: Slack drops a connection some seconds after its ``disconnect`` warning.
DEFAULT_DISCONNECT_GRACE = 5.0
DEBUG_HOST = "applink-sandbox-1"
PING_INTERVAL = 0.5


@dataclass
class Attempt:
    envelope_id: str
    retry_attempt: int
    sent_at: float
    connection: int


@dataclass
class Delivery:
    """One envelope's life: every attempt to deliver it and the ack, if any."""

    id: str
    envelope_type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    created_at: float
    info: dict[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    acked_at: float | None = None
    acked_envelope_id: str | None = None
    ack_payload: Any = None
    gave_up: bool = False
    next_due: float = 0.0
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def payload_type(self) -> str:
        return str(self.payload.get("type", ""))

    def ack_latency(self) -> float | None:
        """Seconds from the acked attempt's send to its ack."""
        if self.acked_at is None:
            return None
        for attempt in self.attempts:
            if attempt.envelope_id == self.acked_envelope_id:
                return self.acked_at - attempt.sent_at
        return None

    def to_json(self, ack_timeout: float) -> dict[str, Any]:
        latency = self.ack_latency()
        return {
            "id": self.id,
            "envelope_id": self.attempts[0].envelope_id if self.attempts else self.id,
            "type": self.envelope_type,
            "payload_type": self.payload_type,
            **self.info,
            "created_at": self.created_at,
            "attempts": [
                {
                    "envelope_id": a.envelope_id,
                    "retry_attempt": a.retry_attempt,
                    "sent_at": a.sent_at,
                    "connection": a.connection,
                }
                for a in self.attempts
            ],
            "acked": self.acked_at is not None,
            "acked_at": self.acked_at,
            "acked_envelope_id": self.acked_envelope_id,
            "ack_latency": latency,
            "acked_in_time": latency is not None and latency <= ack_timeout,
            "ack_payload": self.ack_payload,
            "gave_up": self.gave_up,
        }


@dataclass
class _Conn:
    id: int
    ws: ServerConnection
    connected_at: float
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    draining: bool = False
    frames_received: int = 0

    def send(self, frame: dict[str, Any]) -> None:
        with self.send_lock:
            self.ws.send(json.dumps(frame, ensure_ascii=False))


AckCallback = Callable[[Delivery], None]


class SocketModeServer:
    """The WebSocket side of the Slack emulator. Thread-safe; start() before use."""

    def __init__(self, host: str, app_id: str, on_ack: AckCallback | None = None) -> None:
        self.host = host
        self.app_id = app_id
        self.on_ack = on_ack
        self.ack_timeout = 3.0
        self.max_redeliveries = 2
        self.disconnect_grace = DEFAULT_DISCONNECT_GRACE
        self.port = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._tickets: dict[str, float] = {}
        self._conns: dict[int, _Conn] = {}
        self._conn_ids = itertools.count(1)
        self._rr = 0
        self._deliveries: dict[str, Delivery] = {}
        self._by_envelope: dict[str, Delivery] = {}
        self._stray_acks: list[dict[str, Any]] = []
        self._closed_log: list[dict[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._server is not None:
            return
        self._stopped = False
        self._server = serve(
            self._handle_connection,
            self.host,
            0,
            process_request=self._check_ticket,
            compression=None,
            # Frequent server pings, as Slack sends them; they also wake slack_sdk's builtin
            # client, whose close() otherwise waits out a 3 s socket read.
            ping_interval=PING_INTERVAL,
            logger=logging.getLogger(__name__ + ".ws"),
            close_timeout=2,
        )
        self.port = self._server.socket.getsockname()[1]
        serve_thread = threading.Thread(target=self._server.serve_forever, name="slack-socketmode", daemon=True)
        retry_thread = threading.Thread(target=self._redeliver_loop, name="slack-socketmode-retry", daemon=True)
        self._threads = [serve_thread, retry_thread]
        for thread in self._threads:
            thread.start()
        logger.info("Socket Mode emulator listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        server, self._server = self._server, None
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if server is not None:
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def reset(self) -> None:
        """Forget deliveries and tickets; open connections stay open (clients keep running)."""
        with self._cond:
            self._deliveries.clear()
            self._by_envelope.clear()
            self._stray_acks.clear()
            self._closed_log.clear()
            self._tickets.clear()
            self.ack_timeout = 3.0
            self.max_redeliveries = 2
            self.disconnect_grace = DEFAULT_DISCONNECT_GRACE
            self._cond.notify_all()

    # -- tickets and connections -------------------------------------------------------------
    def issue_url(self, host: str | None = None) -> str:
        """A fresh ``ws://`` URL as apps.connections.open returns it (single-use ticket)."""
        if self._server is None:
            self.start()
        ticket = str(uuid.uuid4())
        now = time.time()
        with self._cond:
            self._tickets = {t: at for t, at in self._tickets.items() if now - at < TICKET_TTL}
            self._tickets[ticket] = now
        return f"ws://{host or self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    def _check_ticket(self, ws: ServerConnection, request: WsRequest) -> WsResponse | None:
        parts = urlsplit(request.path)
        ticket = (parse_qs(parts.query).get("ticket") or [""])[0]
        with self._cond:
            issued = self._tickets.pop(ticket, None)
        if parts.path.rstrip("/") != "/link" or issued is None or time.time() - issued > TICKET_TTL:
            logger.info("Socket Mode connection refused: unknown or used ticket")
            return ws.respond(http.HTTPStatus.UNAUTHORIZED, "invalid or expired ticket\n")
        return None

    def _handle_connection(self, ws: ServerConnection) -> None:
        conn = _Conn(next(self._conn_ids), ws, time.time())
        with self._cond:
            self._conns[conn.id] = conn
            count = len(self._conns)
        try:
            conn.send(
                {
                    "type": "hello",
                    "num_connections": count,
                    "debug_info": {"host": DEBUG_HOST, "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
            if count > MAX_CONNECTIONS:
                self._send_disconnect(conn, "too_many_websockets", num_connections=count)
            with self._cond:
                # Envelopes that found no connection wait for the next one, as on Slack.
                self._cond.notify_all()
            while True:
                try:
                    raw = ws.recv(timeout=0.5)
                except TimeoutError:
                    # websockets runs each connection in a non-daemon thread: give up when the
                    # program is ending without having called stop(), or it would never exit.
                    if self._stopped or not threading.main_thread().is_alive():
                        ws.close(1001)
                        return
                    continue
                conn.frames_received += 1
                self._on_frame(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._conns.pop(conn.id, None)
                self._closed_log.append(
                    {"connection": conn.id, "connected_at": conn.connected_at, "closed_at": time.time()}
                )
            logger.info("Socket Mode connection %d closed", conn.id)

    def _on_frame(self, conn: _Conn, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            logger.warning("Socket Mode connection %d sent a non-JSON frame", conn.id)
            return
        if not isinstance(frame, dict) or "envelope_id" not in frame:
            return
        envelope_id = str(frame["envelope_id"])
        now = time.time()
        with self._cond:
            delivery = self._by_envelope.get(envelope_id)
            if delivery is None:
                self._stray_acks.append({"envelope_id": envelope_id, "at": now, "connection": conn.id})
                return
            if delivery.acked_at is not None:
                return  # a second ack of a redelivered envelope changes nothing
            delivery.acked_at = now
            delivery.acked_envelope_id = envelope_id
            delivery.ack_payload = frame.get("payload")
            self._cond.notify_all()
        if self.on_ack is not None:
            try:
                self.on_ack(delivery)
            except Exception:  # the emulator must survive a bad ack payload
                logger.exception("Socket Mode ack handler failed")
        delivery.done.set()

    def connections(self) -> list[dict[str, Any]]:
        with self._cond:
            return [
                {
                    "id": c.id,
                    "connected_at": c.connected_at,
                    "draining": c.draining,
                    "frames_received": c.frames_received,
                }
                for c in self._conns.values()
            ]

    def connection_count(self) -> int:
        with self._cond:
            return sum(1 for c in self._conns.values() if not c.draining)

    def wait_for_connections(self, count: int = 1, timeout: float = 5.0) -> bool:
        deadline = time.time() + timeout
        with self._cond:
            while sum(1 for c in self._conns.values() if not c.draining) < count:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def disconnect(self, reason: str = "refresh_requested", mode: str = "frame", connection: int | None = None) -> int:
        """Ask clients to reconnect (``frame``: Slack's disconnect message, then a close after
        a grace period) or drop them at once (``close``). Returns how many were hit."""
        with self._cond:
            targets = [c for c in self._conns.values() if connection is None or c.id == connection]
        for conn in targets:
            if mode == "close":
                conn.draining = True
                conn.ws.close(code=1001, reason="sandbox disconnect")
            else:
                self._send_disconnect(conn, reason)
        return len(targets)

    def _send_disconnect(self, conn: _Conn, reason: str, **extra: Any) -> None:
        frame: dict[str, Any] = {"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}}
        if extra:
            frame.update(extra)
            frame["connection_info"] = {"app_id": self.app_id}
        conn.draining = True
        try:
            conn.send(frame)
        except ConnectionClosed:
            return
        timer = threading.Timer(self.disconnect_grace, conn.ws.close, kwargs={"code": 1001})
        timer.daemon = True
        timer.start()

    # -- deliveries ----------------------------------------------------------------------------
    def deliver(
        self,
        payload: dict[str, Any],
        *,
        envelope_type: str = "interactive",
        accepts_response_payload: bool = False,
        info: dict[str, Any] | None = None,
    ) -> Delivery | None:
        """Send an envelope to one open connection; None when no client is connected."""
        now = time.time()
        delivery = Delivery(
            str(uuid.uuid4()), envelope_type, payload, accepts_response_payload, now, info=dict(info or {})
        )
        with self._cond:
            if not any(not c.draining for c in self._conns.values()):
                return None
            # Listed before sending: a fast client may act on it before send() returns.
            delivery.next_due = now + self.ack_timeout
            self._deliveries[delivery.id] = delivery
        if not self._send_attempt(delivery, 0, "", envelope_id=delivery.id):
            with self._cond:
                self._deliveries.pop(delivery.id, None)
            return None
        with self._cond:
            self._cond.notify_all()
        return delivery

    def _pick(self) -> _Conn | None:
        with self._cond:
            live = sorted((c for c in self._conns.values() if not c.draining), key=lambda c: c.id)
            if not live:
                return None
            self._rr += 1
            return live[self._rr % len(live)]

    def _send_attempt(
        self, delivery: Delivery, retry_attempt: int, retry_reason: str, envelope_id: str | None = None
    ) -> bool:
        for _ in range(MAX_CONNECTIONS + 1):
            conn = self._pick()
            if conn is None:
                return False
            eid = envelope_id or str(uuid.uuid4())
            frame = {
                "envelope_id": eid,
                "payload": delivery.payload,
                "type": delivery.envelope_type,
                "accepts_response_payload": delivery.accepts_response_payload,
                "retry_attempt": retry_attempt,
                "retry_reason": retry_reason,
            }
            sent_at = time.time()
            with self._cond:
                # Registered before sending: a fast client may ack before send() returns.
                self._by_envelope[eid] = delivery
                delivery.attempts.append(Attempt(eid, retry_attempt, sent_at, conn.id))
                delivery.next_due = sent_at + self.ack_timeout
            try:
                conn.send(frame)
                return True
            except ConnectionClosed:
                with self._cond:
                    delivery.attempts.pop()
                    self._by_envelope.pop(eid, None)
                    conn.draining = True
        return False

    def _redeliver_loop(self) -> None:
        while True:
            due: list[Delivery] = []
            with self._cond:
                if self._stopped:
                    return
                now = time.time()
                wait = 1.0
                for delivery in self._deliveries.values():
                    if delivery.acked_at is not None or delivery.gave_up:
                        continue
                    if delivery.next_due <= now:
                        due.append(delivery)
                    else:
                        wait = min(wait, delivery.next_due - now)
                if not due:
                    self._cond.wait(max(wait, 0.01))
                    continue
            for delivery in due:
                self._redeliver(delivery)

    def _redeliver(self, delivery: Delivery) -> None:
        with self._cond:
            if delivery.acked_at is not None:
                return
            retries = len(delivery.attempts) - 1
            if retries >= self.max_redeliveries:
                delivery.gave_up = True
                logger.info("Socket Mode envelope %s never acked; giving up", delivery.id)
                done = True
            else:
                done = False
        if done:
            delivery.done.set()
            return
        if not self._send_attempt(delivery, retries + 1, "timeout"):
            with self._cond:
                # No client connected: keep it until one comes back.
                delivery.next_due = time.time() + 0.2

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [d.to_json(self.ack_timeout) for d in self._deliveries.values()]

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self._cond:
            return self._deliveries.get(delivery_id) or self._by_envelope.get(delivery_id)

    def stray_acks(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._stray_acks)
