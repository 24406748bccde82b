"""Elections in chat: /elections (mine, with their candidates and what I can do), standing with a statement,
nominating a neighbour (who accepts or declines), withdrawing, managers calling an election; /bodies shows the
council, the Forum and the Governance Commission and who sits in them. Voting is the ranked ballot of polls."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.elections import (
    STATEMENT_MAX,
    CandidacyStatus,
    ElectionStatus,
    ElectorateKind,
    Office,
    Outcome,
    StatementProblem,
    check_statement,
)
from bot.domain.permissions import Action, Place, Role, Sector
from bot.domain.text import clean_free_text
from bot.i18n import Safe, Translator, escape, safe_join
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.election_life import (
    TOPIC_ELECTION_PERSONAL,
    barrio_of_circle,
    call_election,
    electorate_scope,
    office_line,
    place_name,
)
from handlers.labels import sector_name
from handlers.poll_cards import shorten, when
from handlers.routing import Callback, Command, Routes, any_input
from storage.elections import COMMISSION, Person
from storage.models import Election

PAGE = 8


class StandStep(StrEnum):
    """Standing: the statement."""

    STATEMENT = "statement"


def _council_barrios(ctx: Context) -> list[int]:
    return [int(g.scope_id) for g in ctx.grants if g.role is Role.COUNCIL_MEMBER and g.scope_id is not None]


def _managed_barrios(ctx: Context) -> list[int] | None:
    """Barrios where I may call elections (None: everywhere, an admin)."""
    if any(g.role is Role.ADMIN for g in ctx.grants):
        return None
    return [int(g.scope_id) for g in ctx.grants if g.role is Role.COMMUNITY_MANAGER and g.scope_id is not None]


def _status_text(t: Translator, election: Election) -> str:
    if election.status == ElectionStatus.NOMINATING:
        return t.plain("nominations open until {when}", when=when(t, election.nominations_close_at))
    if election.status == ElectionStatus.VOTING:
        return t.plain("voting until {when}", when=when(t, election.voting_closes_at))
    if election.status == ElectionStatus.ELECTED:
        return t.plain("decided")
    return t.plain("void: nobody stood")


def _candidate_line(t: Translator, name: str, statement: str, outcome: str | None, place: int | None) -> Safe:
    mark = ""
    if outcome in (Outcome.ELECTED, Outcome.REPLACED):
        mark = " 🏆"
    elif outcome == Outcome.SUBSTITUTE:
        mark = t.plain(" (substitute {number})", number=place)
    if statement:
        return t.gettext("• <b>{name}</b>{mark}: {statement}", name=name, mark=mark, statement=statement)
    return t.gettext("• <b>{name}</b>{mark}", name=name, mark=mark)


async def list_elections(ctx: Context) -> None:
    """/elections: the elections of my circle and my councils, and what I can do in each."""
    t = ctx.t
    circle_id = ctx.verified_circle_id
    elections = await ctx.uow.elections.visible_to(circle_id, _council_barrios(ctx))
    lines: list[Safe] = [t.gettext("🗳️ <b>Elections</b>")]
    rows: list[list[Button]] = []
    if not elections:
        lines.append(t.gettext("No election in your circle or your council yet."))
    for election in elections[:4]:
        place = await place_name(ctx.uow, election)
        lines.append(
            t.gettext(
                "<b>{what}</b> · {status}",
                what=office_line(t, election.office, election.seats, place),
                status=_status_text(t, election),
            )
        )
        statuses = [CandidacyStatus.STANDING]
        for candidacy in await ctx.uow.elections.candidacies(election.id, statuses=statuses):
            # Statements while they matter (before the count), names after: the list stays one message.
            active = election.status in (ElectionStatus.NOMINATING, ElectionStatus.VOTING)
            statement = shorten(candidacy.statement, 300) if active else ""
            lines.append(_candidate_line(t, candidacy.name, statement, candidacy.outcome, candidacy.place))
        if election.status == ElectionStatus.NOMINATING and ctx.resident is not None:
            mine = await ctx.uow.elections.candidacy_of(election.id, ctx.resident.id)
            if mine is not None and mine.status == CandidacyStatus.STANDING:
                rows.append([Button(t.plain("↩️ Withdraw my candidacy ({place})", place=place), cb("elw", election.id))])
            elif await ctx.uow.elections.is_eligible(election, ctx.resident.id):
                rows.append([Button(t.plain("🙋 Stand as a candidate ({place})", place=place), cb("els", election.id))])
            if await ctx.uow.elections.is_eligible(election, ctx.resident.id):
                rows.append(
                    [Button(t.plain("👤 Nominate a neighbour ({place})", place=place), cb("eln", election.id, 0))]
                )
        elif election.status == ElectionStatus.VOTING and election.poll_id is not None:
            rows.append([Button(t.plain("🗳️ My ballot ({place})", place=place), cb("po", election.poll_id))])
    rows.extend(await _call_buttons(ctx))
    ctx.say(safe_join("\n", lines), rows)


async def _call_buttons(ctx: Context) -> list[list[Button]]:
    """A manager's buttons to call an election in the circles (and the council) of their barrio."""
    barrios = _managed_barrios(ctx)
    if barrios is not None and not barrios:
        return []
    rows: list[list[Button]] = []
    under_way = await ctx.uow.elections.under_way()
    for circle in await ctx.uow.territory.circles():
        if barrios is not None and circle.barrio_id not in barrios:
            continue
        if (ElectorateKind.CIRCLE, circle.id, Office.DELEGATE) not in under_way:
            label = ctx.t.plain("📣 Call: delegates of {place}", place=circle.name)
            rows.append([Button(label, cb("elc", ElectorateKind.CIRCLE.value, circle.id, Office.DELEGATE.value))])
    for barrio in await ctx.uow.territory.barrios():
        if barrios is not None and barrio.id not in barrios:
            continue
        for office in (Office.FORUM, Office.GOVERNANCE):
            if (ElectorateKind.COUNCIL, barrio.id, office) not in under_way:
                label = office_line(ctx.t, office, 1, barrio.name)
                rows.append([Button(ctx.t.plain("📣 Call: {what}", what=label),
                                    cb("elc", ElectorateKind.COUNCIL.value, barrio.id, office.value))])  # fmt: skip
    return rows[:12]


