"""The command line: a thin shell over the library. Each command's docstring is its help."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

import click

from socialwatch import __version__
from socialwatch.cli.options import config_option, load, setup_logging
from socialwatch.config.schema import Config

log = logging.getLogger("socialwatch")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="socialwatch")
def main() -> None:
    """socialwatch: watches a brand's X and Facebook accounts so that no unhappy customer waits.

    Items are scored, triaged and stored; what needs a person goes to Slack with suggested replies.
    Configuration is read from --config, $SOCIALWATCH_CONFIG, /etc/socialwatch/socialwatch.toml or
    ./config/socialwatch.toml, in that order.
    """


# --- triage ---------------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.File("rb"), default="-")
@config_option
def triage(file: IO[bytes], config_path: str | None) -> None:
    """Score and triage JSONL from FILE (or stdin), writing one JSON line per input line.

    Each input object needs "text"; "id", "platform", "kind", "public", "lang" and
    "author": {"handle", "name", "followers"} are optional. Each output line is the input
    object plus "sentiment", "label", "lang", "category", "priority", "needs_reply",
    "reasons", "suggestions", "reply_lang" (the suggestions' language), "lang_source" (platform,
    detected, history or default), "model", "model_score" (the learned model's P(negative)) and
    "model_threshold" (its threshold in that language). A bad line becomes
    {"error": ..., "line": N} and a message on stderr; the exit status is then 1. Works without
    any config file.
    """
    from socialwatch.scoring.pipeline import Pipeline

    pipeline = Pipeline(load(config_path, required=False))
    out = sys.stdout
    bad = 0
    for number, raw in enumerate(file, 1):
        result = _triage_line(pipeline, raw, number)
        if "error" in result and "line" in result and len(result) == 2:
            bad += 1
            click.echo(f"line {number}: {result['error']}", err=True)
        out.write(json.dumps(result, ensure_ascii=False, allow_nan=False) + "\n")
        out.flush()
    if bad:
        sys.exit(1)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _triage_line(pipeline: Any, raw: bytes, number: int) -> dict[str, Any]:
    from socialwatch.sources.replay import item_from_json

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"error": f"not UTF-8: {exc.reason} at byte {exc.start}", "line": number}
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return {"error": f"invalid JSON: {exc}", "line": number}
    try:
        # X has the strictest length limit, so suggestions fit wherever they are used.
        item = item_from_json(obj, platform="x", account="cli", raw_line=text)
    except ValueError as exc:
        return {"error": str(exc), "line": number}
    assessment = pipeline.assess(item)
    s = assessment.sentiment
    return {
        **obj,
        "sentiment": {"compound": s.compound, "neg": s.neg, "neu": s.neu, "pos": s.pos},
        "label": s.label,
        "lang": s.lang,
        "category": assessment.category,
        "priority": assessment.priority,
        "needs_reply": assessment.needs_reply,
        "reasons": list(assessment.reasons),
        "suggestions": [suggestion.text for suggestion in assessment.suggestions],
        "reply_lang": assessment.suggestions[0].lang if assessment.suggestions else None,
        # Added fields: which language source decided, and the learned model's say (None without one).
        "lang_source": getattr(s, "lang_source", None),
        "model": getattr(s, "model", None),
        "model_score": getattr(s, "model_score", None),
        "model_threshold": getattr(s, "model_threshold", None),
    }


# --- the daemon -----------------------------------------------------------------------------


def _daemon(config: Config, **kwargs: Any) -> Any:
    from socialwatch.daemon import Daemon

    return Daemon(config, **kwargs)


@main.command("poll-once")
@config_option
def poll_once(config_path: str | None) -> None:
    """Poll every configured source once, store what is new, deliver due alerts, and exit."""
    config = load(config_path, required=True)
    setup_logging(config.daemon.log_level, config.daemon.log_format, config.secret_values())
    daemon = _daemon(config)
    results = daemon.poll_once()
    for source, result in zip(daemon.sources, results, strict=True):
        if result is None:
            state, detail = daemon.last_states.get(source.key, ("skipped", None))
            what = "paused" if state == "paused" else f"failed ({state}: {detail})"
            click.echo(f"{source.key}: {what}; see `socialwatch status`")
        else:
            click.echo(
                f"{source.key}: {result.new} new, {result.duplicates} already stored, "
                f"{result.alerts} alerts, {result.rejected} rejected"
            )
    if daemon.every_source_failed():
        # Exit 1: cron and monitoring see a poll that stored nothing because every source failed.
        raise click.ClickException("every source failed; nothing was polled (see `socialwatch status`)")


@main.command()
@config_option
def run(config_path: str | None) -> None:
    """Run the daemon until SIGINT or SIGTERM (what socialwatch.service starts)."""
    from socialwatch.ops.metrics import MetricsUnavailable

    config = load(config_path, required=True)
    setup_logging(config.daemon.log_level, config.daemon.log_format, config.secret_values())
    try:
        sys.exit(_daemon(config).run())
    except MetricsUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@config_option
@click.option("--offline", is_flag=True, help="Only validate the config and the database; call no API.")
def check(config_path: str | None, offline: bool) -> None:
    """Check the config, the database, and every configured account's credentials and capabilities.

    Calls X (GET /2/users/me), the Graph API (/me; for Instagram the page's linked account and the
    token's permissions) and Slack (auth.test), plus one probe per capability a token may lack (DMs,
    Messenger, Instagram's comments, tags and DMs, Socket Mode). Nothing is posted.
    The reply templates of every language are checked too (also with --offline): each missing,
    unsafe, broken or over-long template is named with its file and the fix.
    Exit status 1 when anything is wrong.
    """
    config = load(config_path, required=True)  # built-in defaults would check nothing anyone runs
    if not (config.x.accounts or config.facebook.pages or config.instagram.accounts or config.replay):
        raise click.ClickException(
            f"{config.source_path} names no source to watch: add an [[x.accounts]], [[facebook.pages]], "
            "[[instagram.accounts]] or [[replay]] block (see config/socialwatch.example.toml)"
        )
    click.echo(f"config: OK ({config.source_path})")
    click.echo(_check_database(Path(config.daemon.database)))
    model_ok = _check_model(config)
    from socialwatch.scoring.replies.check import check_templates

    templates = check_templates(config)
    if templates.ok:
        click.echo(f"templates: OK ({templates.summary()})")
    else:
        click.echo(f"templates: {len(templates.problems)} problem(s); each is left out of the suggestions until fixed")
        for problem in templates.problems:
            click.echo("  " + problem.render().replace("\n", "\n  "))
    if offline:
        if not templates.ok or not model_ok:
            sys.exit(1)
        return
    from socialwatch.ops.checks import check_all, render

    rows = check_all(config)
    click.echo(render(rows))
    if any(not row.ok for row in rows) or not templates.ok or not model_ok:
        sys.exit(1)


def _check_model(config: Config) -> bool:
    """The learned model's line of `check`: a missing, corrupt or incompatible file is an error."""
    from socialwatch.learning import model
    from socialwatch.scoring.pipeline import model_dir

    loaded = model.resolve(model_dir(config), config.sentiment.model)
    click.echo(model.describe(loaded))
    return loaded.model is not None or loaded.source == "none"


def _check_database(path: Path) -> str:
    """The database line of `check`; never creates the file (the daemon does, as its own user)."""
    from socialwatch.store.db import Store

    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise click.ClickException(
                f"database {path}: the directory {parent} does not exist; create it, or fix [daemon] database"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise click.ClickException(
                f"database {path}: the directory {parent} is not writable by this user; the daemon could not "
                "create the database there"
            )
        return f"database: not created yet ({path}); the daemon creates it at its first start"
    try:
        store = Store(path)
        store.check_writable()
    except Exception as exc:  # any failure here is the answer the user asked for
        raise click.ClickException(f"database {path} is not writable: {exc}") from None
    return f"database: OK ({path}, schema version {store.schema_version()})"


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path: str | None, as_json: bool) -> None:
    """Health of every source (last success, last error, rate limit, cursor age), outbox backlogs,
    open items and SLA breaches. Exit status 2 when a source is unhealthy or silent, or when no source
    has reported at all (a probe pointed at the wrong config or database must not stay green); 1 when
    there is no config file or no database. Needs no credentials."""
    from datetime import timedelta

    from socialwatch.models import utcnow
    from socialwatch.ops import health
    from socialwatch.store.db import Store

    config = load(config_path, required=True, secrets=False)
    if not Path(config.daemon.database).exists():
        raise click.ClickException(f"no database at {config.daemon.database}; has the daemon run yet?")
    report = health.assess(
        Store(config.daemon.database, migrate=False), utcnow(), timedelta(minutes=config.daemon.silent_after_minutes)
    )
    from socialwatch.learning import model
    from socialwatch.scoring.pipeline import model_dir

    loaded = model.resolve(model_dir(config), config.sentiment.model)
    if as_json:
        body = report.to_json()
        body["model"] = {
            "source": loaded.source,
            "sha256": loaded.sha256,
            "error": loaded.error,
            "name": loaded.model.name if loaded.model else None,
        }
        click.echo(json.dumps(body, indent=2, default=str))
    else:
        click.echo(health.render(report))
        click.echo(model.describe(loaded))
    if not report.sources:
        click.echo(
            f"no source has reported in {config.daemon.database}: is the daemon running with "
            f"{config.source_path}, and does that config name any source?",
            err=True,
        )
        sys.exit(2)
    if report.unhealthy:
        sys.exit(2)


@main.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def backup(destination: Path, config_path: str | None) -> None:
    """Copy the database to DESTINATION while the daemon runs (SQLite's online backup API),
    then check the copy's integrity. Needs no credentials."""
    from socialwatch.store.db import Store

    config = load(config_path, required=False, secrets=False)
    if destination.exists():
        raise click.ClickException(f"{destination} exists; choose a new file name")
    try:
        pages = Store(config.daemon.database, migrate=False).backup_to(destination)
    except Exception as exc:  # the answer the operator asked for
        raise click.ClickException(f"backup failed: {exc}") from None
    click.echo(f"backed up {config.daemon.database} to {destination} ({pages} pages, integrity ok)")


# --- sandbox and demo -----------------------------------------------------------------------

PORT_HELP = "Port; when the default is taken, a free one is used (a --port you give must be free; 0: any)."


def _default_port(ctx: click.Context) -> bool:
    """Whether --port was left at its default: only then may a taken port give way to a free one."""
    return ctx.get_parameter_source("port") is click.core.ParameterSource.DEFAULT


def _port_advice(exc: OSError) -> str:
    return f"{exc.strerror or exc}: stop what listens there, or choose another with --port (0 picks any free port)"


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless you say otherwise."
)
@click.option("--port", default=8900, show_default=True, type=int, help=PORT_HELP)
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a socialwatch config pointing at this sandbox.",
)
@click.pass_context
def sandbox(ctx: click.Context, host: str, port: int, write_config: Path | None) -> None:
    """Run the built-in emulators of X, Facebook and Slack on loopback, for trials and tests."""
    from socialwatch.sandbox import PortUnavailable, serve_forever

    setup_logging("INFO")
    try:
        serve_forever(host, port, write_config, fallback=_default_port(ctx))
    except PortUnavailable as exc:
        raise click.ClickException(_port_advice(exc)) from None


