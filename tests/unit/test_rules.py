"""Pure rules: membership transitions, invites, territory, text, callbacks, locale guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.callbacks import CallbackData, cb, parse_callback
from bot.domain.residents import (
    InviteProblem,
    InviteTerms,
    MembershipStatus,
    can_move,
    check_invite,
    looks_like_invite_code,
    new_invite_code,
)
from bot.domain.territory import CirclePoint, distance_m, nearest_circles, valid_coordinates
from bot.domain.text import clean_free_text, split_caption, split_message
from bot.i18n import guess_locale

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
S = MembershipStatus


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (S.PENDING, S.VERIFIED, True),
        (S.PENDING, S.REJECTED, True),
        (S.PENDING, S.LEFT, True),
        (S.VERIFIED, S.LEFT, True),
        (S.VERIFIED, S.PENDING, False),
        (S.REJECTED, S.VERIFIED, False),
        (S.LEFT, S.VERIFIED, False),
        (S.ERASED, S.PENDING, False),
        (S.VERIFIED, S.ERASED, True),
    ],
)
def test_membership_transitions(current, target, ok):
    assert can_move(current, target) is ok


@pytest.mark.parametrize(
    ("terms", "problem"),
    [
        (None, InviteProblem.UNKNOWN),
        (InviteTerms(NOW + timedelta(days=1), 1), None),
        (InviteTerms(None, None), None),
        (InviteTerms(NOW, 5), InviteProblem.EXPIRED),
        (InviteTerms(NOW - timedelta(seconds=1), 5), InviteProblem.EXPIRED),
        (InviteTerms(NOW + timedelta(days=1), 0), InviteProblem.USED_UP),
        (InviteTerms(NOW + timedelta(days=1), 3, revoked=True), InviteProblem.REVOKED),
    ],
)
def test_check_invite(terms, problem):
    assert check_invite(terms, NOW) == problem


@pytest.mark.parametrize(
    ("payload", "ok"),
    [
        ("abc23xyz89", True),
        ("a-b_c", True),
        ("no", False),
        ("with space", False),
        ("ñandú123", False),
        ("x" * 65, False),
    ],
)
def test_invite_code_shape(payload, ok):
    assert looks_like_invite_code(payload) is ok


def test_new_invite_codes_are_valid_and_distinct():
    codes = {new_invite_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(looks_like_invite_code(c) for c in codes)


def test_distance_between_sol_and_plaza_mayor_is_about_330_m():
    assert 300 < distance_m(40.4169, -3.7035, 40.4155, -3.7074) < 380


def test_nearest_circles_orders_by_distance_and_drops_far_ones():
    points = [CirclePoint(1, 40.4169, -3.7035), CirclePoint(2, 40.4155, -3.7074), CirclePoint(3, 41.0, -3.7)]
    assert [cid for cid, _ in nearest_circles(points, 40.4160, -3.7040)] == [1, 2]


@pytest.mark.parametrize(("lat", "lon", "ok"), [(40.4, -3.7, True), (91, 0, False), (0, 181, False)])
def test_valid_coordinates(lat, lon, ok):
    assert valid_coordinates(lat, lon) is ok


@pytest.mark.parametrize(
    ("raw", "text", "problem"),
    [
        ("  Calle  Mayor\n 3 ", "Calle Mayor 3", None),
        ("\u200b\u200f\u202e", "", "empty"),
        ("", "", "empty"),
        ("Cal\u200ble", "Calle", None),
        ("x" * 15, "x" * 14, "too_long"),
        ("شارع 3", "شارع 3", None),
        ("🏠 3º B", "🏠 3º B", None),
    ],
)
def test_clean_free_text(raw, text, problem):
    cleaned = clean_free_text(raw, 14)
    assert (cleaned.text, cleaned.problem) == (text, problem)


def test_split_message_keeps_short_text_whole():
    assert split_message("hola") == ["hola"]


def test_split_message_respects_limit_and_balances_tags():
    text = "<b>" + ("palabra " * 1500) + "</b>"
    parts = split_message(text, 4096)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert all(p.count("<b>") == p.count("</b>") for p in parts)
    assert " ".join(p.replace("<b>", "").replace("</b>", "") for p in parts).split() == ["palabra"] * 1500


def test_split_message_never_cuts_an_entity():
    text = "&amp;" * 2000
    for part in split_message(text, 4096):
        assert part.count("&") == part.count(";")


def test_split_message_never_cuts_inside_a_tag():
    link = '<a href="https://example.org/a b">enlace</a>'
    parts = split_message("x" * 4010 + link + " y más" * 20, 4096)
    assert parts == ["x" * 4010, link + " y más" * 20]


def test_a_caption_that_fits_is_whole():
    assert split_caption("<b>Resultados</b>\nSí: 12") == ("<b>Resultados</b>\nSí: 12", "")


def test_a_long_caption_keeps_its_first_line_and_the_rest_follows():
    text = "<b>Resultados de la votación</b>\n" + "\n".join(f"Opción {n}: <i>{n} votos</i>" for n in range(80))
    caption, rest = split_caption(text)
    assert caption == "<b>Resultados de la votación</b>"
    assert rest.startswith("Opción 0:") and rest.endswith("<i>79 votos</i>")


def test_a_long_first_line_is_cut_at_a_word_with_tags_closed_and_reopened():
    text = "<b>" + "palabra &amp; " * 200 + "</b>"
    caption, rest = split_caption(text)
    assert len(caption) <= 1024
    assert caption.startswith("<b>") and caption.endswith("</b>") and caption.count("<b>") == 1
    assert rest.startswith("<b>") and rest.endswith("</b>") and rest.count("<b>") == 1
    assert caption.count("&") == caption.count(";") and rest.count("&") == rest.count(";")
    words = (caption + " " + rest).replace("<b>", "").replace("</b>", "").split()
    assert words == ["palabra", "&amp;"] * 200


def test_a_caption_never_cuts_inside_a_tag():
    text = "x" * 950 + '<a href="https://example.org/' + "p" * 200 + '">enlace</a>'
    caption, rest = split_caption(text)
    assert caption == "x" * 950 and rest.startswith("<a href=")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("ap:15", CallbackData("ap", ("15",))),
        ("lang:ar", CallbackData("lang", ("ar",))),
        ("nobld", CallbackData("nobld")),
        ("", None),
        (None, None),
        ("ap:15:x:y:z:w", None),
        ("ap:<script>", None),
        ("x" * 65, None),
        ("ap:١٥", None),
    ],
)
def test_parse_callback(raw, parsed):
    assert parse_callback(raw) == parsed


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (CallbackData("ap", ("15",)), 15),
        (CallbackData("ap", ("x",)), None),
        (CallbackData("ap", ()), None),
        (CallbackData("ap", ("0",)), None),
    ],
)
def test_int_arg(data, value):
    assert data.int_arg() == value


def test_cb_refuses_oversized_or_unsafe_data():
    assert cb("circle", 12) == "circle:12"
    with pytest.raises(ValueError):
        cb("circle", "Plaza de Lavapiés")
    with pytest.raises(ValueError):
        cb("a" * 24, "b" * 24, "c" * 24)


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("ar", "ar"),
        ("ar-EG", "ar"),
        ("en-GB", "en"),
        ("es-419", "es"),
        ("zh-hans", "es"),
        (None, "es"),
        ("", "es"),
        ("xx-invalid-tag", "es"),
        ("EN", "en"),
    ],
)
def test_guess_locale(code, locale):
    assert guess_locale(code, ("es", "en", "ar"), "es") == locale
