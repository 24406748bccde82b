"""A recording harness: feeds Incoming updates to the real dispatcher on a real database."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bot.channels.base import Incoming, IncomingKind, Reply
from bot.i18n import Catalogs
from handlers import Dispatcher
from handlers.context import Services
from storage.db import Database


@dataclass
class Clock:
    """A settable clock."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        """Move time forward."""
        self.now += timedelta(**kwargs)


@dataclass
class Person:
    """A Telegram user in tests."""

    user_id: int
    first_name: str
    language_code: str | None = "es"


class Harness:
    """Drives the dispatcher like a channel would, keeping a transcript."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = Clock()
        self.catalogs = Catalogs("es", "Europe/Madrid")
        self.services = Services(
            db=db,
            catalogs=self.catalogs,
            bot_username="VecinosTestBot",
            reminder_every=timedelta(hours=48),
            clock=self.clock,
        )
        self.dispatcher = Dispatcher(self.services)
        self._ids = itertools.count(1000)
        self.last_message_id: dict[int, int] = {}

    async def feed(self, incoming: Incoming) -> list[Reply]:
        """Dispatch one update and mark its replies delivered, as a channel does."""
        outcome = await self.dispatcher.handle(incoming)
        if outcome.needs_delivery:
            await self.dispatcher.mark_delivered([outcome.update_id])
        return outcome.replies

    def _base(self, who: Person, **kw: Any) -> dict[str, Any]:
        return {
            "update_id": kw.pop("update_id", None) or next(self._ids),
            "chat_id": kw.pop("chat_id", who.user_id),
            "user_id": who.user_id,
            "first_name": who.first_name,
            "language_code": who.language_code,
            **kw,
        }

    async def send(self, who: Person, text: str, **kw: Any) -> list[Reply]:
        """The person types `text` (a command if it starts with '/')."""
        if text.startswith("/") and len(text) > 1:
            head, _, args = text.partition(" ")
            return await self.feed(
                Incoming(
                    kind=IncomingKind.COMMAND, text=text, command=head[1:].lower(), args=args, **self._base(who, **kw)
                )
            )
        return await self.feed(Incoming(kind=IncomingKind.TEXT, text=text, **self._base(who, **kw)))

    async def tap(self, who: Person, data: str, message_id: int = 1, **kw: Any) -> list[Reply]:
        """The person taps a button carrying `data`."""
        return await self.feed(
            Incoming(
                kind=IncomingKind.CALLBACK,
                callback_id=str(next(self._ids)),
                callback_data=data,
                message_id=message_id,
                **self._base(who, **kw),
            )
        )

    async def share_location(self, who: Person, lat: float, lon: float) -> list[Reply]:
        """The person shares a location."""
        return await self.feed(Incoming(kind=IncomingKind.LOCATION, latitude=lat, longitude=lon, **self._base(who)))

    async def other(self, who: Person, kind: IncomingKind, **kw: Any) -> list[Reply]:
        """Any other kind of update (sticker, edit, photo, group message)."""
        return await self.feed(Incoming(kind=kind, **self._base(who, **kw)))

    async def outbox(self, chat_id: int) -> list[dict[str, Any]]:
        """Payloads queued for a chat."""
        async with self.db.unit_of_work() as uow:
            return [dict(row.payload) for row in await uow.outbox.for_chat(chat_id)]

    async def register(self, who: Person, circle_code: str = "emb-plaza-lavapies", locale: str = "es") -> None:
        """Register a person in a circle (pending), via the real flow."""
        await self.send(who, "/start")
        await self.tap(who, f"lang:{locale}")
        await self.tap(who, "consent:yes")
        circle_id = await self.scalar("SELECT id FROM circle WHERE code = :c", c=circle_code)
        barrio_id = await self.scalar("SELECT barrio_id FROM circle WHERE code = :c", c=circle_code)
        await self.tap(who, f"barrio:{barrio_id}")
        await self.tap(who, f"circle:{circle_id}")
        await self.tap(who, "nobld")

    async def scalar(self, sql: str, **params: Any) -> Any:
        """Run a read query."""
        async with self.db.unit_of_work() as uow:
            return (await uow.session.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        """Run a read query returning rows."""
        async with self.db.unit_of_work() as uow:
            return list((await uow.session.execute(text(sql), params)).all())

    async def dump(self) -> str:
        """Every row of every table, as text (to search for personal data)."""
        out = []
        async with self.db.unit_of_work() as uow:
            names = [
                r[0]
                for r in (await uow.session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))).all()
            ]
            for name in names:
                for row in (await uow.session.execute(text(f'SELECT * FROM "{name}"'))).all():
                    out.append(json.dumps([_readable(v) for v in row], ensure_ascii=False))
        return "\n".join(out)