@main.command()
@click.option(
    "--port", default=8900, show_default=True, type=int, help="Port of the sandbox and its web view. " + PORT_HELP
)
@click.option("--duration", default=0.0, type=float, help="Stop after this many seconds (default: at Ctrl-C).")
@click.option("--rate", default=0.5, show_default=True, type=float, help="New customer messages per second.")
@click.option(
    "--auto-approve/--no-auto-approve",
    default=True,
    show_default=True,
    help="Let a demo approver click Send on every third alert, so replies show without you.",
)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSONL traffic to play instead of the bundled sample (platform, kind, text, author).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the config and database here (default: a temporary directory, removed at the end).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    port: int,
    duration: float,
    rate: float,
    auto_approve: bool,
    data: Path | None,
    workdir: Path | None,
) -> None:
    """See the whole loop with no accounts: sandboxed X, Facebook, Instagram and Slack, the real daemon, live traffic.

    Customer messages arrive on the emulated platforms, socialwatch triages them and posts alerts
    with suggested replies in the emulated Slack (open the printed URL), a click on Send posts the
    reply back on the platform, and everything lands in the audit log.
    """
    setup_logging("WARNING")
    from socialwatch import demo as demo_module
    from socialwatch.sandbox import PortUnavailable

    if not duration and not sys.stdin.isatty():
        # Nobody at a terminal to press Ctrl-C (a script, CI): play the traffic, let the last replies
        # go out, then stop on our own.
        duration = len(demo_module.traffic(data)) / max(rate, 0.1) + 30
        click.echo(f"(not at a terminal: the demo stops by itself after {duration:.0f} s)")
    try:
        demo_module.run(
            port=port,
            duration=duration,
            rate=rate,
            auto_approve=auto_approve,
            data=data,
            workdir=workdir,
            echo=lambda line: click.echo(line),
            port_fallback=_default_port(ctx),
        )
    except PortUnavailable as exc:
        raise click.ClickException(_port_advice(exc)) from None


def _register_compliance_commands() -> None:
    # Kept in their own module (audit_cli) so the compliance surface can be read on its own.
    from socialwatch.cli.audit import audit_group, review_command

    main.add_command(audit_group)
    main.add_command(review_command)


_register_compliance_commands()
from socialwatch.cli.report import report_command as _report_command  # noqa: E402  (a module of its own)

main.add_command(_report_command)
from socialwatch.cli.customers import customers_group as _customers_group  # noqa: E402  (a module of its own)

main.add_command(_customers_group)
from socialwatch.cli.corrections import corrections_group as _corrections_group  # noqa: E402  (a module of its own)

main.add_command(_corrections_group)

from socialwatch.cli.model import model_group as _model_group  # noqa: E402

main.add_command(_model_group)
