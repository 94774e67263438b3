"""The labelled corpora the model learns from and is judged on, read in place (never copied: licences).

``TRAINING`` lists every training set of the pack (and AfriSenti's Swahili train split beside it) with
its licence as the pack's README states it, and whether it is clearly redistributable (MIT, Apache-2.0,
CC BY). GPL-3.0 data (the Latvian nicmanis corpus) is never trained on. Each training set is split by
a hash of its name and the text: about 15% is held back as that set's dev split, the same on every
machine. ``EVALUATION`` are the sets beside the pack, used only to report figures.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from socialwatch.learning.training import Example

#: Share of each training set held back as its dev split (by hash, out of 256).
DEV_SHARE = 38


@dataclass(frozen=True)
class Corpus:
    path: str  # relative to sentiment-dev/
    lang: str
    licence: str
    permissive: bool  # MIT / Apache-2.0 / CC BY: clearly redistributable


TRAINING: tuple[Corpus, ...] = (
    Corpus("pack/en/semeval2013-2016_task4a.tsv", "en", "research use, Twitter terms (unclear)", False),
    Corpus("pack/en/sanders_brand_tweets.tsv", "en", "unclear (no licence file)", False),
    Corpus("pack/lv/ltec_sentiment_train.tsv", "lv", "MIT", True),
    Corpus("pack/lv/viksna_tweets.tsv", "lv", "unclear (no licence file)", False),
    Corpus("pack/ta/dravidiancodemix_tamil.tsv", "ta", "unclear (cite the paper)", False),
    Corpus("pack/id/indonlu_smsa_trainvalid.tsv", "id", "Apache-2.0", True),
    Corpus("pack/id/ugm_idsa_tweets.tsv", "id", "unclear (possibly CC BY-NC 4.0)", False),
    Corpus(
        "pack/ms/mesolitica_news_sentiment.tsv",
        "ms",
        "Apache-2.0 at that commit; upstream now asks to be asked first",
        True,
    ),
    Corpus("pack/ms/mesolitica_translated_multidomain_reviews.tsv", "ms", "unclear", False),
    Corpus("pack/sw/neurotech_translated_reviews.tsv", "sw", "MIT", True),
    Corpus("afrisenti_swa/train.tsv", "sw", "CC BY 4.0", True),
    Corpus("pack/es/umsab_es_trainval.tsv", "es", "original dataset's (InterTASS 2017)", False),
    Corpus("pack/fr/umsab_fr_trainval.tsv", "fr", "original dataset's (DEFT 2017)", False),
    Corpus("pack/de/umsab_de_trainval.tsv", "de", "original dataset's (SB-10k)", False),
    Corpus("pack/pt/umsab_pt_trainval.tsv", "pt", "original dataset's (TweetSentBR)", False),
)

#: Sets beside the pack: figures only, never trained on.
EVALUATION = ("tweeteval", "afrisenti_dev", "vader_gt", "latvian_nicmanis")


def is_dev(source: str, text: str) -> bool:
    digest = hashlib.blake2b((source + "\x00" + text).encode("utf-8", "surrogatepass"), digest_size=1).digest()
    return digest[0] < DEV_SHARE


def default_root(repo: Path) -> Path:
    return repo.parent / "shared" / "data" / "sentiment-dev"


def resolve_root(data: Path) -> Path:
    """``--data`` may name the shared data folder or sentiment-dev/ itself."""
    return data / "sentiment-dev" if (data / "sentiment-dev").is_dir() else data


def read_tsv(path: Path, lang: str, source: str) -> Iterator[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows, None)
        for row in rows:
            if len(row) >= 2 and row[1].strip() in ("negative", "neutral", "positive") and row[0].strip():
                yield Example(row[0], lang, row[1].strip(), None, source)


def training_sets(root: Path, licences: str = "all") -> list[tuple[Corpus, list[Example]]]:
    """Every training set present under ``root`` (``licences="permissive"``: only the redistributable
    ones); a missing set is skipped (``missing_sets`` names them), none at all is an error."""
    out = []
    for corpus in TRAINING:
        if licences == "permissive" and not corpus.permissive:
            continue
        path = root / corpus.path
        if path.exists():
            out.append((corpus, list(read_tsv(path, corpus.lang, corpus.path))))
    if not out:
        raise FileNotFoundError(
            f"no training set under {root} (looked for {TRAINING[0].path} and the others of the pack); "
            "pass --data DIR, the folder holding sentiment-dev/"
        )
    return out


def missing_sets(root: Path, licences: str = "all") -> list[str]:
    return [c.path for c in TRAINING if (licences != "permissive" or c.permissive) and not (root / c.path).exists()]


def evaluation_sets(root: Path) -> dict[str, list[Example]]:
    """The sets beside the pack, as present (each is optional)."""
    sets: dict[str, list[Example]] = {}
    texts, labels = root / "tweeteval/val_text.txt", root / "tweeteval/val_labels.txt"
    if texts.exists() and labels.exists():
        names = {"0": "negative", "1": "neutral", "2": "positive"}
        pairs = zip(texts.read_text(encoding="utf-8").splitlines(), labels.read_text().split(), strict=False)
        sets["tweeteval"] = [Example(t, "en", names[lab], None, "tweeteval") for t, lab in pairs]
    dev = root / "afrisenti_swa/dev.tsv"
    if dev.exists():
        sets["afrisenti_dev"] = list(read_tsv(dev, "sw", "afrisenti_dev"))
    truth = root / "tweets_GroundTruth.txt"
    if truth.exists():
        rows = []
        for line in truth.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                mean = float(parts[1])
                rows.append(Example(parts[2], "en", "negative" if mean < 0 else "positive", None, "vader_gt"))
        sets["vader_gt"] = rows
    latvian = root / "latvian/nicmanis_tweet_corpus.json"
    if latvian.exists():
        names = {"NEG": "negative", "NEU": "neutral", "POZ": "positive"}
        sets["latvian_nicmanis"] = [
            Example(r["text"], "lv", names[r["sentiment"]], None, "latvian_nicmanis")
            for r in json.loads(latvian.read_text(encoding="utf-8"))
            if r.get("sentiment") in names
        ]
    return sets


def read_labelled(path: Path) -> list[Example]:
    """A labelled file for ``socialwatch model eval``: JSONL (``text``, ``label``, optional ``lang``,
    ``needs_reply``) or TSV (``text<TAB>label`` or ``lang<TAB>text<TAB>label``, header line optional)."""
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    out: list[Example] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix in (".jsonl", ".json"):
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = str(row["label"]).lower()
                text = str(row["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: needs a JSON object with 'text' and 'label' ({exc})") from exc
            if label not in ("negative", "neutral", "positive"):
                raise ValueError(f"{path}:{number}: label {label!r} is not negative, neutral or positive")
            needs = row.get("needs_reply")
            out.append(
                Example(text, str(row.get("lang") or ""), label, None if needs is None else bool(needs), path.name)
            )
        return out
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) == 2:
            text, label, lang = cols[0], cols[1].strip(), ""
        elif len(cols) >= 3:
            lang, text, label = cols[0], cols[1], cols[2].strip()
        else:
            raise ValueError(f"{path}:{number}: needs text<TAB>label or lang<TAB>text<TAB>label")
        if label in ("label", "sentiment"):
            continue  # the header line
        if label not in ("negative", "neutral", "positive"):
            raise ValueError(f"{path}:{number}: label {label!r} is not negative, neutral or positive")
        out.append(Example(text, lang, label, None, path.name))
    return out
