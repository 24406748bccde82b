"""Writing to the barrio's community managers through the bot, and their answers (each side sees only the
other's first name and barrio, never a Telegram identity)."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button, IncomingKind, Reply
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Place
from bot.domain.text import clean_free_text, has_letters_or_digits
from bot.i18n import Safe, Translator
from handlers.common import refuse, stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input
from storage.territory import BarrioView

TOPIC_CONTACT = "contact.message"
TOPIC_ANSWER = "contact.answer"
MAX_CONTACT_LENGTH = 1500


class WriteStep(StrEnum):
    """The one step of writing a message (to the managers, or an answer to a resident)."""

    WRITE = "write"


async def _barrio_of(ctx: Context) -> BarrioView | None:
    """The barrio of the person's newest membership, whatever its status (a rejected request included)."""
    assert ctx.resident is not None
    membership = await ctx.uow.memberships.latest(ctx.resident.id)
    circle = await ctx.uow.territory.circle(membership.circle_id) if membership else None
    return await ctx.uow.territory.barrio(circle.barrio_id) if circle else None


async def start_contact(ctx: Context) -> None:
    """/contact: write to the community managers of my barrio."""
    barrio = await _barrio_of(ctx)
    if barrio is None:
        ctx.say(ctx.t.gettext("Join a circle first (/start), so I know which barrio's community managers to ask."))
        return
    await _ask_for_message(ctx, barrio)


async def contact_tapped(ctx: Context, data: CallbackData) -> None:
    """contact:<barrio id>: the button on a decision or an answer."""
    barrio_id = data.int_arg()
    barrio = await _barrio_of(ctx)
    if barrio is None or barrio.id != barrio_id:
        await stale(ctx)
        return
    await _ask_for_message(ctx, barrio)


async def _ask_for_message(ctx: Context, barrio: BarrioView) -> None:
    await ctx.go(Flow.CONTACT, WriteStep.WRITE, barrio_id=barrio.id)
    text = ctx.t.gettext(
        "✉️ Write your message to the community managers of <b>{barrio}</b> in one message. They will answer "
        "you here. Send /cancel to stop.",
        barrio=barrio.name,
    )
    if barrio.contact:
        text = text + Safe("\n\n") + ctx.t.gettext("You can also reach them at: {contact}", contact=barrio.contact)
    ctx.say(text)


def _cleaned(ctx: Context) -> str | None:
    cleaned = clean_free_text(ctx.incoming.text, MAX_CONTACT_LENGTH)
    if cleaned.problem == "too_long":
        ctx.say(
            ctx.t.gettext(
                "That message is too long (at most {max} characters). Please shorten it.",
                max=ctx.t.number(MAX_CONTACT_LENGTH),
            )
        )
        return None
    if cleaned.problem or not has_letters_or_digits(cleaned.text):
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return None
    return cleaned.text


async def message_written(ctx: Context) -> None:
    """The resident's message: to every community manager of the barrio (or the admins), with an answer button."""
    assert ctx.resident is not None
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    barrio = await ctx.uow.territory.barrio(int(ctx.data.get("barrio_id", 0)))
    text = _cleaned(ctx)
    if barrio is None or text is None:
        if barrio is None:
            await ctx.finish()
            await stale(ctx)
        return
    sender = ctx.resident
    managers = [m for m in await ctx.uow.roles.community_managers(barrio.id) if m.id != sender.id]

    def render(t: Translator) -> Reply:
        return Reply(
            t.gettext(
                "✉️ <b>{name}</b> ({barrio}) writes to the community managers:\n\n{text}",
                name=sender.first_name,
                barrio=barrio.name,
                text=text,
            ),
            [[Button(t.plain("↩️ Answer"), cb("answer", sender.id))]],
        )

    reached = 0
    for manager in managers:
        reached += await ctx.notify(manager, render, TOPIC_CONTACT, about=sender)
    await ctx.finish()
    if reached:
        ctx.say(ctx.t.gettext("✅ Your message was sent to the community managers of {barrio}.", barrio=barrio.name))
    else:
        ctx.say(
            ctx.t.gettext(
                "Sorry: {barrio} has no community manager on Vecinos yet, so nobody could receive your message.",
                barrio=barrio.name,
            )
        )


async def answer_tapped(ctx: Context, data: CallbackData) -> None:
    """answer:<resident id>: a community manager answers a resident's message."""
    resident_id = data.int_arg()
    resident = await ctx.uow.residents.get(resident_id) if resident_id else None
    barrio = None
    if resident is not None:
        membership = await ctx.uow.memberships.latest(resident.id)
        circle = await ctx.uow.territory.circle(membership.circle_id) if membership else None
        barrio = await ctx.uow.territory.barrio(circle.barrio_id) if circle else None
    if resident is None or barrio is None:
        await stale(ctx)
        return
    own = ctx.resident is not None and resident.id == ctx.resident.id
    if not ctx.allowed(Action.ANSWER_RESIDENT, Place(barrio.id), on_oneself=own):
        refuse(ctx)
        return
    await ctx.go(Flow.ANSWER, WriteStep.WRITE, resident_id=resident.id, barrio_id=barrio.id)
    ctx.say(
        ctx.t.gettext(
            "Write your answer to <b>{name}</b> in one message. Send /cancel to stop.", name=resident.first_name
        )
    )


async def answer_written(ctx: Context) -> None:
    """A manager's answer, to the resident in their language, with a button to write back."""
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return
    resident = await ctx.uow.residents.get(int(ctx.data.get("resident_id", 0)))
    barrio = await ctx.uow.territory.barrio(int(ctx.data.get("barrio_id", 0)))
    if resident is None or barrio is None or not ctx.allowed(Action.ANSWER_RESIDENT, Place(barrio.id)):
        await ctx.finish()
        await stale(ctx)
        return
    text = _cleaned(ctx)
    if text is None:
        return
    manager_name = ctx.resident.first_name if ctx.resident else ""
    await ctx.notify(
        resident,
        lambda t: Reply(
            t.gettext(
                "✉️ Answer from <b>{name}</b>, community manager of {barrio}:\n\n{text}",
                name=manager_name,
                barrio=barrio.name,
                text=text,
            ),
            [[Button(t.plain("✉️ Write back"), cb("contact", barrio.id))]],
        ),
        TOPIC_ANSWER,
    )
    await ctx.finish()
    ctx.say(ctx.t.gettext("✅ Your answer was sent to {name}.", name=resident.first_name))


ROUTES = Routes(
    commands={"contact": Command(start_contact, Action.CONTACT_MANAGERS)},
    callbacks={
        "contact": Callback(contact_tapped, Action.CONTACT_MANAGERS),
        "answer": Callback(answer_tapped, Action.ANSWER_RESIDENT),
    },
    step_inputs={**any_input(Flow.CONTACT, message_written), **any_input(Flow.ANSWER, answer_written)},
)
