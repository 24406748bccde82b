"""Inviting the other neighbour to a mediation or a court process, and their answer: through the bot (a
resident of the barrio found by name) or on paper (a single-use deep link). Nothing about the invitee is
written to the case until they accept; the invitation is a token hash and the messages that carry it."""

from __future__ import annotations

from bot.channels.base import Button, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.coexistence import (
    Kind,
    Outcome,
    Status,
    after_consents,
    invite_payload,
    new_invite_token,
    parse_invite_payload,
    token_hash,
)
from bot.domain.permissions import Action
from bot.domain.text import clean_free_text
from bot.i18n import Safe
from handlers.coexistence_life import Step, close_case, handled_case, send_to, tell, tell_handler, words
from handlers.coexistence_texts import handler_title, invitation, party_buttons
from handlers.common import refuse, stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Routes
from storage.models import CoexistenceCase

MAX_NAME_LENGTH = 64


# ---------------------------------------------------------------- inviting the other neighbour


async def invite_through_bot_tapped(ctx: Context, data: CallbackData) -> None:
    """xib:<id>: find the other neighbour among the barrio's residents, by name."""
    row = await handled_case(ctx, data.int_arg() or 0, lock=False)
    if row is None:
        return
    if not _may_invite(ctx, row):
        return
    await ctx.go(Flow.COEXISTENCE, Step.FIND, cid=row.id)
    ctx.say(
        ctx.t.gettext(
            "Type the other neighbour's first name (or part of it): I look among the residents of "
            "the barrio. /cancel to stop."
        )
    )


async def invitee_name_written(ctx: Context) -> None:
    """The invitee's name: the barrio's residents who match, as buttons."""
    row = await handled_case(ctx, int(ctx.data.get("cid", 0)), lock=False)
    text = words(ctx, 60)
    if row is None:
        await ctx.finish()
        return
    if text is None:
        return
    assert ctx.resident is not None
    found = await ctx.uow.coexistence.residents_named(
        row.barrio_id, text, exclude=[ctx.resident.id, row.party_a_id or 0]
    )
    if not found:
        ctx.say(
            ctx.t.gettext(
                "Nobody in the barrio is called like that in Vecinos. Try another spelling, use a "
                "paper invitation, or /cancel."
            ),
            [[Button(ctx.t.plain("🖨️ Paper invitation"), cb("xpp", row.id))]],
        )
        return
    buttons = [[Button(f"{person.first_name} · {circle}", cb("xip", row.id, person.id))] for person, circle in found]
    ctx.say(ctx.t.gettext("Who is it?"), buttons)


async def invitee_picked(ctx: Context, data: CallbackData) -> None:
    """xip:<id>:<resident id>: send the neutral invitation (and, later, one reminder). Nothing about them is
    written to the case until they accept."""
    row = await handled_case(ctx, data.int_arg() or 0)
    if row is None:
        return
    invitee_id = int(data.args[1]) if len(data.args) > 1 and data.args[1].isdigit() else 0
    invitee = await ctx.uow.residents.get(invitee_id)
    matches = await ctx.uow.coexistence.lives_in_barrio(invitee_id, row.barrio_id) if invitee else False
    if invitee is None or not matches or invitee.id in (row.party_a_id, row.handler_id):
        await stale(ctx)
        return
    if not _may_invite(ctx, row):
        return
    await ctx.finish()
    token = await _open_invitation(ctx, row, "bot")
    policy = ctx.services.coexistence
    asker = await ctx.uow.residents.get(row.party_a_id) if row.a_named and row.party_a_id else None
    mediator = ctx.resident.first_name if ctx.resident else ""
    catalogs = ctx.services.catalogs
    for reminder, send_at in ((False, None), (True, ctx.now + policy.invite_reminder_after)):
        await send_to(
            ctx.uow,
            catalogs,
            invitee,
            lambda t, again=reminder: invitation(
                t, row, token, mediator, asker.first_name if asker else None, reminder=again
            ),
            row,
            ctx.now,
            part="invite",
            send_at=send_at,
            link_resident=False,
        )
    ctx.wrote_outbox = True
    ctx.say(
        ctx.t.gettext(
            "📨 The invitation to <b>{ref}</b> is on its way, without saying who asked for it. If "
            "there is no answer I remind them once, and then tell you.",
            ref=row.ref,
        )
    )


