"""Coexistence, the parties' side: consenting (or not), writing to the handler, leaving with one tap,
answering sessions, accepting the agreement, saying whether it holds; and /support, a confidential case with
Psycho-Social Safety Care. Every tap is checked against the person's place in the case."""

from __future__ import annotations

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.coexistence import (
    Answer,
    Kind,
    Outcome,
    Party,
    Status,
    after_check,
    after_consents,
    agreement_reached,
    may_withdraw,
    party_of,
    session_reminder_at,
    two_parties,
)
from bot.domain.permissions import Action
from bot.i18n import N_, Translator, safe_join
from handlers.coexistence_life import (
    ThreadStep,
    close_case,
    ended_text,
    offer_to_take,
    send_to,
    session_word,
    take_team,
    tell,
    tell_handler,
    tell_parties,
    words,
)
from handlers.coexistence_texts import (
    agreement_message,
    handler_title,
    kind_name,
    party_buttons,
    rules_text,
    status_name,
    urgent_help,
)
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input
from storage.models import CoexistenceCase, Resident


async def _party_case(ctx: Context, coexistence_id: int) -> tuple[CoexistenceCase, Party] | None:
    """The case and which party the current person is in it; otherwise says why and returns None."""
    row = await ctx.uow.coexistence.get(coexistence_id, lock=True)
    party = party_of(ctx.resident.id, row.party_a_id, row.party_b_id) if row and ctx.resident else None
    if row is None or party is None:
        await stale(ctx)
        return None
    return row, party


def _label(t: Translator, party: Party, row: CoexistenceCase) -> str:
    if row.kind == Kind.SUPPORT:
        return t.plain("the resident (anonymous)") if row.anonymous else t.plain("the resident")
    return t.plain("party A") if party is Party.A else t.plain("party B")


# ---------------------------------------------------------------- party A consents


async def consent_tapped(ctx: Context, data: CallbackData) -> None:
    """xa:<id>:<p|n>: party A consents (p: their name stays private; n: the other side may know)."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, party = found
    if party is not Party.A or row.status != Status.AWAITING_CONSENT:
        ctx.toast(ctx.t.plain("Already answered."))
        ctx.say(ctx.t.gettext("You already answered about <b>{ref}</b>.", ref=row.ref))
        return
    named = len(data.args) > 1 and data.args[1] == "n" and row.kind == Kind.MEDIATION
    status = after_consents(Kind(row.kind), True, False, row.handler_id is not None)
    await ctx.uow.coexistence.touch(row, ctx.now, a_consent_at=ctx.now, a_named=named, status=status.value)
    await tell_handler(
        ctx.uow,
        ctx.services.catalogs,
        row,
        lambda t: t.gettext("✅ Party A consented to <b>{ref}</b>. Now invite the other neighbour.", ref=row.ref),
        ctx.now,
    )
    ctx.wrote_outbox = True
    thanks = (
        N_("✅ Thank you. {handler} will now invite the other neighbour, saying it was you. I will tell you when "
           "they answer.")
        if named
        else N_("✅ Thank you. {handler} will now invite the other neighbour, without saying who asked. I will tell "
                "you when they answer.")
    )  # fmt: skip
    ctx.show(ctx.t.gettext(thanks, handler=handler_title(ctx.t, row.kind)), party_buttons(ctx.t, row))


async def no_thanks_tapped(ctx: Context, data: CallbackData) -> None:
    """xn:<id>: party A does not want the process: it closes, and the report goes back to the managers."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, party = found
    if party is not Party.A or row.status != Status.AWAITING_CONSENT:
        ctx.say(ctx.t.gettext("You already answered about <b>{ref}</b>.", ref=row.ref))
        return
    await close_case(ctx.uow, ctx.services.catalogs, row, Outcome.WITHDRAWN, ctx.now, actor_id=ctx.resident.id)  # type: ignore[union-attr]
    await tell_handler(
        ctx.uow,
        ctx.services.catalogs,
        row,
        lambda t: t.gettext(
            "Party A does not want {kind} <b>{ref}</b>: it is closed.", kind=kind_name(t, row.kind), ref=row.ref
        ),
        ctx.now,
    )
    ctx.wrote_outbox = True
    ctx.show(
        ctx.t.gettext(
            "Understood: nothing more will happen with this. Your report goes back to your community "
            "managers, who will look for other ways to help."
        )
    )


