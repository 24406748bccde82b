"""A poll's life on the schedule: creating and opening (the electorate frozen, a ballot to every elector),
the reminder to those who have not voted, and the close (count, reseal, chart, result to every elector).

Shared by the chat (/poll), the command line (`vecinos polls`), proposals that reach their threshold and the
scheduler's tick. Each step is a transaction; the chart is drawn between two of them, off the event loop.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.channels.base import Reply
from bot.charts import chart_labels, render_in_thread
from bot.domain.ballots import PollKind, PublishedBallot, document_sha256, published_document
from bot.domain.polls import (
    MIN_BALLOTS_PUBLISHED,
    YESNO_CANDIDATES,
    PollPolicy,
    PollScope,
    PollStatus,
    PollTerms,
    YesNo,
    decide,
    reminder_at,
    tally_method,
)
from bot.domain.stv import SCALE, count_stv, stv_to_json
from bot.domain.tally import Ballot, count, lot_order, result_to_json
from bot.i18n import Catalogs, Translator, safe_join
from handlers.context import Services
from handlers.fanout import fan_out, tell
from handlers.poll_cards import (
    PollCard,
    ballot_reply,
    ballots_button,
    load_card,
    result_lines,
    title,
    turnout_line,
    when,
)
from storage.models import Poll
from storage.polls import Contact
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

STV = "stv"

TOPIC_POLL_BALLOT = "poll.ballot"
TOPIC_POLL_REMINDER = "poll.reminder"
TOPIC_POLL_RESULT = "poll.result"
TOPIC_POLL_TURNOUT = "poll.turnout"
CAPTION_BUDGET = 1000


def chart_key(poll_id: int) -> str:
    """The media key of a poll's result chart."""
    return f"poll-chart:{poll_id}"


# ---------------------------------------------------------------- creating and opening


async def create_poll(
    uow: UnitOfWork,
    catalogs: Catalogs,
    terms: PollTerms,
    scope: PollScope,
    now: datetime,
    policy: PollPolicy,
    *,
    created_by: int | None,
    open_now: bool = True,
) -> Poll:
    """Store a poll with its tie-break order fixed now, and open it at once if its opening time has come
    (`open_now=False`: the caller opens it, once it has linked what the ballot shows)."""
    remind = reminder_at(max(terms.opens_at, now), terms.closes_at, policy.reminder_before)
    poll = await uow.polls.create(terms, scope, now, created_by=created_by, remind_at=remind)
    options = await uow.polls.options(poll.id)
    by_text = {o.text: o.id for o in options}
    await uow.polls.set_lot_order(poll, [by_text[name] for name in lot_order(str(poll.id), list(by_text))])
    if open_now and terms.opens_at <= now:
        await open_poll(uow, catalogs, poll, now)
    return poll


async def open_poll(uow: UnitOfWork, catalogs: Catalogs, poll: Poll, now: datetime) -> int:
    """Freeze the electorate and send each elector the ballot in their language; the number of electors."""
    electors = await uow.polls.open(poll, now)
    card = await load_card(uow, poll)
    contacts = await uow.polls.electors(poll.id)
    await fan_out(uow, catalogs, contacts, lambda t: ballot_reply(t, card), TOPIC_POLL_BALLOT, now, ref=_ref(poll))
    log.info("poll %s opened to %s electors", poll.id, electors)
    return electors


def _ref(poll: Poll) -> str:
    return f"poll:{poll.id}"


# ---------------------------------------------------------------- reminding


async def remind_non_voters(uow: UnitOfWork, catalogs: Catalogs, poll: Poll, now: datetime) -> int:
    """The ballot again to every elector who has not voted, and the turnout (never who) to the author."""
    card = await load_card(uow, poll)
    contacts = await uow.polls.electors(poll.id, not_voted=True)

    def reminder(t: Translator) -> Reply:
        header = t.gettext(
            "⏰ <b>Reminder</b>: this poll closes {when} and you have not voted yet.", when=when(t, card.closes_at)
        )
        return ballot_reply(t, card, header=header)

    sent = await fan_out(uow, catalogs, contacts, reminder, TOPIC_POLL_REMINDER, now, ref=_ref(poll))
    await _tell_author_turnout(uow, catalogs, poll, card, now)
    await uow.polls.mark_reminded(poll)
    return sent


