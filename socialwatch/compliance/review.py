"""The compliance review UI: the database in Datasette, read-only, on loopback, described and with canned queries.

Needs the optional extra ``socialwatch[review]`` (datasette). The database is opened the
way Datasette opens a mutable file, ``?mode=ro``: unlike ``--immutable`` (which promises
SQLite the file never changes and so may show stale or torn pages) or ``--nolock`` (which
skips the locks that keep readers consistent while the daemon writes), it sees new rows
as they are committed. Every connection to it also gets ``PRAGMA query_only``, so even a
writable canned query or a plugin cannot change it. Table and column descriptions and the
canned queries live in ``review.yaml`` beside this module.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METADATA_FILE = Path(__file__).with_name("review.yaml")
#: The database key used in review.yaml; replaced by the real database's name at start.
METADATA_DB_KEY = "socialwatch"
CANNED_QUERIES = (
    "replies_by_approver",
    "response_times",
    "edits_vs_suggestions",
    "refused_attempts",
    "unanswered_items",
    "item_history",
    "customer_history",
    "linked_customers",
    "corrections_by_manager",
)
PLUGIN_NAME = "socialwatch_readonly"
INSTALL_HINT = "the review UI needs Datasette: pip install 'socialwatch[review]'"


class ReviewError(Exception):
    """The review UI cannot start; ``str()`` says why and what to do."""


def available() -> bool:
    try:
        import datasette  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def load_metadata(db_name: str = METADATA_DB_KEY) -> dict[str, Any]:
    """review.yaml, with its database key renamed to ``db_name`` (Datasette names a database after its file)."""
    import yaml

    metadata: dict[str, Any] = yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))
    databases = metadata.get("databases", {})
    if db_name != METADATA_DB_KEY and METADATA_DB_KEY in databases:
        databases[db_name] = databases.pop(METADATA_DB_KEY)
    return metadata


def check_loopback(host: str) -> None:
    """Compliance data stays on the machine: only loopback addresses (use an SSH tunnel from elsewhere)."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ReviewError(
            f"refusing to listen on {host}: the review UI binds loopback only (127.0.0.1 or ::1); "
            "from another machine use an SSH tunnel, e.g. ssh -L 8001:127.0.0.1:8001 HOST"
        )


def _register_plugin() -> None:
    """A Datasette plugin making every connection to a socialwatch database query-only."""
    from datasette import hookimpl
    from datasette.plugins import pm

    if pm.get_plugin(PLUGIN_NAME) is not None:
        return

    @hookimpl  # type: ignore[untyped-decorator]
    def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
        # The hook is process-wide: only touch the instances `build` made.
        if getattr(datasette, "_socialwatch_readonly", None) == database:
            conn.execute("PRAGMA query_only = 1")

    # Datasette lists plugins by module name, so the plugin is a (synthetic) module.
    plugin = types.ModuleType(PLUGIN_NAME)
    plugin.prepare_connection = prepare_connection  # type: ignore[attr-defined]
    pm.register(plugin, name=PLUGIN_NAME)


def build(database: Path) -> Any:
    """A started Datasette instance over ``database``, read-only, with the review metadata."""
    if not available():
        raise ReviewError(INSTALL_HINT)
    if not database.is_file():
        raise ReviewError(f"no database at {database}; has the daemon run yet? (or pass --database)")
    from datasette.app import Datasette

    _register_plugin()
    name = database.stem
    ds = Datasette(
        [str(database)],
        metadata=load_metadata(name),
        settings={"default_allow_sql": True, "allow_download": False, "sql_time_limit_ms": 5000},
    )
    ds._socialwatch_readonly = name  # read by _ReadOnlyPlugin
    asyncio.run(ds.invoke_startup())
    return ds


def serve(
    database: Path, *, host: str = "127.0.0.1", port: int = 8001, ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM. ``port`` 0 picks a free one; ``ready`` gets the URL once listening."""
    check_loopback(host)
    ds = build(database)
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ReviewError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
    sock.listen(128)  # before announcing the URL: early requests queue instead of being refused
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}/{database.stem}"
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on"))
    if ready is not None:
        ready(url)
    log.info("review UI on %s (read-only)", url)
    server.run(sockets=[sock])
