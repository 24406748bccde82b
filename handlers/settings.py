"""/language: choose the language everything that follows is written in."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.callbacks import CallbackData
from bot.domain.permissions import Action
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES
from handlers import registration
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input


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
        ctx.show(ctx.t.gettext("✅ From now on I will write to you in {language}.", language=LANGUAGE_NAMES[code]))
        return
    if ctx.flow == Flow.REGISTRATION and ctx.step in (registration.Step.LANGUAGE, registration.Step.CONSENT):
        await registration.language_chosen_in_registration(ctx, code)
        return
    # Not registered yet: the choice is kept with the chat until they register.
    await ctx.uow.conversations.save(ctx.conversation, ctx.flow, ctx.step, {**ctx.data, "locale": code}, ctx.now)
    ctx.show(
        ctx.t.gettext(
            "✅ From now on I will write to you in {language}. Send /start to join your circle.",
            language=LANGUAGE_NAMES[code],
        )
    )


ROUTES = Routes(
    commands={"language": Command(ask_language, Action.CHANGE_LANGUAGE)},
    callbacks={"lang": Callback(language_chosen, Action.CHANGE_LANGUAGE)},
    step_inputs=any_input(Flow.LANGUAGE, language_text),
)
