"""The reply templates: one set per language (``<lang>/<category>/NN-kind.j2``), loaded once into jinja2's
sandbox, each paired with its English source so a manager can read what a reply in another language says.

Layout (``config/templates/``, shipped as ``socialwatch/templates/``): ``<lang>/<category>/NN-kind.j2`` is one
suggestion (``NN`` orders them, ``kind`` names the move), ``<lang>/_*.j2`` are that language's shared pieces
(greeting, sign-off, the acknowledgement of a private message, the follow-up). An include of a shared piece
(``{% include "_greeting.j2" %}``) resolves inside the including template's language. A deployment overrides
any file by the same relative path under ``[suggestions] templates_dir``; an override directory in the
older one-language layout (``billing/1-apologise.j2``, ``_greeting.j2``) still overrides the English set.

Templates are text written by people outside the code, so they render in jinja2's immutable sandbox with no
globals (no ``range``, ``lipsum``, ``cycler``...): a template can reach the documented variables only
(``socialwatch check`` refuses anything else, see ``replies.check``).
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox

log = logging.getLogger(__name__)

ENGLISH = "en"
#: A language folder: an ISO 639 code, optionally with a region or script (``pt-br``, ``sr-latn``).
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
#: The fallback category: used for a category without a folder in the chosen language.
FALLBACK_CATEGORY = "other"
ACK = "_ack.j2"
FOLLOWUP = "_followup.j2"


def builtin_templates_dir() -> Path:
    """Shipped templates: inside the wheel, or config/templates in a source checkout."""
    package = Path(__file__).resolve().parents[2]  # socialwatch/
    packaged = package / "templates"  # pyproject's force-include puts config/templates here in the wheel
    if packaged.is_dir():
        return packaged
    return package.parent / "config" / "templates"


def kind_of(template_name: str) -> str:
    stem = template_name.rsplit("/", 1)[-1].removesuffix(".j2")
    return stem.split("-", 1)[1] if "-" in stem else stem


def language_of(template_name: str) -> str:
    return template_name.split("/", 1)[0]


def english_source(template_name: str) -> str:
    """The English template a template in another language says the same as (the same relative path)."""
    return f"{ENGLISH}/{template_name.split('/', 1)[1]}"


@dataclass(frozen=True)
class Compiled:
    name: str  # "sw/delivery/1-apologise.j2"
    kind: str  # "apologise"
    template: jinja2.Template
    english: jinja2.Template | None  # the English source, None for English itself or when it is missing


@dataclass
class Templates:
    """Every language's templates; build once, render many (jinja compiles each template once)."""

    env: jinja2.Environment
    #: language -> category -> template names, in order
    by_language: dict[str, dict[str, list[str]]]
    #: language -> its shared pieces present ("_greeting.j2", "_ack.j2", ...)
    pieces: dict[str, frozenset[str]]
    _compiled: dict[tuple[str, str], tuple[Compiled, ...]] = field(default_factory=dict, repr=False)
    _reported: set[str] = field(default_factory=set, repr=False)

    @cached_property
    def languages(self) -> frozenset[str]:
        """Languages that can answer anything: they have the fallback category."""
        return frozenset(lang for lang, cats in self.by_language.items() if FALLBACK_CATEGORY in cats)

    def names_for(self, lang: str, category: str) -> list[str]:
        categories = self.by_language.get(lang, {})
        return categories.get(category) or categories.get(FALLBACK_CATEGORY, [])

    def has_category(self, lang: str, category: str) -> bool:
        return category in self.by_language.get(lang, {})

    def compiled(self, lang: str, category: str) -> tuple[Compiled, ...]:
        """The templates for ``category`` in ``lang``, compiled once. One that does not compile is left out
        (and logged once), so the others are still offered."""
        key = (lang, category)
        found = self._compiled.get(key)
        if found is None:
            out: list[Compiled] = []
            for name in self.names_for(lang, category):
                template = self.get(name)
                if template is None:
                    continue
                english = None if lang == ENGLISH else self.get(english_source(name), missing_ok=True)
                out.append(Compiled(name, kind_of(name), template, english))
            found = self._compiled[key] = tuple(out)
        return found

    def get(self, name: str, missing_ok: bool = False) -> jinja2.Template | None:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            if not missing_ok:
                self.report(name, "is missing")
            return None
        except jinja2.TemplateError as exc:
            self.report(name, f"does not compile: {exc}")
            return None

    def report(self, name: str, problem: str) -> None:
        """Log a broken template once per process (it is left out); `socialwatch check` says how to fix it."""
        if name not in self._reported:
            self._reported.add(name)
            log.warning("reply template %s %s; it is left out (run `socialwatch check` for the fix)", name, problem)


#: Statements an included template may contain to be spliced into the template including it (below).
_INLINE_STATEMENTS = (jinja2.nodes.Output, jinja2.nodes.If)
#: Names with a meaning of their own per template or scope: an include using one is left to jinja.
_SCOPED_NAMES = frozenset({"self", "super", "loop", "caller", "varargs", "kwargs"})


