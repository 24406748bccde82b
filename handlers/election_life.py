"""An election's life on the schedule, shared by the chat (/elections), the command line (`vecinos elections`)
and the scheduler's tick: calling it, closing nominations (void, unopposed, or a ranked poll counted by STV),
the result turned into roles and seats, and a vacant seat filled by the first substitute.

Each step runs inside the caller's transaction; messages go through the outbox, each in its reader's language.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.channels.base import Reply
from bot.domain.ballots import PollKind
from bot.domain.elections import (
    ELECTORATE_OF,
    CandidacyStatus,
    ElectionPolicy,
    ElectionStatus,
    ElectorateKind,
    NominationsOutcome,
    Office,
    Outcome,
    after_nominations,
    substitutes_in_order,
    unique_names,
)
from bot.domain.permissions import Grant, Role, ScopeKind
from bot.domain.polls import PollScope, PollTerms
from bot.domain.polls import ScopeKind as PollScopeKind
from bot.i18n import Catalogs, Translator, safe_join
from handlers.fanout import fan_out, tell
from handlers.poll_cards import scope_name, when
from handlers.poll_schedule import STV, create_poll, open_poll
from storage.models import Candidacy, Election, Poll
from storage.polls import Contact
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

TOPIC_ELECTION = "election.notice"
TOPIC_ELECTION_PERSONAL = "election.personal"


async def place_name(uow: UnitOfWork, election: Election) -> str:
    """The circle's name, or the council's barrio's name."""
    return await scope_name(uow, _poll_scope(election)) or "?"


async def barrio_of_circle(uow: UnitOfWork, circle_id: int) -> int | None:
    """The barrio a circle is in (from the territory snapshot)."""
    circle = await uow.territory.circle(circle_id)
    return circle.barrio_id if circle else None


async def barrio_of(uow: UnitOfWork, election: Election) -> int | None:
    """The barrio an election belongs to."""
    if election.scope_kind == ElectorateKind.COUNCIL:
        return election.scope_id
    return await barrio_of_circle(uow, election.scope_id)


def _poll_scope(election: Election) -> PollScope:
    return electorate_scope(ElectorateKind(election.scope_kind), election.scope_id)


def electorate_scope(kind: ElectorateKind, scope_id: int) -> PollScope:
    """The electorate as a poll's scope: a circle's verified members, or a council's members."""
    return PollScope(PollScopeKind.CIRCLE if kind is ElectorateKind.CIRCLE else PollScopeKind.COUNCIL, scope_id)


async def electorate(uow: UnitOfWork, election: Election) -> list[Contact]:
    """Who may stand and vote now, reachable."""
    return await uow.polls.members_contacts(_poll_scope(election))


def office_line(t: Translator, office: str, seats: int, place: str) -> str:
    """What is being elected, in the reader's language."""
    if office == Office.DELEGATE:
        return (
            t.plain("{seats} delegates of {place}", seats=seats, place=place)
            if seats != 1
            else t.plain("the delegate of {place}", place=place)
        )
    if office == Office.FORUM:
        return t.plain("the {place} council's representatives to the District Forum ({seats})", place=place,
                       seats=seats)  # fmt: skip
    return t.plain("the {place} council's representative to its Governance Commission", place=place)


def _ref(election: Election) -> str:
    return f"election:{election.id}"


async def call_election(uow: UnitOfWork, catalogs: Catalogs, *, electorate_kind: ElectorateKind, scope_id: int,
                        office: Office, seats: int, nominations_close: datetime, voting_closes: datetime,
                        created_by: int | None, now: datetime) -> Election:  # fmt: skip
    """Open nominations and tell the electorate, each in their language."""
    election = await uow.elections.create(
        scope_kind=electorate_kind, scope_id=scope_id, office=office, seats=seats,
        nominations_close_at=nominations_close, voting_closes_at=voting_closes, created_by=created_by, now=now,
    )  # fmt: skip
    place = await place_name(uow, election)

    def notice(t: Translator) -> Reply:
        return Reply(
            text=safe_join(
                "\n",
                [
                    t.gettext("🗳️ <b>Election</b>: {what}.", what=office_line(t, office, seats, place)),
                    t.gettext(
                        "Nominations are open until {when}: stand yourself, or nominate a neighbour, with /elections.",
                        when=when(t, nominations_close),
                    ),
                    t.gettext(
                        "Voting follows, until {when}, with a ranked and secret ballot.", when=when(t, voting_closes)
                    ),
                ],
            )
        )

    queued = await fan_out(
        uow, catalogs, await electorate(uow, election), notice, TOPIC_ELECTION, now, ref=_ref(election)
    )
    log.info("election %s called (%s %s:%s, %s seats), %s told", election.id, office, electorate_kind, scope_id, seats,
             queued)  # fmt: skip
    return election


