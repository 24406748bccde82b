"""/language: choose the language everything that follows is written in."""

from __future__ import annotations

from bot.domain.callbacks import CallbackData
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from handlers import registration
from handlers.context import Context, Flow, Step


async def ask_language(ctx: Context) -> None:
    """/language: show the language picker."""
    ctx.say(ctx.t.gettext("Which language do you prefer?"), registration.language_buttons())


async def language_chosen(ctx: Context, data: CallbackData) -> None:
    """lang:<code>: switch language; during registration, go on to the privacy notice."""
    code = data.args[0] if data.args else ""
    if code not in SUPPORTED_LOCALES:
        await registration.stale(ctx)
        return
    ctx.use_locale(code)
    if ctx.resident is not None:
        await ctx.uow.residents.set_locale(ctx.resident, code)
        ctx.show(ctx.t.gettext("✅ From now on I will write to you in {language}.", language=LANGUAGE_NAMES[code]))
        return
    if ctx.flow == Flow.REGISTRATION and ctx.step in (Step.LANGUAGE, Step.CONSENT):
        await registration.language_chosen_in_registration(ctx, code)
        return
    await ctx.go(Flow(ctx.flow), Step(ctx.step), locale=code)
    ctx.show(
        ctx.t.gettext(
            "✅ From now on I will write to you in {language}. Send /start to join your circle.",
            language=LANGUAGE_NAMES[code],
        )
    )
