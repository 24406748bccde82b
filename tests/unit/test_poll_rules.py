"""Pure poll rules: receipts, valid choices, drafts in button data, terms, timing, quorum and threshold, the
outcome of a count, proposal support. (The counting methods themselves: test_tally.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.ballots import (
    EMPTY_DRAFT,
    PollKind,
    PublishedBallot,
    Receipt,
    canonical_json,
    decode_draft,
    document_sha256,
    encode_draft,
    new_ballot_key,
    new_receipt,
    parse_receipt,
    published_document,
    stored_choice,
    toggled,
    tracker_hash,
    valid_choice,
)
from bot.domain.polls import (
    PollOutcome,
    PollStatus,
    PollTerms,
    TermsProblem,
    check_terms,
    decide,
    next_due,
    parse_closing,
    parse_duration,
    parse_scope,
    quorum_met,
    reminder_at,
    tally_method,
    turnout_percent,
    yes_carries,
)
from bot.domain.proposals import ProposalStatus, SupportOutcome, SupportRule, after_support, support_needed

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


# ---------------------------------------------------------------- receipts


def test_a_receipt_has_130_random_bits_and_round_trips_however_it_is_typed():
    receipt = new_receipt(42)
    assert len(receipt.tracker) == 26 and receipt.code.startswith("42-")
    for typed in (
        receipt.code,
        receipt.code.lower(),
        receipt.code.replace("-", " "),
        f"P42 {receipt.tracker}",
        f"  {receipt.code}  ",
        receipt.code.replace("O", "0").replace("I", "1"),
    ):
        assert parse_receipt(typed) == receipt, typed
    assert len({new_receipt(1).tracker for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "typed",
    ["", "hola", "42", "42-ABC", "42-" + "A" * 25, "42-" + "A" * 27, "x-" + "A" * 26, "42-" + "A" * 25 + "!"],
)
def test_what_is_not_a_receipt_is_refused(typed):
    assert parse_receipt(typed) is None


def test_the_tracker_hash_binds_the_poll():
    assert tracker_hash(1, "A" * 26) != tracker_hash(2, "A" * 26)
    assert Receipt(1, "A" * 26).tracker_hash == tracker_hash(1, "A" * 26)
    assert len(tracker_hash(1, "A" * 26)) == 64


def test_ballot_keys_are_random_not_sequential():
    keys = [new_ballot_key() for _ in range(200)]
    assert len(set(keys)) == 200 and sorted(keys) != keys


# ---------------------------------------------------------------- choices and drafts

OPTIONS = [11, 12, 13, 14]


@pytest.mark.parametrize(
    ("kind", "choice", "max_choices", "ok"),
    [
        (PollKind.SINGLE, [11], None, True),
        (PollKind.SINGLE, [], None, False),
        (PollKind.SINGLE, [11, 12], None, False),
        (PollKind.SINGLE, [99], None, False),
        (PollKind.YESNO, [13], None, True),
        (PollKind.APPROVAL, [11, 12], 2, True),
        (PollKind.APPROVAL, [11, 12, 13], 2, False),
        (PollKind.APPROVAL, [11, 11], 2, False),
        (PollKind.APPROVAL, [], 2, False),
        (PollKind.RANKED, [14, 11], None, True),
        (PollKind.RANKED, [14, 11, 12, 13], None, True),
        (PollKind.RANKED, [14, 14], None, False),
        (PollKind.RANKED, [], None, False),
    ],
)
def test_valid_choices(kind, choice, max_choices, ok):
    assert valid_choice(kind, OPTIONS, choice, max_choices) is ok


def test_approvals_are_stored_sorted_and_rankings_in_order():
    assert stored_choice(PollKind.APPROVAL, [13, 11]) == [11, 13]
    assert stored_choice(PollKind.RANKED, [13, 11]) == [13, 11]


@pytest.mark.parametrize(
    ("draft", "count", "expected"),
    [(EMPTY_DRAFT, 3, []), ("0", 3, [0]), ("210", 3, [2, 1, 0]), ("9", 10, [9]), ("3", 3, None), ("00", 3, None),
     ("0123", 3, None), ("x", 3, None), ("", 3, None)],
)  # fmt: skip
def test_drafts_in_button_data_are_decoded_or_refused(draft, count, expected):
    assert decode_draft(draft, count) == expected


def test_drafts_round_trip_and_toggle():
    assert decode_draft(encode_draft([3, 0, 9]), 10) == [3, 0, 9]
    assert encode_draft([]) == EMPTY_DRAFT
    assert toggled([0, 2], 1) == [0, 1, 2]
    assert toggled([0, 2], 2) == [0]


# ---------------------------------------------------------------- terms and timing


def terms(**changes) -> PollTerms:
    base = {
        "kind": PollKind.SINGLE,
        "question": "¿Bancos?",
        "options": ("A", "B"),
        "opens_at": NOW,
        "closes_at": NOW + timedelta(days=3),
    }
    return PollTerms(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({}, []),
        ({"question": "  "}, [TermsProblem.QUESTION_EMPTY]),
        ({"question": "x" * 301}, [TermsProblem.QUESTION_LONG]),
        ({"options": ("A",)}, [TermsProblem.TOO_FEW_OPTIONS]),
        ({"options": tuple("ABCDEFGHIJK")}, [TermsProblem.TOO_MANY_OPTIONS]),
        ({"options": ("A", "a ")}, [TermsProblem.OPTIONS_REPEATED]),
        ({"options": ("A", "x" * 101)}, [TermsProblem.OPTION_LONG]),
        ({"kind": PollKind.YESNO, "options": ()}, []),
        ({"kind": PollKind.APPROVAL}, [TermsProblem.MAX_CHOICES]),
        ({"kind": PollKind.APPROVAL, "max_choices": 2}, []),
        ({"kind": PollKind.APPROVAL, "max_choices": 3}, [TermsProblem.MAX_CHOICES]),
        ({"closes_at": NOW + timedelta(minutes=4)}, [TermsProblem.CLOSES_TOO_SOON]),
        ({"closes_at": NOW + timedelta(days=91)}, [TermsProblem.CLOSES_TOO_LATE]),
        ({"quorum_percent": 101}, [TermsProblem.QUORUM]),
        ({"threshold_percent": 100}, [TermsProblem.THRESHOLD]),
    ],
)
def test_terms(changes, problems):
    assert check_terms(terms(**changes), NOW) == problems


@pytest.mark.parametrize(
    ("closes_in", "before", "expected"),
    [
        (timedelta(days=3), timedelta(hours=24), NOW + timedelta(days=2)),
        (timedelta(hours=10), timedelta(hours=24), NOW + timedelta(hours=5)),  # shorter than the notice: halfway
        (timedelta(days=3), timedelta(0), None),
    ],
)
def test_the_reminder_goes_before_the_close(closes_in, before, expected):
    assert reminder_at(NOW, NOW + closes_in, before) == expected


def test_the_next_due_moment_follows_the_status():
    close, remind = NOW + timedelta(days=3), NOW + timedelta(days=2)
    assert next_due(PollStatus.SCHEDULED, NOW, close, remind, False) == NOW
    assert next_due(PollStatus.OPEN, NOW, close, remind, False) == remind
    assert next_due(PollStatus.OPEN, NOW, close, remind, True) == close
    assert next_due(PollStatus.OPEN, NOW, close, None, False) == close
    assert next_due(PollStatus.CLOSED, NOW, close, remind, True) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3d", NOW + timedelta(days=3)),
        ("90m", NOW + timedelta(minutes=90)),
        ("1w", NOW + timedelta(weeks=1)),
        ("2026-12-20 20:00", datetime(2026, 12, 20, 19, tzinfo=UTC)),  # Madrid is UTC+1 in winter
        ("20/12/2026 20:00", datetime(2026, 12, 20, 19, tzinfo=UTC)),
        ("20/12/2026", datetime(2026, 12, 20, 19, tzinfo=UTC)),
        ("5/1 10:00", datetime(2027, 1, 5, 9, tzinfo=UTC)),  # no year: the next 5 January
        ("20/06/2027 20:00", datetime(2027, 6, 20, 18, tzinfo=UTC)),  # summer time
        ("mañana", None),
        ("", None),
    ],
)
def test_closing_times_as_typed(typed, expected):
    assert parse_closing(typed, NOW, MADRID) == expected


@pytest.mark.parametrize(("text", "ok"), [("2h", True), ("10 d", True), ("0d", True), ("2y", False), ("h", False)])
def test_durations(text, ok):
    assert (parse_duration(text) is not None) is ok


@pytest.mark.parametrize(
    ("text", "key"),
    [("circle:7", "circle:7"), ("BARRIO:2", "barrio:2"), ("district", "district"), ("body:3", "body:3"),
     ("circle:", None), ("street:2", None), ("circle:x", None)],
)  # fmt: skip
def test_scopes(text, key):
    scope = parse_scope(text)
    assert (scope.key if scope else None) == key


# ---------------------------------------------------------------- quorum, threshold, outcome


@pytest.mark.parametrize(
    ("voted", "eligible", "quorum", "met"),
    [(0, 10, 0, True), (0, 10, 10, False), (1, 10, 10, True), (2, 10, 25, False), (3, 10, 25, True),
     (5, 10, 50, True), (4, 10, 50, False), (10, 10, 100, True), (9, 10, 100, False)],
)  # fmt: skip
def test_quorum(voted, eligible, quorum, met):
    assert quorum_met(voted, eligible, quorum) is met


@pytest.mark.parametrize(
    ("yes", "no", "threshold", "carried"),
    [(3, 2, 50, True), (2, 2, 50, False), (0, 0, 50, False), (2, 1, 66, True), (2, 1, 67, False),
     (3, 1, 75, False), (4, 1, 75, True), (1, 0, 0, True), (0, 1, 0, False)],
)  # fmt: skip
def test_yes_carries_with_more_than_the_threshold(yes, no, threshold, carried):
    assert yes_carries(yes, no, threshold) is carried


@pytest.mark.parametrize(
    ("kind", "winners", "totals", "voted", "quorum", "outcome"),
    [
        (PollKind.YESNO, ("yes",), {"yes": 6, "no": 3}, 10, 0, PollOutcome(True, ("yes",), True)),
        (PollKind.YESNO, ("yes",), {"yes": 5, "no": 5}, 10, 0, PollOutcome(True, ("no",), False)),
        (PollKind.YESNO, ("yes",), {"yes": 2, "no": 0}, 2, 25, PollOutcome(False, (), None)),
        (PollKind.SINGLE, ("A",), {"A": 3, "B": 1}, 4, 25, PollOutcome(True, ("A",))),
        (PollKind.SINGLE, ("A",), {"A": 3, "B": 1}, 4, 50, PollOutcome(False, ())),
        (PollKind.RANKED, ("B",), {"A": 3, "B": 2}, 5, 0, PollOutcome(True, ("B",))),
    ],
)
def test_the_outcome_of_a_count(kind, winners, totals, voted, quorum, outcome):
    assert (
        decide(kind, winners, totals, voted=voted, eligible=10, quorum_percent=quorum, threshold_percent=50) == outcome
    )


def test_methods_and_turnout():
    assert [tally_method(k) for k in PollKind] == ["plurality", "plurality", "approval", "irv"]
    assert turnout_percent(23, 61) == 37 and turnout_percent(0, 0) == 0 and turnout_percent(60, 61) == 98


# ---------------------------------------------------------------- the published ballots


def test_the_published_ballots_are_sorted_by_hash_whatever_the_order_cast():
    ballots = [PublishedBallot(tracker_hash(1, c * 26), (c,)) for c in "QWERTY"]
    common = {"poll_id": 1, "question": "q", "method": "plurality", "candidates": list("QWERTY"),
              "tie_break_order": list("QWERTY"), "eligible": 9, "participations": 6}  # fmt: skip
    one = published_document(ballots=ballots, **common)
    two = published_document(ballots=ballots[::-1], **common)
    assert canonical_json(one) == canonical_json(two)
    assert document_sha256(one) == document_sha256(two)
    hashes = [b["receipt_hash"] for b in one["ballots"]]  # type: ignore[index]
    assert hashes == sorted(hashes)
    assert {"method", "seats", "candidates", "ballots"} <= set(one)


# ---------------------------------------------------------------- proposals


@pytest.mark.parametrize(
    ("members", "rule", "needed"),
    [(4, SupportRule(10, 3), 3), (61, SupportRule(10, 3), 7), (100, SupportRule(10, 3), 10),
     (3000, SupportRule(5, 3), 150), (0, SupportRule(10, 1), 1)],
)  # fmt: skip
def test_support_needed(members, rule, needed):
    assert support_needed(members, rule) == needed


@pytest.mark.parametrize(
    ("status", "before", "threshold", "already", "outcome"),
    [
        (ProposalStatus.OPEN, 1, 3, False, SupportOutcome.COUNTED),
        (ProposalStatus.OPEN, 2, 3, False, SupportOutcome.REACHED),
        (ProposalStatus.OPEN, 2, 3, True, SupportOutcome.ALREADY),
        (ProposalStatus.EXPIRED, 2, 3, False, SupportOutcome.CLOSED),
        (ProposalStatus.ACCEPTED, 5, 3, False, SupportOutcome.CLOSED),
    ],
)
def test_what_a_support_does(status, before, threshold, already, outcome):
    assert after_support(status, before, threshold, already=already) is outcome