async def call_tapped(ctx: Context, data: CallbackData) -> None:
    """elc:<circle|council>:<id>:<office>: a manager calls an election with the default phases."""
    try:
        kind, scope_id, office = ElectorateKind(data.args[0]), int(data.args[1]), Office(data.args[2])
    except (IndexError, ValueError):
        await stale(ctx)
        return
    barrio = scope_id if kind is ElectorateKind.COUNCIL else await barrio_of_circle(ctx.uow, scope_id)
    circle = scope_id if kind is ElectorateKind.CIRCLE else None
    if barrio is None or not ctx.allowed(Action.CALL_ELECTION, Place(barrio, circle)):
        ctx.toast(ctx.t.plain("Only the barrio's community managers call its elections."))
        return
    if await ctx.uow.elections.active_for(kind, scope_id, office) is not None:
        ctx.toast(ctx.t.plain("An election is already under way there."))
        return
    if await ctx.uow.polls.members_of(electorate_scope(kind, scope_id)) == 0:
        ctx.toast(ctx.t.plain("Nobody could stand or vote there yet."))
        ctx.say(ctx.t.gettext("Nobody could stand or vote in that election yet: it has no members."))
        return
    policy = ctx.services.elections
    seats = (
        policy.delegate_seats if office is Office.DELEGATE else (policy.forum_seats if office is Office.FORUM else 1)
    )
    close = ctx.now + policy.nominations
    caller = ctx.resident.id if ctx.resident else None
    election = await call_election(ctx.uow, ctx.services.catalogs, electorate_kind=kind, scope_id=scope_id,
                                   office=office, seats=seats, nominations_close=close,
                                   voting_closes=close + policy.voting, created_by=caller, now=ctx.now)  # fmt: skip
    ctx.wrote_outbox = True
    place = await place_name(ctx.uow, election)
    ctx.toast(ctx.t.plain("Election called ✅"))
    ctx.say(
        ctx.t.gettext(
            "📣 Election called: {what}. Nominations close {nominations}; voting closes {voting}. Everyone who can "
            "stand has been told.",
            what=office_line(ctx.t, office, seats, place),
            nominations=when(ctx.t, election.nominations_close_at),
            voting=when(ctx.t, election.voting_closes_at),
        )
    )


# ---------------------------------------------------------------- standing, nominating, withdrawing


