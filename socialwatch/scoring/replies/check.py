"""`socialwatch check` for the reply templates: every language complete (each English template translated),
every template readable by the sandbox's rules (only the documented variables, no attributes, no calls),
rendering in every case, within every platform's limit, and link-free where ``[x] reply_links = false``.

Each problem names the file and the fix. The figures (the longest render per language and surface, against
its limit, and under the conservative count that weighs Tamil double) are what the docs quote.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes

from socialwatch.config.schema import Config
from socialwatch.scoring.replies import platforms
from socialwatch.scoring.replies.personal import NAME_MAX
from socialwatch.scoring.replies.templates import (
    ACK,
    ENGLISH,
    FALLBACK_CATEGORY,
    FOLLOWUP,
    LANGUAGE,
    Templates,
    english_source,
    load_templates,
    render,
    squeeze,
)

#: The variables of a suggestion template, as documented in config/templates/README.md.
SUGGESTION_VARIABLES = frozenset(
    {
        "name", "handle", "returning", "previous_contacts", "repeat_complaint", "case_ref", "brand", "help_url",
        "status_url", "signature", "public", "platform", "kind", "lang", "negative", "category", "links",
        "order_number", "email_given",
    }
)  # fmt: skip
ACK_VARIABLES = frozenset(
    {
        "name", "brand", "within", "due", "open_now", "signature", "platform", "case_ref", "lang", "help_url",
        "within_minutes", "within_hours", "within_days", "due_time", "due_date", "due_today",
    }
)  # fmt: skip
FOLLOWUP_VARIABLES = frozenset(
    {"name", "brand", "signature", "public", "platform", "help_url", "case_ref", "links", "lang"}
)
#: Filters and tests a plain-text template may use: none reaches an attribute or calls anything.
FILTERS = frozenset({"capitalize", "default", "d", "lower", "upper", "title", "trim", "truncate", "replace", "length"})
TESTS = frozenset({"defined", "undefined", "none", "eq", "ne", "equalto", "in", "string", "number", "true", "false"})
ALLOWED_NODES = (
    jinja2.nodes.Template, jinja2.nodes.Output, jinja2.nodes.TemplateData, jinja2.nodes.If, jinja2.nodes.Include,
    jinja2.nodes.Name, jinja2.nodes.Const, jinja2.nodes.Filter, jinja2.nodes.Test, jinja2.nodes.CondExpr,
    jinja2.nodes.And, jinja2.nodes.Or, jinja2.nodes.Not, jinja2.nodes.Compare, jinja2.nodes.Operand,
    jinja2.nodes.Concat, jinja2.nodes.Keyword, jinja2.nodes.Assign, jinja2.nodes.List, jinja2.nodes.Tuple,
)  # fmt: skip
_VARIABLES_FIX = "use only the documented variables (config/templates/README.md): {names}"
#: Surfaces a suggestion is rendered for: (platform, kind, public).
SURFACES = (
    ("x", "mention", True),
    ("x", "dm", False),
    ("facebook", "comment", True),
    ("facebook", "dm", False),
    ("instagram", "comment", True),
    ("instagram", "dm", False),
)


@dataclass(frozen=True)
class Problem:
    template: str  # "sw/billing/1-apologise.j2"
    file: str  # where it is (or should be)
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.file}: {self.message}\n    fix: {self.fix}"


@dataclass(frozen=True)
class Longest:
    length: int
    limit: int
    template: str
    conservative: int  # with Tamil weighing 2 on X


@dataclass
class TemplateReport:
    problems: list[Problem] = field(default_factory=list)
    longest: dict[tuple[str, str], Longest] = field(default_factory=dict)  # (lang, surface name) ->
    languages: tuple[str, ...] = ()
    templates: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        x = [(item.length, lang) for (lang, where), item in self.longest.items() if where == "X reply"]
        longest = max(x, default=(0, ""))
        return (
            f"{self.templates} templates in {len(self.languages)} languages ({', '.join(self.languages)}); "
            f"longest X reply {longest[0]}/280 ({longest[1]})"
        )


def check_templates(config: Config, templates: Templates | None = None) -> TemplateReport:
    directory = config.suggestions.templates_dir
    report = TemplateReport()
    if templates is None:
        try:
            templates = load_templates(directory)
        except (ValueError, OSError) as exc:
            report.problems.append(Problem("en/other", str(directory), str(exc), "restore en/other/ in the templates"))
            return report
    files = _Files(templates, directory)
    english = templates.by_language.get(ENGLISH, {})
    english_names = {name.split("/", 1)[1] for names in english.values() for name in names}
    english_names |= set(templates.pieces.get(ENGLISH, ()))
    languages = sorted(set(templates.by_language) | set(templates.pieces))
    wanted = config.suggestions.reply_languages or languages
    for lang in wanted:
        if lang not in languages:
            report.problems.append(
                Problem(
                    f"{lang}/",
                    files.where(f"{lang}/"),
                    f"[suggestions] reply_languages names {lang!r}, which has no templates",
                    f"copy the en/ folder to {lang}/ in templates_dir and translate it (config/templates/README.md)",
                )
            )
    report.languages = tuple(lang for lang in languages if lang in wanted)
    for lang in report.languages:
        own = {name.split("/", 1)[1] for names in templates.by_language.get(lang, {}).values() for name in names}
        own |= set(templates.pieces.get(lang, ()))
        for relative in sorted(english_names - own):
            report.problems.append(
                Problem(
                    f"{lang}/{relative}",
                    files.where(f"{lang}/{relative}"),
                    f"is missing: {lang} has no translation of en/{relative}",
                    f"copy en/{relative} to {lang}/{relative} in templates_dir and translate it",
                )
            )
        for relative in sorted(own - english_names):
            report.problems.append(
                Problem(
                    f"{lang}/{relative}",
                    files.where(f"{lang}/{relative}"),
                    "has no English source, so a manager cannot read what it says",
                    f"add en/{relative} saying the same in English, or remove the file",
                )
            )
        for relative in sorted(own):
            name = f"{lang}/{relative}"
            report.templates += 1
            if _static(name, templates, files, report):
                _rendered(name, relative, lang, templates, config, files, report)
    return report


class _Files:
    """Where a template lives on disk (for the message), or where it should be added."""

    def __init__(self, templates: Templates, directory: Path | None):
        self.env, self.directory = templates.env, directory
        self.names = frozenset(templates.env.list_templates(extensions=["j2"]))

    def where(self, name: str) -> str:
        try:
            assert self.env.loader is not None
            _, filename, _ = self.env.loader.get_source(self.env, name)
            return filename or name
        except jinja2.TemplateNotFound:
            base = self.directory or Path("<[suggestions] templates_dir>")
            return str(base / name)


def _allowed(relative: str) -> frozenset[str]:
    if relative == ACK:
        return ACK_VARIABLES
    if relative == FOLLOWUP:
        return FOLLOWUP_VARIABLES
    if relative.startswith("_"):
        return SUGGESTION_VARIABLES | ACK_VARIABLES | FOLLOWUP_VARIABLES
    return SUGGESTION_VARIABLES


def _static(name: str, templates: Templates, files: _Files, report: TemplateReport) -> bool:
    """The template parses and touches nothing but documented variables; False when it must not be rendered."""
    env = templates.env
    where = files.where(name)
    relative = name.split("/", 1)[1]
    allowed = _allowed(relative)
    try:
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, name)
        tree = env.parse(source, name)
    except jinja2.TemplateSyntaxError as exc:
        circle = "include circle" in str(exc.message)
        fix = (
            "remove one of those includes: no piece may include itself"
            if circle
            else "fix the jinja2 syntax on that line"
        )
        report.problems.append(Problem(name, where, f"line {exc.lineno}: {exc.message}", fix))
        return False
    assigned = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx == "store"}
    found: list[tuple[int, str, str]] = []
    fix_names = _VARIABLES_FIX.format(names=", ".join(sorted(allowed)))
    for node in tree.find_all(jinja2.nodes.Node):
        line = getattr(node, "lineno", 0)
        if isinstance(node, jinja2.nodes.Getattr | jinja2.nodes.Getitem):
            found.append((line, "reads an attribute or item (`x.y`, `x[...]`), which templates may not", fix_names))
        elif isinstance(node, jinja2.nodes.Call):
            found.append((line, "calls a function, which templates may not", fix_names))
        elif isinstance(node, jinja2.nodes.Name) and node.ctx == "load" and node.name not in allowed | assigned:
            found.append((line, f"uses `{node.name}`, which is not a documented variable", fix_names))
        elif isinstance(node, jinja2.nodes.Filter) and node.name not in FILTERS:
            found.append(
                (line, f"uses the filter `{node.name}`", f"use only these filters: {', '.join(sorted(FILTERS))}")
            )
        elif isinstance(node, jinja2.nodes.Test) and node.name not in TESTS:
            found.append((line, f"uses the test `{node.name}`", f"use only these tests: {', '.join(sorted(TESTS))}"))
        elif isinstance(node, jinja2.nodes.Include):
            target = node.template
            if not (isinstance(target, jinja2.nodes.Const) and isinstance(target.value, str)):
                found.append(
                    (line, "includes a template chosen at run time", 'include a fixed name: {% include "_x.j2" %}')
                )
            elif env.join_path(target.value, name) not in files.names:
                found.append((line, f"includes {target.value!r}, which does not exist", "include an existing piece"))
        elif not isinstance(node, ALLOWED_NODES):
            found.append(
                (line, f"uses `{type(node).__name__}`, which reply templates may not", "use text, {{ variables }}, "
                 "{% if %} and {% include %} only")
            )  # fmt: skip
    for line, message, fix in sorted(set(found)):
        report.problems.append(Problem(name, where, f"line {line}: {message}", fix))
    return not found


def _rendered(
    name: str, relative: str, lang: str, templates: Templates, config: Config, files: _Files, report: TemplateReport
) -> None:
    """Render in every case that changes the text; report failures, lengths over a limit, and links."""
    if relative.startswith("_") and relative not in (ACK, FOLLOWUP):
        return  # a shared piece is checked through the templates including it
    template = templates.get(name, missing_ok=True)
    english = None if lang == ENGLISH else templates.get(english_source(name), missing_ok=True)
    if template is None:
        return
    failed: set[str] = set()
    where = files.where(name)
    for context, (platform, _kind, public) in _cases(relative, lang, config):
        try:
            text = squeeze(render(template, context))
            if english is not None:
                render(english, context)
        except Exception as exc:  # every failure is a finding
            message = f"does not render: {type(exc).__name__}: {exc}"
            if message not in failed:
                failed.add(message)
                report.problems.append(Problem(name, where, message, "fix the template; variables are documented in "
                                               "config/templates/README.md"))  # fmt: skip
            continue
        rules = platforms.surface(platform, public)
        length = platforms.measure(text, platform, public)
        if length > rules.limit:
            message = f"renders {length} characters as a {rules.name}, over its limit of {rules.limit}"
            if message not in failed:
                failed.add(message)
                report.problems.append(
                    Problem(name, where, message, "shorten it (or the brand_name/signature of that language)")
                )
        if platform == "x" and not context.get("links", True) and platforms.has_link(text) and "links" not in failed:
            failed.add("links")
            report.problems.append(
                Problem(
                    name,
                    where,
                    "shows a link although [x] reply_links = false",
                    "put the link inside {% if links %}...{% else %}(words without a link){% endif %}",
                )
            )
        key = (lang, rules.name)
        conservative = platforms.conservative_length(text, platform, public)
        before = report.longest.get(key)
        if before is None or length > before.length or conservative > before.conservative:
            report.longest[key] = Longest(
                max(length, before.length if before else 0),
                rules.limit,
                name if before is None or length > before.length else before.template,
                max(conservative, before.conservative if before else 0),
            )


def _cases(relative: str, lang: str, config: Config) -> list[tuple[dict[str, Any], tuple[str, str, bool]]]:
    """Contexts covering every branch the shipped templates take, with the longest values a reply can carry."""
    words = config.suggestions.words_for(lang)
    long_name = _long_name(lang)
    prefix = config.suggestions.case_prefix
    base = {
        "brand": words.brand_name,
        "help_url": words.help_url,
        "status_url": words.status_url,
        "signature": words.signature,
        "case_ref": f"{prefix}-ABCDEF",
        "lang": lang,
    }
    cases: list[tuple[dict[str, Any], tuple[str, str, bool]]] = []
    if relative in (ACK, FOLLOWUP):
        for (platform, kind, public), name, open_now in itertools.product(SURFACES, (long_name, ""), (True, False)):
            if relative == ACK and public:
                continue
            context = {**base, "name": name, "platform": platform, "public": public, "links": True}
            if relative == ACK:
                context |= {
                    "within": "1.5 hours", "due": "Mon 12 Jan 09:00", "open_now": open_now, "within_minutes": 90,
                    "within_hours": "1.5", "within_days": 3, "due_time": "09:00", "due_date": "2026-01-12",
                    "due_today": False,
                }  # fmt: skip
                context.pop("public")
                context.pop("links")
            cases.append((context, (platform, kind, public)))
        return cases
    category = relative.split("/")[0]
    for (platform, kind, public), links, history, negative, order, email, name in itertools.product(
        SURFACES, (True, False), ("first", "returning", "repeat"), (True, False), ("", "A" * 4 + "-" + "9" * 15),
        (False, True), (long_name, ""),
    ):  # fmt: skip
        if (email and public) or (not links and platform != "x"):
            continue
        context = {
            **base,
            "name": name,
            "handle": "customer_handle",
            "returning": history != "first",
            "previous_contacts": 0 if history == "first" else 3,
            "repeat_complaint": history == "repeat",
            "public": public,
            "platform": platform,
            "kind": kind,
            "negative": negative,
            "category": category if category != FALLBACK_CATEGORY else "other",
            "links": links if platform == "x" else True,
            "order_number": order,
            "email_given": email,
        }
        cases.append((context, (platform, kind, public)))
    return cases


#: A first name of the longest length a reply uses, in the script each language is written in.
_NAME_LETTERS = {"ta": "த", "lv": "ā", "lt": "ž", "de": "ü", "fr": "é", "es": "ñ", "pt": "ã"}


def _long_name(lang: str) -> str:
    letter = _NAME_LETTERS.get(lang.split("-")[0], "a")
    return "N" + letter * (NAME_MAX - 1) if letter != "த" else "த" * (NAME_MAX // 2)  # Tamil: each weighs 2


def is_language(code: str) -> bool:
    return bool(LANGUAGE.match(code))
