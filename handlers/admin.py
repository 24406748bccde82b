"""Role grants in chat: /grant USER_ID ROLE PLACE [SECTOR] (admins; managers may name delegates)."""

from __future__ import annotations

from bot.channels.base import Reply
from bot.domain.identifiers import parse_user_id
from bot.domain.permissions import (
    GRANTABLE_ROLES,
    ROLE_SCOPE,
    Action,
    Grant,
    Place,
    Role,
    ScopeKind,
    Sector,
    grant_action,
    grant_is_well_formed,
)
from bot.i18n import N_, Safe
from handlers.common import refuse
from handlers.context import Context
from handlers.labels import grant_label
from handlers.routing import Command, Routes

TOPIC_ROLE = "role.granted"


def grant_usage(ctx: Context) -> Safe:
    """How to write /grant, with the valid roles and sectors."""
    return ctx.t.gettext(
        "Usage: /grant USER_ID ROLE PLACE [SECTOR]\nRoles: {roles}\nPLACE is a circle code for delegates, a "
        "barrio code for managers and council members, or 'district' for admins.\nSectors: {sectors}",
        roles=", ".join(r.value for r in GRANTABLE_ROLES),
        sectors=", ".join(s.value for s in Sector),
    )


async def grant_role(ctx: Context) -> None:
    """/grant: give someone a role over a place, telling them in their language."""
    assert ctx.resident is not None
    parts = ctx.incoming.args.split()
    if not parts:
        ctx.say(grant_usage(ctx))
        return
    user_id = parse_user_id(parts[0])
    if user_id is None:
        ctx.say(ctx.t.gettext("{value} is not a Telegram user id (a positive number).", value=parts[0][:32]))
        return
    if len(parts) < 2:
        ctx.say(grant_usage(ctx))
        return
    if user_id == ctx.incoming.user_id:
        # Nobody widens their own reach in chat: an admin making themselves mediation supervisor would read
        # every mediation. The office's `vecinos roles grant` remains, with its own record.
        ctx.say(ctx.t.gettext("Nobody can give themselves a role in chat: ask another administrator."))
        return
    try:
        role = Role(parts[1].lower())
    except ValueError:
        ctx.say(grant_usage(ctx))
        return
    if role not in GRANTABLE_ROLES:
        ctx.say(grant_usage(ctx))
        return
    scope = ROLE_SCOPE[role]
    rest = parts[2:]
    place_code = None
    if scope is not ScopeKind.DISTRICT:
        place_code = rest.pop(0).lower() if rest else None
    elif rest and rest[0].lower() == "district":
        rest.pop(0)
    elif rest:
        ctx.say(ctx.t.gettext("Administrators act in the whole district: write district as the place, or nothing."))
        return
    try:
        sector = Sector(rest.pop(0).lower()) if rest else None
    except ValueError:
        ctx.say(grant_usage(ctx))
        return
    if rest:
        ctx.say(grant_usage(ctx))
        return
    scope_id: int | None = None
    place = Place()
    place_name: str | None = None
    if scope is ScopeKind.CIRCLE:
        circle = await ctx.uow.territory.circle_by_code(place_code or "")
        if circle is None:
            ctx.say(ctx.t.gettext("There is no circle with the code {code}.", code=place_code or "?"))
            return
        scope_id, place, place_name = circle.id, Place(circle.barrio_id, circle.id), circle.name
    elif scope is ScopeKind.BARRIO:
        barrio = await ctx.uow.territory.barrio_by_code(place_code or "")
        if barrio is None:
            ctx.say(ctx.t.gettext("There is no barrio with the code {code}.", code=place_code or "?"))
            return
        scope_id, place, place_name = barrio.id, Place(barrio.id), barrio.name
    grant = Grant(role, scope, scope_id, sector)
    if not grant_is_well_formed(grant):
        ctx.say(grant_usage(ctx))
        return
    if not ctx.allowed(grant_action(role), place):
        refuse(ctx)
        return
    label = grant_label(ctx.t, grant, place_name)
    grantee = await ctx.uow.residents.by_telegram_id(user_id)
    if grantee is None:
        created = await ctx.uow.roles.grant(grant, ctx.now, telegram_user_id=user_id, granted_by=ctx.resident.id)
        if not created:
            ctx.say(ctx.t.gettext("{user_id} already has this role: {role}.", user_id=str(user_id), role=label))
            return
        ctx.say(
            ctx.t.gettext(
                "✅ {user_id} is now: {role}. They have not written to the bot yet: the role is theirs from "
                "their first /start.",
                user_id=str(user_id),
                role=label,
            )
        )
        return
    created = await ctx.uow.roles.grant(grant, ctx.now, resident_id=grantee.id, granted_by=ctx.resident.id)
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


ROUTES = Routes(
    commands={
        "grant": Command(
            grant_role,
            (Action.NAME_DELEGATE, Action.APPOINT_COURT_MEMBER),
            N_("Only community managers, community justice staff and administrators give roles."),
        )
    },
)