def check_electorate_kind(office: Office, electorate_kind: ElectorateKind) -> bool:
    """Whether this office is elected by this electorate."""
    return ELECTORATE_OF[office] is electorate_kind


# ---------------------------------------------------------------- closing nominations


async def close_nominations(uow: UnitOfWork, catalogs: Catalogs, election: Election, now: datetime,
                            policy: ElectionPolicy, poll_policy: Any) -> int:  # fmt: skip
    """Nominations are over: nobody (void, the managers told), unopposed (elected at once) or a ranked vote."""
    standing = await uow.elections.candidacies(election.id, statuses=[CandidacyStatus.STANDING])
    for pending in await uow.elections.candidacies(election.id, statuses=[CandidacyStatus.PROPOSED]):
        await uow.elections.set_status(pending, CandidacyStatus.DECLINED)  # unanswered nominations lapse
    outcome = after_nominations(len(standing), election.seats)
    place = await place_name(uow, election)
    if outcome is NominationsOutcome.NOBODY:
        await uow.elections.void(election, now)
        return await _tell_managers_nobody_stood(uow, catalogs, election, place, now)
    if outcome is NominationsOutcome.UNOPPOSED:
        return await _declare(uow, catalogs, election, standing, [], now, policy, unopposed=True)
    labels = unique_names([c.name for c in standing])
    terms = PollTerms(
        kind=PollKind.RANKED,
        question=place,
        options=tuple(labels),
        opens_at=now,
        closes_at=election.voting_closes_at,
        max_choices=None,
        quorum_percent=0,
        threshold_percent=50,
        results_visible=False,
        vote_change=False,
    )
    poll = await create_poll(uow, catalogs, terms, _poll_scope(election), now, poll_policy,
                             created_by=election.created_by, open_now=False)  # fmt: skip
    await uow.polls.make_election_vote(poll, seats=election.seats, method=STV, office=election.office)
    by_label = dict(zip(labels, standing, strict=True))
    options = {o.id: o.text for o in await uow.polls.options(poll.id)}
    lot = [by_label[options[i]].id for i in poll.lot_order if i in options]
    await uow.elections.start_voting(election, poll.id, lot)
    queued = await open_poll(uow, catalogs, poll, now)
    log.info("election %s: %s candidates for %s seats, voting as poll %s", election.id, len(standing),
             election.seats, poll.id)  # fmt: skip
    return queued


async def _managers(uow: UnitOfWork, election: Election) -> list[Contact]:
    """The community managers of the election's barrio (the admins when it has none), reachable."""
    barrio = await barrio_of(uow, election)
    managers = await uow.roles.community_managers(barrio) if barrio is not None else []
    return [Contact(m.id, m.chat_id, m.locale) for m in managers if m.status == "active"]


async def _tell_managers_nobody_stood(uow: UnitOfWork, catalogs: Catalogs, election: Election, place: str,
                                      now: datetime) -> int:  # fmt: skip
    contacts = await _managers(uow, election)

    def notice(t: Translator) -> Reply:
        return Reply(
            text=t.gettext(
                "⚠️ Nobody stood in the election of {what}, so it is void. Call another with /elections when "
                "neighbours are ready to stand.",
                what=office_line(t, election.office, election.seats, place),
            )
        )

    return await tell(uow, catalogs, contacts, notice, TOPIC_ELECTION_PERSONAL, now, ref=_ref(election))


# ---------------------------------------------------------------- the result


async def finish_vote(uow: UnitOfWork, catalogs: Catalogs, poll: Poll, result: dict[str, Any], now: datetime,
                      policy: ElectionPolicy) -> int:  # fmt: skip
    """The election's poll is counted: turn its result into elected candidates and substitutes."""
    election = await uow.elections.by_poll(poll.id)
    if election is None or election.status != ElectionStatus.VOTING:
        return 0
    standing = await uow.elections.candidacies(election.id, statuses=[CandidacyStatus.STANDING])
    standing.sort(key=lambda c: c.id)
    labels = unique_names([c.name for c in standing])
    by_label = dict(zip(labels, standing, strict=True))
    winners = [by_label[w] for w in result.get("winners", []) if w in by_label]
    if not winners:
        await uow.elections.void(election, now)
        return await _tell_managers_nobody_stood(uow, catalogs, election, await place_name(uow, election), now)
    order = substitutes_in_order(result.get("rounds", []), labels, [w for w in result["winners"] if w in by_label])
    return await _declare(uow, catalogs, election, winners, [by_label[s] for s in order], now, policy)


