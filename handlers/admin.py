"""Role grants in chat: /grant USER_ID ROLE PLACE [SECTOR] (admins; managers may name delegates)."""

from __future__ import annotations

from bot.channels.base import Reply
from bot.domain.permissions import (
    ROLE_SCOPE,
    Grant,
    Place,
    Role,
    ScopeKind,
    Sector,
    grant_is_well_formed,
    may_grant,
)
from handlers.context import Context
from handlers.labels import grant_label
from storage.models import Barrio, Circle

TOPIC_ROLE = "role.granted"


def grant_usage(ctx: Context) -> str:
    """How to write /grant, with the valid roles and sectors."""
    return ctx.t.gettext(
        "Usage: /grant USER_ID ROLE PLACE [SECTOR]\nRoles: {roles}\nPLACE is a circle code for delegates, a "
        "barrio code for managers and council members, or 'district' for admins.\nSectors: {sectors}",
        roles=", ".join(r.value for r in Role if r is not Role.RESIDENT),
        sectors=", ".join(s.value for s in Sector),
    )


async def grant_role(ctx: Context) -> None:
    """/grant: give someone a role over a place, telling them in their language."""
    if ctx.resident is None or not ctx.grants:
        ctx.say(ctx.t.gettext("You are not allowed to do that."))
        return
    parts = ctx.incoming.args.split()
    if len(parts) < 3 or not parts[0].lstrip("-").isdigit():
        ctx.say(grant_usage(ctx))
        return
    user_id, role_code, place_code = int(parts[0]), parts[1].lower(), parts[2].lower()
    try:
        role = Role(role_code)
        sector = Sector(parts[3].lower()) if len(parts) > 3 else None
    except ValueError:
        ctx.say(grant_usage(ctx))
        return
    scope = ROLE_SCOPE[role]
    scope_id: int | None = None
    place = Place()
    place_name: str | None = None
    if scope is ScopeKind.CIRCLE:
        circle = await ctx.uow.territory.by_code(Circle, place_code)
        if circle is None:
            ctx.say(ctx.t.gettext("There is no circle with the code {code}.", code=place_code))
            return
        scope_id, place, place_name = circle.id, Place(circle.barrio_id, circle.id), circle.name
    elif scope is ScopeKind.BARRIO:
        barrio = await ctx.uow.territory.by_code(Barrio, place_code)
        if barrio is None:
            ctx.say(ctx.t.gettext("There is no barrio with the code {code}.", code=place_code))
            return
        scope_id, place, place_name = barrio.id, Place(barrio.id), barrio.name
    grant = Grant(role, scope, scope_id, sector)
    if not grant_is_well_formed(grant):
        ctx.say(grant_usage(ctx))
        return
    if not may_grant(ctx.grants, grant, place):
        ctx.say(ctx.t.gettext("You are not allowed to do that."))
        return
    grantee = await ctx.uow.residents.by_telegram_id(user_id)
    if grantee is None:
        ctx.say(
            ctx.t.gettext(
                "Nobody with the user id {user_id} is registered. They must send /start first.", user_id=str(user_id)
            )
        )
        return
    created = await ctx.uow.roles.grant(grantee.id, grant, ctx.resident.id, ctx.now)
    label = grant_label(ctx.t, grant, place_name)
    if not created:
        ctx.say(ctx.t.gettext("{name} already has this role: {role}.", name=grantee.first_name, role=label))
        return
    ctx.say(ctx.t.gettext("✅ {name} is now: {role}.", name=grantee.first_name, role=label))
    await ctx.notify(
        grantee,
        lambda t: Reply(
            t.gettext(
                "🎖️ You have a new role in Vecinos: {role}. Send /help to see what you can do.",
                role=grant_label(t, grant, place_name),
            )
        ),
        TOPIC_ROLE,
    )
