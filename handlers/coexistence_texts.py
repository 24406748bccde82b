"""What coexistence cases say: names of kinds, states and outcomes, the rules each party consents to, the
urgent-help lines, a case as each reader may see it (content only for those the rule lets read it), and the
messages parties receive: the consent request, the invitation, the agreement."""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import Button, Reply
from bot.domain.callbacks import cb
from bot.domain.coexistence import (
    Kind,
    Outcome,
    Party,
    Standing,
    Status,
    may_read_content,
    may_take,
    outcome_choices,
)
from bot.domain.permissions import Action, Grant, Place, can
from bot.i18n import N_, Safe, Translator, safe_join
from storage.models import CoexistenceCase, CoexistenceMessage, CoexistenceSession
from storage.uow import UnitOfWork

KIND_NAMES = {
    Kind.MEDIATION: N_("Neighbour mediation"),
    Kind.SUPPORT: N_("Confidential support"),
    Kind.COURT: N_("Community court"),
}
STATUS_NAMES = {
    Status.AWAITING_CONSENT: N_("waiting for consent"),
    Status.INVITING: N_("inviting the other neighbour"),
    Status.WAITING_HANDLER: N_("waiting for someone to take it"),
    Status.ACTIVE: N_("under way"),
    Status.AGREEMENT: N_("agreement waiting for acceptance"),
    Status.FOLLOW_UP: N_("agreement in force"),
    Status.CLOSED: N_("closed"),
}
OUTCOME_NAMES = {
    Outcome.AGREEMENT: N_("agreement"),
    Outcome.PARTIAL: N_("partial agreement"),
    Outcome.NO_AGREEMENT: N_("no agreement"),
    Outcome.WITHDRAWN: N_("withdrawn"),
    Outcome.DECLINED: N_("declined or unanswered"),
    Outcome.COMPLETED: N_("restorative agreement completed"),
    Outcome.TAKEN_BACK: N_("taken back by the prosecutor"),
    Outcome.SUPPORTED: N_("support given"),
}


def standing(row: CoexistenceCase) -> Standing:
    """The case as the confidentiality rule sees it."""
    return Standing(Kind(row.kind), row.barrio_id, row.handler_id, row.party_a_id, row.party_b_id)


def reads_content(grants: Sequence[Grant], person_id: int | None, row: CoexistenceCase) -> bool:
    """Whether this person may read the case's content."""
    return may_read_content(grants, person_id, standing(row))


def kind_name(t: Translator, kind: str) -> str:
    """A kind's name in the reader's language."""
    return t.plain(KIND_NAMES[Kind(kind)])


def status_name(t: Translator, status: str) -> str:
    """A state's name in the reader's language."""
    return t.plain(STATUS_NAMES[Status(status)])


def outcome_name(t: Translator, outcome: str) -> str:
    """An outcome's name in the reader's language."""
    return t.plain(OUTCOME_NAMES[Outcome(outcome)])


def handler_title(t: Translator, kind: str) -> str:
    """What the handler is called for this kind: the mediator, the support worker, the court panel."""
    if kind == Kind.COURT:
        return t.plain("the community court panel")
    if kind == Kind.SUPPORT:
        return t.plain("Psycho-Social Safety Care")
    return t.plain("the mediator")


def urgent_help(t: Translator) -> Safe:
    """Where to get urgent help, first in every support conversation."""
    return t.gettext(
        "🆘 If you or someone else is in danger now, call <b>112</b> (emergencies, free, any language).\n"
        "💜 Gender violence: <b>016</b>, free and confidential, 24 hours, in many languages; the call does not "
        "appear on the phone bill. You can also write to 016 by WhatsApp: 600 000 016."
    )