async def _declare(uow: UnitOfWork, catalogs: Catalogs, election: Election, winners: list[Candidacy],
                   substitutes: list[Candidacy], now: datetime, policy: ElectionPolicy, *,
                   unopposed: bool = False) -> int:  # fmt: skip
    """Record places, hand roles or seats to the winners (and take them from those not re-elected), tell everyone."""
    for place_number, candidacy in enumerate(winners, 1):
        await uow.elections.record_outcome(candidacy, Outcome.ELECTED, place_number)
    for offset, candidacy in enumerate(substitutes, len(winners) + 1):
        await uow.elections.record_outcome(candidacy, Outcome.SUBSTITUTE, offset)
    term_end = now + policy.term if election.office == Office.DELEGATE else None
    await uow.elections.decide(election, now, term_end)
    resident_ids = [c.resident_id for c in winners if c.resident_id is not None]
    await _install(uow, election, resident_ids, now)
    place = await place_name(uow, election)
    names = ", ".join(c.name for c in winners)
    queued = 0
    if unopposed:

        def announcement(t: Translator) -> Reply:
            return Reply(
                text=t.gettext(
                    "🗳️ Elected unopposed, as there were no more candidates than seats: {names}, {what}.",
                    names=names,
                    what=office_line(t, election.office, election.seats, place),
                )
            )

        queued += await fan_out(uow, catalogs, await electorate(uow, election), announcement, TOPIC_ELECTION, now,
                                ref=_ref(election))  # fmt: skip
    for number, candidacy in enumerate(winners, 1):
        queued += await _tell_candidate(uow, catalogs, candidacy, election, place, now, elected=True, number=number)
    for number, candidacy in enumerate(substitutes, 1):
        queued += await _tell_candidate(uow, catalogs, candidacy, election, place, now, elected=False, number=number)
    log.info("election %s decided: %s elected, %s substitutes", election.id, len(winners), len(substitutes))
    return queued


async def _tell_candidate(uow: UnitOfWork, catalogs: Catalogs, candidacy: Candidacy, election: Election, place: str,
                          now: datetime, *, elected: bool, number: int) -> int:  # fmt: skip
    if candidacy.resident_id is None:
        return 0
    person = await uow.elections.person(candidacy.resident_id)
    if person is None:
        return 0

    def message(t: Translator) -> Reply:
        what = office_line(t, election.office, election.seats, place)
        if elected and election.office == Office.DELEGATE:
            return Reply(text=t.gettext(
                "🎉 You are elected: one of {what}. You now sit in your barrio's Citizen Community Council; "
                "/bodies shows who sits with you.", what=what))  # fmt: skip
        if elected:
            return Reply(text=t.gettext("🎉 You are elected: {what}. /bodies shows who sits with you.", what=what))
        return Reply(text=t.gettext(
            "You are substitute number {number} for {what}: if a seat falls vacant, it goes to the first "
            "substitute, and you will be told.", number=number, what=what))  # fmt: skip

    contact = Contact(person.resident_id, person.chat_id, person.locale)
    return await tell(uow, catalogs, [contact], message, TOPIC_ELECTION_PERSONAL, now, ref=_ref(election))


async def _install(uow: UnitOfWork, election: Election, resident_ids: list[int], now: datetime) -> None:
    """Roles and seats follow the result: delegates (and council members) of the circle, or body seats."""
    barrio = await barrio_of(uow, election)
    if election.office == Office.DELEGATE:
        for holder in await uow.roles.circle_role_holders(Role.DELEGATE, election.scope_id):
            if holder not in resident_ids:
                await step_down_as_delegate(uow, holder, election.scope_id, barrio)
        for resident_id in resident_ids:
            await _install_one(uow, election, resident_id, barrio, now)
        return
    await uow.elections.replace_elected_seats(
        Office(election.office), election.scope_id, resident_ids, election.id, now
    )


async def step_down_as_delegate(uow: UnitOfWork, resident_id: int, circle_id: int, barrio_id: int | None) -> None:
    """No longer a delegate of the circle: out of the council too (unless a delegate of another of its circles),
    and out of the seats the council elected them to."""
    await uow.roles.revoke(Grant(Role.DELEGATE, ScopeKind.CIRCLE, circle_id), resident_id=resident_id)
    if barrio_id is None:
        return
    if not await uow.roles.delegate_elsewhere_in(resident_id, barrio_id, circle_id):
        await uow.roles.revoke(Grant(Role.COUNCIL_MEMBER, ScopeKind.BARRIO, barrio_id), resident_id=resident_id)
        await uow.elections.drop_seats_of(resident_id, barrio_id)


