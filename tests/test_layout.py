"""The house's plan, checked from the imports: which folder may reach which library and which other folder.

Every import counts, also those inside functions (a lazy import is still a dependency). "Reaches" is
transitive over the product's own modules, so a pure module cannot get at sqlite through a helper.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "socialwatch"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module name ``module`` imports (absolute), product and third-party alike."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from socialwatch.store import inbox`` imports the module socialwatch.store.inbox (its package
            # only as every submodule import does); ``from socialwatch.models import Item`` imports models.
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return frozenset(found)


def product_imports(module: str) -> set[str]:
    return {name for name in imports_of(module) if name in MODULES and name != module}


@cache
def reaches(module: str) -> frozenset[str]:
    """Everything ``module`` imports, directly or through the product's own modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name not in seen:
                seen.add(name)
                if name in MODULES:
                    todo.append(name)
    return frozenset(seen)


def _libraries(names: Iterable[str]) -> set[str]:
    return {name.split(".")[0] for name in names if not name.startswith("socialwatch")}


def _in(module: str, *folders: str) -> bool:
    return any(module == f"socialwatch.{f}" or module.startswith(f"socialwatch.{f}.") for f in folders)


PRODUCT = [m for m in MODULES if not _in(m, "sandbox")]


# Which folders (or modules) alone may import a library directly.
ONLY = {
    "sqlite3": ("store",),
    "sqlite_utils": ("store",),
    "tweepy": ("sources",),
    "facebook": ("sources",),
    "slack_sdk": ("alerts",),
    "click": ("cli",),
}


@pytest.mark.parametrize("library", sorted(ONLY))
def test_only_one_folder_imports_each_vendor_library(library: str) -> None:
    offenders = [m for m in MODULES if library in _libraries(imports_of(m)) and not _in(m, *ONLY[library])]
    assert offenders == [], f"{library} is imported outside {ONLY[library]}: {offenders}"


def test_scoring_is_pure() -> None:
    """What scores text (VADER, the learned model) reaches no database, chat or platform client, and no
    folder that does I/O."""
    forbidden_libs = {"sqlite3", "sqlite_utils", "slack_sdk", "tweepy", "facebook", "requests"}
    for module in (m for m in MODULES if _in(m, "scoring")):
        reached = reaches(module)
        assert not (_libraries(reached) & forbidden_libs), (module, _libraries(reached) & forbidden_libs)
        folders = {n for n in reached if _in(n, "store", "sources", "alerts", "sla", "reports", "ops", "cli")}
        assert not folders, (module, sorted(folders))
    users_of_vader = [m for m in MODULES if "vaderSentiment" in _libraries(imports_of(m))]
    assert users_of_vader and all(_in(m, "scoring") for m in users_of_vader), users_of_vader


@pytest.mark.parametrize(
    ("folder", "never"),
    [
        ("sources", ("store", "alerts", "sla", "reports", "cli")),
        ("store", ("alerts", "sources", "sla", "scoring", "reports", "cli")),
        ("config", ("store", "sources", "alerts", "sla", "scoring", "reports", "ops", "cli")),
        ("alerts", ("sources", "sla", "reports", "cli")),
    ],
)
def test_folders_keep_to_their_side_of_the_data_flow(folder: str, never: tuple[str, ...]) -> None:
    for module in (m for m in MODULES if _in(m, folder)):
        bad = sorted(n for n in reaches(module) if _in(n, *never))
        assert bad == [], f"{module} reaches {bad}"


def test_the_sandbox_stands_apart() -> None:
    """The sandbox imports nothing of the product, and only the cli and the demo import it."""
    for module in (m for m in MODULES if _in(m, "sandbox")):
        product = {n for n in imports_of(module) if n.startswith("socialwatch") and not _in(n, "sandbox")}
        assert not product, (module, product)
    users = sorted(m for m in PRODUCT if any(_in(n, "sandbox") for n in imports_of(m)))
    assert all(m == "socialwatch.demo" or _in(m, "cli") for m in users), users


def test_no_import_circles() -> None:
    graph = {m: product_imports(m) for m in MODULES}
    # Importing a submodule imports its package first: a package's __init__ is reached by its modules.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_no_product_module_is_too_long() -> None:
    long = {m: n for m in PRODUCT if (n := len(MODULES[m].read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"over {MAX_LINES} lines: {long}"


def test_every_module_has_a_docstring_that_names_concepts_not_tickets() -> None:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc, f"{module} has no docstring"


def test_comments_name_concepts_not_tickets() -> None:
    import re

    ticket = re.compile(r"\bissues? \d+\b|\(issue \d+\)", re.I)
    hits = [
        f"{p.relative_to(PACKAGE.parent)}:{n}"
        for p in MODULES.values()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ticket.search(line)
    ]
    assert hits == [], hits


def test_the_design_doc_maps_every_module() -> None:
    design = (PACKAGE.parent / "docs" / "design.md").read_text()
    missing = [str(p.relative_to(PACKAGE)) for p in MODULES.values() if f"`{p.relative_to(PACKAGE)}`" not in design]
    assert missing == [], f"docs/design.md does not map {missing}"
