"""`vecinos meetings` as an office runs it: a circle's assembly called for demo residents (each invited through
the outbox with an .ics), shown as JSON with its answers, moved (SEQUENCE up), cancelled; bad arguments are one
line and exit code 2."""

from __future__ import annotations

import json

import pytest

CIRCLE = "emb-plaza-lavapies"


def test_an_office_calls_moves_shows_and_cancels_a_meeting(cli):
    cli.ok("demo", "populate", "--residents", "6", "--circle", CIRCLE)
    out = cli.ok(
        "meetings",
        "create",
        "--circle",
        CIRCLE,
        "--title",
        "Asamblea de la plaza",
        "--at",
        "2027-03-10T19:00",
        "--place",
        "Plaza de Lavapiés",
        "--agenda",
        "Bancos",
    )
    meeting = int(out.strip())
    shown = json.loads(cli.ok("meetings", "show", str(meeting)))
    assert shown["uid"] == f"meeting-{meeting}@vecinos.mcd" and shown["sequence"] == 0
    assert shown["starts_at_madrid"] == "2027-03-10T19:00:00+01:00" and shown["minutes"] == 90
    assert shown["rsvp"] == {"yes": 0, "no": 0, "maybe": 0, "none": 6, "invited": 6}
    assert shown["agenda"] == ["Bancos"] and shown["status"] == "scheduled"
    moved = json.loads(cli.ok("meetings", "move", str(meeting), "--at", "2027-04-01T19:00+02:00"))
    assert moved["sequence"] == 1 and moved["starts_at"] == "2027-04-01T17:00:00+00:00"
    cancelled = json.loads(cli.ok("meetings", "cancel", str(meeting)))
    assert cancelled["status"] == "cancelled" and cancelled["sequence"] == 2
    assert "can no longer change" in cli.refused("meetings", "cancel", str(meeting))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--circle", "nowhere", "--title", "X", "--at", "2027-03-10T19:00"], "no such circle"),
        (["--body", "parliament:x", "--title", "X", "--at", "2027-03-10T19:00"], "use council:BARRIO"),
        (["--body", "council:atlantis", "--title", "X", "--at", "2027-03-10T19:00"], "no barrio"),
        (["--body", "council:embajadores", "--title", "X", "--at", "2027-03-10T19:00"], "nobody would be invited"),
        (["--circle", CIRCLE, "--title", "X", "--at", "2020-01-01T19:00"], "in the future"),
        (["--circle", CIRCLE, "--title", "X", "--at", "2027-03-10T19:00", "--minutes", "2"], "--minutes"),
        (["--circle", CIRCLE, "--title", " ", "--at", "2027-03-10T19:00"], "--title"),
    ],
)
def test_a_bad_meeting_argument_is_one_clear_line(cli, args, says):
    cli.ok("seed")
    assert says in cli.refused("meetings", "create", *args)


def test_an_unknown_meeting_is_refused(cli):
    cli.ok("seed")
    assert "no meeting 99" in cli.refused("meetings", "show", "99")
