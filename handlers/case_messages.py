"""What cases say, and to whom: the reporter and followers in their languages, the handling staff with buttons.

Shared by the resident's conversation, the staff's, the scheduler's deadline work and Open311 (all of which
tell people about cases), so a case reads the same wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.channels.base import Button, Reply
from bot.domain.callbacks import cb
from bot.domain.coexistence import Status as CoexistenceStatus
from bot.domain.permissions import Action, Grant, Place, Sector, can
from bot.domain.reports import CaseStatus, is_open, staff_transitions
from bot.i18n import Catalogs, Safe, Translator, safe_join
from handlers.coexistence_texts import kind_name, reads_content, status_name
from handlers.labels import case_status_name, category_name, handler_name, transition_label, written_for, written_text
from storage.models import Case, Resident
from storage.uow import UnitOfWork

TOPIC_CASE_UPDATE = "case.update"
TOPIC_CASE_NEW = "case.new"
TOPIC_CASE_DEADLINE = "case.deadline"


def case_place(case: Case) -> Place:
    """Where a case is, for the permission table (its barrio, circle and the sector handling it)."""
    return Place(case.barrio_id, case.circle_id, Sector(case.sector) if case.sector else None)


def may_handle(grants: Sequence[Grant], case: Case) -> bool:
    """Whether these grants may act on the case (its sector's managers, the barrio's community managers,
    admins)."""
    return can(grants, Action.HANDLE_REPORTS, case_place(case))


def case_ref(case: Case) -> str:
    """The case's reference, for messages."""
    return case.ref


async def where_text(uow: UnitOfWork, case: Case) -> str:
    """'Plaza de Lavapiés, Embajadores' (plain)."""
    circle = await uow.territory.circle(case.circle_id) if case.circle_id else None
    barrio = await uow.territory.barrio(case.barrio_id)
    parts = [p for p in (circle.name if circle else case.address, barrio.name if barrio else None) if p]
    return ", ".join(parts)


async def category_text(uow: UnitOfWork, t: Translator, code: str) -> str:
    """The category's name in the reader's language."""
    fallback = next((c.name for c in await uow.cases.categories() if c.code == code), code)
    return category_name(t, code, fallback)


def staff_buttons(t: Translator, case: Case, grants: Sequence[Grant] | None = None) -> list[list[Button]]:
    """The transitions staff may apply to the case now (and asking the reporter), two per row."""
    if grants is not None and not may_handle(grants, case):
        return []
    buttons = [
        Button(transition_label(t, transition), cb("ct", case.id, transition.value))
        for transition in staff_transitions(CaseStatus(case.status))
    ]
    if case.reporter_id is not None and case.status not in (CaseStatus.MERGED, CaseStatus.CLOSED):
        buttons.append(Button(t.plain("❓ Ask the reporter"), cb("cq", case.id)))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return rows + coexistence_buttons(t, case, grants)


# Cases that can become a mediation (a conflict between neighbours, or any case referred to mediation), and
# the sectors whose misdemeanour cases can go to the community court.
MEDIATION_CATEGORY = "neighbour_conflict"
COURT_SECTORS = frozenset({Sector.COMMUNITY_POLICE.value, Sector.COMMUNITY_JUSTICE.value})


def coexistence_buttons(t: Translator, case: Case, grants: Sequence[Grant] | None) -> list[list[Button]]:
    """'Open a mediation' for mediators, 'To the community court' for community police and justice: offered on
    open cases with a reporter, to those the table allows (to every reader of a card sent without grants)."""
    if case.reporter_id is None or not is_open(CaseStatus(case.status)):
        return []
    place = Place(case.barrio_id)
    rows: list[list[Button]] = []
    mediable = case.category == MEDIATION_CATEGORY or case.sector == Sector.MEDIATION.value
    if mediable and (grants is None or can(grants, Action.MEDIATE, place)):
        rows.append([Button(t.plain("🤝 Open a mediation"), cb("xo", case.id))])
    if case.sector in COURT_SECTORS and (grants is None or can(grants, Action.REFER_TO_COURT, place)):
        rows.append([Button(t.plain("⚖️ To the community court"), cb("xr", case.id))])
    return rows


# Who is reading a case card (their grants and resident id), when known: the text of a case that went to
# mediation or the community court is shown only to those who may read that process's content.
Reader = tuple[Sequence[Grant], int]