def _readable(value: Any) -> str:
    """A stored value as text a search can find words in: JSON columns are decoded (they hold \\u escapes)."""
    if isinstance(value, str) and value[:1] in ("[", "{", '"'):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            pass
    return str(value)


def command_update(who: Person, text: str, update_id: int) -> Incoming:
    """A /command from `who` as the channel would hand it over (for feeding one update to several dispatchers)."""
    head, _, args = text.partition(" ")
    return Incoming(
        update_id=update_id,
        chat_id=who.user_id,
        user_id=who.user_id,
        kind=IncomingKind.COMMAND,
        text=text,
        command=head[1:].lower(),
        args=args,
        first_name=who.first_name,
        language_code=who.language_code,
    )


def tap_update(who: Person, data: str, update_id: int, message_id: int = 1) -> Incoming:
    """A button tap from `who` as the channel would hand it over."""
    return Incoming(
        update_id=update_id,
        chat_id=who.user_id,
        user_id=who.user_id,
        kind=IncomingKind.CALLBACK,
        callback_id=f"q{update_id}",
        callback_data=data,
        message_id=message_id,
        first_name=who.first_name,
        language_code=who.language_code,
    )


def bare(text: str) -> str:
    """`text` without the isolate marks right-to-left renders put around values (for substring checks)."""
    return text.replace("\u2068", "").replace("\u2069", "")


def texts(replies: list[Reply]) -> str:
    """All reply texts joined, for assertions."""
    return "\n".join(r.text for r in replies if r.text)


def buttons(replies: list[Reply]) -> list[tuple[str, str]]:
    """All (label, data) buttons of the replies."""
    return [(b.label, b.data) for r in replies for row in r.buttons for b in row]


async def make_staff(h: Harness, who: Person, role: str, place_code: str | None, locale: str = "es") -> None:
    """Register `who` through the flow, then grant a role over a circle or barrio code."""
    await h.register(who, locale=locale)
    await grant_role(h, who, role, place_code)
    async with h.db.unit_of_work() as uow:
        resident = await uow.residents.by_telegram_id(who.user_id)
        assert resident is not None
        # Staff in tests are verified members; drop the request their registration produced.
        membership = await uow.memberships.current(resident.id)
        assert membership is not None
        await uow.memberships.approve(membership, resident.id, h.clock())
        await uow.session.execute(text("DELETE FROM outbox"))
        await uow.commit()


async def grant_role(h: Harness, who: Person, role: str, place_code: str | None, sector: str | None = None) -> None:
    """Give `who` (registered or not) a role over a circle or barrio code, as `vecinos roles grant` does."""
    from bot.domain.permissions import ROLE_SCOPE, Grant, Role, ScopeKind, Sector

    async with h.db.unit_of_work() as uow:
        resident = await uow.residents.by_telegram_id(who.user_id)
        r = Role(role)
        scope = ROLE_SCOPE[r]
        scope_id = None
        if scope is ScopeKind.CIRCLE:
            scope_id = (await uow.territory.circle_by_code(place_code or "")).id  # type: ignore[union-attr]
        elif scope is ScopeKind.BARRIO:
            scope_id = (await uow.territory.barrio_by_code(place_code or "")).id  # type: ignore[union-attr]
        grant = Grant(r, scope, scope_id, Sector(sector) if sector else None)
        holder = {"resident_id": resident.id} if resident else {"telegram_user_id": who.user_id}
        await uow.roles.grant(grant, h.clock(), **holder)
        await uow.commit()


async def make_invite(
    h: Harness,
    circle_code: str = "emb-plaza-lavapies",
    uses: int | None = 1,
    days: float = 30,
    building_code: str | None = None,
) -> str:
    """Create an invite code directly in storage."""
    from bot.domain.residents import new_invite_code

    async with h.db.unit_of_work() as uow:
        circle = await uow.territory.circle_by_code(circle_code)
        building = await uow.territory.building_by_code(building_code) if building_code else None
        assert circle is not None
        code = new_invite_code()
        await uow.invites.create(
            code,
            circle.id,
            h.clock(),
            building_id=building.id if building else None,
            uses=uses,
            expires_at=h.clock() + timedelta(days=days),
        )
        await uow.commit()
    return code
