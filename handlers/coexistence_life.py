"""The life of a coexistence case, shared by the handler's and the parties' conversations and the scheduler:
telling people (in their languages, tagged so the content can be withdrawn and deleted), closing with an
outcome and what that means for the report it came from, and the scheduler's work (lapsed invitations, the
agreement check, session reminders, deleting content after the retention period); and the checks every step
of the handler's flow starts with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum

from bot.channels.base import Button, Reply
from bot.domain.callbacks import cb
from bot.domain.coexistence import TEXT_MAX, Kind, Outcome, Party, Status, may_take
from bot.domain.permissions import Role, Sector
from bot.domain.reports import CaseStatus, Route
from bot.i18n import Catalogs, Safe, Translator
from handlers.case_messages import TOPIC_CASE_UPDATE, people_update, tell_people
from handlers.coexistence_texts import kind_name, outcome_name
from handlers.common import refuse, stale, typed_words
from handlers.context import Context, Services
from storage.coexistence import outbox_ref
from storage.models import CoexistenceCase, Resident
from storage.uow import UnitOfWork

TOPIC_COEXISTENCE = "coexistence"


async def tell(
    uow: UnitOfWork,
    catalogs: Catalogs,
    resident_id: int | None,
    render: Callable[[Translator], Reply],
    row: CoexistenceCase,
    now: datetime,
    *,
    part: str = "",
    send_at: datetime | None = None,
) -> bool:
    """Queue a message about a case for one person, in their language; False if there is nobody to tell."""
    person = await uow.residents.get(resident_id) if resident_id else None
    if person is None or person.status != "active":
        return False
    await send_to(uow, catalogs, person, render, row, now, part=part, send_at=send_at)
    return True


async def send_to(
    uow: UnitOfWork,
    catalogs: Catalogs,
    person: Resident,
    render: Callable[[Translator], Reply],
    row: CoexistenceCase,
    now: datetime,
    *,
    part: str = "",
    send_at: datetime | None = None,
    link_resident: bool = True,
) -> None:
    """Queue a message for someone, tagged with the case (and part) so it goes with the case's content."""
    reply = render(catalogs.translator(person.locale))
    await uow.outbox.add(
        person.chat_id,
        reply.to_dict(),
        TOPIC_COEXISTENCE,
        now,
        resident_id=person.id if link_resident else None,
        send_at=send_at,
        ref=outbox_ref(row.id, part),
    )


async def tell_parties(
    uow: UnitOfWork,
    catalogs: Catalogs,
    row: CoexistenceCase,
    render: Callable[[Translator, Party], Reply],
    now: datetime,
    *,
    skip: Party | None = None,
) -> int:
    """Tell both parties (those who have joined), each in their language."""
    told = 0
    for party, resident_id in ((Party.A, row.party_a_id), (Party.B, row.party_b_id)):
        if party is skip or resident_id is None:
            continue
        if await tell(uow, catalogs, resident_id, lambda t, p=party: render(t, p), row, now):
            told += 1
    return told


async def offer_to_take(
    uow: UnitOfWork,
    catalogs: Catalogs,
    people: Sequence[Resident],
    row: CoexistenceCase,
    text: Callable[[Translator], Safe],
    now: datetime,
) -> None:
    """Tell those who may take a case (the panel, the barrio's mediators) that it waits, with a button."""
    for person in people:
        await send_to(
            uow, catalogs, person, lambda t: Reply(text(t), [[Button(t.plain("🙋 Take this case"), cb("xk", row.id))]]),
            row, now,
        )  # fmt: skip


async def take_team(uow: UnitOfWork, row: CoexistenceCase) -> Sequence[Resident]:
    """Who may take a case of the barrio: its panel for court cases; its mediators (else the mediation
    supervisors) for mediation and support."""
    if row.kind == Kind.COURT:
        return await uow.roles.holders_in_barrio(Role.COMMUNITY_COURT_MEMBER, row.barrio_id)
    team = await uow.roles.holders_in_barrio(Role.SECTORIAL_MANAGER, row.barrio_id, Sector.MEDIATION.value)
    return team or await uow.roles.holders_in_barrio(Role.MEDIATION_SUPERVISOR, row.barrio_id)


