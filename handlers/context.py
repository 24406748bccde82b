"""What a handler gets: the update, its transaction, the resident, a translator, and ways to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.channels.base import Button, Incoming, Reply
from bot.domain.coexistence import DEFAULT_COEXISTENCE_POLICY, CoexistencePolicy
from bot.domain.elections import DEFAULT_ELECTION_POLICY, ElectionPolicy
from bot.domain.notices import DEFAULT_NOTICE_POLICY, NoticePolicy
from bot.domain.permissions import Action, Grant, Place, Role, can, can_somewhere, is_registered, resident_grant
from bot.domain.polls import DEFAULT_POLICY, PollPolicy
from bot.i18n import Catalogs, Translator
from storage.conversations import ChatState
from storage.db import Database
from storage.models import Resident
from storage.outbox import PRIORITY_PERSONAL
from storage.uow import UnitOfWork


class Flow(StrEnum):
    """Multi-step conversations; each module names its own steps."""

    NONE = ""
    REGISTRATION = "registration"
    LANGUAGE = "language"
    LEAVE = "leave"
    FORGET = "forget"
    CONTACT = "contact"
    ANSWER = "answer"
    REPORT = "report"
    CASE_ANSWER = "case_answer"
    CASE_NOTE = "case_note"
    CASE_QUESTION = "case_question"
    CASE_MERGE = "case_merge"
    POLL_CREATE = "poll_create"
    POLL_REVOTE = "poll_revote"
    RECEIPT = "receipt"
    PROPOSE = "propose"
    STAND = "stand"
    NOTICE = "notice"
    SETTINGS = "settings"
    COEXISTENCE = "coexistence"  # a mediator finding a neighbour, proposing a session, drafting an agreement
    MEETING = "meeting"  # calling a meeting, moving it, proposing an agenda item, writing its minutes
    THREAD = "thread"  # writing in a confidential thread (a party to the mediator, the mediator to a party)


class NoStep(StrEnum):
    """Outside any flow."""

    NONE = ""


class MachineTranslator(Protocol):
    """A machine translator (bot/machine_translation.py): what it managed within its timeout, never more."""

    async def translate_many(self, text: str, source: str, targets: list[str]) -> dict[str, str]:
        """`text` in each of `targets` it could translate in time (the others are left out)."""
        ...


@dataclass(frozen=True)
class Services:
    """Long-lived things handlers use: the database, catalogs and a few settings."""

    db: Database
    catalogs: Catalogs
    bot_username: str
    reminder_every: timedelta
    clock: Callable[[], datetime]
    on_outbox: Callable[[], None] = lambda: None
    report_follow_up_days: float = 3.0
    open311_keys: frozenset[str] = frozenset()
    polls: PollPolicy = DEFAULT_POLICY
    elections: ElectionPolicy = DEFAULT_ELECTION_POLICY
    notices: NoticePolicy = DEFAULT_NOTICE_POLICY
    coexistence: CoexistencePolicy = DEFAULT_COEXISTENCE_POLICY
    weekly_digests: bool = True
    # Set (VECINOS_TRANSLATE_URL) to send machine translations where no human version exists.
    machine_translator: MachineTranslator | None = None
    # Called after a commit that left a notice due now for the scheduler (waiting on machine translations).
    on_notice_due: Callable[[], None] = lambda: None


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
    notice_due: bool = False
    erased: bool = False

    # Answers to the current chat

    def say(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        """Send a new message to the current chat."""
        self.replies.append(Reply(text=text, buttons=buttons or []))

    def show(self, text: str, buttons: list[list[Button]] | None = None, *, secret: bool = False) -> None:
        """Replace the message whose button was tapped (or send a new one for a typed message). `secret`: the
        text is for this chat alone (a receipt), never kept once shown."""
        edit = self.incoming.callback_id is not None and self.incoming.message_id is not None
        self.replies.append(Reply(text=text, buttons=buttons or [], edit=edit, secret=secret))

    def toast(self, text: str) -> None:
        """A short notice on the tapped button (callback answer, plain text)."""
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
        *,
        about: Resident | None = None,
        ref: str | None = None,
        priority: int = PRIORITY_PERSONAL,
    ) -> bool:
        """Queue a message for another person, rendered in their language; sent only if we commit.
        `about` names the person the message talks about, so erasing them withdraws it; `ref` names the
        thing it is about, so its copies can be updated when that thing changes. False if unreachable."""
        if recipient.status != "active":
            return False
        reply = render(self.services.catalogs.translator(recipient.locale))
        await self.uow.outbox.add(
            recipient.chat_id,
            reply.to_dict(),
            topic,
            self.now,
            resident_id=recipient.id,
            about_resident_id=about.id if about else None,
            ref=ref,
            priority=priority,
        )
        self.wrote_outbox = True
        return True

    async def edit_sent(self, chat_id: int, message_id: int, reply: Reply, topic: str, recipient_id: int) -> None:
        """Queue an edit of a message the outbox sent earlier (e.g. a request someone else answered)."""
        await self.uow.outbox.add(
            chat_id,
            {**reply.to_dict(), "edit_message_id": message_id},
            topic,
            self.now,
            resident_id=recipient_id,
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

    async def go(self, flow: Flow, step: StrEnum, **changes: Any) -> None:
        """Move to a flow step, merging `changes` into the flow's data (None removes a key)."""
        data = self.data if flow == self.flow else {k: v for k, v in self.data.items() if k == "locale"}
        data.update(changes)
        data = {k: v for k, v in data.items() if v is not None}
        await self.uow.conversations.save(self.conversation, flow, step, data, self.now)

    async def finish(self) -> None:
        """Leave any flow (the chosen language of an unregistered chat is kept)."""
        keep = {k: v for k, v in self.data.items() if k == "locale"}
        await self.uow.conversations.save(self.conversation, Flow.NONE, NoStep.NONE, keep, self.now)

    # Language and permissions

    def use_locale(self, locale: str) -> None:
        """Answer in `locale` from now on in this update."""
        self.t = self.services.catalogs.translator(locale)

    @property
    def registered(self) -> bool:
        """Whether the person writing is registered (a resident row exists)."""
        return self.resident is not None and is_registered(self.grants)

    def became_resident(self, resident: Resident, verified_circle_id: int | None = None) -> None:
        """The person registered during this update: they hold the resident grant from now on."""
        self.resident = resident
        self.grants = [resident_grant(verified_circle_id), *(g for g in self.grants if g.role != "resident")]

    @property
    def verified_circle_id(self) -> int | None:
        """The circle this person is a verified member of, if any (their resident grant's)."""
        return next((g.scope_id for g in self.grants if g.role is Role.RESIDENT and g.scope_id), None)

    def allowed(self, action: Action, place: Place, *, on_oneself: bool = False) -> bool:
        """Whether the current person may do `action` at `place` (the one permission table decides)."""
        return can(self.grants, action, place, on_oneself=on_oneself)

    def allowed_somewhere(self, action: Action) -> bool:
        """Whether the current person may do `action` anywhere (to offer it at all)."""
        return can_somewhere(self.grants, action)
