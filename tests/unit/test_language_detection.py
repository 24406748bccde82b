"""Offline language detection among the ten languages: sure answers for a sentence, none for a word."""

from __future__ import annotations

import pytest

from bot.language_detection import detect_language, ready


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Mucho ruido por las noches en la plaza, no se puede dormir.", "es"),
        ("Es un bar: es cosa de la Policía.", "es"),
        ("Tomorrow the water is off from 9 to 12 in the whole street.", "en"),
        ("غدا سينقطع الماء من 9 إلى 12 في كل الشارع.", "ar"),
        ("আগামীকাল রাস্তায় পানি বন্ধ থাকবে।", "bn"),
        ("明天9点到12点停水。", "zh_Hans"),
        ("Mâine nu este apă de la 9 la 12 pe toată strada.", "ro"),
        ("Demain, l'eau sera coupée de 9 h à 12 h dans toute la rue.", "fr"),
        ("Domani manca l'acqua dalle 9 alle 12 in tutta la via.", "it"),
        ("Bukas, walang tubig mula 9 hanggang 12 sa buong kalye.", "fil"),
        ("Завтра не буде води з 9 до 12 на всій вулиці.", "uk"),
    ],
)
def test_a_sentence_is_recognised_in_each_language(text, locale):
    assert ready()
    assert detect_language(text) == locale


@pytest.mark.parametrize("text", ["ok", "👍👍", "https://t.me/vecinos 12345", "#42", ""])
def test_too_little_to_tell_gives_no_answer(text):
    assert detect_language(text) is None
