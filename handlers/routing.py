"""Routes: each conversation module declares its commands, buttons and step inputs, with the action the
permission table must allow before the handler runs; the dispatcher only assembles them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.channels.base import IncomingKind
from bot.domain.callbacks import CallbackData
from bot.domain.permissions import Action
from handlers.context import Context

CommandHandler = Callable[[Context], Awaitable[None]]
CallbackHandler = Callable[[Context, CallbackData], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    """A /command, the action it takes (or the actions, any of which opens it), and (marked with N_) what to
    say to someone not allowed to."""

    handler: CommandHandler
    action: Action | tuple[Action, ...]
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    """A button's callback prefix and the action it takes (or the actions, any of which lets it through)."""

    handler: CallbackHandler
    action: Action | tuple[Action, ...]


@dataclass(frozen=True)
class Routes:
    """What one conversation module answers to."""

    commands: dict[str, Command] = field(default_factory=dict)
    callbacks: dict[str, Callback] = field(default_factory=dict)
    # What typed text or a shared location means inside one of the module's flows.
    step_inputs: dict[tuple[str, IncomingKind], CommandHandler] = field(default_factory=dict)


def any_input(flow: str, handler: CommandHandler) -> dict[tuple[str, IncomingKind], CommandHandler]:
    """The step inputs of a flow step that takes whatever is sent (text, a photo, a location) to one handler,
    which answers what it cannot use."""
    kinds = (IncomingKind.TEXT, IncomingKind.PHOTO, IncomingKind.DOCUMENT, IncomingKind.LOCATION)
    return {(flow, kind): handler for kind in kinds}


def assemble(modules: Iterable[Routes]) -> Routes:
    """Merge every module's routes, refusing two owners for one command, prefix or flow input."""
    merged = Routes()
    for routes in modules:
        for table, extra in (
            (merged.commands, routes.commands),
            (merged.callbacks, routes.callbacks),
            (merged.step_inputs, routes.step_inputs),
        ):
            clash = set(table) & set(extra)
            if clash:
                raise ValueError(f"two conversations claim {sorted(map(str, clash))}")
            table.update(extra)  # type: ignore[attr-defined]
    return merged
