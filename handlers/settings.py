"""/language: choose the language everything that follows is written in; /settings: quiet hours and the kinds
of notices one gets."""

from __future__ import annotations

from enum import StrEnum

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from bot.domain.notices import QUIET_PRESETS, NoticeKind, QuietHours, muted_set, muted_text, parse_quiet_hours
from bot.domain.permissions import Action
from bot.i18n import N_, SUPPORTED_LOCALES, Safe, Translator, safe_join
from handlers import registration
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input, assemble


class LanguageStep(StrEnum):
    """Steps of /language outside registration."""

    CHOOSE = "choose"


async def ask_language(ctx: Context) -> None:
    """/language: show the language picker (inside a flow, the flow goes on afterwards)."""
    if ctx.flow in ("", Flow.LANGUAGE):
        await ctx.go(Flow.LANGUAGE, LanguageStep.CHOOSE)
    ctx.say(ctx.t.gettext("Which language do you prefer?"), registration.language_buttons())


async def language_text(ctx: Context) -> None:
    """Typed text while the picker waits: ask again, with the buttons."""
    ctx.say(ctx.t.gettext("Please choose your language with the buttons."), registration.language_buttons())


async def language_chosen(ctx: Context, data: CallbackData) -> None:
    """lang:<code>: switch language; during registration, go on to the privacy notice."""
    code = data.args[0] if data.args else ""
    if code not in SUPPORTED_LOCALES:
        await stale(ctx)
        return
    ctx.use_locale(code)
    if ctx.flow == Flow.LANGUAGE:
        await ctx.finish()
    if ctx.resident is not None:
        await ctx.uow.residents.change_language(ctx.resident, code)
        ctx.show(ctx.t.gettext("✅ From now on I will write to you in {language}.", language=ctx.t.language_name(code)))
        return
    if ctx.flow == Flow.REGISTRATION and ctx.step in (registration.Step.LANGUAGE, registration.Step.CONSENT):
        await registration.language_chosen_in_registration(ctx, code)
        return
    # Not registered yet: the choice is kept with the chat until they register.
    await ctx.uow.conversations.save(ctx.conversation, ctx.flow, ctx.step, {**ctx.data, "locale": code}, ctx.now)
    ctx.show(
        ctx.t.gettext(
            "✅ From now on I will write to you in {language}. Send /start to join your circle.",
            language=ctx.t.language_name(code),
        )
    )


LANGUAGE_ROUTES = Routes(
    commands={"language": Command(ask_language, Action.CHANGE_LANGUAGE)},
    callbacks={"lang": Callback(language_chosen, Action.CHANGE_LANGUAGE)},
    step_inputs=any_input(Flow.LANGUAGE, language_text),
)


# ---------------------------------------------------------------- /settings: quiet hours and muted notices

MUTABLE_KINDS = {
    NoticeKind.OFFICIAL: N_("Notices from the community managers"),
    NoticeKind.DELEGATE: N_("Messages from your circle's delegate"),
}


class SettingsStep(StrEnum):
    """Steps of /settings."""

    QUIET = "quiet"


def _hours_text(t: Translator, quiet: QuietHours) -> str:
    if quiet.off:
        return t.plain("none")
    return t.plain("{start} to {end}", start=quiet.start.strftime("%H:%M"), end=quiet.end.strftime("%H:%M"))


def _settings_view(ctx: Context) -> tuple[Safe, list[list[Button]]]:
    t = ctx.t
    resident = ctx.resident
    assert resident is not None
    policy = ctx.services.notices
    quiet = policy.quiet_of(resident.quiet_start, resident.quiet_end)
    muted = muted_set(resident.muted_kinds)
    lines = [
        t.gettext("⚙️ <b>Your settings</b>"),
        t.gettext("Language: {language} (/language to change it)", language=t.language_name(t.locale)),
        t.gettext("🌙 Quiet hours: {hours}", hours=_hours_text(t, quiet)),
        t.gettext("Normal notices wait until your quiet hours are over; urgent safety notices do not."),
        Safe(""),
    ]
    rows: list[list[Button]] = []
    for kind, name in MUTABLE_KINDS.items():
        state = t.plain("🔕 muted") if kind.value in muted else t.plain("🔔 on")
        lines.append(t.gettext("{what}: {state}", what=t.plain(name), state=state))
        label = (
            t.plain("Turn on: {what}", what=t.plain(name))
            if kind.value in muted
            else t.plain("Mute: {what}", what=t.plain(name))
        )
        rows.append([Button(label, cb("stm", kind.value))])
    lines.append(t.gettext("Urgent safety notices always reach you."))
    lines.append(
        t.gettext(
            "📰 Weekly digest of your circle instead of separate notices: {state}",
            state=t.plain("on") if resident.weekly_digest else t.plain("off"),
        )
    )
    rows.append(
        [
            Button(
                t.plain("📰 Separate notices again")
                if resident.weekly_digest
                else t.plain("📰 A weekly digest instead"),
                cb("std"),
            )
        ]
    )
    presets = [Button(("✓ " if p == quiet else "") + _hours_text(t, p), cb("stq", *p.minutes())) for p in QUIET_PRESETS]
    rows.append(presets[:2])
    rows.append(presets[2:])
    rows.append([Button(t.plain("✏️ Other quiet hours"), cb("stw"))])
    return safe_join("\n", lines), rows