async def _open_for_nominations(ctx: Context, election_id: int | None) -> Election | None:
    election = await ctx.uow.elections.get(election_id) if election_id else None
    if election is None or ctx.resident is None:
        await stale(ctx)
        return None
    if election.status != ElectionStatus.NOMINATING or ctx.now >= election.nominations_close_at:
        ctx.toast(ctx.t.plain("Nominations are closed."))
        ctx.say(ctx.t.gettext("Nominations for this election are closed."))
        return None
    if not await ctx.uow.elections.is_eligible(election, ctx.resident.id):
        ctx.toast(ctx.t.plain("You cannot take part in this election."))
        ctx.say(ctx.t.gettext("Only the members who elect these seats can stand or nominate in this election."))
        return None
    return election


async def stand_tapped(ctx: Context, data: CallbackData) -> None:
    """els:<election>: stand; the statement comes next."""
    election = await _open_for_nominations(ctx, data.int_arg(0))
    if election is None:
        return
    await ctx.go(Flow.STAND, StandStep.STATEMENT, election=election.id)
    ctx.toast("")
    ctx.say(
        ctx.t.gettext(
            "✍️ Write your statement for the candidate list in one message (at most {max} characters): who you "
            "are and what you would do. Your first name appears on the ballot; nothing else about you.",
            max=STATEMENT_MAX,
        ),
        [[Button(ctx.t.plain("✖️ Cancel"), cb("elx"))]],
    )


async def statement_input(ctx: Context) -> None:
    """Typed statement: the candidacy stands."""
    t = ctx.t
    raw = ctx.incoming.text or ""
    problem = check_statement(raw)
    if problem is StatementProblem.TOO_LONG:
        ctx.say(t.gettext("That is too long ({length} characters; at most {max}). Please shorten it.",
                          length=t.number(len(raw)), max=t.number(STATEMENT_MAX)))  # fmt: skip
        return
    if problem is StatementProblem.EMPTY:
        ctx.say(t.gettext("Please write it in words."))
        return
    election = await _open_for_nominations(ctx, int(ctx.data.get("election", 0)))
    if election is None or ctx.resident is None:
        await ctx.finish()
        return
    statement = clean_free_text(raw, STATEMENT_MAX).text
    candidacy = await ctx.uow.elections.candidacy_of(election.id, ctx.resident.id)
    if candidacy is None:
        person = Person(ctx.resident.id, ctx.resident.first_name, ctx.resident.chat_id, ctx.resident.locale)
        await ctx.uow.elections.nominate(election.id, person, statement=statement, status=CandidacyStatus.STANDING,
                                         nominated_by=None, now=ctx.now)  # fmt: skip
    else:
        await ctx.uow.elections.stand(candidacy, statement)
    await ctx.finish()
    place = await place_name(ctx.uow, election)
    ctx.say(
        t.gettext(
            "✅ You are standing: {what}. Your statement is on the candidate list; voting opens {when}. You can "
            "withdraw from /elections until then.",
            what=office_line(t, election.office, election.seats, place),
            when=when(t, election.nominations_close_at),
        )
    )


async def cancel_tapped(ctx: Context, data: CallbackData) -> None:
    """elx: stop writing a statement."""
    await ctx.finish()
    ctx.toast("")
    ctx.show(ctx.t.gettext("Cancelled: nothing was changed."))


async def withdraw_tapped(ctx: Context, data: CallbackData) -> None:
    """elw:<election>: withdraw my candidacy while nominations are open."""
    election = await _open_for_nominations(ctx, data.int_arg(0))
    if election is None or ctx.resident is None:
        return
    candidacy = await ctx.uow.elections.candidacy_of(election.id, ctx.resident.id)
    if candidacy is None or candidacy.status != CandidacyStatus.STANDING:
        ctx.toast(ctx.t.plain("You are not standing in this election."))
        return
    await ctx.uow.elections.set_status(candidacy, CandidacyStatus.WITHDRAWN)
    ctx.toast(ctx.t.plain("Withdrawn"))
    ctx.show(ctx.t.gettext("↩️ You have withdrawn: your name is off the candidate list. You can stand again from "
                           "/elections while nominations are open."))  # fmt: skip


