"""What a handler gets: the update, its transaction, the resident, a translator, and ways to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.channels.base import Button, Incoming, Reply
from bot.domain.permissions import Action, Grant, Place, can
from bot.i18n import Catalogs, Translator
from storage.db import Database
from storage.models import Resident
from storage.repositories import ChatState
from storage.uow import UnitOfWork


class Flow(StrEnum):
    """Multi-step conversations."""

    NONE = ""
    REGISTRATION = "registration"


class Step(StrEnum):
    """Steps of the registration flow."""

    NONE = ""
    LANGUAGE = "language"
    CONSENT = "consent"
    BARRIO = "barrio"
    CIRCLE = "circle"
    BUILDING = "building"


@dataclass(frozen=True)
class Services:
    """Long-lived things handlers use: the database, catalogs and a few settings."""

    db: Database
    catalogs: Catalogs
    bot_username: str
    reminder_every: timedelta
    clock: Callable[[], datetime]
    on_outbox: Callable[[], None] = lambda: None


@dataclass
class Context:
    """One update being handled inside one transaction."""

    incoming: Incoming
    uow: UnitOfWork
    services: Services
    conversation: ChatState
    resident: Resident | None
    t: Translator
    now: datetime
    grants: list[Grant] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    wrote_outbox: bool = False
    erased: bool = False

    # Answers to the current chat

    def say(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        """Send a new message to the current chat."""
        self.replies.append(Reply(text=text, buttons=buttons or []))

    def show(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        """Replace the message whose button was tapped (or send a new one for a typed message)."""
        edit = self.incoming.callback_id is not None and self.incoming.message_id is not None
        self.replies.append(Reply(text=text, buttons=buttons or [], edit=edit))

    def toast(self, text: str) -> None:
        """A short notice on the tapped button (callback answer)."""
        self.replies.append(Reply(toast=text))

    def send_document(self, content: bytes, filename: str, caption: str = "") -> None:
        """Send a file to the current chat."""
        self.replies.append(Reply(text=caption, document=content, filename=filename))

    # Messages to other people, in their own language, through the outbox

    async def notify(
        self,
        recipient: Resident,
        render: Callable[[Translator], Reply],
        topic: str,
        about: Resident | None = None,
    ) -> None:
        """Queue a message for another resident, rendered in their language; sent only if we commit.
        `about` names the resident the message talks about, so erasing them withdraws it."""
        if recipient.status != "active":
            return
        reply = render(self.services.catalogs.translator(recipient.locale))
        await self.uow.outbox.add(
            recipient.chat_id,
            reply.to_dict(),
            topic,
            self.now,
            resident_id=recipient.id,
            about_resident_id=about.id if about else None,
        )
        self.wrote_outbox = True

    # Conversation state

    @property
    def flow(self) -> str:
        """The current flow name."""
        return self.conversation.flow

    @property
    def step(self) -> str:
        """The current step name."""
        return self.conversation.step

    @property
    def data(self) -> dict[str, Any]:
        """Answers collected so far in the current flow."""
        return dict(self.conversation.data or {})

    async def go(self, flow: Flow, step: Step, **changes: Any) -> None:
        """Move to a flow step, merging `changes` into the flow's data."""
        data = self.data if flow == self.flow else {k: v for k, v in self.data.items() if k == "locale"}
        data.update(changes)
        await self.uow.conversations.save(self.conversation, flow, step, data, self.now)

    async def finish(self) -> None:
        """Leave any flow (the chosen language of an unregistered chat is kept)."""
        keep = {k: v for k, v in self.data.items() if k == "locale"}
        await self.uow.conversations.save(self.conversation, Flow.NONE, Step.NONE, keep, self.now)

    # Language and permissions

    def use_locale(self, locale: str) -> None:
        """Answer in `locale` from now on in this update."""
        self.t = self.services.catalogs.translator(locale)

    def allowed(self, action: Action, place: Place) -> bool:
        """Whether the current resident may do `action` at `place`."""
        return self.resident is not None and can(self.grants, action, place)
