"""Joining a circle: /start, language, consent, barrio, circle (list or location), building, verification;
and the first /start of staff who were given a role before they ever wrote to the bot."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button, IncomingKind
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action
from bot.domain.residents import (
    InviteProblem,
    InviteTerms,
    MembershipStatus,
    check_invite,
    looks_like_invite_code,
)
from bot.domain.territory import nearest_circles, valid_coordinates
from bot.domain.text import clean_free_text, has_letters_or_digits
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES, Safe
from handlers import approvals
from handlers.coexistence_invites import open_paper_invitation
from handlers.common import describe_grant, stale
from handlers.context import Context, Flow
from handlers.labels import circle_label, status_name
from handlers.routing import Callback, Command, Routes
from storage.models import Invite, Membership

MAX_PORTAL_LENGTH = 120
MAX_NAME_LENGTH = 64


class Step(StrEnum):
    """Steps of the registration flow."""

    LANGUAGE = "language"
    CONSENT = "consent"
    BARRIO = "barrio"
    CIRCLE = "circle"
    BUILDING = "building"


def language_buttons() -> list[list[Button]]:
    """One button per supported language, in its own name, two per row."""
    buttons = [Button(LANGUAGE_NAMES[code], cb("lang", code)) for code in SUPPORTED_LOCALES]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def consent_buttons(ctx: Context) -> list[list[Button]]:
    """Agree or decline the privacy notice."""
    return [
        [
            Button(ctx.t.plain("✅ I agree"), cb("consent", "yes")),
            Button(ctx.t.plain("No, thanks"), cb("consent", "no")),
        ]
    ]


async def start(ctx: Context) -> None:
    """/start [invite]: begin or resume registration, or use an invite as a registered resident."""
    payload = ctx.incoming.args.strip()
    if payload and await open_paper_invitation(ctx, payload):
        return
    code = payload if payload and looks_like_invite_code(payload) else None
    if payload and code is None:
        ctx.say(ctx.t.gettext("This invitation link is not valid. You can still register without it."))
    if ctx.resident is None:
        if await _welcome_staff(ctx):
            return
        await ctx.go(Flow.REGISTRATION, Step.LANGUAGE, invite=code, locale=ctx.t.locale)
        ctx.say(
            ctx.t.gettext(
                "👋 Welcome to <b>Vecinos</b>, the participation channel of the Madrid Central District "
                "community stewardship circles.\n\nWhich language do you prefer?"
            ),
            language_buttons(),
        )
        return
    membership = await ctx.uow.memberships.current(ctx.resident.id)
    if code is not None:
        await _resident_uses_invite(ctx, code, membership)
        return
    if membership is not None:
        circle = await ctx.uow.territory.circle(membership.circle_id)
        ctx.say(
            ctx.t.gettext(
                "You are already a member of <b>{circle}</b> ({status}). Send /me to see your details "
                "or /help to see what you can do.",
                circle=circle.name if circle else "?",
                status=status_name(ctx.t, membership.status),
            )
        )
        return
    await ask_barrio(ctx)


async def _welcome_staff(ctx: Context) -> bool:
    """Someone given a role before they wrote to the bot: register them as staff (a public task, not
    consent), show what we process for information, and join no circle. False if they have no role."""
    waiting = await ctx.uow.roles.waiting_for(ctx.incoming.user_id)
    if not waiting:
        return False
    name = clean_free_text(ctx.incoming.first_name, MAX_NAME_LENGTH).text or ctx.t.plain("Neighbour")
    resident = await ctx.uow.residents.register(
        ctx.incoming.user_id, ctx.incoming.chat_id, name, ctx.t.locale, ctx.now, legal_basis="public_task"
    )
    await ctx.uow.roles.hand_over_waiting(ctx.incoming.user_id, resident.id)
    ctx.became_resident(resident)
    ctx.grants.extend(waiting)
    await ctx.finish()
    labels = [await describe_grant(ctx, grant) for grant in waiting]
    ctx.say(
        ctx.t.gettext(
            "👋 Welcome to <b>Vecinos</b>, {name}. You take part as staff: {roles}.",
            name=name,
            roles=", ".join(labels),
        )
    )
    ctx.say(
        ctx.t.gettext(
            "🔒 <b>Your data in Vecinos</b>\n\n"
            "As staff, your Telegram account number, first name, language and roles are processed to carry out "
            "a public task (the community safety model of the Madrid Central District), not on your consent. "
            "Residents you work with see your first name and role.\n"
            "/mydata sends you a copy of everything; ask an administrator to end your role.\n\n"
            "You do not need to join a circle. Send /help to see what you can do, or /language to change the "
            "language."
        )
    )
    return True


async def _resident_uses_invite(ctx: Context, code: str, current: Membership | None) -> None:
    assert ctx.resident is not None
    if current is not None and current.status == MembershipStatus.VERIFIED:
        circle = await ctx.uow.territory.circle(current.circle_id)
        ctx.say(
            ctx.t.gettext(
                "You are already a verified member of <b>{circle}</b>. To move to another circle, send /leave first.",
                circle=circle.name if circle else "?",
            )
        )
        await ctx.finish()
        return
    invite = await ctx.uow.invites.by_code(code)
    problem = _invite_problem(ctx, invite)
    if problem is not None or invite is None:
        # Said once: the code is dropped, so finishing registration does not repeat it.
        ctx.say(invite_problem_text(ctx, problem or InviteProblem.UNKNOWN))
        await ctx.go(Flow.REGISTRATION, Step.BARRIO, invite=None)
        if current is None:
            await ask_barrio(ctx)
        else:
            await ctx.finish()
        return
    if current is not None:
        await ctx.uow.memberships.leave(current, ctx.now)
    await ctx.go(Flow.REGISTRATION, Step.BUILDING, invite=code, circle_id=invite.circle_id)
    if invite.building_id is not None:
        await complete_registration(ctx, building_id=invite.building_id)
    else:
        await ask_building(ctx, invite.circle_id)


def _invite_problem(ctx: Context, invite: Invite | None) -> InviteProblem | None:
    if invite is None:
        return InviteProblem.UNKNOWN
    terms = InviteTerms(invite.expires_at, invite.uses_left, revoked=invite.revoked_at is not None)
    return check_invite(terms, ctx.now)


def invite_problem_text(ctx: Context, problem: InviteProblem) -> Safe:
    """Why an invite could not be used, in the reader's language."""
    texts = {
        InviteProblem.UNKNOWN: ctx.t.gettext("This invitation code does not exist."),
        InviteProblem.EXPIRED: ctx.t.gettext("This invitation has expired."),
        InviteProblem.USED_UP: ctx.t.gettext("This invitation has already been used."),
        InviteProblem.REVOKED: ctx.t.gettext("This invitation has been withdrawn."),
    }
    return (
        texts[problem]
        + Safe(" ")
        + ctx.t.gettext(
            "You can still join: your circle's delegates or your barrio's community managers will confirm you."
        )
    )