def rules_text(t: Translator, kind: str) -> Safe:
    """The rules a party consents to before taking part."""
    if kind == Kind.COURT:
        return t.gettext(
            "<b>How a community court works</b>\n"
            "• It is voluntary: you may leave at any time with one tap.\n"
            "• A panel of trained neighbours listens to both sides at a hearing and helps agree how the harm is "
            "repaired (for example a repair or hours of community service).\n"
            "• The community prosecutor supervises it and may take the case back to the ordinary procedure.\n"
            "• What you write here is seen only by the panel and the prosecutor, never by the other side unless "
            "the panel shares a text, marked as shared."
        )
    if kind == Kind.SUPPORT:
        return t.gettext(
            "<b>How this support works</b>\n"
            "• What you write is read only by the person of Psycho-Social Safety Care who takes your case and "
            "their supervisor.\n"
            "• You can stop at any time, and /forget erases your part at once."
        )
    return t.gettext(
        "<b>How mediation works</b>\n"
        "• It is voluntary: you may leave at any time with one tap.\n"
        "• The mediator is neutral and does not decide who is right; you both look for an agreement.\n"
        "• Each of you talks only with the mediator: the other side never sees your messages or your Telegram "
        "account, unless the mediator shares a text, marked as shared.\n"
        "• What is said stays confidential; it is deleted some months after the mediation ends."
    )


def party_label(t: Translator, row: CoexistenceCase, party: Party, names: dict[Party, str | None]) -> str:
    """How a handler sees a party: with their first name, unless party A asked to stay anonymous (an
    anonymous report, or anonymous support)."""
    hidden = party is Party.A and row.anonymous
    name = None if hidden else names.get(party)
    if row.kind == Kind.SUPPORT:
        if hidden:
            return t.plain("the resident (anonymous)")
        return t.plain("the resident ({name})", name=name) if name else t.plain("the resident")
    if party is Party.A:
        if hidden:
            return t.plain("party A (anonymous)")
        return t.plain("party A ({name})", name=name) if name else t.plain("party A")
    return t.plain("party B ({name})", name=name) if name else t.plain("party B")


async def party_names(uow: UnitOfWork, row: CoexistenceCase) -> dict[Party, str | None]:
    """The parties' first names, for the handler."""
    names: dict[Party, str | None] = {}
    for party, resident_id in ((Party.A, row.party_a_id), (Party.B, row.party_b_id)):
        resident = await uow.residents.get(resident_id) if resident_id else None
        names[party] = resident.first_name if resident else None
    return names


async def _heading(uow: UnitOfWork, t: Translator, row: CoexistenceCase) -> list[Safe]:
    barrio = await uow.territory.barrio(row.barrio_id)
    return [
        t.gettext(
            "🔒 <b>{ref}</b> · {kind} · {barrio}",
            ref=row.ref,
            kind=kind_name(t, row.kind),
            barrio=barrio.name if barrio else "?",
        ),
        t.gettext("State: {state}", state=status_name(t, row.status)),
    ]


async def state_card(uow: UnitOfWork, t: Translator, row: CoexistenceCase) -> Safe:
    """What any staff member who may see the case sees: its reference, kind, barrio, state and dates. Never
    who the parties are or what anyone said."""
    lines = [
        *await _heading(uow, t, row),
        t.gettext(
            "Opened {date} · last change {changed}",
            date=t.datetime(row.opened_at, "short"),
            changed=t.datetime(row.updated_at, "short"),
        ),
    ]
    if row.outcome:
        lines.append(t.gettext("Outcome: {outcome}", outcome=outcome_name(t, row.outcome)))
    lines.append(
        t.gettext("The content is confidential: only {handler} can read it.", handler=handler_title(t, row.kind))
    )
    return safe_join("\n", lines)


