"""Language detection: scripts decide alone, CLD2 reads Latin text, short or noisy text is "und"."""

from __future__ import annotations

import threading

import pytest

from socialwatch.scoring.language import LanguageDetector, clean, detect, script_counts


@pytest.mark.parametrize(
    "text,lang",
    [
        ("@AcmeAir flight delayed again and nobody at the desk can tell us anything", "en"),
        ("@TelcoOne llevo dos días sin internet y nadie responde a mis mensajes", "es"),
        ("@ShopNow j'attends toujours ma commande, ça fait deux semaines maintenant", "fr"),
        ("@TelcoOne internets nestrādā jau otro dienu, kad to salabosiet?", "lv"),
        ("@ShopNow vis dar laukiu savo užsakymo, jau dvi savaitės praėjo", "lt"),
        ("@BankCo huduma mbovu sana, hakuna anayejibu simu wala ujumbe", "sw"),
        ("@TelcoOne seit gestern kein Internet, und niemand antwortet auf meine Nachrichten", "de"),
    ],
)
def test_latin_script_languages(text, lang):
    assert detect(text) == lang


@pytest.mark.parametrize(
    "text,lang",
    [
        ("@TelcoOne நேற்றிலிருந்து இணையம் வேலை செய்யவில்லை", "ta"),
        ("மோசமான சேவை", "ta"),  # short, but the script alone decides
        ("주문한 물건이 아직 안 왔어요", "ko"),
        ("注文した商品がまだ届きません", "ja"),  # kana among Han characters is Japanese
        ("我的订单还没有到", "zh"),
        ("Η παραγγελία μου δεν έφτασε ακόμα", "el"),
        ("คำสั่งซื้อของฉันยังไม่มาถึง", "th"),
    ],
)
def test_single_language_scripts_decide_without_a_model(text, lang):
    detection = LanguageDetector().explain(text)
    assert (detection.lang, detection.method) == (lang, "script")


def test_tamil_with_english_words_is_still_tamil():
    assert detect("@BankCo app open aagala, ரொம்ப மோசமான சேவை இது") == "ta"


def test_cyrillic_arabic_hebrew_go_to_cld2():
    assert detect("Мой заказ до сих пор не доставлен, никто не отвечает") == "ru"
    assert detect("הזמנתי לפני שבועיים ועדיין לא קיבלתי כלום") == "he"  # CLD2's "iw" is reported as "he"
    assert detect("مرحبا، طلبي لم يصل بعد وخدمة العملاء لا ترد") == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "@AcmeAir",
        "https://t.co/abc @x #y",
        "😡😡😡 👎",
        "12345 !!!",
        "lol ok",
        "Lmfao",
        "RT @user: https://t.co/x",
    ],
)
def test_short_or_empty_text_is_und(text):
    assert detect(text) == "und"


def test_handles_links_and_rt_do_not_make_latvian_english():
    text = "RT @katrinailjinska @AcmeSupport: Es pat teiktu, ka ļoti trausls :) https://t.co/vf95CCHlni"
    cleaned = clean(text)
    assert cleaned.endswith("Es pat teiktu, ka ļoti trausls :)")
    assert not any(noise in cleaned for noise in ("@", "http", "RT", "katrinailjinska"))
    assert detect(text) == "lv"


def test_unlikely_languages_fall_back():
    # CLD2 calls this Scots; a brand's customers rarely write Scots, the next candidate or "und" is better.
    assert detect("I feel funny. Funny strange not funny haha.") in ("en", "und")
    # ...unless the brand says its customers do.
    assert LanguageDetector(expected=["sco"]).detect("I feel funny. Funny strange not funny haha.") == "sco"


def test_script_counts_count_letters_and_vowel_signs():
    counts = script_counts("abc நன்றி 123 ☺")
    assert counts["latin"] == 3
    assert counts["tamil"] == 5  # ந ன ் ற ி: consonants plus signs


def test_invalid_unicode_does_not_raise():
    assert detect("broken \udcff surrogate in an otherwise English sentence about my order") in ("en", "und")
    assert detect("\x00\x01\x02 control characters only") in ("en", "und")


def test_thread_safe_results_match_serial():
    texts = [
        "@TelcoOne llevo dos días sin internet y nadie responde",
        "மோசமான சேவை",
        "flight delayed again, no update from anyone at the airport",
        "ok",
    ] * 50
    expected = [detect(t) for t in texts]
    results: list[list[str]] = []

    def work() -> None:
        results.append([detect(t) for t in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 4 and all(r == expected for r in results)