async def language_chosen_in_registration(ctx: Context, locale: str) -> None:
    """After the language: the privacy notice, asking for consent."""
    await ctx.go(Flow.REGISTRATION, Step.CONSENT, locale=locale)
    ctx.show(privacy_notice(ctx), consent_buttons(ctx))


def privacy_notice(ctx: Context) -> Safe:
    """What we store, why, who sees it and how to erase it."""
    return ctx.t.gettext(
        "🔒 <b>Your data in Vecinos</b>\n\n"
        "<b>What we store:</b> your Telegram account number and first name, your language, your circle and "
        "building, your role, and what you send to the bot.\n"
        "<b>Why:</b> to confirm that you live in your circle and to keep you informed about it.\n"
        "<b>Who sees it:</b> your circle's delegates and your barrio's community managers see your first name "
        "and circle. Nobody else does, and it is never sold or published.\n"
        "<b>Your rights:</b> /mydata sends you a copy of everything; /forget erases it at any time (only "
        "anonymous counts remain).\n\n"
        "Do you agree?"
    )


async def consent(ctx: Context, data: CallbackData) -> None:
    """consent:yes registers the resident; consent:no stores nothing."""
    if ctx.flow != Flow.REGISTRATION or ctx.step != Step.CONSENT or ctx.resident is not None:
        await stale(ctx)
        return
    if data.args[:1] != ("yes",):
        await ctx.finish()
        ctx.show(ctx.t.gettext("Understood: nothing has been stored. Send /start if you change your mind."))
        return
    name = clean_free_text(ctx.incoming.first_name, MAX_NAME_LENGTH).text or ctx.t.plain("Neighbour")
    resident = await ctx.uow.residents.register(ctx.incoming.user_id, ctx.incoming.chat_id, name, ctx.t.locale, ctx.now)
    ctx.became_resident(resident)
    ctx.show(ctx.t.gettext("Thank you, {name}. You can change your language at any time with /language.", name=name))
    code = ctx.data.get("invite")
    if code:
        await _resident_uses_invite(ctx, code, None)
    else:
        await ask_barrio(ctx)


