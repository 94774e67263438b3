"""Sensitive data in posts: cards that pass Luhn, IBANs, e-mails, phones, passwords; and what is not."""

from __future__ import annotations

import itertools

import pytest

from socialwatch.scoring.pii import Finding, find, kinds, luhn_ok, mask


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005") and luhn_ok("5555555555554444")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    "text,card",
    [
        ("my card 4111 1111 1111 1111 was charged twice", "4111 1111 1111 1111"),
        ("card: 4111-1111-1111-1111 exp 12/27", "4111-1111-1111-1111"),
        ("amex 378282246310005 declined", "378282246310005"),
        ("paid with 5555555555554444.", "5555555555554444"),
    ],
)
def test_cards_passing_luhn_are_found(text, card):
    (finding,) = [f for f in find(text) if f.kind == "card"]
    assert text[finding.start : finding.end] == card


@pytest.mark.parametrize(
    "text",
    [
        "my card 4111 1111 1111 1112 was charged",  # fails Luhn
        "order 4111111111111111 never arrived",  # an order number that happens to pass Luhn
        "tracking #4111111111111111",
        "1234 5678 9012 3456 7",  # wrong length grouping and prefix
        "ref 0000000000000000",  # no card starts with 0
    ],
)
def test_numbers_that_are_not_cards(text):
    assert "card" not in kinds(text)


def test_order_number_with_card_words_is_still_a_card():
    assert kinds("order 4111111111111111 was paid with my visa, card 4111111111111111") == ("card",)


@pytest.mark.parametrize(
    "text,phone",
    [
        ("call me on +44 7700 900123 please", "+44 7700 900123"),
        ("kenya +254 712 345 678", "+254 712 345 678"),
        ("my number is (555) 123-4567", "(555) 123-4567"),
        ("us: 555-123-4567", "555-123-4567"),
        ("ring 07700 900123 after 5", "07700 900123"),
        ("tel 0033 1 23 45 67 89", "0033 1 23 45 67 89"),
        ("whatsapp me 0712345678", "0712345678"),
    ],
)
def test_phone_numbers_in_international_and_national_formats(text, phone):
    (finding,) = [f for f in find(text) if f.kind == "phone"]
    assert text[finding.start : finding.end] == phone


@pytest.mark.parametrize(
    "text",
    [
        "on 2024-01-02 at 10:30 I paid £1,234.56",
        "delivery 12/05/2024, tracking 123456789012",
        "order 0123456789 missing",
        "2019-2020 season, 9-5 job, 1234567 points",
        "version 10.0.19045 broke it",
        "Rp 1.500.000 refund please",
        "case 2024-118832 still open",
        "booking ref 07123456789 cancelled",
    ],
)
def test_dates_times_amounts_and_references_are_not_phones(text):
    assert kinds(text) == ()


@pytest.mark.parametrize(
    "text,email",
    [
        ("email me at jane.doe+test@example.co.uk please", "jane.doe+test@example.co.uk"),
        ("J_Smith@Mail.Example.COM.", "J_Smith@Mail.Example.COM"),
    ],
)
def test_emails(text, email):
    (finding,) = find(text)
    assert (finding.kind, text[finding.start : finding.end]) == ("email", email)


def test_handles_are_not_emails():
    assert kinds("@ShopNow hi @jane_doe look") == ()


@pytest.mark.parametrize(
    "text,secret",
    [
        ("my password is hunter2 and it doesn't work", "hunter2"),
        ("pwd: S3cret!x", "S3cret!x"),
        ("PIN: 4321", "4321"),
        ("the cvv 123 on the back", "123"),
        ("Password = 'tr0ub4dor&3'", "tr0ub4dor&3"),
        ("my otp was 889911", "889911"),
    ],
)
def test_passwords_and_codes(text, secret):
    (finding,) = [f for f in find(text) if f.kind == "password"]
    assert text[finding.start : finding.end] == secret


@pytest.mark.parametrize(
    "text",
    [
        "my password is wrong",
        "I forgot my password and can't log in",
        "password reset link never arrives",
        "pin the blame on someone else",
        "bus pass is expired",
        "All but 2 constitutional amendments pass: Texas voters agreed",
        "your verification code is not arriving",
    ],
)
def test_talk_about_passwords_is_not_a_password(text):
    assert "password" not in kinds(text)


def test_iban_checked_with_mod97():
    assert kinds("IBAN GB82 WEST 1234 5698 7654 32 for the refund") == ("iban",)
    assert kinds("IBAN GB83 WEST 1234 5698 7654 32 for the refund") == ()


def test_mask_replaces_every_finding_and_keeps_the_rest():
    text = "card 4111 1111 1111 1111, mail jo@example.com, call +44 7700 900123, password: hunter2!"
    masked = mask(text)
    assert masked == "card [card ••••1111], mail [email hidden], call [phone hidden], password: [password hidden]!"
    for secret in ("4111 1111", "jo@example.com", "7700", "hunter2"):
        assert secret not in masked


def test_mask_is_identity_without_pii_and_safe_on_odd_text():
    for text in ("", "plain complaint about a late train", "😡 \u200b \x00", "\udcff broken", "x" * 100_000):
        assert mask(text) == text


def test_findings_are_sorted_and_do_not_overlap():
    text = "+44 7700 900123 and 4111111111111111 and a@b.co"
    found = find(text)
    assert [f.kind for f in found] == ["phone", "card", "email"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert found[0] == Finding("phone", 0, 15)
