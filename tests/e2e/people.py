"""People talking to the bot through the fake server, waiting on the bot's acknowledgements."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bot.fakeapi.client import FakeTelegramClient

# A sticker as Telegram sends it: something Vecinos cannot read.
STICKER = {
    "file_id": "s",
    "file_unique_id": "s",
    "width": 1,
    "height": 1,
    "is_animated": False,
    "is_video": False,
    "type": "regular",
}


async def wait_handled(client: FakeTelegramClient, update_id: int, timeout: float = 15.0) -> None:
    """Wait until the bot confirmed `update_id` (it confirms only after handling and answering)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if (await client.state())["confirmed_offset"] > update_id:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update_id} was not handled within {timeout}s")


async def wait_until(check: Any, expected: Any, timeout: float = 15.0, what: str = "the state") -> None:
    """Poll an async `check()` until it returns `expected` (a state reached some time after a side effect seen
    by the test, such as an outbox row settled after its message arrived)."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await check()
        if value == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} was {value!r}, not {expected!r}, after {timeout}s")


@dataclass
class Person:
    """A Telegram user chatting with the bot in a private chat."""

    client: FakeTelegramClient
    user_id: int
    first_name: str
    language_code: str | None = "es"
    seen: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    async def _new(self) -> list[dict[str, Any]]:
        messages = await self.client.messages(self.user_id)
        fresh = [m for m in messages if m["message_id"] > self.seen]
        if messages:
            self.seen = max(self.seen, max(m["message_id"] for m in messages))
        self.log = messages
        return fresh

    async def say(self, text: str) -> list[dict[str, Any]]:
        """Send a text or command; return the new bot messages once the bot handled it."""
        sent = await self.client.send_message(
            self.user_id, text, first_name=self.first_name, language_code=self.language_code
        )
        await wait_handled(self.client, sent["update_id"])
        return await self._new()

    async def photo(self, caption: str | None = None) -> list[dict[str, Any]]:
        """Send a photo; return the new bot messages once the bot handled it."""
        sent = await self.client.send_photo(
            self.user_id, caption, first_name=self.first_name, language_code=self.language_code
        )
        await wait_handled(self.client, sent["update_id"])
        return await self._new()

    async def share(self, latitude: float, longitude: float) -> list[dict[str, Any]]:
        """Share a location; return the new bot messages once the bot handled it."""
        sent = await self.client.send_location(
            self.user_id, latitude, longitude, first_name=self.first_name, language_code=self.language_code
        )
        await wait_handled(self.client, sent["update_id"])
        return await self._new()

    async def tap(self, data: str, message_id: int | None = None) -> list[dict[str, Any]]:
        """Tap a button by its callback data (on the latest message that has it)."""
        if message_id is None:
            message_id = self.message_with_button(data)["message_id"]
        sent = await self.client.tap(self.user_id, message_id, data)
        await wait_handled(self.client, sent["update_id"])
        return await self._new()

    async def tap_label(self, label_part: str) -> list[dict[str, Any]]:
        """Tap the newest button whose label contains `label_part`."""
        await self._new()
        for message in reversed(self.log):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label_part in button["text"]:
                        return await self.tap(button["callback_data"], message["message_id"])
        raise AssertionError(f"no button with {label_part!r} in {self.texts()}")

    def message_with_button(self, data: str) -> dict[str, Any]:
        for message in reversed(self.log):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                if any(b.get("callback_data") == data for b in row):
                    return message
        raise AssertionError(f"no button {data!r} in {self.texts()}")

    def buttons(self) -> list[str]:
        """Callback data of every button on the latest message with buttons."""
        for message in reversed(self.log):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if rows:
                return [b["callback_data"] for row in rows for b in row]
        return []

    def texts(self) -> list[str]:
        """Current text of every bot message in this chat."""
        return [m.get("text") or m.get("caption") or "" for m in self.log]

    async def refresh(self) -> list[str]:
        """Re-read the chat (edits included)."""
        await self._new()
        return self.texts()

    async def wait_for(self, fragment: str, timeout: float = 30.0) -> str:
        """Wait until some bot message in this chat contains `fragment` (e.g. sent by the outbox)."""
        # Generous: an outbox message waits for the sender's tick, which a loaded 2-core machine can delay by
        # seconds; a message that does arrive ends the wait at once.
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for t in await self.refresh():
                if fragment in t:
                    return t
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{fragment!r} never arrived; chat: {self.texts()}")
            await asyncio.sleep(0.05)


async def join_and_be_approved(person: Person, manager: Person, locale: str | None = None) -> None:
    """Register in Plaza de Lavapiés, in `locale` (else the person's Telegram language), and be approved by the
    community manager in chat."""
    await person.say("/start")
    await person.tap(f"lang:{locale or person.language_code}")
    await person.tap("consent:yes")
    await person.tap_label("Embajadores")
    await person.tap_label("Plaza de Lavapiés")
    await person.tap("nobld")
    await manager.wait_for(person.first_name)
    await manager.tap_label("✅")
    await person.wait_for("🎉")