def view_button(t: Translator, row: CoexistenceCase) -> list[list[Button]]:
    """A button that opens the case for its handler."""
    return [[Button(t.plain("🔒 Open {ref}", ref=row.ref), cb("xv", row.id))]]


async def tell_handler(
    uow: UnitOfWork, catalogs: Catalogs, row: CoexistenceCase, text: Callable[[Translator], Safe], now: datetime
) -> bool:
    """Tell the case's handler something, with a button to open the case."""
    return await tell(uow, catalogs, row.handler_id, lambda t: Reply(text(t), view_button(t, row)), row, now)


def madrid_month(catalogs: Catalogs, now: datetime) -> str:
    """YYYY-MM of `now` in the district's time zone (outcome counts are kept per month)."""
    return now.astimezone(catalogs.zone).strftime("%Y-%m")


async def close_case(
    uow: UnitOfWork,
    catalogs: Catalogs,
    row: CoexistenceCase,
    outcome: Outcome,
    now: datetime,
    *,
    actor_id: int | None,
) -> None:
    """Close the case with its outcome, count it, and settle the report it came from: an agreement resolves
    it; anything else hands it back (to the community managers, or to community justice when the prosecutor
    takes a court case back)."""
    await uow.coexistence.close(row, outcome, now, madrid_month(catalogs, now))
    await uow.coexistence.delete_invitation(row.id)
    if row.case_id is None:
        return
    case = await uow.cases.get(row.case_id, lock=True)
    if case is None or case.status in (CaseStatus.CLOSED, CaseStatus.MERGED):
        return
    note = None  # a public note would tell Open311 and the history how a confidential process ended
    if outcome in (Outcome.AGREEMENT, Outcome.PARTIAL, Outcome.COMPLETED):
        await uow.cases.move(case, CaseStatus.RESOLVED, now, actor_id=actor_id, note=note)
        target = CaseStatus.RESOLVED
    else:
        sector = Sector.COMMUNITY_JUSTICE.value if outcome is Outcome.TAKEN_BACK else None
        base = (await uow.cases.routing()).route(case.category, case.barrio_id)
        route = Route(Sector(sector) if sector else None, base.acknowledge, base.resolve) if base else None
        await uow.cases.move(case, CaseStatus.REFERRED, now, actor_id=actor_id, note=note, route=route, sector=sector)
        target = CaseStatus.REFERRED
    # The report's people hear how it goes on, never what was said in the mediation.
    await tell_people(uow, catalogs, case, people_update(uow, case, target, None), TOPIC_CASE_UPDATE, now)


def ended_text(t: Translator, row: CoexistenceCase, outcome: Outcome) -> Safe:
    """What the parties are told when a case ends."""
    return t.gettext(
        "🏁 <b>{ref}</b> ({kind}) has ended: {outcome}. Thank you for taking part.",
        ref=row.ref,
        kind=kind_name(t, row.kind),
        outcome=outcome_name(t, outcome),
    )


# ---------------------------------------------------------------- the scheduler


def check_buttons(t: Translator, row: CoexistenceCase) -> list[list[Button]]:
    """'Is the agreement holding?' answers."""
    return [
        [
            Button(t.plain("👍 Yes, it is holding"), cb("xh", row.id, "y")),
            Button(t.plain("👎 No"), cb("xh", row.id, "n")),
        ]
    ]


