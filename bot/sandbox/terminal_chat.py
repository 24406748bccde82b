"""Chat with the bot from a terminal as one Telegram user, through the fake Telegram server's control API."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import json
import re
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import aiohttp

from bot.fakeapi.client import FakeTelegramClient, FakeTelegramError

PERSONAS: dict[str, tuple[int, str, str | None]] = {
    "resident": (1001, "Lucía", "es"),
    "amina": (1002, "Amina", "ar"),
    "john": (1003, "John", "en"),
    "delegate": (2001, "Delegada Carmen", "es"),
    "manager": (3001, "Gestor Pablo", "es"),
    "police": (4001, "Agente Ruiz", "es"),
    "cleaning": (4002, "Elena Limpieza", "es"),
    "mediator": (4003, "Marta Mediadora", "es"),
    "admin": (9001, "Admin", "es"),
}

HELP = "Type a message; a number taps a button of the latest keyboard; /loc LAT LON; /photo [caption]; /quit."
POLL_TIMEOUT = 25.0
RETRY_SECONDS = 1.0
CALLBACK_ANSWER_WAIT = 5.0
REPLAYED_ON_START = 5
READ_CHUNK = 65536
DOWNLOADS = Path("var/downloads")
# Halves of UTF-16 pairs: what a str holds for bytes that were not UTF-8 (surrogateescape); no client sends them.
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_input(text: str) -> str:
    """The text without lone surrogates, the remains of characters broken by a terminal or a long paste."""
    return _LONE_SURROGATES.sub("", text)


def persona(name: str) -> tuple[int, str, str | None]:
    """Maps a `--as` value to (user id, first name, language code)."""
    key = name.strip()
    if key.lower() in PERSONAS:
        return PERSONAS[key.lower()]
    if key.isdigit():
        user_id = int(key)
        for known in PERSONAS.values():
            if known[0] == user_id:
                return known
        return user_id, f"User{user_id}", None
    # A stable id per name, so the same name is the same Telegram user across runs.
    return 100000 + zlib.crc32(key.encode()) % 900000, key, None


def _buttons(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    """Keyboard rows of an inline or reply keyboard, every button as a dict."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows if isinstance(row, list)]


