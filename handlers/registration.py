"""Joining a circle: /start, language, consent, barrio, circle (list or location), building, verification."""

from __future__ import annotations

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from bot.domain.residents import (
    InviteProblem,
    InviteTerms,
    MembershipStatus,
    Verification,
    check_invite,
    looks_like_invite_code,
)
from bot.domain.territory import nearest_circles, valid_coordinates
from bot.domain.text import clean_free_text
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from handlers import approvals
from handlers.context import Context, Flow, Step
from handlers.labels import circle_label, status_name
from storage.models import Invite, Membership

MAX_PORTAL_LENGTH = 120
MAX_NAME_LENGTH = 64


def language_buttons() -> list[list[Button]]:
    """One button per supported language, in its own name, two per row."""
    buttons = [Button(LANGUAGE_NAMES[code], cb("lang", code)) for code in SUPPORTED_LOCALES]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def start(ctx: Context) -> None:
    """/start [invite]: begin or resume registration, or use an invite as a registered resident."""
    payload = ctx.incoming.args.strip()
    code = payload if payload and looks_like_invite_code(payload) else None
    if payload and code is None:
        ctx.say(ctx.t.gettext("This invitation link is not valid. You can still register without it."))
    if ctx.resident is None:
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
        return
    invite = await ctx.uow.invites.by_code(code)
    problem = _invite_problem(ctx, invite)
    if problem is not None or invite is None:
        ctx.say(invite_problem_text(ctx, problem or InviteProblem.UNKNOWN))
        if current is None:
            await ask_barrio(ctx)
        return
    if current is not None:
        current.status = MembershipStatus.LEFT
        current.decided_at = ctx.now
        current.remind_at = None
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


def invite_problem_text(ctx: Context, problem: InviteProblem) -> str:
    """Why an invite could not be used, in the reader's language."""
    texts = {
        InviteProblem.UNKNOWN: ctx.t.gettext("This invitation code does not exist."),
        InviteProblem.EXPIRED: ctx.t.gettext("This invitation has expired."),
        InviteProblem.USED_UP: ctx.t.gettext("This invitation has already been used."),
        InviteProblem.REVOKED: ctx.t.gettext("This invitation has been withdrawn."),
    }
    return (
        texts[problem]
        + " "
        + ctx.t.gettext(
            "You can still join: your circle's delegates or your barrio's community managers will confirm you."
        )
    )


async def language_chosen_in_registration(ctx: Context, locale: str) -> None:
    """After the language: the privacy notice, asking for consent."""
    await ctx.go(Flow.REGISTRATION, Step.CONSENT, locale=locale)
    ctx.show(
        privacy_notice(ctx),
        [
            [
                Button(ctx.t.gettext("✅ I agree"), cb("consent", "yes")),
                Button(ctx.t.gettext("No, thanks"), cb("consent", "no")),
            ]
        ],
    )


def privacy_notice(ctx: Context) -> str:
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
    name = clean_free_text(ctx.incoming.first_name, MAX_NAME_LENGTH).text or ctx.t.gettext("Neighbour")
    ctx.resident = await ctx.uow.residents.create(
        ctx.incoming.user_id, ctx.incoming.chat_id, name, ctx.t.locale, ctx.now
    )
    ctx.show(ctx.t.gettext("Thank you, {name}. You can change your language at any time with /language.", name=name))
    code = ctx.data.get("invite")
    if code:
        await _resident_uses_invite(ctx, code, None)
    else:
        await ask_barrio(ctx)


async def ask_barrio(ctx: Context) -> None:
    """Ask for the barrio, with a hint that a shared location finds the nearest circles."""
    barrios = await ctx.uow.territory.barrios()
    buttons = [Button(b.name, cb("barrio", b.id)) for b in barrios]
    await ctx.go(Flow.REGISTRATION, Step.BARRIO)
    ctx.say(
        ctx.t.gettext(
            "🏘️ Which barrio do you live in?\n\nYou can also share your location (📎 → Location) and I will "
            "show you the nearest circles."
        ),
        [buttons[i : i + 2] for i in range(0, len(buttons), 2)],
    )


async def barrio_chosen(ctx: Context, data: CallbackData) -> None:
    """barrio:<id>: list that barrio's circles."""
    barrio_id = data.int_arg()
    barrio = await ctx.uow.territory.barrio(barrio_id) if barrio_id else None
    if ctx.flow != Flow.REGISTRATION or ctx.step not in (Step.BARRIO, Step.CIRCLE) or barrio is None:
        await stale(ctx)
        return
    circles = await ctx.uow.territory.circles_in_barrio(barrio.id)
    await ctx.go(Flow.REGISTRATION, Step.CIRCLE, barrio_id=barrio.id)
    rows = [[Button(circle_label(c.kind, c.name), cb("circle", c.id))] for c in circles]
    rows.append([Button(ctx.t.gettext("« Other barrio"), cb("barrios"))])
    ctx.show(
        ctx.t.gettext("Circles of <b>{barrio}</b>: which street, square or park is yours?", barrio=barrio.name),
        rows,
    )


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
                ctx.t.gettext(
                    "{circle} · {metres} m",
                    circle=circle_label(circles[cid].kind, circles[cid].name),
                    metres=ctx.t.number(round(d)),
                ),
                cb("circle", cid),
            )
        ]
        for cid, d in nearest
    ]
    rows.append([Button(ctx.t.gettext("« Other barrio"), cb("barrios"))])
    await ctx.go(Flow.REGISTRATION, Step.CIRCLE)
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