async def nominate_tapped(ctx: Context, data: CallbackData) -> None:
    """eln:<election>:<offset>: a page of the members I can nominate."""
    election = await _open_for_nominations(ctx, data.int_arg(0))
    if election is None or ctx.resident is None:
        return
    offset = max(0, data.int_arg(1) or 0)
    if election.scope_kind == ElectorateKind.CIRCLE:
        people, total = await ctx.uow.elections.circle_members(election.scope_id, offset=offset, limit=PAGE)
    else:
        council = await ctx.uow.elections.council(election.scope_id)
        people, total = council[offset : offset + PAGE], len(council)
    rows = [[Button(p.first_name, cb("elnp", election.id, p.resident_id))] for p in people
            if p.resident_id != ctx.resident.id]  # fmt: skip
    paging = []
    if offset > 0:
        paging.append(Button(ctx.t.plain("◀️ Previous"), cb("eln", election.id, max(0, offset - PAGE))))
    if offset + PAGE < total:
        paging.append(Button(ctx.t.plain("Next ▶️"), cb("eln", election.id, offset + PAGE)))
    if paging:
        rows.append(paging)
    ctx.toast("")
    ctx.show(ctx.t.gettext("👤 Whom do you nominate? They will be asked whether they accept."), rows)


async def nominee_tapped(ctx: Context, data: CallbackData) -> None:
    """elnp:<election>:<resident>: nominate this neighbour; they are asked in their language."""
    election = await _open_for_nominations(ctx, data.int_arg(0))
    nominee_id = data.int_arg(1)
    if election is None or ctx.resident is None or nominee_id is None:
        return
    person = await ctx.uow.elections.person(nominee_id)
    if person is None or not await ctx.uow.elections.is_eligible(election, nominee_id) or nominee_id == ctx.resident.id:
        await stale(ctx)
        return
    existing = await ctx.uow.elections.candidacy_of(election.id, nominee_id)
    if existing is not None and existing.status in (CandidacyStatus.STANDING, CandidacyStatus.PROPOSED):
        ctx.toast(ctx.t.plain("Already nominated"))
        ctx.show(ctx.t.gettext("{name} is already nominated or standing.", name=person.first_name))
        return
    if existing is None:
        candidacy = await ctx.uow.elections.nominate(election.id, person, statement="", status=CandidacyStatus.PROPOSED,
                                                     nominated_by=ctx.resident.id, now=ctx.now)  # fmt: skip
    else:
        candidacy = existing
        await ctx.uow.elections.set_status(candidacy, CandidacyStatus.PROPOSED)
    place = await place_name(ctx.uow, election)
    nominee = await ctx.uow.residents.get(nominee_id)
    nominator = ctx.resident.first_name

    def ask(t: Translator) -> Reply:
        return Reply(
            text=t.gettext(
                "🙋 {name} has nominated you as a candidate: {what}. Nominations close {when}. Do you accept?",
                name=nominator,
                what=office_line(t, election.office, election.seats, place),
                when=when(t, election.nominations_close_at),
            ),
            buttons=[
                [
                    Button(t.plain("✅ I accept"), cb("ela", candidacy.id)),
                    Button(t.plain("✖️ No, thank you"), cb("eld", candidacy.id)),
                ]
            ],
        )

    if nominee is not None:
        await ctx.notify(nominee, ask, TOPIC_ELECTION_PERSONAL, about=ctx.resident)
    ctx.toast(ctx.t.plain("Nominated ✅"))
    ctx.show(ctx.t.gettext("✅ {name} is asked whether they accept. They stand once they do.", name=person.first_name))


async def _my_proposed(ctx: Context, candidacy_id: int | None) -> tuple[Election, int] | None:
    candidacy = await ctx.uow.elections.candidacy(candidacy_id) if candidacy_id else None
    if candidacy is None or ctx.resident is None or candidacy.resident_id != ctx.resident.id:
        await stale(ctx)
        return None
    election = await _open_for_nominations(ctx, candidacy.election_id)
    if election is None:
        return None
    if candidacy.status != CandidacyStatus.PROPOSED:
        ctx.toast(ctx.t.plain("Already answered"))
        return None
    return election, candidacy.id


async def accept_tapped(ctx: Context, data: CallbackData) -> None:
    """ela:<candidacy>: accept a nomination; the statement comes next."""
    found = await _my_proposed(ctx, data.int_arg(0))
    if found is None:
        return
    election, _ = found
    await ctx.go(Flow.STAND, StandStep.STATEMENT, election=election.id)
    ctx.toast("")
    ctx.show(
        ctx.t.gettext(
            "✍️ Thank you. Write your statement for the candidate list in one message (at most {max} characters).",
            max=STATEMENT_MAX,
        ),
        [[Button(ctx.t.plain("✖️ Cancel"), cb("elx"))]],
    )