async def _tell_author_turnout(uow: UnitOfWork, catalogs: Catalogs, poll: Poll, card: PollCard, now: datetime) -> None:
    if poll.created_by is None:
        return
    author = await uow.residents.get(poll.created_by)
    if author is None or author.status != "active":
        return
    voted = await uow.ballots.turnout(poll.id)

    def turnout(t: Translator) -> Reply:
        return Reply(
            text=safe_join(
                "\n",
                [
                    t.gettext("📈 <b>Turnout</b> · {question}", question=title(t, card)),
                    turnout_line(t, voted, card.eligible),
                    t.gettext("It closes {when}.", when=when(t, card.closes_at)),
                ],
            )
        )

    await tell(uow, catalogs, [Contact(author.id, author.chat_id, author.locale)], turnout, TOPIC_POLL_TURNOUT, now)


# ---------------------------------------------------------------- counting


@dataclass(frozen=True, slots=True)
class Candidates:
    """A poll's options as the counter names them (yes/no: `yes` and `no`; abstaining is a blank ballot)."""

    names: tuple[str, ...]
    name_of: dict[int, str | None]


def candidates_of(card: PollCard) -> Candidates:
    """The counter's names for a poll's options."""
    if card.kind is PollKind.YESNO:
        name_of: dict[int, str | None] = {o.id: (None if o.code == YesNo.ABSTAIN else o.code) for o in card.options}
        return Candidates(YESNO_CANDIDATES, name_of)
    return Candidates(tuple(o.text for o in card.options), {o.id: o.text for o in card.options})


async def count_poll(uow: UnitOfWork, poll: Poll, card: PollCard) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Count a poll's ballots: the result (as stored and shown) and, from 5 ballots up, the published ballots."""
    sealed = await uow.ballots.sealed(poll.id)
    voted = await uow.ballots.turnout(poll.id)
    if voted != len(sealed):
        log.error("poll %s: %s participations but %s ballots", poll.id, voted, len(sealed))
    kind = PollKind(poll.kind)
    candidates = candidates_of(card)
    method = poll.count_method or tally_method(kind)
    rankings = [tuple(n for n in (candidates.name_of.get(i) for i in b.choice) if n is not None) for b in sealed]
    lot = [name for name in (candidates.name_of.get(i) for i in poll.lot_order) if name in candidates.names]
    if kind is PollKind.YESNO:
        lot = list(YESNO_CANDIDATES)
    if method == STV:
        tally = _count_by_stv(candidates.names, rankings, poll.seats, lot)
    else:
        counted_rounds = count(method, candidates.names, [Ballot(r) for r in rankings], lot=lot)
        tally = _Tally(counted_rounds.winners, dict(counted_rounds.totals), counted_rounds.blank,
                       result_to_json(counted_rounds)["rounds"])  # fmt: skip
    outcome = decide(
        kind,
        tally.winners if any(tally.totals.values()) else (),
        dict(tally.totals),
        voted=voted,
        eligible=poll.eligible_count,
        quorum_percent=poll.quorum_percent,
        threshold_percent=poll.threshold_percent,
    )
    results = []
    for option in card.options:
        name = candidates.name_of[option.id]
        results.append({"option": option.text, "votes": tally.totals.get(name, 0) if name else tally.blank})
    yes, no = tally.totals.get(YesNo.YES, 0), tally.totals.get(YesNo.NO, 0)
    published = len(sealed) >= MIN_BALLOTS_PUBLISHED
    document = None
    if published:
        document = published_document(
            poll_id=poll.id,
            question=poll.question,
            method=method,
            seats=poll.seats,
            candidates=candidates.names,
            tie_break_order=lot,
            ballots=[PublishedBallot(b.tracker_hash, r) for b, r in zip(sealed, rankings, strict=True)],
            eligible=poll.eligible_count,
            participations=voted,
        )
    result = {
        "method": method,
        "eligible": poll.eligible_count,
        "voted": voted,
        "ballots": len(sealed),
        "blank": tally.blank,
        "quorum_met": outcome.quorum_met,
        "carried": outcome.carried,
        "yes_percent": math.floor(yes * 100 / (yes + no)) if yes + no else 0,
        "winners": list(outcome.winners),
        "results": results,
        "rounds": tally.rounds,
        "tie_break_order": lot,
        "seats": poll.seats,
        "quota": tally.quota,
        "published": published,
    }
    return result, document