async def content_card(
    uow: UnitOfWork,
    t: Translator,
    row: CoexistenceCase,
    messages: Sequence[CoexistenceMessage],
    sessions: Sequence[CoexistenceSession],
) -> Safe:
    """The case as its handler (or supervisor) sees it: parties, consents, the latest messages, sessions and
    the agreement."""
    names = await party_names(uow, row)
    lines = [
        *await _heading(uow, t, row),
    ]
    for party, consent in ((Party.A, row.a_consent_at), (Party.B, row.b_consent_at)):
        if party is Party.B and row.kind == Kind.SUPPORT:
            continue
        label = party_label(t, row, party, names)
        if consent is not None:
            lines.append(t.gettext("✅ {party} consented on {date}", party=label, date=t.datetime(consent, "short")))
        else:
            lines.append(t.gettext("⏳ {party} has not consented yet", party=label))
    if row.kind == Kind.MEDIATION and row.a_consent_at is not None:
        lines.append(
            t.gettext("Party A may be named to party B.")
            if row.a_named
            else t.gettext("Party A must not be named to party B.")
        )
    for session in sessions:
        if session.status == "off":
            continue
        lines.append(
            t.gettext(
                "📅 {date} · {place} · {state}",
                date=t.datetime(session.at, "medium"),
                place=session.place,
                state=t.plain("agreed") if session.status == "agreed" else t.plain("proposed"),
            )
        )
    if row.agreement_a or row.agreement_b:
        lines += [Safe(""), t.gettext("<b>Agreement</b>")]
        if row.agreement_a:
            lines.append(t.gettext("Party A: {text}", text=row.agreement_a))
        if row.agreement_b:
            lines.append(t.gettext("Party B: {text}", text=row.agreement_b))
    if messages:
        lines += [Safe(""), t.gettext("<b>Latest messages</b>")]
        for message in list(messages)[-8:]:
            author = (
                handler_title(t, row.kind)
                if message.author == Party.HANDLER
                else party_label(t, row, Party(message.author), names)
            )
            lines.append(
                t.gettext(
                    "{date} · {author}: {text}",
                    date=t.datetime(message.at, "short"),
                    author=author,
                    text=message.text[:300],
                )
            )
    if row.outcome:
        lines.append(t.gettext("Outcome: {outcome}", outcome=outcome_name(t, row.outcome)))
    return safe_join("\n", lines)


def handler_buttons(t: Translator, row: CoexistenceCase, grants: Sequence[Grant], person_id: int) -> list[list[Button]]:
    """What the handler (or a supervisor, or someone who may take it) can do with the case now."""
    status = Status(row.status)
    rows: list[list[Button]] = []
    if row.handler_id is None and status is not Status.CLOSED and may_take(grants, Kind(row.kind), row.barrio_id):
        rows.append([Button(t.plain("🙋 Take this case"), cb("xk", row.id))])
    if (
        row.kind == Kind.COURT
        and status is not Status.CLOSED
        and can(grants, Action.SUPERVISE_COURT, Place(row.barrio_id))
    ):
        rows.append([Button(t.plain("↩️ Take the case back"), cb("xtb", row.id))])
    if row.handler_id != person_id or status is Status.CLOSED:
        return rows
    if status is Status.INVITING and row.kind != Kind.SUPPORT and row.invite_hash is None:
        rows.append(
            [
                Button(t.plain("📨 Invite through the bot"), cb("xib", row.id)),
                Button(t.plain("🖨️ Paper invitation"), cb("xpp", row.id)),
            ]
        )
    write = []
    if row.party_a_id is not None:
        write.append(Button(t.plain("✉️ Write to A"), cb("xw", row.id, Party.A.value)))
    if row.party_b_id is not None:
        write.append(Button(t.plain("✉️ Write to B"), cb("xw", row.id, Party.B.value)))
    if row.kind == Kind.SUPPORT and write:
        write = [Button(t.plain("✉️ Write to the resident"), cb("xw", row.id, Party.A.value))]
    if write and status is not Status.AWAITING_CONSENT:
        rows.append(write)
    if status is Status.ACTIVE and row.kind != Kind.SUPPORT:
        rows.append(
            [
                Button(t.plain("📅 Propose a session"), cb("xs", row.id)),
                Button(t.plain("📝 Draft the agreement"), cb("xd", row.id)),
            ]
        )
    choices = outcome_choices(Kind(row.kind), status)
    if choices:
        rows += [
            [Button(t.plain("🏁 Close: {outcome}", outcome=outcome_name(t, o)), cb("xcc", row.id, o.value))]
            for o in choices
        ]
    return rows