# ---------------------------------------------------------------- writing


async def party_write_tapped(ctx: Context, data: CallbackData) -> None:
    """xm:<id>: a party writes to the handler (every message until /cancel)."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, _party = found
    if row.status == Status.CLOSED:
        ctx.say(ctx.t.gettext("<b>{ref}</b> has ended. Thank you for taking part.", ref=row.ref))
        return
    await ctx.go(Flow.THREAD, ThreadStep.WRITE, cid=row.id)
    ctx.say(
        ctx.t.gettext(
            "Write your message for {handler}: only they will read it. /cancel when you are done.",
            handler=handler_title(ctx.t, row.kind),
        )
    )


async def thread_text_written(ctx: Context) -> None:
    """A message in a confidential thread: from the handler to one party, or from a party to the handler."""
    assert ctx.resident is not None
    row = await ctx.uow.coexistence.get(int(ctx.data.get("cid", 0)))
    if row is None or row.status == Status.CLOSED:
        await ctx.finish()
        ctx.say(ctx.t.gettext("This conversation has ended."))
        return
    text = words(ctx)
    if text is None:
        return
    catalogs = ctx.services.catalogs
    if row.handler_id == ctx.resident.id:
        to = Party(str(ctx.data.get("to", "a")))
        await ctx.uow.coexistence.add_message(row, Party.HANDLER, to, text, ctx.now)
        recipient = row.party_a_id if to is Party.A else row.party_b_id
        await tell(
            ctx.uow,
            catalogs,
            recipient,
            lambda t: Reply(
                t.gettext(
                    "💬 <b>{ref}</b> · {handler}:\n\n{text}", ref=row.ref, handler=handler_title(t, row.kind), text=text
                ),
                party_buttons(t, row),
            ),
            row,
            ctx.now,
            part="handler",
        )
        ctx.wrote_outbox = True
        ctx.say(ctx.t.gettext("✅ Passed on. Write more, or /cancel when you are done."))
        return
    party = party_of(ctx.resident.id, row.party_a_id, row.party_b_id)
    if party is None:
        await ctx.finish()
        await stale(ctx)
        return
    message = await ctx.uow.coexistence.add_message(row, party, Party.HANDLER, text, ctx.now)
    buttons_for = _handler_message_buttons
    await tell(
        ctx.uow,
        catalogs,
        row.handler_id,
        lambda t: Reply(
            t.gettext("💬 <b>{ref}</b> · {party}:\n\n{text}", ref=row.ref, party=_label(t, party, row), text=text),
            buttons_for(t, row, party, message.id),
        ),
        row,
        ctx.now,
        part=party.value,
    )
    ctx.wrote_outbox = True
    if row.handler_id is None:
        ctx.say(
            ctx.t.gettext(
                "✅ Kept safely: {handler} will read it as soon as someone takes your case. Write more, or "
                "/cancel when you are done.",
                handler=handler_title(ctx.t, row.kind),
            )
        )
    else:
        ctx.say(ctx.t.gettext("✅ Passed on. Write more, or /cancel when you are done."))


def _handler_message_buttons(t: Translator, row: CoexistenceCase, party: Party, message_id: int) -> list[list[Button]]:
    buttons = [Button(t.plain("↩️ Reply"), cb("xw", row.id, party.value))]
    if two_parties(Kind(row.kind)):
        buttons.append(Button(t.plain("🔁 Share with the other side"), cb("xsh", message_id)))
    return [buttons]


# ---------------------------------------------------------------- leaving


async def withdraw_tapped(ctx: Context, data: CallbackData) -> None:
    """xq:<id>: a party leaves, with one tap; the other side and the handler are told."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, party = found
    if not may_withdraw(Status(row.status)):
        ctx.say(ctx.t.gettext("<b>{ref}</b> has ended. Thank you for taking part.", ref=row.ref))
        return
    await _withdraw(ctx, row, party)
    ctx.show(ctx.t.gettext("You have left <b>{ref}</b>. Nothing more will be asked of you. Take care.", ref=row.ref))


