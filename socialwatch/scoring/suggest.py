"""Suggested replies: 2-3 per item, rendered from jinja2 templates, within platform limits.

Templates live in ``config/templates/<category>/NN-<kind>.j2`` (the file name gives the
order and the kind); a deployment overrides them file by file with
``[suggestions] templates_dir``. Good support practice is built into the shipped
templates: acknowledge and apologise for complaints, move anything personal to a
private channel, never ask for card numbers or passwords, point questions to help.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.runtime

from socialwatch.config.schema import SuggestionsConfig
from socialwatch.models import AuthorHistory, Item, Kind, Suggestion

#: Characters a reply may have, per (platform, public?). X counts with weights (see x_length); an Instagram
#: DM counts UTF-8 bytes ("1000 bytes or less"), so Tamil or emoji fill it three or four times faster.
LIMITS: dict[tuple[str, bool], int] = {
    ("x", True): 280,
    ("x", False): 10_000,
    ("facebook", True): 8_000,
    ("facebook", False): 2_000,
    ("instagram", True): 2_200,
    ("instagram", False): 1_000,
}
BYTE_LIMITS = frozenset({("instagram", False)})
DEFAULT_LIMIT = 2_000
X_URL_LENGTH = 23
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
# twitter-text v3: code points in these ranges weigh 1, every other weighs 2.
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def builtin_templates_dir() -> Path:
    """Shipped templates: inside the wheel, or config/templates in a source checkout."""
    package = Path(__file__).resolve().parents[1]  # socialwatch/
    packaged = package / "templates"  # pyproject's force-include puts config/templates here in the wheel
    if packaged.is_dir():
        return packaged
    return package.parent / "config" / "templates"


def x_length(text: str) -> int:
    """Length as X counts it (twitter-text v3), erring high: never under-counts."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)  # ASCII is NFC already
    if "://" not in text:  # every URL the pattern finds contains "://"
        return _weighted(text)
    length = 0
    position = 0
    for match in _URL.finditer(text):
        length += _weighted(text[position : match.start()]) + X_URL_LENGTH
        position = match.end()
    return length + _weighted(text[position:])


#: Code points outside the light ranges: each weighs 2, i.e. adds 1 to the text's length.
_X_HEAVY = re.compile("[^" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _X_LIGHT_RANGES) + "]")


def _weighted(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text) + len(_X_HEAVY.findall(text))


def reply_limit(platform: str, public: bool) -> int:
    return LIMITS.get((platform, public), DEFAULT_LIMIT)


def measure(text: str, platform: str, public: bool = True) -> int:
    """The text's length as the platform counts it against ``reply_limit``."""
    if (platform, public) in BYTE_LIMITS:
        return len(text.encode("utf-8"))
    return x_length(text) if platform == "x" else len(text)


def limit_unit(platform: str, public: bool) -> str:
    """What ``reply_limit`` counts: "characters", or "bytes" for Instagram DMs."""
    return "bytes" if (platform, public) in BYTE_LIMITS else "characters"


def fit(text: str, platform: str, public: bool) -> str:
    """Shorten at a sentence, then a word, boundary until the text fits the platform's limit."""
    limit = reply_limit(platform, public)
    text = text.strip()
    if measure(text, platform, public) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?])\s+", text)
    while len(sentences) > 1:
        sentences.pop()
        candidate = " ".join(sentences)
        if measure(candidate, platform, public) <= limit:
            return candidate
    words = text.split()
    while words:
        candidate = " ".join(words) + "…"
        if measure(candidate, platform, public) <= limit:
            return candidate
        words.pop()
    return ""


def case_reference(item_key: str, prefix: str) -> str:
    """A short, stable reference the customer can quote; derived from the item, so no lookup table."""
    digest = hashlib.sha256(item_key.encode()).hexdigest()[:6].upper()
    return f"{prefix}-{digest}"


def first_name(item: Item) -> str:
    return first_name_of(item.author.name, item.author.handle)


def first_name_of(name: str | None, handle: str | None) -> str:
    """How a reply greets the author: the first name, else the @handle, else "there"."""
    name = (name or "").strip()
    if name:
        first = name.split()[0]
        # A display name full of symbols reads badly in a reply; fall back to the handle.
        if sum(ch.isalpha() for ch in first) >= max(1, len(first) // 2):
            return first[:40]
    if handle:
        return "@" + handle[:40]
    return "there"


@dataclass
class Templates:
    """The loaded template set; build once, render many (jinja compiles each template once)."""

    env: jinja2.Environment
    by_category: dict[str, list[str]]
    _compiled: dict[str, tuple[tuple[str, jinja2.Template], ...]] = field(default_factory=dict, repr=False)

    def for_category(self, category: str) -> list[str]:
        return self.by_category.get(category) or self.by_category.get("other", [])

    def compiled(self, category: str) -> tuple[tuple[str, jinja2.Template], ...]:
        """(kind, template) for ``category``, looked up once: no loader or file-system check per render."""
        found = self._compiled.get(category)
        if found is None:
            found = tuple((kind_of(name), self.env.get_template(name)) for name in self.for_category(category))
            self._compiled[category] = found
        return found


#: Statements an included template may contain to be spliced into the template including it (below).
_INLINE_STATEMENTS = (jinja2.nodes.Output, jinja2.nodes.If)
#: Names with a meaning of their own per template or scope: an include using one is left to jinja.
_SCOPED_NAMES = frozenset({"self", "super", "loop", "caller", "varargs", "kwargs"})


class _InliningEnvironment(jinja2.Environment):
    """Splices ``{% include "name" %}`` of simple templates into the including template when it is parsed.

    An include costs a template lookup and a new render context on every render (about a quarter of
    the suggestion time for the shipped templates, which include a greeting and a signature). Spliced
    at the syntax-tree level, the output is the same string: each template's text was already cut by
    the lexer (trim_blocks, lstrip_blocks, trailing newline) on its own. Only includes of a constant
    name, with context, of templates made of output and ``if`` alone (no set, macro, block, loop or
    nested include, none of jinja's scoped names) are spliced; anything else stays a real include.
    """

    def _parse(self, source: str, name: str | None, filename: str | None) -> jinja2.nodes.Template:
        tree = super()._parse(source, name, filename)
        try:
            tree.body = self._splice(tree.body, seen=(name,))
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
                and node.template.value not in seen
            ):
                spliced = self._included_body(node.template.value, seen)
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