def barrio_buttons(barrios: list) -> list[list[Button]]:  # type: ignore[type-arg]
    """The barrios, two per row."""
    buttons = [Button(b.name, cb("barrio", b.id)) for b in barrios]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def ask_barrio(ctx: Context, *, again: bool = False) -> None:
    """Ask for the barrio, with a hint that a shared location finds the nearest circles."""
    barrios = await ctx.uow.territory.barrios()
    await ctx.go(Flow.REGISTRATION, Step.BARRIO)
    if again:
        text = ctx.t.gettext(
            "Please choose your barrio with the buttons, or share your location (📎 → Location) and I will "
            "show you the nearest circles."
        )
    else:
        text = ctx.t.gettext(
            "🏘️ Which barrio do you live in?\n\nYou can also share your location (📎 → Location) and I will "
            "show you the nearest circles."
        )
    ctx.say(text, barrio_buttons(barrios))


async def barrio_chosen(ctx: Context, data: CallbackData) -> None:
    """barrio:<id>: list that barrio's circles."""
    barrio_id = data.int_arg()
    barrio = await ctx.uow.territory.barrio(barrio_id) if barrio_id else None
    if ctx.flow != Flow.REGISTRATION or ctx.step not in (Step.BARRIO, Step.CIRCLE) or barrio is None:
        await stale(ctx)
        return
    await ctx.go(Flow.REGISTRATION, Step.CIRCLE, barrio_id=barrio.id)
    ctx.show(
        ctx.t.gettext("Circles of <b>{barrio}</b>: which street, square or park is yours?", barrio=barrio.name),
        await _circle_rows(ctx, barrio.id),
    )


async def _circle_rows(ctx: Context, barrio_id: int) -> list[list[Button]]:
    circles = await ctx.uow.territory.circles_in_barrio(barrio_id)
    rows = [[Button(circle_label(c.kind, c.name), cb("circle", c.id))] for c in circles]
    rows.append([Button(ctx.t.plain("« Other barrio"), cb("barrios"))])
    return rows


async def back_to_barrios(ctx: Context, data: CallbackData) -> None:
    """barrios: go back to the barrio list."""
    if ctx.flow != Flow.REGISTRATION or ctx.step not in (Step.BARRIO, Step.CIRCLE, Step.BUILDING):
        await stale(ctx)
        return
    await ask_barrio(ctx)


