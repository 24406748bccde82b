"""Answers every conversation shares: stale buttons, refusals, and the registration reminder."""

from __future__ import annotations

from bot.domain.permissions import Grant, ScopeKind
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