async def _withdraw(ctx: Context, row: CoexistenceCase, party: Party) -> None:
    catalogs = ctx.services.catalogs
    outcome = Outcome.SUPPORTED if row.kind == Kind.SUPPORT else Outcome.WITHDRAWN
    await close_case(ctx.uow, catalogs, row, outcome, ctx.now, actor_id=None)
    if two_parties(Kind(row.kind)):
        await tell_parties(
            ctx.uow,
            catalogs,
            row,
            lambda t, _p: Reply(
                t.gettext(
                    "The other side has decided to leave <b>{ref}</b>, so it has ended. That is their right. Your "
                    "community managers can help you with other ways forward.",
                    ref=row.ref,
                )
            ),
            ctx.now,
            skip=party,
        )
    await tell_handler(
        ctx.uow,
        catalogs,
        row,
        lambda t: t.gettext("🚪 {party} left <b>{ref}</b>: it is closed.", party=_label(t, party, row), ref=row.ref),
        ctx.now,
    )
    ctx.wrote_outbox = True


# ---------------------------------------------------------------- sessions, the agreement, the check


async def session_answer_tapped(ctx: Context, data: CallbackData) -> None:
    """xt:<session id>:<yes|no|other>: a party answers a proposed session."""
    session = await ctx.uow.coexistence.session_by_id(data.int_arg() or 0)
    try:
        answer = Answer(data.args[1]) if len(data.args) > 1 else None
    except ValueError:
        answer = None
    found = await _party_case(ctx, session.coexistence_id) if session and answer else None
    if found is None or session is None or answer is None:
        if session is None or answer is None:
            await stale(ctx)
        return
    row, party = found
    if session.status != "proposed" or row.status == Status.CLOSED:
        ctx.say(ctx.t.gettext("That proposal has been replaced or has ended."))
        return
    await ctx.uow.coexistence.answer_session(session, party, answer)
    catalogs = ctx.services.catalogs
    what = session_word
    if answer is Answer.OTHER_TIME:
        await ctx.go(Flow.THREAD, ThreadStep.WRITE, cid=row.id)
        ctx.say(
            ctx.t.gettext(
                "Which days and times suit you? Write them and I pass them on to {handler}.",
                handler=handler_title(ctx.t, row.kind),
            )
        )
        return
    if answer is Answer.NO:
        await tell_handler(
            ctx.uow,
            catalogs,
            row,
            lambda t: t.gettext(
                "❌ {party} cannot come to {what} of <b>{ref}</b> on {date}.",
                party=_label(t, party, row),
                what=what(t, row.kind),
                ref=row.ref,
                date=t.datetime(session.at, "short"),
            ),
            ctx.now,
        )
        ctx.wrote_outbox = True
        ctx.show(
            ctx.t.gettext("Thank you: {handler} will propose another time.", handler=handler_title(ctx.t, row.kind))
        )
        return
    both = session.a_answer == Answer.YES and (session.b_answer == Answer.YES or not two_parties(Kind(row.kind)))
    if not both:
        ctx.show(ctx.t.gettext("✅ Noted. I will confirm once the other side answers too."))
        return
    await ctx.uow.coexistence.agree_session(session, session_reminder_at(session.at, ctx.now, ctx.services.coexistence))

    def agreed(t: Translator, _p: Party | None = None) -> Reply:
        return Reply(
            t.gettext(
                "📅 Agreed: {what} of <b>{ref}</b> is on <b>{date}</b> · {place}. I will remind you the day before.",
                what=what(t, row.kind),
                ref=row.ref,
                date=t.datetime(session.at, "medium"),
                place=session.place,
            )
        )

    await tell_parties(ctx.uow, catalogs, row, agreed, ctx.now)
    await tell(ctx.uow, catalogs, row.handler_id, agreed, row, ctx.now)
    ctx.wrote_outbox = True
    ctx.show(ctx.t.gettext("✅ Noted."))