# ---------------------------------------------------------------- a seat falls vacant


async def fill_vacant_seat(uow: UnitOfWork, catalogs: Catalogs, resident_id: int, circle_id: int,
                           now: datetime) -> int:  # fmt: skip
    """A delegate left the circle: the first substitute still a member takes the seat; the circle is told."""
    if resident_id not in await uow.roles.circle_role_holders(Role.DELEGATE, circle_id):
        return 0
    barrio = await barrio_of_circle(uow, circle_id)
    await step_down_as_delegate(uow, resident_id, circle_id, barrio)
    election = await uow.elections.latest_elected(ElectorateKind.CIRCLE, circle_id, Office.DELEGATE)
    if election is None:
        return 0
    leaving = await uow.elections.candidacy_of(election.id, resident_id)
    if leaving is None or leaving.outcome not in (Outcome.ELECTED, Outcome.REPLACED):
        return 0
    await uow.elections.record_outcome(leaving, Outcome.GONE, leaving.place)
    while (substitute := await uow.elections.next_substitute(election.id)) is not None:
        if substitute.resident_id is not None and await uow.elections.is_eligible(election, substitute.resident_id):
            break
        await uow.elections.record_outcome(substitute, Outcome.GONE, substitute.place)
    place = await place_name(uow, election)
    if substitute is None or substitute.resident_id is None:
        return await _tell_managers_seat_empty(uow, catalogs, election, leaving, place, now)
    await uow.elections.record_outcome(substitute, Outcome.REPLACED, substitute.place)
    await _install_one(uow, election, substitute.resident_id, barrio, now)
    incoming, outgoing = substitute.name, leaving.name

    def notice(t: Translator) -> Reply:
        return Reply(
            text=t.gettext(
                "🔁 {leaving} has left the circle and is no longer a delegate of {place}. The first substitute, "
                "{incoming}, takes the seat.",
                leaving=outgoing,
                incoming=incoming,
                place=place,
            )
        )

    queued = await fan_out(uow, catalogs, await electorate(uow, election), notice, TOPIC_ELECTION, now,
                           ref=_ref(election))  # fmt: skip
    log.info("election %s: a seat fell vacant and went to substitute %s", election.id, substitute.id)
    return queued


async def _install_one(
    uow: UnitOfWork, election: Election, resident_id: int, barrio: int | None, now: datetime
) -> None:
    await uow.roles.grant(Grant(Role.DELEGATE, ScopeKind.CIRCLE, election.scope_id), now, resident_id=resident_id)
    if barrio is not None:
        await uow.roles.grant(Grant(Role.COUNCIL_MEMBER, ScopeKind.BARRIO, barrio), now, resident_id=resident_id)


async def _tell_managers_seat_empty(uow: UnitOfWork, catalogs: Catalogs, election: Election, leaving: Candidacy,
                                    place: str, now: datetime) -> int:  # fmt: skip
    contacts = await _managers(uow, election)
    name = leaving.name

    def notice(t: Translator) -> Reply:
        return Reply(
            text=t.gettext(
                "⚠️ {name} has left and was a delegate of {place}, and no substitute is left: the seat is empty. "
                "Call an election with /elections.",
                name=name,
                place=place,
            )
        )

    return await tell(uow, catalogs, contacts, notice, TOPIC_ELECTION_PERSONAL, now, ref=_ref(election))


# ---------------------------------------------------------------- the tick


async def send_due_election_work(services: Any, limit: int = 20) -> int:
    """Tick: close nominations that are due; call a new delegate election where a term has ended."""
    now = services.clock()
    queued = 0
    async with services.db.unit_of_work() as uow:
        for election in await uow.elections.claim_due(now, limit):
            if election.status == ElectionStatus.NOMINATING and election.nominations_close_at <= now:
                queued += await close_nominations(uow, services.catalogs, election, now, services.elections,
                                                  services.polls)  # fmt: skip
        for circle_id in await uow.elections.terms_ended(now, limit):
            policy = services.elections
            close = now + policy.nominations
            await call_election(uow, services.catalogs, electorate_kind=ElectorateKind.CIRCLE, scope_id=circle_id,
                                office=Office.DELEGATE, seats=policy.delegate_seats, nominations_close=close,
                                voting_closes=close + policy.voting, created_by=None, now=now)  # fmt: skip
            queued += 1
        await uow.commit()
    if queued:
        services.on_outbox()
    return queued