async def paper_invitation_tapped(ctx: Context, data: CallbackData) -> None:
    """xpp:<id>: a single-use deep link to print or hand over; the bot keeps only its hash."""
    row = await handled_case(ctx, data.int_arg() or 0)
    if row is None:
        return
    if not _may_invite(ctx, row):
        return
    await ctx.finish()
    token = await _open_invitation(ctx, row, "paper")
    link = f"https://t.me/{ctx.services.bot_username}?start={invite_payload(token)}"
    card = (
        ctx.t.gettext("<b>The community court of your barrio invites you to a restorative process.</b>")
        if row.kind == Kind.COURT
        else ctx.t.gettext("<b>You are invited to a confidential neighbour mediation.</b>")
    )
    ctx.say(
        ctx.t.gettext(
            "🖨️ Paper invitation for <b>{ref}</b>. Print this or copy it onto a card, and hand it over; it works "
            "once:\n\n{card}\nOpen {link} in Telegram (or scan it) to read what it is and answer. Nobody is "
            "told anything unless you accept.",
            ref=row.ref,
            card=card,
            link=link,
        )
    )


# ---------------------------------------------------------------- party B answers the invitation


async def _invited_case(ctx: Context, data: CallbackData) -> tuple[CoexistenceCase, str] | None:
    row = await ctx.uow.coexistence.get(data.int_arg() or 0, lock=True)
    token = data.args[1] if len(data.args) > 1 else ""
    if row is None or not token or row.invite_hash != token_hash(token) or row.status != Status.INVITING:
        ctx.toast(ctx.t.plain("This invitation is no longer valid."))
        ctx.say(
            ctx.t.gettext(
                "This invitation is no longer valid. If you want to take part, ask the barrio's "
                "community managers (/contact)."
            )
        )
        return None
    return row, token


async def accept_invitation_tapped(ctx: Context, data: CallbackData) -> None:
    """xb:<id>:<token>: party B accepts and consents; only now is anything about them stored. Someone who
    came from a paper invitation and never registered becomes a resident by this consent."""
    found = await _invited_case(ctx, data)
    if found is None:
        return
    row, _token = found
    if ctx.resident is None:
        name = clean_free_text(ctx.incoming.first_name, MAX_NAME_LENGTH).text or ctx.t.plain("Neighbour")
        resident = await ctx.uow.residents.register(
            ctx.incoming.user_id, ctx.incoming.chat_id, name, ctx.t.locale, ctx.now
        )
        ctx.became_resident(resident)
    assert ctx.resident is not None
    if ctx.resident.id in (row.party_a_id, row.handler_id):
        refuse(ctx)
        return
    status = after_consents(Kind(row.kind), True, True, row.handler_id is not None)
    await ctx.uow.coexistence.touch(
        row,
        ctx.now,
        party_b_id=ctx.resident.id,
        b_consent_at=ctx.now,
        invite_hash=None,
        invite_lapse_at=None,
        status=status.value,
    )
    await ctx.uow.coexistence.delete_invitation(row.id)  # the reminder never goes, and no token is left
    catalogs = ctx.services.catalogs
    await tell_handler(
        ctx.uow,
        catalogs,
        row,
        lambda t: t.gettext(
            "✅ The other neighbour accepted <b>{ref}</b> and consented: it is under way.", ref=row.ref
        ),
        ctx.now,
    )
    await tell(
        ctx.uow,
        catalogs,
        row.party_a_id,
        lambda t: Reply(
            t.gettext(
                "✅ The other neighbour has accepted: <b>{ref}</b> starts. {handler} will write to you.",
                ref=row.ref,
                handler=handler_title(t, row.kind),
            ),
            party_buttons(t, row),
        ),
        row,
        ctx.now,
    )
    ctx.wrote_outbox = True
    ctx.show(
        ctx.t.gettext(
            "✅ Thank you for accepting. {handler} will write to you here; you can write to them at "
            "any time, and leave with one tap.",
            handler=handler_title(ctx.t, row.kind),
        ),
        party_buttons(ctx.t, row),
    )