class _InliningEnvironment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The sandbox, with ``{% include "name" %}`` of simple templates spliced in when a template is parsed,
    and shared pieces (``_greeting.j2``) found in the including template's language.

    An include costs a template lookup and a new render context on every render (about a quarter of
    the suggestion time for the shipped templates, which include a greeting and a signature). Spliced
    at the syntax-tree level, the output is the same string: each template's text was already cut by
    the lexer (trim_blocks, lstrip_blocks, trailing newline) on its own. Only includes of a constant
    name, with context, of templates made of output and ``if`` alone (no set, macro, block, loop or
    nested include, none of jinja's scoped names) are spliced; anything else stays a real include.
    The spliced code is the sandbox's own: attribute and call checks stay in place.
    """

    def join_path(self, template: str, parent: str) -> str:
        if "/" not in template and "/" in parent and LANGUAGE.match(language_of(parent)):
            return f"{language_of(parent)}/{template}"
        return template

    def _parse(self, source: str, name: str | None, filename: str | None) -> jinja2.nodes.Template:
        tree = super()._parse(source, name, filename)
        try:
            tree.body = self._splice(tree.body, seen=(name,))
        except _IncludeCircle as circle:
            # jinja would include for ever (a render that never ends): refused like a syntax error, so the
            # template is left out at run time and `check` names it.
            raise jinja2.TemplateSyntaxError(
                f"includes {circle.target!r}, which includes it again (an include circle: "
                f"{' -> '.join(str(n) for n in circle.path)})",
                circle.lineno,
                name,
                filename,
            ) from None
        except Exception:  # never let the optimisation break a template that jinja itself accepts
            tree = super()._parse(source, name, filename)
        return tree

    def _splice(self, body: list[jinja2.nodes.Node], seen: tuple[str | None, ...]) -> list[jinja2.nodes.Node]:
        out: list[jinja2.nodes.Node] = []
        for node in body:
            if (
                isinstance(node, jinja2.nodes.Include)
                and isinstance(node.template, jinja2.nodes.Const)
                and isinstance(node.template.value, str)
                and node.with_context
                and not node.ignore_missing
            ):
                target = self.join_path(node.template.value, seen[-1] or "")
                if target in seen:
                    raise _IncludeCircle(target, (*seen, target), node.lineno)
                spliced = self._included_body(target, seen)
                if spliced is not None:
                    out.extend(spliced)
                    continue
            for field_name in ("body", "elif_", "else_"):
                children = getattr(node, field_name, None)
                if isinstance(children, list) and field_name in node.fields:
                    setattr(node, field_name, self._splice(children, seen))
            out.append(node)
        return out

    def _included_body(self, name: str, seen: tuple[str | None, ...]) -> list[jinja2.nodes.Node] | None:
        assert self.loader is not None
        source, filename, _ = self.loader.get_source(self, name)
        body = self._splice(super()._parse(source, name, filename).body, seen + (name,))
        for top in body:
            for node in (top, *top.find_all(jinja2.nodes.Node)):
                if isinstance(node, jinja2.nodes.Stmt) and not isinstance(node, _INLINE_STATEMENTS):
                    return None
                if isinstance(node, jinja2.nodes.Name) and (node.name in _SCOPED_NAMES or node.ctx != "load"):
                    return None
        return body


class _IncludeCircle(Exception):
    def __init__(self, target: str, path: tuple[str | None, ...], lineno: int):
        super().__init__(target)
        self.target, self.path, self.lineno = target, path, lineno


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = _InliningEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not as an empty string
        autoescape=False,  # plain text for social platforms; Slack escaping happens in alerts/cards.py
        trim_blocks=True,
        lstrip_blocks=True,
        # Loaded once per process: no stat() of every template file (and its includes) on every render.
        auto_reload=False,
    )
    env.globals.clear()  # range(), lipsum(), cycler(), dict(), namespace(): nothing a reply needs
    return env


def loader_for(override_dir: Path | None) -> jinja2.BaseLoader:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        overrides = jinja2.FileSystemLoader(str(override_dir))
        # The older one-language layout (billing/1-apologise.j2, _greeting.j2) overrides the English set.
        loaders += [overrides, jinja2.PrefixLoader({ENGLISH: overrides})]
    loaders.append(jinja2.FileSystemLoader(str(builtin_templates_dir())))
    return jinja2.ChoiceLoader(loaders)


@lru_cache(maxsize=8)
def load_templates(override_dir: Path | None = None) -> Templates:
    env = make_environment(loader_for(override_dir))
    by_language: dict[str, dict[str, list[str]]] = {}
    pieces: dict[str, set[str]] = {}
    for name in sorted(set(env.list_templates(extensions=["j2"]))):
        parts = name.split("/")
        if not LANGUAGE.match(parts[0]):
            continue
        if len(parts) == 3 and not parts[2].startswith("_"):
            by_language.setdefault(parts[0], {}).setdefault(parts[1], []).append(name)
        elif len(parts) == 2 and parts[1].startswith("_"):
            pieces.setdefault(parts[0], set()).add(parts[1])
    if FALLBACK_CATEGORY not in by_language.get(ENGLISH, {}):
        where = [str(override_dir), str(builtin_templates_dir())]
        raise ValueError(f"no English templates for category '{FALLBACK_CATEGORY}' (en/other/) in {where}")
    return Templates(env, by_language, {lang: frozenset(names) for lang, names in pieces.items()})


#: Each template's globals as one dict: jinja keeps them as a ChainMap and walks it on every render.
_FLAT_GLOBALS: weakref.WeakKeyDictionary[jinja2.Template, dict[str, Any]] = weakref.WeakKeyDictionary()


def render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """``template.render(context)``, with the template's globals flattened once (they are fixed at load)."""
    env = template.environment
    if env.is_async:
        return template.render(context)
    flat = _FLAT_GLOBALS.get(template)
    if flat is None:
        flat = _FLAT_GLOBALS[template] = dict(template.globals)
    ctx = jinja2.runtime.new_context(env, template.name, template.blocks, context, False, flat, None)
    try:
        return str(env.concat(template.root_render_func(ctx)))
    except Exception:
        env.handle_exception()  # re-raises with the template's line, as Template.render does
        raise


def squeeze(text: str) -> str:
    """``" ".join(text.split())``: whitespace runs to one space, none at the ends.

    Every whitespace character but the space is unprintable, so printable text with no double space and
    no space at either end is already squeezed (most renders): returned as is, without a split and a join.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())