async def agreement_answer_tapped(ctx: Context, data: CallbackData) -> None:
    """xg:<id>:<y|n>: a party accepts (or not) the drafted agreement; once both do, it is sent to both."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, party = found
    if row.status != Status.AGREEMENT:
        ctx.say(ctx.t.gettext("That draft has been replaced or has ended."))
        return
    catalogs = ctx.services.catalogs
    if len(data.args) < 2 or data.args[1] != "y":
        await ctx.uow.coexistence.touch(
            row, ctx.now, status=Status.ACTIVE.value, a_accepted_at=None, b_accepted_at=None
        )
        await tell_handler(
            ctx.uow,
            catalogs,
            row,
            lambda t: t.gettext(
                "❌ {party} does not accept the draft agreement of <b>{ref}</b>. It is under way again.",
                party=_label(t, party, row),
                ref=row.ref,
            ),
            ctx.now,
        )
        ctx.wrote_outbox = True
        ctx.show(
            ctx.t.gettext("Understood: {handler} will talk it over with you.", handler=handler_title(ctx.t, row.kind)),
            party_buttons(ctx.t, row),
        )
        return
    column = "a_accepted_at" if party is Party.A else "b_accepted_at"
    await ctx.uow.coexistence.touch(row, ctx.now, **{column: ctx.now})
    if not agreement_reached(row.a_accepted_at is not None, row.b_accepted_at is not None):
        ctx.show(ctx.t.gettext("✅ Accepted. I will tell you when the other side answers."))
        return
    check_at = ctx.now + ctx.services.coexistence.check_after if row.kind == Kind.MEDIATION else None
    await ctx.uow.coexistence.touch(row, ctx.now, status=Status.FOLLOW_UP.value, check_at=check_at)
    await tell_parties(ctx.uow, catalogs, row, lambda t, p: agreement_message(t, row, p, ask=False), ctx.now)
    await tell_handler(
        ctx.uow,
        catalogs,
        row,
        lambda t: t.gettext("🤝 Both sides accepted the agreement of <b>{ref}</b>.", ref=row.ref),
        ctx.now,
    )
    ctx.wrote_outbox = True
    ctx.show(ctx.t.gettext("✅ Accepted by both sides. The agreement is on its way to you."))


async def check_answer_tapped(ctx: Context, data: CallbackData) -> None:
    """xh:<id>:<y|n>: is the agreement holding? A "no" reopens the mediation; two "yes" close it."""
    found = await _party_case(ctx, data.int_arg() or 0)
    if found is None:
        return
    row, party = found
    # Only a mediation's agreement is checked, and only once the check has been asked (the scheduler clears
    # check_at when it asks): a forged or early tap changes nothing.
    if row.status != Status.FOLLOW_UP or row.kind != Kind.MEDIATION or row.check_at is not None:
        ctx.say(ctx.t.gettext("Thank you: that question has already been settled."))
        return
    holding = len(data.args) > 1 and data.args[1] == "y"
    await ctx.uow.coexistence.touch(row, ctx.now, **{"a_holding" if party is Party.A else "b_holding": holding})
    following = after_check(Kind(row.kind), row.a_holding, row.b_holding)
    catalogs = ctx.services.catalogs
    if following is Status.ACTIVE:
        await ctx.uow.coexistence.touch(
            row,
            ctx.now,
            status=Status.ACTIVE.value,
            a_accepted_at=None,
            b_accepted_at=None,
            a_holding=None,
            b_holding=None,
        )
        await tell_handler(
            ctx.uow,
            catalogs,
            row,
            lambda t: t.gettext(
                "🔁 {party} says the agreement of <b>{ref}</b> is not holding: the mediation is open again.",
                party=_label(t, party, row),
                ref=row.ref,
            ),
            ctx.now,
        )
        await tell_parties(
            ctx.uow,
            catalogs,
            row,
            lambda t, _p: Reply(
                t.gettext("🔁 <b>{ref}</b> is open again: the mediator will contact you.", ref=row.ref),
                party_buttons(t, row),
            ),
            ctx.now,
            skip=party,
        )
        ctx.wrote_outbox = True
        ctx.show(
            ctx.t.gettext("Thank you for telling me. The mediation is open again and the mediator will contact you."),
            party_buttons(ctx.t, row),
        )
        return
    if following is None and holding:
        await tell_handler(
            ctx.uow,
            catalogs,
            row,
            lambda t: t.gettext(
                "👍 {party} says the agreement of <b>{ref}</b> is holding. Waiting for the other side.",
                party=_label(t, party, row),
                ref=row.ref,
            ),
            ctx.now,
        )
        ctx.wrote_outbox = True
    if following is Status.CLOSED:
        await close_case(ctx.uow, catalogs, row, Outcome.AGREEMENT, ctx.now, actor_id=None)
        await tell_parties(ctx.uow, catalogs, row, lambda t, _p: Reply(ended_text(t, row, Outcome.AGREEMENT)), ctx.now)
        await tell_handler(
            ctx.uow,
            catalogs,
            row,
            lambda t: t.gettext(
                "🤝 The agreement of <b>{ref}</b> is holding for both sides: it is closed.", ref=row.ref
            ),
            ctx.now,
        )
        ctx.wrote_outbox = True
    ctx.show(ctx.t.gettext("Thank you for telling me."))


# ---------------------------------------------------------------- support


SUPPORT_REFUSAL = N_("To talk privately with Psycho-Social Safety Care, first register with /start.")


async def _my_support(ctx: Context) -> list[CoexistenceCase]:
    """The open support cases the current person asked for (not those they handle as staff)."""
    assert ctx.resident is not None
    rows = await ctx.uow.coexistence.of_person(ctx.resident.id)
    return [r for r in rows if r.kind == Kind.SUPPORT and r.party_a_id == ctx.resident.id]


async def support(ctx: Context) -> None:
    """/support: urgent help first; then a confidential conversation with Psycho-Social Safety Care."""
    t = ctx.t
    if not ctx.registered:
        ctx.say(safe_join("\n\n", [urgent_help(t), t.gettext(SUPPORT_REFUSAL)]))
        return
    assert ctx.resident is not None
    mine = await _my_support(ctx)
    if mine:
        row = mine[0]
        ctx.say(
            safe_join(
                "\n\n",
                [
                    urgent_help(t),
                    t.gettext(
                        "You already have a confidential conversation open (<b>{ref}</b>, {state}).",
                        ref=row.ref,
                        state=status_name(t, row.status),
                    ),
                ],
            ),
            party_buttons(t, row),
        )
        return
    ctx.say(
        safe_join(
            "\n\n",
            [
                urgent_help(t),
                t.gettext(
                    "🫂 <b>I need to talk to someone</b>\nA person of your barrio's Psycho-Social Safety Care "
                    "(support for victims, neighbour conflicts) will read you and answer here. You can stay "
                    "anonymous: they will not see your name."
                ),
                rules_text(t, Kind.SUPPORT),
            ],
        ),
        [
            [Button(t.plain("🕶️ Talk anonymously"), cb("su", "anon"))],
            [Button(t.plain("🙂 They may see my first name"), cb("su", "named"))],
            [Button(t.plain("Not now"), cb("su", "no"))],
        ],
    )


async def support_tapped(ctx: Context, _data: CallbackData) -> None:
    """sup: the /help button for /support."""
    await support(ctx)


async def support_chosen(ctx: Context, data: CallbackData) -> None:
    """su:<anon|named|no>: open the support case in the person's barrio."""
    choice = data.args[0] if data.args else ""
    if choice not in ("anon", "named", "no"):
        await stale(ctx)
        return
    if choice == "no":
        ctx.show(ctx.t.gettext("All right. /support is here whenever you need it."))
        return
    assert ctx.resident is not None
    if await _my_support(ctx):
        ctx.say(ctx.t.gettext("You already have a confidential conversation open. Write in it with the ✉️ button."))
        return
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    circle = await ctx.uow.territory.circle(membership.circle_id) if membership else None
    if circle is None:
        ctx.say(
            ctx.t.gettext(
                "I need to know your barrio to find its team: send /start to choose your circle "
                "first. In an emergency, call 112."
            )
        )
        return
    row = await ctx.uow.coexistence.open(
        Kind.SUPPORT,
        circle.barrio_id,
        Status.WAITING_HANDLER,
        ctx.now,
        party_a_id=ctx.resident.id,
        anonymous=choice == "anon",
        opened_by=ctx.resident.id,
    )
    await ctx.uow.coexistence.touch(row, ctx.now, a_consent_at=ctx.now)
    team = await take_team(ctx.uow, row)
    await offer_to_take(
        ctx.uow,
        ctx.services.catalogs,
        team,
        row,
        lambda t: t.gettext(
            "🫂 A resident asks for confidential support: <b>{ref}</b>. Take it to read and answer.", ref=row.ref
        ),
        ctx.now,
    )
    if not team:
        for manager in await ctx.uow.roles.community_managers(circle.barrio_id):
            await send_to(
                ctx.uow,
                ctx.services.catalogs,
                manager,
                lambda t: Reply(
                    t.gettext(
                        "🫂 A resident asked for confidential support (<b>{ref}</b>) and the barrio has no "
                        "Psycho-Social Safety Care staff in Vecinos. Please make sure someone is assigned.",
                        ref=row.ref,
                    )
                ),
                row,
                ctx.now,
            )
    ctx.wrote_outbox = True
    await ctx.go(Flow.THREAD, ThreadStep.WRITE, cid=row.id)
    ctx.show(
        ctx.t.gettext(
            "🫂 <b>{ref}</b> is open. Write here what is happening, in your own words and in as many "
            "messages as you need; /cancel when you are done. Someone will answer here.",
            ref=row.ref,
        ),
        party_buttons(ctx.t, row),
    )