@dataclass(frozen=True, slots=True)
class _Tally:
    """What the result needs of any count: winners, first-count totals (whole votes), blanks, rounds as JSON."""

    winners: tuple[str, ...]
    totals: dict[str, int]
    blank: int
    rounds: list[dict[str, Any]]
    quota: str | None = None


def _count_by_stv(names: tuple[str, ...], rankings: list[tuple[str, ...]], seats: int, lot: list[str]) -> _Tally:
    """Scottish STV for an election's ranked poll; totals are the first preferences."""
    counted = count_stv(names, [Ballot(r) for r in rankings], seats=min(seats, len(names)), lot=lot or names)
    first = counted.stages[0].votes
    totals = {name: first[name] // SCALE for name in names}
    report = stv_to_json(counted)
    return _Tally(counted.winners, totals, counted.blank, report["rounds"], report["quota"])


async def close_poll(uow: UnitOfWork, poll: Poll, now: datetime) -> dict[str, Any]:
    """Count a poll whose time is up, reseal its ballot box and store the result (announced next)."""
    card = await load_card(uow, poll)
    result, document = await count_poll(uow, poll, card)
    await uow.ballots.reseal(poll.id)
    await uow.polls.record_count(poll, result, document_sha256(document) if document else None)
    log.info("poll %s counted: %s ballots", poll.id, result["ballots"])
    return result


async def published_ballots(uow: UnitOfWork, poll: Poll) -> dict[str, Any] | None:
    """The published ballots of a closed poll, rebuilt from the sealed box (None below 5 ballots)."""
    if poll.status not in (PollStatus.COUNTED, PollStatus.CLOSED) or poll.published_sha256 is None:
        return None
    _result, document = await count_poll(uow, poll, await load_card(uow, poll))
    if document is not None and document_sha256(document) != poll.published_sha256:
        log.error("poll %s: the ballots no longer match their published fingerprint", poll.id)
    return document


# ---------------------------------------------------------------- announcing


async def announce_result(services: Services, poll_id: int) -> int:
    """Draw the chart (off the event loop) and send the result to every elector and the author; the poll is
    closed once the announcements are queued. Safe to call twice: the second call finds it closed."""
    async with services.db.unit_of_work() as uow:
        poll = await uow.polls.get(poll_id)
        if poll is None or poll.status != PollStatus.COUNTED or poll.result is None:
            return 0
        card = await load_card(uow, poll)
    chart = await _chart(card)
    now = services.clock()
    async with services.db.unit_of_work() as uow:
        poll = await uow.polls.get(poll_id, lock=True)
        if poll is None or poll.status != PollStatus.COUNTED:
            return 0
        key = chart_key(poll_id) if chart is not None else None
        if chart is not None and key is not None:
            await uow.media.store(key, chart, f"poll-{poll_id}.png", now)
        contacts = await uow.polls.electors(poll_id)
        if poll.created_by is not None and all(c.resident_id != poll.created_by for c in contacts):
            author = await uow.residents.get(poll.created_by)
            if author is not None and author.status == "active":
                contacts.append(Contact(author.id, author.chat_id, author.locale))

        def announcement(t: Translator) -> Reply:
            lines = result_lines(t, card, card.result or {}, brief=True)
            text = safe_join("\n", lines)
            buttons = [ballots_button(t, card)] if (card.result or {}).get("published") else []
            if key is not None and len(text) <= CAPTION_BUDGET:
                return Reply(text=text, photo_media=key, buttons=buttons)
            return Reply(text=text, buttons=buttons)

        sent = await fan_out(uow, services.catalogs, contacts, announcement, TOPIC_POLL_RESULT, now, ref=_ref(poll))
        await uow.polls.mark_closed(poll, now)
        await uow.commit()
    services.on_outbox()
    return sent


async def _chart(card: PollCard) -> bytes | None:
    result = card.result or {}
    rows = result.get("results", [])
    if not rows:
        return None
    names = [r["option"] for r in rows]
    winners = [i for i, r in enumerate(rows) if r["option"] in set(result.get("winners", []))]
    try:
        return await render_in_thread(chart_labels(names), [int(r["votes"]) for r in rows], winners)
    except Exception:
        # A chart is a courtesy: the result goes out as text rather than not at all.
        log.exception("poll %s: the result chart could not be drawn", card.id)
        return None