async def decline_invitation_tapped(ctx: Context, data: CallbackData) -> None:
    """xbn:<id>:<token>: party B says no: nothing about them was stored; A is told gently and the report goes
    back to the community managers."""
    found = await _invited_case(ctx, data)
    if found is None:
        return
    row, _token = found
    catalogs = ctx.services.catalogs
    await close_case(ctx.uow, catalogs, row, Outcome.DECLINED, ctx.now, actor_id=None)
    await tell(
        ctx.uow,
        catalogs,
        row.party_a_id,
        lambda t: Reply(
            t.gettext(
                "The neighbour has decided not to take part in a mediation for now ({ref}). That is their "
                "right, and it says nothing about you. Your report goes back to your community managers, who will "
                "look for other ways to help.",
                ref=row.ref,
            )
        ),
        row,
        ctx.now,
    )
    await tell_handler(
        ctx.uow,
        catalogs,
        row,
        lambda t: t.gettext(
            "The invited neighbour declined <b>{ref}</b>: it is closed and the report went back to the community "
            "managers.",
            ref=row.ref,
        ),
        ctx.now,
    )
    ctx.wrote_outbox = True
    ctx.show(
        ctx.t.gettext(
            "Understood. Nothing about you has been kept. If you change your mind, the barrio's "
            "community managers can help."
        )
    )


async def open_paper_invitation(ctx: Context, payload: str) -> bool:
    """/start med_<token>: show the invitation a mediator handed over on paper; False if the payload is not
    one."""
    token = parse_invite_payload(payload)
    if token is None:
        return False
    row = await ctx.uow.coexistence.by_invite(token_hash(token))
    if row is None or row.status != Status.INVITING:
        ctx.say(
            ctx.t.gettext(
                "This invitation is no longer valid. If you want to take part, ask the barrio's "
                "community managers (/contact)."
            )
        )
        return True
    mediator = await ctx.uow.residents.get(row.handler_id) if row.handler_id else None
    asker = await ctx.uow.residents.get(row.party_a_id) if row.a_named and row.party_a_id else None
    reply = invitation(ctx.t, row, token, mediator.first_name if mediator else "", asker.first_name if asker else None)
    if ctx.resident is None:
        reply = Reply(
            reply.text
            + Safe("\n\n")
            + ctx.t.gettext(
                "Accepting also registers you in Vecinos, so that the mediator can write to you here; /forget erases "
                "everything whenever you want."
            ),
            reply.buttons,
        )
    ctx.replies.append(reply)
    return True


def _may_invite(ctx: Context, row: CoexistenceCase) -> bool:
    """Whether the case waits for an invitation to go out (none live yet); else says so."""
    if row.status != Status.INVITING or row.invite_hash is not None:
        ctx.say(ctx.t.gettext("<b>{ref}</b> cannot send an invitation now.", ref=row.ref))
        return False
    return True


async def _open_invitation(ctx: Context, row: CoexistenceCase, via: str) -> str:
    """A new single-use token for the case's invitation (only its hash is kept), lapsing in due time."""
    token = new_invite_token()
    await ctx.uow.coexistence.touch(
        row,
        ctx.now,
        invite_hash=token_hash(token),
        invite_via=via,
        invited_at=ctx.now,
        invite_lapse_at=ctx.now + ctx.services.coexistence.invite_lapses_after,
    )
    return token


ROUTES = Routes(
    callbacks={
        "xib": Callback(invite_through_bot_tapped, Action.SEEK_SUPPORT),
        "xip": Callback(invitee_picked, Action.SEEK_SUPPORT),
        "xpp": Callback(paper_invitation_tapped, Action.SEEK_SUPPORT),
        "xb": Callback(accept_invitation_tapped, Action.SEE_HELP),
        "xbn": Callback(decline_invitation_tapped, Action.SEE_HELP),
    },
)