# ---------------------------------------------------------------- /forget and /mydata


async def forget_coexistence(ctx: Context, resident: Resident) -> None:
    """Before a person is erased: leave every open case (the others are told) and delete their part of every
    case at once. Open cases they handled go back to their team to be taken again, and the parties are told."""
    for row in await ctx.uow.coexistence.of_person(resident.id, open_only=False):
        party = party_of(resident.id, row.party_a_id, row.party_b_id)
        if party is not None:
            if may_withdraw(Status(row.status)):
                await _withdraw(ctx, row, party)
            await ctx.uow.coexistence.remove_party(row, party)
        if row.handler_id == resident.id:
            await ctx.uow.coexistence.touch(row, ctx.now, handler_id=None)
            if row.status != Status.CLOSED:
                await _hand_back(ctx, row)


async def _hand_back(ctx: Context, row: CoexistenceCase) -> None:
    """A case whose handler left: offered to the team again; the parties hear that someone else will take over."""
    catalogs = ctx.services.catalogs
    await offer_to_take(ctx.uow, catalogs, await take_team(ctx.uow, row), row, lambda t: t.gettext(
        "🙋 <b>{ref}</b> ({kind}) has lost its handler, who left Vecinos. Take it to carry on.", ref=row.ref,
        kind=kind_name(t, row.kind)), ctx.now)  # fmt: skip
    await tell_parties(ctx.uow, catalogs, row, lambda t, _p: Reply(t.gettext(
        "The person who was handling <b>{ref}</b> is no longer available. Someone else from {handler} will take "
        "over; your messages are kept.", ref=row.ref, handler=handler_title(t, row.kind))), ctx.now)  # fmt: skip