async def decline_tapped(ctx: Context, data: CallbackData) -> None:
    """eld:<candidacy>: decline a nomination."""
    found = await _my_proposed(ctx, data.int_arg(0))
    if found is None:
        return
    _election, candidacy_id = found
    candidacy = await ctx.uow.elections.candidacy(candidacy_id)
    if candidacy is not None:
        await ctx.uow.elections.set_status(candidacy, CandidacyStatus.DECLINED)
    ctx.toast(ctx.t.plain("Declined"))
    ctx.show(ctx.t.gettext("You have declined the nomination. Nothing else changes."))


# ---------------------------------------------------------------- the bodies


async def list_bodies(ctx: Context) -> None:
    """/bodies: my circle's delegates, my barrio's council, its Governance Commission, and the District Forum."""
    t = ctx.t
    circle_id = ctx.verified_circle_id
    councils = _council_barrios(ctx)
    barrio_id = councils[0] if councils else (await barrio_of_circle(ctx.uow, circle_id) if circle_id else None)
    lines: list[Safe] = [t.gettext("🏛️ <b>The bodies of the model</b>")]
    if circle_id is not None:
        circle = await ctx.uow.territory.circle(circle_id)
        delegates = await ctx.uow.roles.circle_role_holders(Role.DELEGATE, circle_id)
        names = [p.first_name for p in [await ctx.uow.elections.person(d) for d in delegates] if p is not None]
        lines.append(t.gettext("<b>Delegates of {place}</b>: {names}", place=circle.name if circle else "?",
                               names=", ".join(names) or t.plain("none yet")))  # fmt: skip
    if barrio_id is not None:
        barrio = await ctx.uow.territory.barrio(barrio_id)
        name = barrio.name if barrio else "?"
        council = await ctx.uow.elections.council(barrio_id)
        lines.append(t.gettext("<b>Citizen Community Council of {place}</b>: {names}", place=name,
                               names=", ".join(p.first_name for p in council) or t.plain("none yet")))  # fmt: skip
        commissions: dict[str, list[str]] = {}
        for seat, person in await ctx.uow.elections.body_seats(COMMISSION, barrio_id):
            commissions.setdefault(seat.label, []).append(person.first_name)
        for sector, names in commissions.items():
            label = sector_name(t, Sector(sector)) if sector in set(Sector) else sector
            lines.append(t.gettext("<b>Commission: {sector}</b>: {names}", sector=label, names=", ".join(names)))
        seats = await ctx.uow.elections.body_seats(Office.GOVERNANCE, barrio_id)
        members = [escape(p.first_name if s.source == "elected" else f"{p.first_name} ({s.label})") for s, p in seats]
        lines.append(t.gettext("<b>Community Governance Commission of {place}</b>: {names}", place=name,
                               names=", ".join(members) or t.plain("none yet")))  # fmt: skip
    forum = await ctx.uow.elections.body_seats(Office.FORUM)
    by_barrio: dict[int, list[str]] = {}
    for seat, person in forum:
        by_barrio.setdefault(seat.barrio_id, []).append(person.first_name)
    parts = []
    for barrio in await ctx.uow.territory.barrios():
        if barrio.id in by_barrio:
            parts.append(t.plain("{place}: {names}", place=barrio.name, names=", ".join(by_barrio[barrio.id])))
    lines.append(t.gettext("<b>District Citizen Forum</b>: {names}", names="; ".join(parts) or t.plain("none yet")))
    ctx.say(safe_join("\n", lines))


ROUTES = Routes(
    commands={
        "elections": Command(list_elections, Action.SEE_POLLS),
        "bodies": Command(list_bodies, Action.SEE_POLLS),
    },
    callbacks={
        "els": Callback(stand_tapped, Action.STAND),
        "elw": Callback(withdraw_tapped, Action.STAND),
        "eln": Callback(nominate_tapped, Action.STAND),
        "elnp": Callback(nominee_tapped, Action.STAND),
        "ela": Callback(accept_tapped, Action.STAND),
        "eld": Callback(decline_tapped, Action.STAND),
        "elx": Callback(cancel_tapped, Action.STAND),
        "elc": Callback(call_tapped, Action.CALL_ELECTION),
    },
    step_inputs=any_input(Flow.STAND, statement_input),
)
