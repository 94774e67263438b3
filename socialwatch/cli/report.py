"""`socialwatch report`: the daily digest's figures for any period, as text, JSON or one HTML file.

Reads the database on a read-only connection (the daemon may keep running). cli.py registers
``report_command`` on the main group.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from socialwatch.cli.options import store_options
from socialwatch.config.load import ConfigError, load_config
from socialwatch.models import parse_time, utcnow
from socialwatch.ops import files


def _moment(value: str | None, zone: ZoneInfo, *, end: bool, option: str) -> datetime | None:
    """A date means local midnight (for --until: the end of that day); a time without offset is local."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(0), zone).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=zone).astimezone(UTC)
        return parse_time(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date or time; write e.g. 2026-03-01 or 2026-03-01T09:00", param_hint=option
        ) from None


@click.command("report")
@click.option("--since", default=None, help="From this date or local time (inclusive); default 7 days before --until.")
@click.option(
    "--until", default=None, help="Up to this date (inclusive: the whole day) or local time (exclusive); default now."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.option("--tz", "tz_name", default=None, help="Time zone for dates and charts (default [digest] timezone).")
@store_options
def report_command(
    since: str | None,
    until: str | None,
    fmt: str,
    output: Path | None,
    tz_name: str | None,
    config_path: str | None,
    database: Path | None,
) -> None:
    """Volume, sentiment and its trend, top categories, negative spikes, SLA compliance (share within
    target, median and p90 time to first reply), unanswered items and repeat complainers for a period.

    --format html writes one self-contained file with the charts embedded (needs socialwatch[charts]
    for the charts). The database is opened read-only.
    """
    from socialwatch.reports import render, summary
    from socialwatch.store.db import Store

    try:
        config = load_config(config_path, required=False, secrets=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        zone = ZoneInfo(tz_name or config.digest.timezone or config.daemon.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {tz_name!r}; use an IANA name such as 'Europe/Berlin'", param_hint="--tz"
        ) from None
    path = Path(database or config.daemon.database)
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; has the daemon run yet? (or pass --database)")
    now = utcnow()
    end = _moment(until, zone, end=True, option="--until") or now
    start = _moment(since, zone, end=False, option="--since") or end - timedelta(days=7)
    if start >= end:
        raise click.BadParameter(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})", param_hint="--since"
        )
    result = summary.build(Store(path, migrate=False), config, start, end, zone, now=now)
    if fmt == "json":
        rendered = render.render_json(result)
    elif fmt == "html":
        rendered = render.render_html(result)
    else:
        rendered = render.render_text(result)
    if output:
        with files.open_private(output) as out:  # 0600: the report names customers
            out.write(rendered)
        click.echo(
            f"report for {start.astimezone(zone):%Y-%m-%d %H:%M} - {end.astimezone(zone):%Y-%m-%d %H:%M} "
            f"({result.total} items) written to {output}",
            err=True,
        )
    else:
        sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