async def show_settings(ctx: Context) -> None:
    """/settings: quiet hours and the notices this person gets."""
    if ctx.flow == Flow.SETTINGS:
        await ctx.finish()
    text, rows = _settings_view(ctx)
    ctx.say(text, rows)


async def mute_tapped(ctx: Context, data: CallbackData) -> None:
    """stm:<kind>: mute or unmute a kind of notice."""
    kind = data.args[0] if data.args else ""
    if ctx.resident is None or kind not in {k.value for k in MUTABLE_KINDS}:
        await stale(ctx)
        return
    muted = set(muted_set(ctx.resident.muted_kinds))
    muted.symmetric_difference_update({kind})
    await ctx.uow.residents.set_muted_kinds(ctx.resident, muted_text(frozenset(muted)))
    ctx.toast(ctx.t.plain("🔕 Muted") if kind in muted else ctx.t.plain("🔔 On again"))
    text, rows = _settings_view(ctx)
    ctx.show(text, rows)


async def digest_tapped(ctx: Context, _data: CallbackData) -> None:
    """std: a weekly digest of the circle (every Monday) instead of separate notices, or back."""
    if ctx.resident is None:
        await stale(ctx)
        return
    chosen = not ctx.resident.weekly_digest
    await ctx.uow.residents.set_weekly_digest(ctx.resident, chosen)
    if not chosen:
        # What was waiting for the digest goes out now, one by one, as it would have.
        await ctx.uow.notices.release_from_digest(ctx.resident.id, ctx.now)
        ctx.wrote_outbox = True  # wakes the sender once this commits
    ctx.toast(ctx.t.plain("📰 Weekly digest on") if chosen else ctx.t.plain("📰 Separate notices again"))
    text, rows = _settings_view(ctx)
    ctx.show(text, rows)


async def quiet_tapped(ctx: Context, data: CallbackData) -> None:
    """stq:<start>:<end>: quiet hours from the presets (minutes after midnight)."""
    parts = [int(arg) for arg in data.args[:2] if arg.isdigit()]
    start, end = [*parts, -1, -1][:2]
    if ctx.resident is None or len(data.args) != 2 or not (0 <= start < 1440 and 0 <= end < 1440):
        await stale(ctx)
        return
    await _set_quiet(ctx, QuietHours.from_minutes(start, end))


async def _set_quiet(ctx: Context, quiet: QuietHours) -> None:
    assert ctx.resident is not None
    start, end = quiet.minutes()
    await ctx.uow.residents.set_quiet_hours(ctx.resident, start, end)
    if ctx.flow == Flow.SETTINGS:
        await ctx.finish()
    ctx.toast(ctx.t.plain("🌙 Quiet hours: {hours}", hours=_hours_text(ctx.t, quiet)))
    text, rows = _settings_view(ctx)
    ctx.show(text, rows)


async def write_quiet_tapped(ctx: Context, data: CallbackData) -> None:
    """stw: type quiet hours of one's own."""
    await ctx.go(Flow.SETTINGS, SettingsStep.QUIET)
    ctx.say(ctx.t.gettext("🌙 Write your quiet hours as two times, such as {example}.", example="23:30-07:00"))


async def quiet_written(ctx: Context) -> None:
    """Typed quiet hours."""
    quiet = parse_quiet_hours(ctx.incoming.text or "")
    if quiet is None:
        ctx.say(
            ctx.t.gettext(
                "I could not read that. Please write two times of day, such as {example}, or /cancel.",
                example="23:30-07:00",
            )
        )
        return
    await _set_quiet(ctx, quiet)


SETTINGS_ROUTES = Routes(
    commands={"settings": Command(show_settings, Action.CHANGE_SETTINGS)},
    callbacks={
        "stm": Callback(mute_tapped, Action.CHANGE_SETTINGS),
        "std": Callback(digest_tapped, Action.CHANGE_SETTINGS),
        "stq": Callback(quiet_tapped, Action.CHANGE_SETTINGS),
        "stw": Callback(write_quiet_tapped, Action.CHANGE_SETTINGS),
    },
    step_inputs=any_input(Flow.SETTINGS, quiet_written),
)


ROUTES = assemble([LANGUAGE_ROUTES, SETTINGS_ROUTES])