async def send_due_coexistence_work(services: Services, limit: int = 100) -> int:
    """Tick: invitations never answered (the handler decides), agreement checks, session reminders the day
    before, and content deleted once the retention period after closing has passed."""
    now = services.clock()
    catalogs = services.catalogs
    policy = services.coexistence
    done = 0
    async with services.db.unit_of_work() as uow:
        for row in await uow.coexistence.due_invite_lapses(now, limit):
            await uow.coexistence.delete_invitation(row.id)
            reminded = row.invite_via == "bot"  # a paper invitation cannot be reminded
            await uow.coexistence.touch(row, now, invite_lapse_at=None, invite_hash=None, invite_via=None)
            await tell_handler(uow, catalogs, row, lambda t, r=row, again=reminded: lapse_text(t, r, again), now)
            done += 1
        for row in await uow.coexistence.due_checks(now, limit):
            await uow.coexistence.touch(row, now, check_at=None, a_holding=None, b_holding=None)
            done += await tell_parties(
                uow,
                catalogs,
                row,
                lambda t, _p, r=row: Reply(
                    t.gettext(
                        "🤝 A while ago you reached an agreement in mediation <b>{ref}</b>. Is the agreement holding?",
                        ref=r.ref,
                    ),
                    check_buttons(t, r),
                ),
                now,
            )
        for session in await uow.coexistence.due_session_reminders(now, limit):
            row = await uow.coexistence.get(session.coexistence_id)
            if row is None or row.status == Status.CLOSED:
                continue

            def reminder(t: Translator, _p: Party | None = None, s=session, r=row) -> Reply:  # type: ignore[no-untyped-def]
                return Reply(
                    t.gettext(
                        "⏰ Tomorrow: {what} on {date} · {place}.",
                        what=session_word(t, r.kind),
                        date=t.datetime(s.at, "medium"),
                        place=s.place,
                    )
                )

            done += await tell_parties(uow, catalogs, row, reminder, now)
            done += await tell(uow, catalogs, row.handler_id, reminder, row, now)
        for row in await uow.coexistence.due_purges(now - policy.retention, limit):
            await uow.coexistence.purge(row)
            done += 1
        await uow.commit()
    if done:
        services.on_outbox()
    return done


def lapse_text(t: Translator, row: CoexistenceCase, reminded: bool) -> Safe:
    """What the handler is told when an invitation was never answered."""
    if reminded:
        return t.gettext(
            "⌛ Nobody answered the invitation to <b>{ref}</b>, even after a reminder. You decide: invite again, "
            "hand over a paper invitation, or close it.",
            ref=row.ref,
        )
    return t.gettext(
        "⌛ Nobody has used the paper invitation to <b>{ref}</b>. You decide: invite through the bot, hand over a "
        "new paper invitation, or close it.",
        ref=row.ref,
    )


def session_word(t: Translator, kind: str) -> str:
    """'the session' or, for a community court, 'the hearing'."""
    return t.plain("the hearing") if kind == Kind.COURT else t.plain("the session")


class Step(StrEnum):
    """The handler's multi-step answers."""

    FIND = "find"  # the invitee's name, to find them among the barrio's residents
    WHEN = "when"
    PLACE = "place"
    AGREE_A = "agree_a"
    AGREE_B = "agree_b"


class ThreadStep(StrEnum):
    """Writing in a thread."""

    WRITE = "write"


# ---------------------------------------------------------------- helpers


def words(ctx: Context, limit: int = TEXT_MAX) -> str | None:
    """The typed text, cleaned; None (having said why) when it cannot be used."""
    return typed_words(ctx, limit)


async def handled_case(ctx: Context, coexistence_id: int, *, lock: bool = True) -> CoexistenceCase | None:
    """The case if the current person is its handler and it is open; otherwise says why and returns None."""
    row = await ctx.uow.coexistence.get(coexistence_id, lock=lock)
    if row is None:
        await stale(ctx)
        return None
    if (
        ctx.resident is None
        or row.handler_id != ctx.resident.id
        or not may_take(ctx.grants, Kind(row.kind), row.barrio_id)
    ):
        refuse(ctx)
        return None
    if row.status == Status.CLOSED:
        ctx.say(ctx.t.gettext("<b>{ref}</b> is closed: nothing was changed.", ref=row.ref))
        return None
    return row
