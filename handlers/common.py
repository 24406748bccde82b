"""Answers every conversation shares: stale buttons, refusals, the registration reminder, typed words."""

from __future__ import annotations

from bot.channels.base import IncomingKind
from bot.domain.permissions import Grant, ScopeKind
from bot.domain.text import clean_free_text, has_letters_or_digits
from handlers.context import Context
from handlers.labels import grant_label


async def stale(ctx: Context) -> None:
    """A button from an old message, or forged data: say so and change nothing."""
    ctx.toast(ctx.t.plain("This button is no longer valid."))
    ctx.say(ctx.t.gettext("That button belongs to an earlier step. Send /start to continue, or /help."))


def refuse(ctx: Context) -> None:
    """The permission table says no."""
    if ctx.incoming.callback_id:
        ctx.toast(ctx.t.plain("You are not allowed to do that."))
    ctx.say(ctx.t.gettext("You are not allowed to do that."))


def ask_to_register(ctx: Context) -> None:
    """Something only registered people can do."""
    if ctx.incoming.callback_id:
        ctx.toast(ctx.t.plain("This button is no longer valid."))
    ctx.say(ctx.t.gettext("You are not registered yet. Send /start to join your circle."))


async def describe_grant(ctx: Context, grant: Grant) -> str:
    """A grant as plain text, with its place's name ('Delegate · Plaza de Lavapiés')."""
    place = None
    if grant.scope is ScopeKind.CIRCLE and grant.scope_id:
        circle = await ctx.uow.territory.circle(grant.scope_id)
        place = circle.name if circle else None
    elif grant.scope is ScopeKind.BARRIO and grant.scope_id:
        barrio = await ctx.uow.territory.barrio(grant.scope_id)
        place = barrio.name if barrio else None
    return grant_label(ctx.t, grant, place)


def typed_words(ctx: Context, limit: int) -> str | None:
    """The text the person typed, cleaned and at most `limit` characters; None (having said why) when it is not
    text, too long, or has no letters or digits."""
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return None
    cleaned = clean_free_text(ctx.incoming.text, limit)
    if cleaned.problem == "too_long":
        ctx.say(
            ctx.t.gettext(
                "That message is too long (at most {max} characters). Please shorten it.", max=ctx.t.number(limit)
            )
        )
        return None
    if cleaned.problem or not has_letters_or_digits(cleaned.text):
        ctx.say(ctx.t.gettext("Please write your message in words, or send /cancel to stop."))
        return None
    return cleaned.text