async def location_shared(ctx: Context) -> None:
    """A location while choosing: offer the nearest circles."""
    lat, lon = ctx.incoming.latitude, ctx.incoming.longitude
    if lat is None or lon is None or not valid_coordinates(lat, lon):
        ctx.say(ctx.t.gettext("I could not read that location. Please choose from the list."))
        return
    points = await ctx.uow.territory.circle_points()
    nearest = nearest_circles(points, lat, lon)
    if not nearest:
        ctx.say(ctx.t.gettext("There is no circle within 3 km of that place. Please choose your barrio."))
        await ask_barrio(ctx)
        return
    circles = await ctx.uow.territory.circles_by_ids([cid for cid, _ in nearest])
    rows = [
        [
            Button(
                ctx.t.plain(
                    "{circle} · {metres} m",
                    circle=circle_label(circles[cid].kind, circles[cid].name),
                    metres=ctx.t.number(round(d)),
                ),
                cb("circle", cid),
            )
        ]
        for cid, d in nearest
    ]
    rows.append([Button(ctx.t.plain("« Other barrio"), cb("barrios"))])
    await ctx.go(Flow.REGISTRATION, Step.CIRCLE, barrio_id=None)
    ctx.say(ctx.t.gettext("📍 These circles are closest to you. Which one is yours?"), rows)


async def circle_chosen(ctx: Context, data: CallbackData) -> None:
    """circle:<id>: ask for the building."""
    circle_id = data.int_arg()
    circle = await ctx.uow.territory.circle(circle_id) if circle_id else None
    if ctx.flow != Flow.REGISTRATION or ctx.step != Step.CIRCLE or circle is None:
        await stale(ctx)
        return
    await ctx.go(Flow.REGISTRATION, Step.BUILDING, circle_id=circle.id)
    await ask_building(ctx, circle.id, edit=True)


async def _building_rows(ctx: Context, circle_id: int) -> list[list[Button]]:
    buildings = await ctx.uow.territory.buildings_in_circle(circle_id)
    rows = [[Button(b.address, cb("bld", b.id))] for b in buildings]
    rows.append([Button(ctx.t.plain("Skip this step"), cb("nobld"))])
    return rows


async def ask_building(ctx: Context, circle_id: int, *, edit: bool = False) -> None:
    """Ask for the building or portal (optional): a known one, a typed address, or skip."""
    circle = await ctx.uow.territory.circle(circle_id)
    text = ctx.t.gettext(
        "🏠 <b>{circle}</b>. Which building or portal do you live in? Choose it, type the street and number, "
        "or skip this step.",
        circle=circle.name if circle else "?",
    )
    (ctx.show if edit else ctx.say)(text, await _building_rows(ctx, circle_id))


async def building_chosen(ctx: Context, data: CallbackData) -> None:
    """bld:<id> or nobld: finish registration."""
    if ctx.flow != Flow.REGISTRATION or ctx.step != Step.BUILDING or ctx.resident is None:
        await stale(ctx)
        return
    building_id = None
    if data.action == "bld":
        building_id = data.int_arg()
        building = await ctx.uow.territory.building(building_id) if building_id else None
        if building is None or building.circle_id != ctx.data.get("circle_id"):
            await stale(ctx)
            return
    await complete_registration(ctx, building_id=building_id)


async def portal_typed(ctx: Context) -> None:
    """Free text at the building step: the resident's street and number."""
    cleaned = clean_free_text(ctx.incoming.text, MAX_PORTAL_LENGTH)
    if cleaned.problem == "too_long":
        ctx.say(
            ctx.t.gettext(
                "That address is too long (at most {max} characters). Please shorten it.", max=MAX_PORTAL_LENGTH
            )
        )
        return
    if cleaned.problem or not has_letters_or_digits(cleaned.text):
        circle_id = int(ctx.data["circle_id"])
        if await ctx.uow.territory.buildings_in_circle(circle_id):
            text = ctx.t.gettext(
                "Please type your street and number (for example: Calle del Amparo 5), choose your building "
                "below, or skip this step."
            )
        else:
            text = ctx.t.gettext(
                "Please type your street and number (for example: Calle del Amparo 5), or skip this step."
            )
        ctx.say(text, await _building_rows(ctx, circle_id))
        return
    await complete_registration(ctx, building_id=None, portal=cleaned.text)