async def confidential_note(uow: UnitOfWork, t: Translator, case: Case, reader: Reader | None) -> Safe | None:
    """What replaces a case's text (and photos) for a reader who may not see it, because the case went to a
    mediation or a community court; None when the reader may see it all."""
    coexistence = await uow.coexistence.latest_for_report(case.id)
    if coexistence is None or coexistence.status == CoexistenceStatus.CLOSED:
        return None  # once it is over, the report is the staff's again (sent back, or resolved)
    if reader is not None and reads_content(reader[0], reader[1], coexistence):
        return None
    return t.gettext(
        "🔒 In {kind} <b>{ref}</b> ({state}): what it is about is confidential.",
        kind=kind_name(t, coexistence.kind),
        ref=coexistence.ref,
        state=status_name(t, coexistence.status),
    )


async def staff_card(
    uow: UnitOfWork,
    t: Translator,
    case: Case,
    *,
    heading: Safe | None = None,
    reader: Reader | None = None,
    hidden: Safe | bool | None = False,
) -> Safe:
    """A case as staff see it: reference, category, place, who reported it (or that they are anonymous),
    state, deadlines and text (unless it is confidential for this reader). Never a Telegram identity.
    `hidden`: the confidential note when the caller has already read it (None: nothing hidden)."""
    reporter = await uow.residents.get(case.reporter_id) if case.reporter_id and not case.anonymous else None
    where = await where_text(uow, case)
    if case.source == "open311":
        who = t.gettext("Filed by a city system (Open311)")
    elif reporter is not None:
        who = t.gettext("Reported by {name}", name=reporter.first_name)
    else:
        who = t.gettext("Reported by an anonymous resident of {where}", where=where)
    lines = [
        heading
        or t.gettext("📋 <b>{ref}</b> · {category}", ref=case.ref, category=await category_text(uow, t, case.category)),
        t.gettext("📍 {where}", where=where),
        who,
        t.gettext(
            "State: {state} · handled by {handler}",
            state=case_status_name(t, case.status),
            handler=handler_name(t, case.sector),
        ),
    ]
    if case.supporters:
        lines.append(
            t.ngettext("👥 {n} more neighbour reports it too", "👥 {n} more neighbours report it too", case.supporters)
        )
    if case.status in (CaseStatus.NEW, CaseStatus.REFERRED) and case.acknowledge_by:
        lines.append(t.gettext("To acknowledge by {date}", date=t.datetime(case.acknowledge_by, "short")))
    elif case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.MERGED) and case.resolve_by:
        lines.append(t.gettext("To resolve by {date}", date=t.datetime(case.resolve_by, "short")))
    note = await confidential_note(uow, t, case, reader) if hidden is False else hidden
    lines += [Safe(""), note or written_text(t, case.text)]
    return safe_join("\n", lines)


def with_note(t: Translator, text: Safe, note: str | None, source: str | None = None) -> Safe:
    """A message to residents, with the staff's public note when there is one (labelled with its language,
    `source` when the detector cannot tell)."""
    if not note:
        return text
    return text + Safe("\n\n") + t.gettext("Note from the team: {note}", note=written_for(t, note, source)[0])


async def update_text(
    uow: UnitOfWork,
    t: Translator,
    case: Case,
    target: CaseStatus,
    note: str | None,
    merged_into: Case | None,
    source: str | None = None,
) -> Safe:
    """What the reporter and followers are told when a case moves to `target`."""
    ref, category = case.ref, await category_text(uow, t, case.category)
    handler = handler_name(t, case.sector)
    texts = {
        CaseStatus.ACKNOWLEDGED: t.gettext(
            "👀 Report <b>{ref}</b> ({category}) has been seen by {handler}: they are on it.",
            ref=ref, category=category, handler=handler,
        ),
        CaseStatus.REFERRED: t.gettext(
            "↪️ Report <b>{ref}</b> ({category}) has been passed to {handler}, who are responsible for it.",
            ref=ref, category=category, handler=handler,
        ),
        CaseStatus.IN_PROGRESS: t.gettext(
            "🛠️ Work has started on report <b>{ref}</b> ({category}).", ref=ref, category=category
        ),
        CaseStatus.RESOLVED: t.gettext(
            "✅ Report <b>{ref}</b> ({category}) has been resolved. In a few days I will ask whether it is really "
            "fixed.",
            ref=ref, category=category,
        ),
        CaseStatus.NOT_ACTIONABLE: t.gettext(
            "Report <b>{ref}</b> ({category}) cannot be acted on.", ref=ref, category=category
        ),
        CaseStatus.REOPENED: t.gettext(
            "🔁 Report <b>{ref}</b> ({category}) has been reopened: it is not fixed yet.", ref=ref, category=category
        ),
        CaseStatus.CLOSED: t.gettext(
            "🏁 Report <b>{ref}</b> ({category}) is closed. Thank you for taking part!", ref=ref, category=category
        ),
        CaseStatus.MERGED: t.gettext(
            "🔗 Report <b>{ref}</b> has been joined with <b>{other}</b>, about the same problem. You will be told "
            "how <b>{other}</b> goes.",
            ref=ref, other=merged_into.ref if merged_into else "?",
        ),
    }  # fmt: skip
    return with_note(t, texts[target], note, source)