async def ask_building(ctx: Context, circle_id: int, *, edit: bool = False) -> None:
    """Ask for the building or portal (optional): a known one, a typed address, or skip."""
    buildings = await ctx.uow.territory.buildings_in_circle(circle_id)
    circle = await ctx.uow.territory.circle(circle_id)
    rows = [[Button(b.address, cb("bld", b.id))] for b in buildings]
    rows.append([Button(ctx.t.gettext("Skip this step"), cb("nobld"))])
    text = ctx.t.gettext(
        "🏠 <b>{circle}</b>. Which building or portal do you live in? Choose it, type the street and number, "
        "or skip this step.",
        circle=circle.name if circle else "?",
    )
    (ctx.show if edit else ctx.say)(text, rows)


async def building_chosen(ctx: Context, data: CallbackData) -> None:
    """bld:<id> or nobld: finish registration."""
    if ctx.flow != Flow.REGISTRATION or ctx.step != Step.BUILDING:
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
    if cleaned.problem:
        ctx.say(ctx.t.gettext("Please type your street and number, or choose an option above."))
        return
    await complete_registration(ctx, building_id=None, portal=cleaned.text)


async def complete_registration(ctx: Context, building_id: int | None, portal: str | None = None) -> None:
    """Create the membership: verified with a valid invite, else pending and sent to approvers."""
    assert ctx.resident is not None
    circle = await ctx.uow.territory.circle(int(ctx.data["circle_id"]))
    if circle is None:
        await stale(ctx)
        return
    invite = await ctx.uow.invites.by_code(ctx.data["invite"]) if ctx.data.get("invite") else None
    problem = _invite_problem(ctx, invite) if invite is not None or ctx.data.get("invite") else None
    if problem is not None:
        ctx.say(invite_problem_text(ctx, problem))
    verified = invite is not None and problem is None and invite.circle_id == circle.id
    if verified and invite is not None:
        await ctx.uow.invites.consume(invite)
    membership = await ctx.uow.memberships.create(
        resident_id=ctx.resident.id,
        circle_id=circle.id,
        building_id=building_id,
        portal=portal,
        status=MembershipStatus.VERIFIED if verified else MembershipStatus.PENDING,
        verified_via=Verification.INVITE if verified else None,
        invite_id=invite.id if verified and invite is not None else None,
        created_at=ctx.now,
        decided_at=ctx.now if verified else None,
        remind_at=None if verified else ctx.now + ctx.services.reminder_every,
        reminders_sent=0,
    )
    await ctx.finish()
    if verified:
        ctx.show(
            ctx.t.gettext(
                "🎉 Welcome to the <b>{circle}</b> circle! Your invitation verified you. Send /help to see what "
                "you can do.",
                circle=circle.name,
            )
        )
        return
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
    """Typed text where a button is expected: repeat the question."""
    if ctx.step == Step.BUILDING:
        await portal_typed(ctx)
    elif ctx.step == Step.LANGUAGE:
        ctx.say(ctx.t.gettext("Please choose your language with the buttons."), language_buttons())
    elif ctx.step == Step.CONSENT:
        ctx.say(
            ctx.t.gettext("Please answer with the buttons: do you agree?"),
            [
                [
                    Button(ctx.t.gettext("✅ I agree"), cb("consent", "yes")),
                    Button(ctx.t.gettext("No, thanks"), cb("consent", "no")),
                ]
            ],
        )
    elif ctx.step == Step.CIRCLE and ctx.data.get("barrio_id"):
        ctx.say(ctx.t.gettext("Please choose your circle with the buttons above, or share your location."))
    else:
        await ask_barrio(ctx)


async def registration_location(ctx: Context) -> None:
    """A location during registration: nearest circles where it helps."""
    if ctx.step in (Step.BARRIO, Step.CIRCLE):
        await location_shared(ctx)
    else:
        await registration_text(ctx)


async def stale(ctx: Context) -> None:
    """A button from an old message, or forged data: say so and change nothing."""
    ctx.toast(ctx.t.gettext("This button is no longer valid."))
    ctx.say(ctx.t.gettext("That button belongs to an earlier step. Send /start to continue, or /help."))
