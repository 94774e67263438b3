"""Deterministic synthetic traffic for the performance benchmarks: tweet-length customer messages.

Every text is built from templates with random slots (seeded), so the same ``n`` gives the same
texts on every machine, and almost every text is different (nothing can be answered from a cache
of earlier texts). The mix is what a brand's inbox looks like: complaints, questions, praise,
chatter, spam with links, other languages (Latin and non-Latin scripts), emoji, handles, URLs,
the odd card number or phone posted in public.

``tweets(n)`` yields X API v2 payloads (tweet dict + its author) as the X adapter receives them,
so the benchmarks start at normalisation (``sources.x.tweet_to_item``), not at a ready Item.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BRAND = "@AcmeHelp"

_THINGS = [
    "order",
    "parcel",
    "package",
    "refund",
    "delivery",
    "bag",
    "booking",
    "invoice",
    "replacement",
    "ticket",
    "router",
    "phone",
    "card",
    "subscription",
    "account",
    "train",
    "flight",
    "meal",
]
_SERVICES = ["internet", "broadband", "wifi", "app", "website", "signal", "tv", "service", "phone line"]
_DUR = ["2 hours", "45 minutes", "three days", "a week", "10 days", "an hour", "two weeks", "5 hrs", "6 weeks"]
_PLACES = ["Leeds", "Manchester", "Lyon", "Austin", "the airport", "platform 4", "Gate B12", "Bristol", "Madrid"]
_NAMES = ["Sam", "Priya", "Jo", "Liam", "Ana", "Chen", "Fatima", "Olu", "Marta", "Kenji", "Noah", "Zoe"]
_EMOJI_BAD = ["😡", "🤬", "😤", "👎", "🙄", "😠", "💀", "😩"]
_EMOJI_GOOD = ["😍", "🙌", "❤️", "👏", "🔥", "✨", "😊", "💯", "🎉"]
_EMOJI_ANY = ["🤔", "📦", "✈️", "🚆", "📱", "💳", "☕", "😂", "👀"]
_TAGS = ["#fail", "#customerservice", "#help", "#annoyed", "#love", "#travel", "#BlackFriday", "#outage", ""]

_EN_COMPLAINTS = [
    "{b} my {thing} still hasn't arrived after {dur}. This is ridiculous {bad}",
    "{b} been on hold for {dur} and nobody picks up. Terrible service {tag}",
    "{b} you charged me twice for my {thing}!! I want my money back",
    "{b} the {svc} is down again in {place}, third time this week {bad}",
    "{b} can't log in to the app, keeps crashing since the update. Fix it please",
    "{b} my {thing} arrived damaged and the box was soaked. Who do I talk to?",
    "{b} {n} days without {svc}, no update, no callback. Absolutely useless",
    "@{h} @{b2} worst experience ever with your staff at {place}. So rude {bad}{bad}",
    "{b} where is my {thing}? Tracking says delivered but nothing here {url}",
    "{b} flight cancelled last minute and still no refund after {dur} {tag}",
    "{b} great, another delay. Love waiting {dur} for a train that never comes {bad}",
    "{b} I cancelled my {thing} in March and you're still taking money every month",
    "Hey {b} your driver threw my parcel over the fence in the rain. Unacceptable.",
    "{b} 3rd time asking: when will I get my refund for order #{order}? No reply to emails",
    "{b} the {svc} keeps dropping every {n} minutes, paying for nothing {bad}",
    "{b} wrong size sent AGAIN. How hard is it {bad} {url}",
]
_EN_QUESTIONS = [
    "{b} do you deliver to {place} on Sundays?",
    "{b} how do I change the address on my {thing}?",
    "{b} is there a student discount on the {thing}? {any}",
    "{b} hi, can I upgrade my plan without a new contract?",
    "Quick question {b}: what time does the {place} store open tomorrow?",
    "{b} what's the return policy for sale items? Bought a {thing} on {url}",
    "{b} any news on when the {svc} outage in {place} will be fixed?",
    "@{h} {b} does the new {thing} work with older models?",
]
_EN_PRAISE = [
    "{b} thanks {name}, sorted my {thing} in five minutes. Brilliant service {good}",
    "Shout out to {b} for the quick refund, really impressed {good}{good}",
    "{b} love the new app update, so much faster {good} {tag}",
    "{b} your team at {place} were amazing today, thank you! {good}",
    "Best {thing} I've bought all year, cheers {b} {good}",
    "{b} delivery came a day early, nice one {good}",
]
_EN_CHATTER = [
    "Watching the match at {place} with a {thing} in hand {any}",
    "@{h} lol same, my {thing} did that yesterday {any}",
    "RT @{h}: big day tomorrow in {place} {tag}",
    "Anyone else up this early? {any} {tag}",
    "{b} just saw your ad on the train, catchy tune {any}",
    "ok {b} {any}",
    "Reading about the new {thing} launch {url}",
]
_SPAM = [
    "🔥 WIN a FREE {thing}!!! Click {url} now {b} #giveaway #free",
    "Earn $500/day from home, DM me {b} {url} {url}",
    "{b} follow back? 💯 check my page {url}",
    "CHEAP followers and likes >>> {url} <<< {b} #promo",
]
_PII = [
    "{b} my card {card} was charged twice, please refund!!",
    "{b} call me back on 07700 900{n3}, been waiting {dur}",
    "{b} my email is {h}@example.com, nobody replied to my complaint",
]
# (declared lang, templates) for other languages; X declares lang on most tweets.
_OTHER = [
    (
        "es",
        [
            "{b} mi pedido no ha llegado después de {n} días, qué vergüenza {bad}",
            "{b} ¿cuándo abren la tienda de {place}?",
            "{b} gracias por la ayuda, todo perfecto {good}",
        ],
    ),
    (
        "fr",
        [
            "{b} toujours pas de remboursement après {n} jours, c'est inadmissible",
            "{b} bonjour, comment changer mon adresse de livraison ?",
            "{b} super service, merci beaucoup {good}",
        ],
    ),
    (
        "de",
        [
            "{b} meine Bestellung ist immer noch nicht angekommen, seit {n} Tagen {bad}",
            "{b} wie kann ich mein Passwort zurücksetzen?",
            "{b} danke für die schnelle Hilfe, top Service {good}",
        ],
    ),
    ("pt", ["{b} minha encomenda chegou danificada, quero reembolso", "{b} vocês entregam em {place}?"]),
    (
        "it",
        ["{b} sono in attesa da {n} giorni, nessuna risposta {bad}", "{b} grazie mille, servizio eccellente {good}"],
    ),
    ("nl", ["{b} mijn pakket is nog steeds niet bezorgd, al {n} dagen"]),
    (
        "ja",
        [
            "{b} 注文した商品がまだ届きません。{n}日も待っています {bad}",
            "{b} ありがとうございました！とても助かりました {good}",
        ],
    ),
    ("ar", ["{b} الطلب لم يصل بعد {n} أيام، خدمة سيئة جدا {bad}"]),
    ("hi", ["{b} मेरा ऑर्डर अभी तक नहीं आया, {n} दिन हो गए {bad}"]),
    ("ru", ["{b} заказ до сих пор не доставлен, уже {n} дней {bad}"]),
    ("ko", ["{b} 배송이 너무 늦어요 {n}일째 기다리는 중 {bad}"]),
]
_MIX = [  # (weight, kind)
    (30, "complaint"),
    (14, "question"),
    (14, "praise"),
    (16, "chatter"),
    (6, "spam"),
    (2, "pii"),
    (18, "other"),
]
_KINDS = [kind for weight, kind in _MIX for _ in range(weight)]
_OPENERS = ["", "", "", "Hi ", "Hey ", "Morning! ", "Ugh. ", "So ", "Honestly ", "FYI ", "Right, ", "Hello? "]
_CLOSERS = [
    "",
    "",
    "",
    " pls",
    " !!",
    " ?!",
    " thx",
    " {any}",
    " {tag}",
    " {url}",
    " @{h}",
    " - {name}",
    " (day {n})",
    " #{n}",
]


def _card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for index, d in enumerate(reversed(digits)):  # Luhn check digit
        value = d * 2 if index % 2 == 0 else d
        total += value - 9 if value > 9 else value
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i : i + 4] for i in range(0, 16, 4))


def _fill(template: str, rng: random.Random) -> str:
    slots = {
        "b": BRAND,
        "b2": BRAND.lstrip("@"),
        "thing": rng.choice(_THINGS),
        "svc": rng.choice(_SERVICES),
        "dur": rng.choice(_DUR),
        "place": rng.choice(_PLACES),
        "name": rng.choice(_NAMES),
        "n": str(rng.randint(2, 40)),
        "n3": f"{rng.randint(0, 999):03d}",
        "order": str(rng.randint(10**6, 10**7)),
        "h": f"user{rng.randint(1, 99999)}",
        "bad": rng.choice(_EMOJI_BAD),
        "good": rng.choice(_EMOJI_GOOD),
        "any": rng.choice(_EMOJI_ANY),
        "tag": rng.choice(_TAGS),
        "url": f"https://t.co/{''.join(rng.choices('abcdefghijkLMNOPQRS0123456789', k=10))}",
        "card": _card(rng),
    }
    return " ".join(template.format(**slots).split())


def text(rng: random.Random) -> tuple[str, str]:
    """One (text, lang as X would declare it)."""
    kind = rng.choice(_KINDS)
    if kind == "other":
        lang, templates = rng.choice(_OTHER)
        return _fill(rng.choice(templates) + rng.choice(_CLOSERS), rng), lang
    templates = {
        "complaint": _EN_COMPLAINTS,
        "question": _EN_QUESTIONS,
        "praise": _EN_PRAISE,
        "chatter": _EN_CHATTER,
        "spam": _SPAM,
        "pii": _PII,
    }[kind]
    body = _fill(rng.choice(_OPENERS) + rng.choice(templates) + rng.choice(_CLOSERS), rng)
    # A suffix from a second template now and then: longer, more varied texts (still tweet-length).
    if rng.random() < 0.25 and len(body) < 160:
        body = f"{body} {_fill(rng.choice(_EN_CHATTER), rng)}"[:280]
    return body, "en"


def complaints(n: int, seed: int = 10) -> list[str]:
    """English complaints only: every one of them needs a person (the latency benchmark alerts on all)."""
    rng = random.Random(seed)
    return [_fill(rng.choice(_OPENERS) + rng.choice(_EN_COMPLAINTS) + rng.choice(_CLOSERS), rng) for _ in range(n)]


def texts(n: int, seed: int = 10) -> list[str]:
    rng = random.Random(seed)
    return [text(rng)[0] for _ in range(n)]


def tweets(
    n: int, seed: int = 10, *, authors: int | None = None, start: datetime = T0, step: timedelta = timedelta(seconds=1)
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(tweet payload, author payload) as X API v2 delivers them with ``expansions=author_id``.

    Authors repeat (a Zipf-ish mix: a few regulars, a long tail) so author history matters. About one
    tweet in ten is declared "und" by X (we detect the language ourselves then), as X does for short text.
    """
    rng = random.Random(seed)
    authors = authors or max(10, n // 4)
    for index in range(n):
        body, lang = text(rng)
        author = int(authors * rng.random() ** 2)  # skewed towards low ids: regulars
        if rng.random() < 0.1:
            lang = "und"
        tweet_id = str(1_900_000_000_000_000_000 + index)
        tweet = {
            "id": tweet_id,
            "text": body,
            "author_id": str(10_000 + author),
            "created_at": (start + step * index).isoformat().replace("+00:00", "Z"),
            "conversation_id": tweet_id,
            "lang": lang,
            "edit_history_tweet_ids": [tweet_id],
        }
        user = {
            "id": str(10_000 + author),
            "username": f"cust{author}",
            "name": f"{_NAMES[author % len(_NAMES)]} C",
            "public_metrics": {"followers_count": int(50 * (1 / max(rng.random(), 1e-4)))},
        }
        yield tweet, user


if __name__ == "__main__":
    for sample in texts(30):
        print(sample)
