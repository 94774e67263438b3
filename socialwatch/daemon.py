"""The daemon: one scheduled job per source, an alert dispatcher, signals, health.

A job never kills the scheduler: every outcome of a poll (new items, a rate limit,
an expired token, a bug) is caught here, recorded in the ``sources`` table for
``socialwatch status``, and the next run goes on. A rate-limited source is paused
until its reset without holding a worker thread.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from socialwatch.alerts import buttons, corrections, customer_links, private_reply, reveal
from socialwatch.alerts.actions import Actions
from socialwatch.alerts.console import ConsoleChannel
from socialwatch.alerts.outbox import AlertChannel, dispatch_alerts
from socialwatch.compliance import forget, retention
from socialwatch.config.schema import Config
from socialwatch.ingest import PollResult, poll
from socialwatch.ops import clock as steady
from socialwatch.ops import health, metrics
from socialwatch.ops.systemd import Heartbeat, Notifier, Watchdog
from socialwatch.ops.wakeable import Wakeable
from socialwatch.reports import daily
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sla import customer, incidents, jobs
from socialwatch.sources.base import AuthError, CapabilityLost, PlatformError, RateLimited, Source, SourceError
from socialwatch.store import alert_outbox, audit_log, streams
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

DISPATCH_INTERVAL = 2.0  # seconds; alerts should reach Slack well within a second of being stored
HEARTBEAT_INTERVAL = 5.0
SLA_INTERVAL = 30.0  # reminders are due at minute granularity; 30 s keeps them within a minute
REPLY_INTERVAL = 2.0  # approved replies also go out at once: a click wakes the sender
SOCKET_RETRY = 30.0
DISABLED_RECHECK = timedelta(hours=1)
FAILED_RECHECK = timedelta(hours=1)  # a non-retryable error (Graph's is_transient false, a 400)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def build_sources(config: Config) -> list[Source]:
    """Every stream the config asks for, as adapters."""
    from socialwatch.sources.replay import ReplaySource

    sources: list[Source] = [ReplaySource(r.name, r.path, r.slack_channel) for r in config.replay]
    if config.x.accounts:
        from socialwatch.sources import x as x_source

        sources.extend(x_source.build(config))
    if config.facebook.pages:
        from socialwatch.sources import facebook as fb_source

        sources.extend(fb_source.build(config))
    if config.instagram.accounts:
        from socialwatch.sources import instagram as ig_source

        sources.extend(ig_source.build(config))
    return sources


def poll_interval(config: Config, source: Source) -> float:
    for group in (config.replay, config.x.accounts, config.facebook.pages, config.instagram.accounts):
        for entry in group:
            interval = getattr(entry, "poll_interval", None)
            if entry.name == source.account and interval:
                return float(interval)
    return config.daemon.poll_interval


def click_table() -> Actions:
    """Every button socialwatch posts, each registered by the feature that owns it."""
    actions = Actions()
    buttons.register(actions)
    corrections.register(actions)
    private_reply.register(actions)
    reveal.register(actions)
    customer.register(actions)
    customer_links.register(actions)
    return actions


@dataclass
class Daemon:
    config: Config
    sources: Sequence[Source] | None = None
    channel: AlertChannel | None = None
    # Steady time (ops/clock.py): a stepped wall clock is followed gradually, so jobs keep running and
    # response times are judged without a burst of false breaches.
    clock: Callable[[], datetime] = field(default_factory=lambda: steady.STEADY)
    on_event: Callable[[str, dict[str, Any]], None] | None = None  # "ready", "stopping", "heartbeat", "unhealthy"
    notifier: Notifier | None = None  # systemd sd_notify; from $NOTIFY_SOCKET when not given
    repliers: Mapping[tuple[str, str], Any] | None = None  # (platform, account) -> Replier; from config when None
    scheduler_clock: steady.SteadyClock | None = None  # what APScheduler runs on; the process's steady clock
    store: Store = field(init=False)
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.config.daemon.database)
        self.pipeline = Pipeline(self.config)
        if self.sources is None:
            self.sources = build_sources(self.config)
        self.slack_channel: Any = None
        self.interactions: Any = None
        if self.channel is None:
            if self.config.slack is not None:
                from socialwatch.alerts.slack import SlackChannel

                self.slack_channel = SlackChannel(
                    self.config,
                    self.store,
                    clock=self.clock,
                    source_channels={s.key: s.slack_channel for s in self.sources},
                )
                self.channel = self.slack_channel
            else:
                self.channel = ConsoleChannel()
        from socialwatch.replies import ReplySender, build_repliers

        if self.repliers is None:
            self.repliers = build_repliers(self.config)
        self.sender = ReplySender(self.store, self.repliers, on_change=self._reply_changed, clock=self.clock)
        self._reconciled = False
        self._paused_until: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        self.last_heartbeat: datetime | None = None
        if self.notifier is None:
            self.notifier = Notifier.from_environment()
        self.beats = Heartbeat()
        self._watchdog: Watchdog | None = None
        self._silent: set[str] = set()
        self._wakeable: dict[str, Wakeable] = {}
        self.last_states: dict[str, tuple[str, str | None]] = {}  # source -> (state, detail) of its latest poll

    # --- job bodies -------------------------------------------------------------------------

    def poll_source(self, source: Source) -> PollResult | None:
        """One poll, every outcome recorded; never raises."""
        now = self.clock()
        paused = self._paused_until.get(source.key)
        if paused and paused > now:
            self.last_states[source.key] = ("paused", f"until {paused.isoformat()}")
            return None
        state, detail, paused_until = "ok", None, None
        result: PollResult | None = None
        try:
            result = poll(
                source, self.store, self.pipeline, backfill=timedelta(hours=self.config.daemon.backfill_hours), now=now
            )
        except RateLimited as exc:
            state, detail, paused_until = "rate_limited", str(exc), exc.reset_at
            log.warning("%s: rate limited until %s", source.key, exc.reset_at.isoformat())
        except AuthError as exc:
            state, detail = "unhealthy", f"credentials rejected: {exc}"
            log.error("%s: %s", source.key, detail)
        except CapabilityLost as exc:
            state, detail = "disabled", str(exc)
            log.error("%s: disabled: %s", source.key, exc)
        except PlatformError as exc:
            if exc.retryable:
                state, detail = "error", str(exc)
                log.warning("%s: poll failed, will retry: %s", source.key, exc)
            else:  # the platform says the same call will fail again: ask again rarely, tell ops once
                state, detail = "failed", f"{exc} (asked again in {_hours(FAILED_RECHECK)})"
                log.error("%s: %s", source.key, detail)
        except SourceError as exc:
            state, detail = "error", str(exc)
            log.warning("%s: poll failed, will retry: %s", source.key, exc)
        except Exception as exc:  # a bug in an adapter must not stop the other sources
            state, detail = "error", f"{type(exc).__name__}: {exc}"
            log.exception("%s: unexpected error while polling", source.key)
        rate = result.rate_limit if result else None
        if state == "ok" and rate and rate.reset_at and rate.remaining is not None and rate.limit:
            # Near the budget: wait for the reset rather than run into a 429.
            if rate.remaining <= max(1, rate.limit // 20):
                paused_until = rate.reset_at
                log.info(
                    "%s: %d of %d requests left; pausing until %s",
                    source.key,
                    rate.remaining,
                    rate.limit,
                    rate.reset_at.isoformat(),
                )
        elif state == "failed":
            paused_until = now + FAILED_RECHECK
        elif state == "disabled":
            paused_until = now + DISABLED_RECHECK  # re-check rarely: the API tier will not change by itself
        self.last_states[source.key] = (state, detail)
        if paused_until:
            self._paused_until[source.key] = paused_until
        else:
            self._paused_until.pop(source.key, None)
        if state == "ok":
            metrics.source_success(source.key, now.timestamp())
            if result is not None and result.new:
                metrics.items(source.key, source.stream, result.new)
            if result is not None and result.alerts:
                self._wake("dispatch")  # alerts go out now, not at the dispatcher's next tick
        else:
            metrics.error(source.key, state)
        if rate and rate.remaining is not None:
            metrics.rate_limit_remaining(source.key, source.stream, rate.remaining)
        turned_bad = streams.record_poll(
            self.store,
            source.key,
            source.platform,
            source.account,
            ok=state == "ok",
            state=state,
            detail=detail,
            rate_limit_remaining=rate.remaining if rate else None,
            rate_limit_reset_at=rate.reset_at if rate else None,
            paused_until=paused_until,
            now=now,
        )
        if turned_bad:
            log.error("%s is %s: %s", source.key, state, detail)
            audit_log.append_audit(
                self.store,
                "source.unhealthy",
                details={"source": source.key, "state": state, "detail": detail},
                now=now,
            )
            self._event("unhealthy", {"source": source.key, "state": state, "detail": detail})
        return result

    def dispatch(self) -> int:
        """Group bursts into incidents, redact forgotten customers, note reopened conversations, then deliver
        what is due."""
        now = self.clock()
        poster = self.slack_channel.poster if self.slack_channel is not None else None
        if poster is not None and self.config.incidents.enabled:
            try:
                incidents.group(self.store, self.config, poster, now)
            except Exception:
                log.exception("incident grouping failed; alerts go out one by one meanwhile")
        if poster is not None:
            try:  # forgotten customers' messages that Slack refused to redact before
                forget.redact_in_slack(self.store, self.config, poster, now)
            except Exception:
                log.exception("could not redact forgotten customers' Slack messages; will retry")
        try:
            due = alert_outbox.due_alerts(self.store, now)
            if poster is not None:
                self._note_reopened(poster, due, now)
            assert self.channel is not None
            return dispatch_alerts(self.store, self.channel, now=now, due=due)
        except Exception:
            log.exception("alert dispatch failed; will retry")
            return 0

    def _note_reopened(self, poster: Any, due: list[dict[str, Any]], now: datetime) -> None:
        """A customer answering our reply reopens the earlier alert: said once in its thread, audited.
        Only alerts on their first attempt are looked at, so a retried delivery does not say it twice."""
        try:
            fresh = [a for a in due if a["attempts"] == 0]
            for reopen in customer.reopen_candidates(self.store, fresh, self.config).values():
                # An alert stays fresh while the ones before it fail to go out: note its reopen only once.
                if customer.record_reopen(self.store, reopen, now):
                    poster.post(reopen.channel, customer.reopen_text(reopen), thread_ts=reopen.thread_ts)
        except Exception:
            log.exception("could not check for reopened conversations")

    def sla_tick(self) -> None:
        """Reminders at 80 %, escalation at breach, acknowledgements, follow-up suggestions."""
        poster = self.slack_channel.poster if self.slack_channel is not None else None
        try:
            jobs.tick(self.store, self.config, poster, self.clock())
        except Exception:
            log.exception("SLA timers failed; will retry")

    def post_digest(self) -> None:
        if self.slack_channel is None:
            return
        try:
            daily.post_daily(self.store, self.config, self.slack_channel.poster, self.clock())
        except Exception:
            log.exception("the daily digest could not be posted; the next run retries")

    def send_replies(self) -> int:
        """Approved replies out to the platforms. The first run after start reconciles replies a crash
        left in flight (looking at the platform) before anything is sent."""
        try:
            if not self._reconciled:
                self.sender.reconcile()
                self._reconciled = True
            return self.sender.send_due()
        except Exception:
            log.exception("reply sending failed; will retry")
            return 0

    def wake_sender(self) -> None:
        """A reply was approved: send it now rather than at the next tick."""
        self._wake("replies")

    def _wake(self, job_id: str) -> None:
        job = self._wakeable.get(job_id)
        if job is not None and not job.wake():
            return  # already running (it goes again when done) or about to start
        if self._scheduler is not None and self._scheduler.running:
            try:
                self._scheduler.modify_job(job_id, next_run_time=(self.scheduler_clock or steady.STEADY)())
            except Exception:  # the job may be running right now; its next tick picks the work up anyway
                log.debug("could not wake job %s", job_id, exc_info=True)

    def _reply_changed(self, reply: dict[str, Any]) -> None:
        metrics.reply(str(reply.get("platform")), str(reply.get("status")))
        if self.slack_channel is not None:
            self.slack_channel.refresh(int(reply["item_id"]))

    def _event(self, event: str, details: dict[str, Any]) -> None:
        if event == "unhealthy" and self.slack_channel is not None:
            self.slack_channel.announce(event, details)
        if self.on_event:
            self.on_event(event, details)

    def heartbeat(self) -> None:
        """Runs as a scheduled job: it only beats while the scheduler really runs jobs (the watchdog's test)."""
        self.last_heartbeat = self.clock()
        self.beats.beat()
        self._note_clock_jumps()
        try:
            depths = alert_outbox.outbox_depths(self.store)
            bad = sum(1 for s in streams.sources(self.store) if not s["healthy"])
        except Exception:
            log.exception("heartbeat could not read the database")
            return
        for name, depth in depths.items():
            metrics.outbox_depth(name, depth)
        self._announce_silent()
        assert self.sources is not None and self.notifier is not None
        self.notifier.status(
            f"{len(self.sources)} sources, {bad} unhealthy; outbox: {depths['alerts']} alerts, "
            f"{depths['replies']} replies"
        )
        if self.on_event:
            self.on_event("heartbeat", {})

    def model_state(self) -> dict[str, Any]:
        """Which learned model triage runs on (for the audit, status and the ops channel)."""
        loaded = self.pipeline.loaded
        assert loaded is not None
        return {
            "source": loaded.source,
            "path": str(loaded.path) if loaded.path else None,
            "sha256": loaded.sha256,
            "name": loaded.model.name if loaded.model else None,
            "error": loaded.error,
        }

    def _announce_model(self) -> None:
        """A model that could not be loaded is said once, at start: triage goes on with VADER and the rules,
        so items are still flagged, but not as well, and a person should know why."""
        loaded = self.pipeline.loaded
        assert loaded is not None
        if loaded.model is not None or loaded.source == "none":
            return
        detail = f"{loaded.error}. Triage runs on VADER and the rules only until this is fixed."
        log.error("triage model unavailable: %s", detail)
        self._event("unhealthy", {"source": "triage model", "state": "unavailable", "detail": detail})

    def _note_clock_jumps(self) -> None:
        """A wall-clock jump is on the record, and the scheduler re-plans its next wake-up at once."""
        clocks = {id(c): c for c in (self.scheduler_clock or steady.STEADY, self.clock)}
        for clock in clocks.values():
            if not isinstance(clock, steady.SteadyClock):
                continue
            for jump in clock.jumps():
                log.error(
                    "the wall clock jumped %+.0f s at %s; jobs and response times follow steady time",
                    jump.seconds,
                    jump.at.isoformat(),
                )
                try:
                    audit_log.append_audit(
                        self.store,
                        "clock.jumped",
                        details={"seconds": round(jump.seconds, 3), "offset": round(clock.offset, 3)},
                        now=jump.at,
                    )
                except Exception:
                    log.exception("could not record the clock jump in the audit log")
                if self._scheduler is not None and self._scheduler.running:
                    self._scheduler.wakeup()

    def _announce_silent(self) -> None:
        """A source that stopped succeeding without raising anything is announced once, until it recovers."""
        report = health.assess(self.store, self.clock(), timedelta(minutes=self.config.daemon.silent_after_minutes))
        for source in report.sources:
            if source.silent and source.state == "silent" and source.source not in self._silent:
                self._silent.add(source.source)
                detail = f"no successful poll since {source.last_success_at or 'start'}"
                log.error("%s is silent: %s", source.source, detail)
                self._event("unhealthy", {"source": source.source, "state": "silent", "detail": detail})
            elif not source.silent:
                self._silent.discard(source.source)

    # --- modes ------------------------------------------------------------------------------

    def every_source_failed(self) -> bool:
        """After ``poll_once``: no source succeeded and at least one failed (paused ones are not failures)."""
        states = [state for state, _ in self.last_states.values()]
        return bool(states) and "ok" not in states and any(state != "paused" for state in states)

    def poll_once(self) -> list[PollResult | None]:
        assert self.sources is not None
        results = [self.poll_source(source) for source in self.sources]
        self.dispatch()
        self.send_replies()
        return results

    def start(self) -> BackgroundScheduler:
        assert self.sources is not None
        audit_log.append_audit(
            self.store,
            "daemon.start",
            details={
                "config_sha256": self.config.fingerprint(),
                "sources": [s.key for s in self.sources],
                "model": self.model_state(),
            },
        )
        self._announce_model()
        # APScheduler runs on steady time (not self.clock, which tests may freeze): a stepped wall clock cannot
        # push every next run an hour away, nor make every job "missed".
        when = self.scheduler_clock or steady.STEADY
        steady.run_apscheduler_on(when)
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.config.daemon.max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone="UTC",
        )
        for source in self.sources:
            interval = poll_interval(self.config, source)
            scheduler.add_job(
                self.poll_source,
                "interval",
                args=[source],
                id=f"poll:{source.key}",
                seconds=interval,
                jitter=self.config.daemon.jitter or None,
                # Start soon, staggered, so sources don't all hit the network in the same second.
                next_run_time=when() + timedelta(seconds=random.uniform(0, min(interval, 2.0))),
            )
        for job_id, run, every in (
            ("dispatch", self.dispatch, DISPATCH_INTERVAL),
            ("replies", self.send_replies, REPLY_INTERVAL),
        ):
            self._wakeable[job_id] = Wakeable(run)
            # Two instances: a tick during a long run returns at once and makes the running one go again.
            scheduler.add_job(
                self._wakeable[job_id],
                "interval",
                id=job_id,
                seconds=every,
                next_run_time=when(),
                max_instances=2,
            )
        scheduler.add_job(self.heartbeat, "interval", id="heartbeat", seconds=HEARTBEAT_INTERVAL, next_run_time=when())
        scheduler.add_job(
            self.sla_tick, "interval", id="sla", seconds=SLA_INTERVAL, next_run_time=when() + timedelta(seconds=5)
        )
        if self.config.digest.enabled and self.slack_channel is not None:
            scheduler.add_job(self.post_digest, daily.trigger(self.config), id="digest")
            # A slot missed while the daemon was down is caught up once (post_daily knows what went out).
            scheduler.add_job(self.post_digest, "date", id="digest-catch-up", run_date=when() + timedelta(seconds=30))
        # Retention purges run daily, first a minute after start so a restart loop cannot skip them.
        scheduler.add_job(
            retention.daily_job,
            "interval",
            args=[self.store, self.config.retention, self.clock],
            id="compliance",
            hours=24,
            next_run_time=when() + timedelta(minutes=1),
        )
        scheduler.start()
        self._scheduler = scheduler
        self._connect_interactions()
        log.info("socialwatch running: %d sources, database %s", len(self.sources), self.config.daemon.database)
        assert self.notifier is not None
        self.notifier.ready(status=f"polling {len(self.sources)} sources")
        self._watchdog = Watchdog(self.notifier, lambda: scheduler.running and self.beats.fresh(3 * HEARTBEAT_INTERVAL))
        self._watchdog.start()
        if self.on_event:
            self.on_event("ready", {"sources": len(self.sources)})
        return scheduler

    def _connect_interactions(self) -> None:
        """Socket Mode for clicks, when an app token is configured; retried by a job until it connects."""
        slack = self.config.slack
        if slack is not None and slack.app_token is None and self.interactions is None:
            log.warning("[slack] has no app_token: alerts are posted without Send buttons (no Socket Mode)")
        if slack is None or slack.app_token is None or self.slack_channel is None or self.interactions is not None:
            return
        from socialwatch.alerts.interactions import Interactions

        interactions = Interactions(
            self.config, self.store, self.slack_channel, click_table(), on_queued=self.wake_sender
        )
        try:
            interactions.start()
        except Exception as exc:
            log.error(
                "Slack Socket Mode did not connect (%s); clicks wait until it does, retrying in %ds",
                exc,
                int(SOCKET_RETRY),
            )
            if self._scheduler is not None and not self._scheduler.get_job("socket"):
                self._scheduler.add_job(self._connect_interactions, "interval", id="socket", seconds=SOCKET_RETRY)
            return
        self.interactions = interactions
        if self._scheduler is not None and self._scheduler.get_job("socket"):
            self._scheduler.remove_job("socket")

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        """Stop taking clicks, then let running jobs finish; what was decided is already in the outboxes."""
        if self.interactions is not None:
            self.interactions.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)

    def run(self, *, install_signals: bool = True) -> int:
        """Run until SIGINT/SIGTERM; in-flight polls finish (every I/O is time-bounded) before exit."""
        if install_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: self._stop.set())
            # Python's default for SIGHUP kills the process without a clean stop.
            signal.signal(
                signal.SIGHUP,
                lambda *_: log.warning(
                    "SIGHUP: configuration is read at start only; restart the service to apply changes"
                ),
            )
        if self.config.daemon.metrics_port:
            metrics.start(self.config.daemon.metrics_port)
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            assert self.notifier is not None
            if self._watchdog is not None:
                self._watchdog.stop()  # first, so no WATCHDOG=1 can follow STOPPING=1
            self.notifier.stopping(status="stopping: finishing running polls")
            if self.on_event:
                self.on_event("stopping", {})
            log.info("stopping: waiting for running jobs to finish")
            self.shutdown()
            self.dispatch()  # flush alerts that are already due
            metrics.stop()
            self.store.close()  # the last connection to close checkpoints the WAL into the database
            log.info("stopped")
        return 0