async def tell_people(
    uow: UnitOfWork,
    catalogs: Catalogs,
    case: Case,
    render: Callable[[Translator], Awaitable[Reply]],
    topic: str,
    now: datetime,
    *,
    skip: int | None = None,
) -> int:
    """Tell the reporter and every follower, each in their language; returns how many were told."""
    people: list[Resident] = []
    if case.reporter_id is not None:
        reporter = await uow.residents.get(case.reporter_id)
        if reporter is not None:
            people.append(reporter)
    people += [f for f in await uow.cases.followers(case.id) if f.id not in {p.id for p in people}]
    told = 0
    for person in people:
        if person.id == skip or person.status != "active":
            continue
        reply = await render(catalogs.translator(person.locale))
        await uow.outbox.add(person.chat_id, reply.to_dict(), topic, now, resident_id=person.id)
        told += 1
    return told


async def tell_handlers(
    uow: UnitOfWork,
    catalogs: Catalogs,
    case: Case,
    render: Callable[[Translator], Awaitable[list[Reply]]],
    topic: str,
    now: datetime,
    *,
    managers_only: bool = False,
    skip: int | None = None,
) -> int:
    """Tell the staff handling the case (its sector's managers in the barrio, and the barrio's community
    managers, who see every case; admins when there is nobody), each in their language."""
    staff = await uow.roles.case_handlers(case.barrio_id, None if managers_only else case.sector)
    told = 0
    for person in staff:
        if person.id == skip or person.status != "active":
            continue
        for reply in await render(catalogs.translator(person.locale)):
            # A card may name the reporter: erasing them withdraws it if it was not sent yet.
            await uow.outbox.add(
                person.chat_id,
                reply.to_dict(),
                topic,
                now,
                resident_id=person.id,
                ref=f"case:{case.id}",
                about_resident_id=None if case.anonymous else case.reporter_id,
            )
        told += 1
    return told


def card_with(uow: UnitOfWork, case: Case, heading: Callable[[Translator], Awaitable[Safe]]):  # type: ignore[no-untyped-def]
    """A renderer for tell_handlers: the case's messages under a heading made for each reader."""

    async def render(t: Translator) -> list[Reply]:
        return await new_case_messages(uow, t, case, heading=await heading(t))

    return render


def people_update(uow: UnitOfWork, case: Case, target: CaseStatus, note: str | None, merged_into: Case | None = None,  # type: ignore[no-untyped-def]
                  source: str | None = None):  # fmt: skip
    """A renderer for tell_people: what a case's move to `target` means, with the public note (written in
    `source`, the writer's language, when the detector cannot tell)."""

    async def render(t: Translator) -> Reply:
        # The team's note may be machine-translated for this reader by the sender (human text always wins).
        machine = written_for(t, note, source)[1] if note else None
        return Reply(await update_text(uow, t, case, target, note, merged_into, source), machine=machine)

    return render


async def new_case_messages(
    uow: UnitOfWork, t: Translator, case: Case, heading: Safe | None = None, reader: Reader | None = None
) -> list[Reply]:
    """What staff receive for a case: the card with its buttons, then its photos and where it is on the map."""
    hidden = await confidential_note(uow, t, case, reader)  # read once for the card and its photos
    card = await staff_card(uow, t, case, heading=heading, reader=reader, hidden=hidden)
    messages = [Reply(card, staff_buttons(t, case))]
    if hidden is not None:
        return messages
    for file_id in await uow.cases.photos(case.id):
        messages.append(Reply(t.gettext("📷 {ref}", ref=case.ref), photo=file_id))
    if case.latitude is not None and case.longitude is not None:
        messages.append(Reply(location=(case.latitude, case.longitude)))
    return messages