async def complete_registration(ctx: Context, building_id: int | None, portal: str | None = None) -> None:
    """Create the membership: verified with a valid invite, else pending and sent to approvers."""
    assert ctx.resident is not None
    circle = await ctx.uow.territory.circle(int(ctx.data["circle_id"]))
    if circle is None:
        await stale(ctx)
        return
    code = ctx.data.get("invite")
    invite = await ctx.uow.invites.by_code(code) if code else None
    problem = _invite_problem(ctx, invite) if code else None
    if problem is not None:
        ctx.say(invite_problem_text(ctx, problem))
    await ctx.finish()
    if invite is not None and problem is None and invite.circle_id == circle.id:
        await ctx.uow.invites.use_once(invite)
        membership = await ctx.uow.memberships.join_with_invite(
            ctx.resident.id, circle.id, invite.id, ctx.now, building_id=building_id, portal=portal
        )
        ctx.became_resident(ctx.resident, membership.circle_id)
        ctx.show(
            ctx.t.gettext(
                "🎉 Welcome to the <b>{circle}</b> circle! Your invitation verified you. Send /help to see what "
                "you can do.",
                circle=circle.name,
            )
        )
        return
    membership = await ctx.uow.memberships.request(
        ctx.resident.id,
        circle.id,
        ctx.now,
        ctx.now + ctx.services.reminder_every,
        building_id=building_id,
        portal=portal,
    )
    notified = await approvals.ask_approvers(ctx, membership, circle)
    if notified:
        ctx.show(
            ctx.t.gettext(
                "📨 Thank you! Your request to join <b>{circle}</b> has been sent to its delegates and "
                "community managers. I will tell you as soon as they answer.",
                circle=circle.name,
            )
        )
    else:
        ctx.show(
            ctx.t.gettext(
                "📨 Thank you! Your request to join <b>{circle}</b> is registered. Nobody can approve it yet; "
                "the community managers will be reminded and I will tell you as soon as it is answered.",
                circle=circle.name,
            )
        )


async def registration_text(ctx: Context) -> None:
    """Typed text where a button is expected: say what to do and show the buttons again."""
    if ctx.step == Step.BUILDING:
        await portal_typed(ctx)
    elif ctx.step == Step.LANGUAGE:
        ctx.say(ctx.t.gettext("Please choose your language with the buttons."), language_buttons())
    elif ctx.step == Step.CONSENT:
        ctx.say(ctx.t.gettext("Please answer with the buttons: do you agree?"), consent_buttons(ctx))
    elif ctx.step == Step.CIRCLE and ctx.data.get("barrio_id"):
        ctx.say(
            ctx.t.gettext("Please choose your circle with the buttons, or share your location."),
            await _circle_rows(ctx, int(ctx.data["barrio_id"])),
        )
    else:
        await ask_barrio(ctx, again=True)


async def registration_location(ctx: Context) -> None:
    """A location during registration: nearest circles where it helps."""
    if ctx.step in (Step.BARRIO, Step.CIRCLE):
        await location_shared(ctx)
    else:
        await registration_text(ctx)


ROUTES = Routes(
    commands={"start": Command(start, Action.JOIN_CIRCLE)},
    callbacks={
        "consent": Callback(consent, Action.JOIN_CIRCLE),
        "barrio": Callback(barrio_chosen, Action.JOIN_CIRCLE),
        "barrios": Callback(back_to_barrios, Action.JOIN_CIRCLE),
        "circle": Callback(circle_chosen, Action.JOIN_CIRCLE),
        "bld": Callback(building_chosen, Action.JOIN_CIRCLE),
        "nobld": Callback(building_chosen, Action.JOIN_CIRCLE),
    },
    step_inputs={
        (Flow.REGISTRATION, IncomingKind.TEXT): registration_text,
        (Flow.REGISTRATION, IncomingKind.LOCATION): registration_location,
    },
)