@lru_cache(maxsize=8)
def load_templates(override_dir: Path | None = None) -> Templates:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(builtin_templates_dir())))
    env = _InliningEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not as an empty string
        autoescape=False,  # plain text for social platforms; Slack escaping happens in alerts/cards.py
        trim_blocks=True,
        lstrip_blocks=True,
        # Loaded once per process: no stat() of every template file (and its includes) on every render.
        auto_reload=False,
    )
    by_category: dict[str, list[str]] = {}
    for name in sorted(env.list_templates(extensions=["j2"])):
        parts = name.split("/")
        if len(parts) == 2 and not parts[1].startswith("_"):
            by_category.setdefault(parts[0], []).append(name)
    if "other" not in by_category:
        raise ValueError(f"no templates for category 'other' in {[str(override_dir), str(builtin_templates_dir())]}")
    return Templates(env, by_category)


#: Suggestions for sensitive data posted in public, used until a deployment adds templates/exposed_pii/.
#: Never repeat or ask for the data; ask the customer to delete the post and continue privately.
EXPOSED_PII_TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        "move_private",
        '{% include "_greeting.j2" %} For your security, please delete your post: it shows personal '
        "details everyone can see. Then send us a private message quoting {{ case_ref }} and we'll take "
        'it from there. We will never ask for your password or full card number.{% include "_sign.j2" %}',
    ),
    (
        "move_private",
        '{% include "_greeting.j2" %} Thanks for getting in touch. Your post includes private information, '
        "so please remove it and message us privately with {{ case_ref }}. If it showed a card number or a "
        'password, your bank or a password change can protect you right away.{% include "_sign.j2" %}',
    ),
)


@lru_cache(maxsize=8)
def _exposed_pii_templates(env: jinja2.Environment) -> tuple[tuple[str, jinja2.Template], ...]:
    return tuple((kind, env.from_string(source)) for kind, source in EXPOSED_PII_TEMPLATES)


#: Each template's globals as one dict: jinja keeps them as a ChainMap and walks it on every render.
_FLAT_GLOBALS: weakref.WeakKeyDictionary[jinja2.Template, dict[str, Any]] = weakref.WeakKeyDictionary()


def _render(template: jinja2.Template, context: dict[str, Any]) -> str:
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


def _squeeze(text: str) -> str:
    """``" ".join(text.split())``: whitespace runs to one space, none at the ends.

    Every whitespace character but the space is unprintable, so printable text with no double space and
    no space at either end is already squeezed (most renders): returned as is, without a split and a join.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def kind_of(template_name: str) -> str:
    stem = template_name.rsplit("/", 1)[-1].removesuffix(".j2")
    return stem.split("-", 1)[1] if "-" in stem else stem


def suggest(
    item: Item,
    category: str,
    label: str,
    history: AuthorHistory,
    config: SuggestionsConfig,
    templates: Templates | None = None,
) -> tuple[Suggestion, ...]:
    templates = templates or load_templates(config.templates_dir)
    public = item.public and item.kind is not Kind.DM
    context = {
        "name": first_name(item),
        "handle": item.author.handle or "",
        "returning": history.returning,
        "previous_contacts": history.contacts,
        "case_ref": case_reference(item.key, config.case_prefix),
        "brand": config.brand_name,
        "help_url": config.help_url,
        "status_url": config.status_url or config.help_url,
        "signature": config.signature,
        "public": public,
        "platform": item.platform,
        "kind": item.kind.value,
        "lang": item.lang or "",
        "negative": label == "negative",
        "category": category,
    }
    out: list[Suggestion] = []
    seen: set[str] = set()
    sources: Sequence[tuple[str, jinja2.Template]]
    if category == "exposed_pii" and category not in templates.by_category:
        sources = list(_exposed_pii_templates(templates.env))
    else:
        sources = templates.compiled(category)
    for kind, template in sources:
        rendered = _squeeze(_render(template, context))
        text = fit(rendered, item.platform, public)
        if text and text not in seen:
            seen.add(text)
            out.append(Suggestion(kind, text))
        if len(out) >= config.max_suggestions:
            break
    return tuple(out)