async def own_coexistence_data(ctx: Context, resident: Resident) -> list[dict[str, object]]:
    """A person's own part of their coexistence cases, for /mydata: never the other party's words."""
    out: list[dict[str, object]] = []
    for row in await ctx.uow.coexistence.of_person(resident.id, open_only=False):
        party = party_of(resident.id, row.party_a_id, row.party_b_id)
        role = party.value if party else "handler"
        # A party gets their thread; a handler gets what they wrote (the parties' words are the parties').
        mine = {party.value} if party else {Party.HANDLER.value}
        messages = [
            {"at": m.at.isoformat(), "from": m.author, "to": m.recipient, "text": m.text, "shared": m.shared}
            for m in await ctx.uow.coexistence.messages(row.id)
            if m.author in mine or (party is not None and m.recipient in mine)
        ]
        out.append(
            {
                "ref": row.ref,
                "kind": row.kind,
                "as": role,
                "status": row.status,
                "outcome": row.outcome,
                "opened_at": row.opened_at.isoformat(),
                "messages": messages,
            }
        )
    return out


ROUTES = Routes(
    commands={"support": Command(support, Action.SEE_HELP)},
    callbacks={
        "xa": Callback(consent_tapped, Action.SEEK_SUPPORT),
        "xn": Callback(no_thanks_tapped, Action.SEEK_SUPPORT),
        "xm": Callback(party_write_tapped, Action.SEEK_SUPPORT),
        "xq": Callback(withdraw_tapped, Action.SEEK_SUPPORT),
        "xt": Callback(session_answer_tapped, Action.SEEK_SUPPORT),
        "xg": Callback(agreement_answer_tapped, Action.SEEK_SUPPORT),
        "xh": Callback(check_answer_tapped, Action.SEEK_SUPPORT),
        "su": Callback(support_chosen, Action.SEEK_SUPPORT),
        "sup": Callback(support_tapped, Action.SEE_HELP),
    },
    step_inputs={**any_input(Flow.THREAD, thread_text_written)},
)
