"""The scoring pipeline: sentiment -> triage -> suggestions, for one item or a batch.

Pure apart from reading templates once at construction: no network, no database.
Author history comes in as an argument; the batch form threads it through so that
two messages from one author in the same batch see each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from socialwatch.config.schema import Config
from socialwatch.learning import model as model_mod
from socialwatch.models import Assessment, AuthorHistory, Item, Suggestion
from socialwatch.scoring import attachments, identity, langid, language
from socialwatch.scoring import sentiment as sentiment_mod
from socialwatch.scoring import triage as triage_mod
from socialwatch.scoring.replies.suggest import ReplyWriter
from socialwatch.scoring.replies.templates import load_templates

Detector = Callable[[str], str]


#: A first contact: nothing known of the author yet (AuthorHistory is frozen, so one instance serves all).
FIRST_CONTACT = AuthorHistory()


@dataclass
class Pipeline:
    """Everything compiled from config that scoring needs; build once, share between threads."""

    config: Config
    detect: Detector | None = None
    #: The learned model to run on; None: the one ``[sentiment] model`` names (installed, else shipped).
    loaded: model_mod.Loaded | None = None

    def __post_init__(self) -> None:
        if self.loaded is None:
            self.loaded = model_mod.resolve_cached(model_dir(self.config), self.config.sentiment.model)
        self.model = self.loaded.model
        self.model_thresholds = dict(self.config.sentiment.model_thresholds)
        self.analyzer = sentiment_mod.analyzer_for(self.config.sentiment)
        self.thresholds = sentiment_mod.Thresholds(
            self.config.sentiment.negative_threshold, self.config.sentiment.positive_threshold
        )
        self.rules = triage_mod.compile_rules(self.config.triage)
        self.templates = load_templates(self.config.suggestions.templates_dir)
        detector = language.LanguageDetector(expected=self.config.sentiment.languages)
        # Triage and the reply writer both ask about the same text, one after the other: ask CLD2 once.
        explain = lru_cache(maxsize=256)(detector.explain)
        self._explain: Callable[[str], language.Detection] = explain
        if self.detect is not None:
            custom = self.detect
            self._explain = lambda text: language.Detection(custom(text), "cld2", len(text))
        else:
            self.detect = detector.detect
        expected = self.config.sentiment.languages
        self._default_lang = expected[0] if len(expected) == 1 else language.UNDETERMINED
        self.writer = ReplyWriter(self.config, self.templates, explain)

    def language(self, item: Item) -> str:
        return self.language_of(item).lang

    def language_of(self, item: Item, history: AuthorHistory = FIRST_CONTACT) -> langid.Language:
        """The item's language and who said so (scoring/langid.py)."""
        return langid.decide(item.lang, self._explain(item.text), item.text, history.language, self._default_lang)

    def assess(self, item: Item, history: AuthorHistory = FIRST_CONTACT) -> Assessment:
        if item.attachment_only:
            # Nothing to read: a person looks at it, and no reply is suggested for what nobody has seen.
            looked = attachments.triage_attachment_only(item, self.config.sla)
            return Assessment(
                attachments.NOTHING_TO_READ,
                looked.category,
                looked.priority,
                looked.needs_reply,
                looked.reasons,
                looked.sla_due_at,
            )
        lang = self.language_of(item, history)
        scored = sentiment_mod.score(
            item.text,
            lang.lang,
            self.analyzer,
            self.thresholds,
            self.model,
            self.model_thresholds,
            lang.source,
        )
        verdict = triage_mod.triage(item, scored, history, self.rules, self.config.sla)
        suggestions: tuple[Suggestion, ...] = ()
        reasons = verdict.reasons
        if verdict.needs_reply or verdict.category == "praise":
            written = self.writer.write(item, verdict.category, scored.label, history, scored.lang)
            suggestions = written.suggestions
            refused = suggestions[0].refused if suggestions else None
            reasons += tuple(why for why in (written.choice.why, refused) if why)
        return Assessment(
            sentiment=scored,
            category=verdict.category,
            priority=verdict.priority,
            needs_reply=verdict.needs_reply,
            reasons=reasons,
            sla_due_at=verdict.sla_due_at,
            suggestions=suggestions,
            evidence=identity.evidence(item),
        )

    def assess_batch(
        self, items: Iterable[Item], histories: Mapping[str, AuthorHistory]
    ) -> list[tuple[Item, Assessment]]:
        """Oldest first, each author's history updated as their earlier items are assessed."""
        local = dict(histories)
        out: list[tuple[Item, Assessment]] = []
        for item in sorted(items, key=lambda i: i.created_at):
            author_key = item.author_key
            before = local.get(author_key, FIRST_CONTACT)
            assessment = self.assess(item, before)
            out.append((item, assessment))
            local[author_key] = _after(before, item.created_at, assessment.sentiment.label, assessment.sentiment.lang)
        return out


def model_dir(config: Config) -> Path:
    """Where an installed model lives: the data dir, i.e. the database's folder (never the package)."""
    return Path(config.daemon.database).resolve().parent


def _after(history: AuthorHistory, seen: datetime, label: str, lang: str | None = None) -> AuthorHistory:
    # Built directly: every field is set, and dataclasses.replace() walks the fields on every call.
    return AuthorHistory(
        contacts=history.contacts + 1,
        negative_count=history.negative_count + (label == "negative"),
        first_seen=history.first_seen or seen,
        last_seen=max(history.last_seen, seen) if history.last_seen else seen,
        last_label=label,
        # As the store reads it back (author_history.histories): the latest language that was told.
        language=lang if lang and lang != language.UNDETERMINED else history.language,
    )