def party_buttons(t: Translator, row: CoexistenceCase) -> list[list[Button]]:
    """What a party can do under any message of their case: write to the handler, or leave."""
    leave = t.plain("🚪 Stop") if row.kind == Kind.SUPPORT else t.plain("🚪 Withdraw")
    return [[Button(t.plain("✉️ Write"), cb("xm", row.id)), Button(leave, cb("xq", row.id))]]


def agreement_message(t: Translator, row: CoexistenceCase, party: Party, *, ask: bool) -> Reply:
    """The agreement as one party reads it: their commitments and the other side's; with accept buttons
    while it waits for them."""
    mine, theirs = (row.agreement_a, row.agreement_b) if party is Party.A else (row.agreement_b, row.agreement_a)
    title = (
        t.gettext("📝 <b>{ref}</b> · proposed agreement", ref=row.ref)
        if ask
        else t.gettext("🤝 <b>{ref}</b> · agreement accepted by both sides", ref=row.ref)
    )
    text = safe_join(
        "\n\n",
        [
            title,
            t.gettext("<b>You commit to:</b> {text}", text=mine or "—"),
            t.gettext("<b>The other side commits to:</b> {text}", text=theirs or "—"),
        ],
    )
    buttons = (
        [
            [
                Button(t.plain("✅ I accept"), cb("xg", row.id, "y")),
                Button(t.plain("❌ I do not accept"), cb("xg", row.id, "n")),
            ]
        ]
        if ask
        else party_buttons(t, row)
    )
    return Reply(text, buttons)


def consent_request(t: Translator, row: CoexistenceCase, case_ref: str) -> Reply:
    """What party A is asked when a mediation or court process is offered to them."""
    if row.kind == Kind.COURT:
        intro = t.gettext(
            "⚖️ Your report <b>{case}</b> can go to the community court of your barrio: trained neighbours who "
            "help repair the harm instead of a fine ({ref}).",
            case=case_ref,
            ref=row.ref,
        )
    else:
        intro = t.gettext(
            "🤝 A mediator of Psycho-Social Safety Care offers a mediation about your report <b>{case}</b>, to look "
            "for an agreement with your neighbour ({ref}).",
            case=case_ref,
            ref=row.ref,
        )
    buttons = [[Button(t.plain("✅ I agree (keep my name private)"), cb("xa", row.id, "p"))]]
    if row.kind == Kind.MEDIATION:
        buttons.append([Button(t.plain("✅ I agree, and they may know it was me"), cb("xa", row.id, "n"))])
    buttons.append([Button(t.plain("No, thank you"), cb("xn", row.id))])
    return Reply(intro + Safe("\n\n") + rules_text(t, row.kind), buttons)


def invitation(
    t: Translator, row: CoexistenceCase, token: str, mediator: str, asker: str | None, *, reminder: bool = False
) -> Reply:
    """The neutral invitation to party B: what the process is and who runs it, never who asked (unless A
    agreed to be named)."""
    if row.kind == Kind.COURT:
        head = t.gettext(
            "⚖️ The community court of your barrio invites you to a restorative process ({ref}): a panel of trained "
            "neighbours listens to everyone involved and helps agree how to put things right, instead of a fine.",
            ref=row.ref,
        )
    else:
        head = t.gettext(
            "🤝 {mediator}, a mediator of the barrio's Psycho-Social Safety Care, invites you to a neighbour "
            "mediation ({ref}): a confidential, voluntary conversation to find an agreement about living together.",
            mediator=mediator,
            ref=row.ref,
        )
    parts = [head]
    if reminder:
        parts.insert(0, t.gettext("A reminder, in case you missed it:"))
    if asker:
        parts.append(t.gettext("{name} asked for this mediation.", name=asker))
    parts += [rules_text(t, row.kind), t.gettext("Nothing about you is kept unless you accept.")]
    buttons = [
        [Button(t.plain("✅ I accept and agree to these rules"), cb("xb", row.id, token))],
        [Button(t.plain("No, thank you"), cb("xbn", row.id, token))],
    ]
    return Reply(safe_join("\n\n", parts), buttons)
