"""/help, /me and /leave: what I can do, who I am here, and leaving my circle."""

from __future__ import annotations

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Grant, Role, ScopeKind
from bot.domain.residents import MembershipStatus
from bot.i18n import LANGUAGE_NAMES
from handlers.context import Context
from handlers.labels import grant_label, status_name
from handlers.registration import stale


async def show_help(ctx: Context) -> None:
    """/help: the commands that fit this person's roles."""
    t = ctx.t
    lines = [t.gettext("<b>What you can do</b>")]
    if ctx.resident is None:
        lines.append(t.gettext("/start: join your stewardship circle"))
    else:
        lines += [
            t.gettext("/me: your circle, role and status"),
            t.gettext("/start: join a circle, or use an invitation"),
            t.gettext("/leave: leave your circle"),
        ]
    lines.append(t.gettext("/language: change the language"))
    if ctx.resident is not None:
        lines += [t.gettext("/mydata: get a copy of your data"), t.gettext("/forget: erase your data")]
    roles = {g.role for g in ctx.grants}
    if roles & {Role.DELEGATE, Role.COMMUNITY_MANAGER, Role.ADMIN}:
        lines.append("")
        lines.append(t.gettext("<b>As a delegate or community manager</b>"))
        lines.append(t.gettext("/pending: requests to join waiting for you"))
    if roles & {Role.COMMUNITY_MANAGER, Role.ADMIN}:
        lines.append(
            t.gettext("/grant USER_ID ROLE PLACE: give a role (e.g. /grant 12345 delegate emb-plaza-lavapies)")
        )
    lines += ["", t.gettext("/cancel: stop what you are doing"), t.gettext("/help: this list")]
    ctx.say("\n".join(lines))


async def describe_grant(ctx: Context, grant: Grant) -> str:
    """A grant as text, with its place's name."""
    place = None
    if grant.scope is ScopeKind.CIRCLE and grant.scope_id:
        circle = await ctx.uow.territory.circle(grant.scope_id)
        place = circle.name if circle else None
    elif grant.scope is ScopeKind.BARRIO and grant.scope_id:
        barrio = await ctx.uow.territory.barrio(grant.scope_id)
        place = barrio.name if barrio else None
    return grant_label(ctx.t, grant, place)


async def show_me(ctx: Context) -> None:
    """/me: name, language, circle, building, status and roles."""
    t = ctx.t
    if ctx.resident is None:
        ctx.say(t.gettext("You are not registered yet. Send /start to join your circle."))
        return
    lines = [
        t.gettext("👤 <b>{name}</b>", name=ctx.resident.first_name),
        t.gettext("Language: {language}", language=LANGUAGE_NAMES.get(ctx.resident.locale, ctx.resident.locale)),
    ]
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    if membership is None:
        lines.append(t.gettext("Circle: none yet (send /start to join one)"))
    else:
        circle = await ctx.uow.territory.circle(membership.circle_id)
        barrio = await ctx.uow.territory.barrio(circle.barrio_id) if circle else None
        lines.append(
            t.gettext(
                "Circle: {circle} ({barrio})",
                circle=circle.name if circle else "?",
                barrio=barrio.name if barrio else "?",
            )
        )
        if membership.building_id:
            building = await ctx.uow.territory.building(membership.building_id)
            lines.append(t.gettext("Building: {building}", building=building.address if building else "?"))
        elif membership.portal:
            lines.append(t.gettext("Building: {building}", building=membership.portal))
        lines.append(t.gettext("Status: {status}", status=status_name(t, membership.status)))
    roles = [await describe_grant(ctx, g) for g in ctx.grants]
    lines.append(t.gettext("Roles: {roles}", roles=", ".join(roles) if roles else t.gettext("Resident")))
    ctx.say("\n".join(lines))


async def ask_leave(ctx: Context) -> None:
    """/leave: confirm leaving the current circle."""
    if ctx.resident is None:
        ctx.say(ctx.t.gettext("You are not registered yet. Send /start to join your circle."))
        return
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    if membership is None:
        ctx.say(ctx.t.gettext("You are not a member of any circle."))
        return
    circle = await ctx.uow.territory.circle(membership.circle_id)
    ctx.say(
        ctx.t.gettext(
            "Do you want to leave the circle <b>{circle}</b>? Any role you hold in it ends too.",
            circle=circle.name if circle else "?",
        ),
        [
            [
                Button(ctx.t.gettext("Yes, leave"), cb("leave", membership.id)),
                Button(ctx.t.gettext("No, stay"), cb("stay")),
            ]
        ],
    )


async def confirm_leave(ctx: Context, data: CallbackData) -> None:
    """leave:<membership id>: leave the circle."""
    membership_id = data.int_arg()
    membership = await ctx.uow.memberships.get(membership_id, lock=True) if membership_id else None
    if (
        ctx.resident is None
        or membership is None
        or membership.resident_id != ctx.resident.id
        or membership.status not in (MembershipStatus.PENDING, MembershipStatus.VERIFIED)
    ):
        await stale(ctx)
        return
    membership.status = MembershipStatus.LEFT
    membership.decided_at = ctx.now
    membership.remind_at = None
    await ctx.uow.roles.revoke_circle_roles(ctx.resident.id, membership.circle_id)
    circle = await ctx.uow.territory.circle(membership.circle_id)
    ctx.show(
        ctx.t.gettext(
            "You have left <b>{circle}</b>. Send /start whenever you want to join a circle again.",
            circle=circle.name if circle else "?",
        )
    )


async def cancel_leave(ctx: Context, data: CallbackData) -> None:
    """stay: keep everything as it is."""
    ctx.show(ctx.t.gettext("Nothing has changed."))


async def cancel(ctx: Context) -> None:
    """/cancel: leave the current flow."""
    await ctx.finish()
    ctx.say(ctx.t.gettext("Cancelled. Send /help to see what you can do."))