class TerminalChat:
    """State of one terminal chat session: what was shown and which keyboard a number refers to."""

    def __init__(
        self,
        client: FakeTelegramClient,
        user_id: int,
        first_name: str,
        language_code: str | None,
        stdout: TextIO,
        downloads: Path = DOWNLOADS,
    ) -> None:
        self.client = client
        self.downloads = downloads
        self.saved: dict[str, str] = {}
        self.instance_id: str | None = None
        self.user_id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.stdout = stdout
        self.seq = 0
        # What each message looked like when last printed: (content, buttons, deleted).
        self.shown: dict[int, tuple[str, str, bool]] = {}
        self.keyboards: dict[int, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def say(self, line: str) -> None:
        """Writes one line to the terminal."""
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def user_fields(self) -> dict[str, Any]:
        """The user's profile fields sent with every update, so `from` stays consistent."""
        fields: dict[str, Any] = {"first_name": self.first_name}
        if self.language_code:
            fields["language_code"] = self.language_code
        return fields

    # ------------------------------------------------------------------ output

    def track_keyboard(self, msg: dict[str, Any]) -> None:
        """Remembers which messages currently carry buttons."""
        message_id = msg["message_id"]
        markup = msg.get("reply_markup") or {}
        if markup.get("remove_keyboard"):
            # A ReplyKeyboardRemove hides every reply keyboard shown so far.
            for key in [k for k, v in self.keyboards.items() if "keyboard" in v]:
                del self.keyboards[key]
        if msg.get("deleted") or not _buttons(markup):
            self.keyboards.pop(message_id, None)
        else:
            self.keyboards[message_id] = markup

    def latest_keyboard(self) -> tuple[int, list[dict[str, Any]]] | None:
        """(message_id, flat button list) of the newest message that still has buttons."""
        if not self.keyboards:
            return None
        message_id = max(self.keyboards)
        return message_id, [b for row in _buttons(self.keyboards[message_id]) for b in row]

    @staticmethod
    def _looks(msg: dict[str, Any]) -> tuple[str, str, bool]:
        """What the user sees of a message: its content, its buttons, whether it is gone."""
        content = [msg.get(key) for key in ("kind", "plain_text", "file_id", "file_name", "latitude", "longitude")]
        buttons = [[b.get("text") for b in row] for row in _buttons(msg.get("reply_markup"))]
        dump = functools.partial(json.dumps, ensure_ascii=False)
        return dump(content), dump(buttons), bool(msg.get("deleted"))

    def remember(self, msg: dict[str, Any]) -> None:
        """Records a message as seen without printing it (its keyboard stays tappable)."""
        self.seq = max(self.seq, int(msg.get("seq", 0)))
        self.shown[msg["message_id"]] = self._looks(msg)
        self.track_keyboard(msg)

    def show(self, msg: dict[str, Any]) -> None:
        """Prints a new, edited or deleted bot message, once per change the user can see."""
        message_id = msg["message_id"]
        previous = self.shown.get(message_id)
        self.remember(msg)
        content, buttons, deleted = self.shown[message_id]
        if deleted:
            if previous is not None and not previous[2]:
                self.say(f"Bot (deleted message #{message_id})")
            return
        if previous is not None and previous[0] == content and (previous[1] == buttons or buttons == "[]"):
            # Nothing new to read: the same change fetched again, or an edit that only took the buttons away
            # (bots often edit the text and drop the keyboard in two calls; printing both showed it twice).
            return
        label = "Bot (edited):" if previous is not None or msg.get("edits") else "Bot:"
        self.say(f"{label} {self._describe(msg)}")
        number = 0
        for row in _buttons(msg.get("reply_markup")):
            cells = []
            for button in row:
                number += 1
                cell = f"[{number}] {button.get('text', '')}"
                if button.get("url"):
                    cell += f" <{button['url']}>"
                cells.append(cell)
            self.say("  " + "  ".join(cells))

    @staticmethod
    def _describe(msg: dict[str, Any]) -> str:
        kind = msg.get("kind")
        body = msg.get("plain_text") or ""
        if kind == "photo":
            return f"[photo] {body}".rstrip()
        if kind == "document":
            size = msg.get("file_size")
            details = msg.get("file_name") or "file"
            if size is not None:
                details += f", {size} bytes"
            if msg.get("saved_to"):
                details += f", saved to {msg['saved_to']}"
            return f"[document {details}] {body}".rstrip()
        if kind == "location":
            return f"[location {msg.get('latitude')}, {msg.get('longitude')}]"
        return body

    async def present(self, msg: dict[str, Any]) -> None:
        """Shows a message, first saving a document's bytes so the user can open the file."""
        file_id = msg.get("file_id")
        if msg.get("kind") == "document" and file_id and not msg.get("deleted"):
            if file_id not in self.saved:
                try:
                    data = await self.client.file_bytes(str(file_id))
                    self.saved[file_id] = str(save_download(self.downloads, str(msg.get("file_name") or ""), data))
                except (aiohttp.ClientError, FakeTelegramError, TimeoutError, OSError) as exc:
                    self.say(f"(could not save the document: {exc})")
                    self.saved[file_id] = ""
            msg = {**msg, "saved_to": self.saved[file_id]}
        self.show(msg)

    async def catch_up(self, wait: int, poll_seconds: float) -> int:
        """Fetches and prints every change since the last one shown; returns how many there were."""
        result = await self.client.poll_messages(
            self.user_id, changed_after=self.seq, wait=wait, timeout=poll_seconds, instance_id=self.instance_id
        )
        if self.instance_id is not None and result["instance_id"] not in (None, self.instance_id):
            # The server restarted between two polls (no error was seen): open the chat there and show it all.
            await self.open()
            self._forget_view()
            self.say("(reconnected to the sandbox)")
            result = await self.client.poll_messages(self.user_id, instance_id=self.instance_id, timeout=0)
        messages = result["messages"]
        for msg in sorted(messages, key=lambda m: int(m.get("seq", 0))):
            await self.present(msg)
        return len(messages)

    async def open(self) -> dict[str, Any]:
        """Registers the user as having an open chat with the bot; returns the server's state."""
        # As if the user had pressed Start earlier, so notices from others reach them.
        await self.client.register_user(self.user_id, open_chat=True, **self.user_fields())
        state = await self.client.state()
        self.instance_id = state.get("instance_id")
        return state

    async def reconnect(self) -> None:
        """After lost contact: opens the chat again and, if the server restarted, starts the view afresh."""
        previous = self.instance_id
        seq = self.seq
        await self.open()
        if previous is not None and self.instance_id is not None:
            restarted = previous != self.instance_id
        else:
            # A server without instance ids: a restart shows as seq numbers that went backwards.
            latest = await self.client.messages(self.user_id, timeout=0)
            restarted = max((int(m.get("seq", 0)) for m in latest), default=0) < seq
        if restarted:
            self._forget_view()
        self.say("(reconnected to the sandbox)")

    def _forget_view(self) -> None:
        # A new server numbers messages and changes from 1 again: what was shown says nothing about them.
        self.seq = 0
        self.shown.clear()
        self.keyboards.clear()
        self.saved.clear()

    async def poll_forever(self) -> None:
        """Background loop: long-polls the chat so messages from any source appear without typing."""
        failed = False
        while True:
            try:
                if failed:
                    await self.reconnect()
                    failed = False
                await self.catch_up(wait=1, poll_seconds=POLL_TIMEOUT)
            except (aiohttp.ClientError, FakeTelegramError, TimeoutError) as exc:
                if not failed:
                    self.say(f"(lost contact with the fake Telegram server: {exc or type(exc).__name__}; retrying)")
                failed = True
                await asyncio.sleep(RETRY_SECONDS)

    # ------------------------------------------------------------------ input

    async def handle(self, line: str) -> bool:
        """Acts on one input line; returns False when the user wants to quit."""
        text = clean_input(line.rstrip("\r\n"))
        if not text.strip():
            return True
        command = text.strip()
        if command == "/quit":
            return False
        if command == "/loc" or command.startswith("/loc "):
            await self._send_location(command)
        elif command == "/photo" or command.startswith("/photo "):
            caption = command[len("/photo") :].strip() or None
            await self.client.send_photo(self.user_id, caption, **self.user_fields())
        elif text.startswith("\\"):
            await self._send_text(text[1:])
        elif command.isdigit() and await self._tap(int(command)):
            pass
        else:
            await self._send_text(text)
        return True

    async def _send_text(self, text: str) -> None:
        await self.client.send_message(self.user_id, text, **self.user_fields())

    async def _send_location(self, command: str) -> None:
        parts = command.split()
        try:
            latitude, longitude = float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            self.say("(usage: /loc LATITUDE LONGITUDE, e.g. /loc 40.4086 -3.7004)")
            return
        await self.client.send_location(self.user_id, latitude, longitude, **self.user_fields())

    async def _tap(self, number: int) -> bool:
        """Taps button `number` of the latest keyboard; False if there is no such button (send as text)."""
        keyboard = self.latest_keyboard()
        if keyboard is None or not 1 <= number <= len(keyboard[1]):
            return False
        message_id, buttons = keyboard
        button = buttons[number - 1]
        label = button.get("text", "")
        if "callback_data" in button:
            self.say(f"(you tapped [{label}])")
            result = await self.client.tap(self.user_id, message_id, button["callback_data"])
            self._spawn(self._show_callback_answer(str(result["callback_query_id"])))
        elif button.get("url"):
            self.say(f"(button [{label}] opens {button['url']})")
        elif button.get("request_location"):
            self.say("(this button shares your location: type /loc LATITUDE LONGITUDE)")
        elif "inline_keyboard" in self.keyboards.get(message_id, {}):
            self.say(f"(button [{label}] is not supported in the terminal chat)")
        else:
            # A reply-keyboard button just sends its label as a message, as Telegram clients do.
            await self._send_text(label)
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _show_callback_answer(self, query_id: str) -> None:
        """Shows the toast/alert text the bot answers a button tap with."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CALLBACK_ANSWER_WAIT
        while loop.time() < deadline:
            with contextlib.suppress(aiohttp.ClientError, FakeTelegramError, TimeoutError):
                for answer in await self.client.callback_answers(self.user_id):
                    if answer.get("callback_query_id") == query_id:
                        if answer.get("text"):
                            kind = "alert" if answer.get("show_alert") else "toast"
                            self.say(f"Bot ({kind}): {answer['text']}")
                        return
            await asyncio.sleep(0.1)
        self.say("(the bot did not answer the button tap; a real client would keep showing a spinner)")

    async def close(self) -> None:
        """Cancels background work."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def save_download(folder: Path, file_name: str, data: bytes) -> Path:
    """Saves a received file under folder with a name of its own (name-2.ext, ... when taken by other bytes);
    the same bytes under the same name are saved only once, so replays on start add no copies."""
    folder.mkdir(parents=True, exist_ok=True)
    # Only the last path component, so a file name can never write outside the folder.
    name = Path(re.sub(r"[\x00-\x1f]", "", file_name).replace("\\", "/")).name.lstrip(".") or "file"
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    for number in range(1, 10000):
        candidate = folder / (name if number == 1 else f"{stem}-{number}{dot}{suffix}")
        try:
            with open(candidate, "xb") as handle:
                handle.write(data)
            return candidate
        except FileExistsError:
            if candidate.read_bytes() == data:
                return candidate
    raise OSError(f"too many files named {name} in {folder}")


def _read_decoded_lines(buffer: BinaryIO, put: Callable[[str | None], None]) -> None:
    """Reads bytes and decodes them as UTF-8 across reads: a character cut between two reads is joined, and
    bytes that are not UTF-8 become U+FFFD (text-mode stdin would turn them into lone surrogates)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    read = getattr(buffer, "read1", None) or buffer.read
    pending = ""
    while chunk := read(READ_CHUNK):
        pending += decoder.decode(chunk)
        if "\n" in pending:
            *lines, pending = pending.split("\n")
            for line in lines:
                put(line + "\n")
    pending += decoder.decode(b"", final=True)
    if pending:
        put(pending)


def _start_reader(stdin: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Reads stdin lines in a daemon thread, so a blocked read never keeps the process alive after /quit."""

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read() -> None:
        try:
            buffer = getattr(stdin, "buffer", None)
            if buffer is not None:
                _read_decoded_lines(buffer, put)
            else:
                while line := stdin.readline():
                    put(clean_input(line))
        except (OSError, ValueError):
            pass  # stdin closed under us
        finally:
            put(None)

    threading.Thread(target=read, name="terminal-chat-stdin", daemon=True).start()


async def run_terminal_chat(
    api_url: str,
    token: str,
    user_id: int,
    first_name: str,
    language_code: str | None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    *,
    eof_grace: float = 1.0,
    downloads: Path = DOWNLOADS,
) -> None:
    """Chats with the bot as one user until /quit or end of input, printing everything the bot sends them.

    eof_grace: after end of input (piped stdin), how long to keep waiting for the bot's last replies.
    downloads: where documents the bot sends are saved (relative to the working folder by default).
    """
    async with FakeTelegramClient(api_url, token) as client:
        chat = TerminalChat(client, user_id, first_name, language_code, stdout, downloads)
        state = await chat.open()
        existing = await client.messages(user_id, timeout=0)
        username = state.get("bot", {}).get("username", "bot")
        language = f", {language_code}" if language_code else ""
        chat.say(f"Chatting with @{username} as {first_name} (id {user_id}{language}). {HELP}")
        # The newest few messages are shown again (e.g. requests that arrived while away); older ones only
        # keep their keyboards tappable.
        for index, msg in enumerate(existing):
            if index >= len(existing) - REPLAYED_ON_START:
                await chat.present(msg)
                continue
            chat.remember(msg)

        queue: asyncio.Queue[str | None] = asyncio.Queue()
        _start_reader(stdin, asyncio.get_running_loop(), queue)
        poller = asyncio.create_task(chat.poll_forever())
        eof = False
        try:
            while True:
                line = await queue.get()
                if line is None:
                    eof = True
                    break
                try:
                    if not await chat.handle(line):
                        break
                except (aiohttp.ClientError, FakeTelegramError, TimeoutError) as exc:
                    chat.say(f"(could not deliver that: {exc})")
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if eof and eof_grace > 0:
            # Piped input ends before the bot has answered; show replies until it goes quiet.
            with contextlib.suppress(aiohttp.ClientError, FakeTelegramError, TimeoutError):
                for _ in range(50):
                    if not await chat.catch_up(wait=1, poll_seconds=eof_grace):
                        break
        await chat.close()
