"""The web sandbox: a Telegram-like page where several personas chat with the bot side by side.

The page's backend plays the users on the fake Bot API server running in this process (it injects their
messages, taps, locations and photos) and reads what the bot sent from that server's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from bot.fakeapi.server import listening_url
from bot.fakeapi.state import ChatState, ControlError, StoredMessage
from bot.sandbox.telegram_html import safe_href, telegram_html
from bot.sandbox.terminal_chat import PERSONAS, persona

if TYPE_CHECKING:
    from bot.app import Vecinos
    from bot.fakeapi.server import FakeTelegram

STATIC = Path(__file__).with_name("static")
# The columns the page opens with: a newcomer, a resident whose Telegram speaks Arabic, and the staff who answer.
DEFAULT_PERSONAS = ("resident", "amina", "delegate", "manager", "police")
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
LONG_POLL_SECONDS = 20.0
MAX_MESSAGES = 300
MAX_UPLOAD = 20 * 1024 * 1024


@dataclass(slots=True)
class Persona:
    """One column of the page: a Telegram user and how their Telegram is set up."""

    key: str
    user_id: int
    first_name: str
    language_code: str | None
    role: str

    def as_json(self) -> dict[str, Any]:
        """What the page needs to draw the column."""
        language = (self.language_code or "").split("-")[0].lower()
        return {
            "key": self.key,
            "user_id": self.user_id,
            "name": self.first_name,
            "language": self.language_code,
            "role": self.role,
            "rtl": language in RTL_LANGUAGES,
        }


ROLES = {
    "resident": "new resident",
    "amina": "resident (Telegram in Arabic)",
    "john": "resident (Telegram in English)",
    "delegate": "delegate",
    "manager": "community manager",
    "police": "community police",
    "cleaning": "cleaning service",
    "mediator": "mediator",
    "admin": "district admin",
}


def known_persona(key: str) -> Persona:
    """A persona of the terminal chat (`vecinos chat --as KEY`) as a page column."""
    user_id, first_name, language = persona(key)
    return Persona(key, user_id, first_name, language, ROLES.get(key, "resident"))


def _buttons(markup: dict[str, Any] | None) -> tuple[str | None, list[list[dict[str, Any]]]]:
    """The keyboard kind (inline, reply or None) and its rows, each button reduced to what the page uses."""
    if not markup:
        return None, []
    kind = "inline" if "inline_keyboard" in markup else "reply" if "keyboard" in markup else None
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    result = []
    for row in rows:
        cells = []
        for button in row if isinstance(row, list) else []:
            button = button if isinstance(button, dict) else {"text": str(button)}
            cell = {"text": str(button.get("text", ""))}
            if isinstance(button.get("callback_data"), str):
                cell["callback_data"] = button["callback_data"]
            # Telegram only opens web and tg: links; anything else (javascript:) must not reach the page's href.
            url = safe_href(button.get("url")) if isinstance(button.get("url"), str) else None
            if url is not None:
                cell["url"] = url
            if button.get("request_location"):
                cell["request_location"] = True
            cells.append(cell)
        result.append(cells)
    return kind, result


def message_json(msg: StoredMessage) -> dict[str, Any]:
    """A message as the page draws it: safe HTML, buttons, and links to its photo or document."""
    api = msg.api
    view: dict[str, Any] = {
        "id": msg.message_id,
        "from_bot": msg.from_bot,
        "kind": msg.kind,
        "edits": msg.edits,
        "deleted": msg.deleted,
        "date": api.get("date"),
    }
    if msg.from_bot:
        view["html"] = telegram_html(msg.raw_text, msg.parse_mode)
        view["keyboard"], view["buttons"] = _buttons(msg.reply_markup)
        view["remove_keyboard"] = bool((msg.reply_markup or {}).get("remove_keyboard"))
    else:
        view["html"] = html.escape(str(api.get("text") or api.get("caption") or ""), quote=False)
        view["keyboard"], view["buttons"] = None, []
    if api.get("photo"):
        view["photo"] = f"api/files/{api['photo'][-1]['file_id']}"
    if "document" in api:
        document = api["document"]
        view["document"] = {
            "name": document.get("file_name") or "file",
            "size": document.get("file_size"),
            "url": f"api/files/{document['file_id']}?download=1",
        }
    if "location" in api:
        view["location"] = {"latitude": api["location"]["latitude"], "longitude": api["location"]["longitude"]}
    return view


def _version(chat: ChatState) -> str:
    # Bot messages and their edits move `seq`; a user's message moves `next_message_id`; taps answered add answers.
    return f"{chat.seq}.{chat.next_message_id}.{len(chat.callback_answers)}"


class WebSandbox:
    """The page's backend: personas, and their chats on the in-process fake server."""

    def __init__(self, fake: FakeTelegram, token: str, app: Vecinos | None = None) -> None:
        self.fake = fake
        self.token = token
        self.app = app
        self.personas: dict[int, Persona] = {}
        self.closing = asyncio.Event()
        self._points: list[dict[str, Any]] | None = None
        for key in DEFAULT_PERSONAS:
            self.add(known_persona(key))

    def add(self, new: Persona) -> Persona:
        """Opens a chat for a persona (as if they had pressed Start), so the bot may also write to them first."""
        existing = self.personas.get(new.user_id)
        if existing is not None:
            return existing
        self.fake.register_user(
            self.token, new.user_id, open_chat=True, first_name=new.first_name, language_code=new.language_code
        )
        self.personas[new.user_id] = new
        return new

    def persona_of(self, request: web.Request) -> Persona:
        """The persona a request's URL names; 404 when there is none."""
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            raise web.HTTPNotFound(text="no such persona") from None
        found = self.personas.get(user_id)
        if found is None:
            raise web.HTTPNotFound(text="no such persona")
        return found

    def chat_json(self, who: Persona) -> dict[str, Any]:
        """Everything in a persona's chat, oldest first, with the answers to their taps."""
        chat = self.fake.get_bot(self.token).chat(who.user_id)
        ids = sorted(chat.messages)[-MAX_MESSAGES:]
        answers = [
            {"text": a.get("text"), "alert": bool(a.get("show_alert"))} for a in chat.callback_answers if a.get("text")
        ]
        return {
            "version": _version(chat),
            "messages": [message_json(chat.messages[i]) for i in ids],
            "answers": answers,
        }

    async def wait_for_change(self, who: Persona, version: str, timeout: float) -> None:
        """Waits until the persona's chat differs from `version`, the timeout passes or the page shuts down."""
        chat = self.fake.get_bot(self.token).chat(who.user_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while _version(chat) == version and not self.closing.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            changed = asyncio.ensure_future(chat.changed.wait())
            closing = asyncio.ensure_future(self.closing.wait())
            try:
                # A user's own message does not set `changed`: poll the version now and then as well.
                await asyncio.wait({changed, closing}, timeout=min(remaining, 0.5), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (changed, closing):
                    task.cancel()

    async def points(self) -> list[dict[str, Any]]:
        """Every circle's centre from the territory, for the location picker."""
        if self._points is None:
            if self.app is None:
                return []
            async with self.app.db.unit_of_work() as uow:
                barrios = {b.id: b.name for b in await uow.territory.barrios()}
                circles = await uow.territory.circles()
            self._points = [
                {
                    "name": c.name,
                    "barrio": barrios.get(c.barrio_id, ""),
                    "latitude": c.latitude,
                    "longitude": c.longitude,
                }
                for c in circles
            ]
        return self._points

    def user_fields(self, who: Persona) -> dict[str, Any]:
        """The profile fields sent with each of the persona's updates."""
        return {"first_name": who.first_name, "language_code": who.language_code}


SANDBOX_KEY = web.AppKey("web_sandbox", WebSandbox)


def _sandbox(request: web.Request) -> WebSandbox:
    return request.app[SANDBOX_KEY]


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _number(body: dict[str, Any], key: str) -> float:
    try:
        return float(body[key])
    except (KeyError, TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{key} must be a number") from None


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _personas(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    return web.json_response([p.as_json() for p in sandbox.personas.values()])


async def _add_persona(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    name = " ".join(str(body.get("name") or "").split())[:64]
    language = str(body.get("language") or "").strip()[:16] or None
    if not name:
        raise web.HTTPBadRequest(text="a persona needs a name")
    if name.lower() in PERSONAS:
        added = sandbox.add(known_persona(name.lower()))
    else:
        user_id, _first_name, _none = persona(name)
        added = sandbox.add(Persona(f"user{user_id}", user_id, name, language, "resident"))
    return web.json_response(added.as_json())


async def _chat(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    who = sandbox.persona_of(request)
    version = request.query.get("version")
    if version:
        await sandbox.wait_for_change(who, version, LONG_POLL_SECONDS)
    return web.json_response(sandbox.chat_json(who))


async def _inject(request: web.Request, act: str) -> web.Response:
    sandbox = _sandbox(request)
    who = sandbox.persona_of(request)
    fake, token, fields = sandbox.fake, sandbox.token, sandbox.user_fields(who)
    try:
        if act == "photo":
            result = await _upload(request, sandbox, who)
        else:
            body = await _json_body(request)
            if act == "message":
                text = str(body.get("text") or "")
                if not text.strip():
                    raise web.HTTPBadRequest(text="nothing to send")
                result = fake.inject_message(token, who.user_id, text, **fields)
            elif act == "callback":
                message_id = int(_number(body, "message_id"))
                result = fake.inject_callback(token, who.user_id, message_id, str(body.get("data") or ""))
            else:
                latitude, longitude = _number(body, "latitude"), _number(body, "longitude")
                if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                    raise web.HTTPBadRequest(text="latitude -90..90 and longitude -180..180")
                result = fake.inject_location(token, who.user_id, latitude, longitude, **fields)
    except ControlError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    return web.json_response(result)


async def _upload(request: web.Request, sandbox: WebSandbox, who: Persona) -> dict[str, Any]:
    """A file from the page: an image becomes a photo, anything else a document."""
    reader = await request.multipart()
    data, file_name, mime, caption = b"", "upload", "", None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            file_name = part.filename or "upload"
            mime = part.headers.get("Content-Type", "") or mimetypes.guess_type(file_name)[0] or ""
            data = await part.read(decode=False)
            if len(data) > MAX_UPLOAD:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=len(data))
        elif part.name == "caption":
            caption = (await part.text()).strip() or None
    if not data:
        raise web.HTTPBadRequest(text="choose a file to send")
    fields = sandbox.user_fields(who)
    if mime.startswith("image/"):
        return sandbox.fake.inject_photo(sandbox.token, who.user_id, caption, data=data, mime_type=mime, **fields)
    return sandbox.fake.inject_document(
        sandbox.token, who.user_id, file_name, data, mime_type=mime or None, caption=caption, **fields
    )


async def _file(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    try:
        stored = sandbox.fake.file_bytes(sandbox.token, request.match_info["file_id"])
    except ControlError:
        raise web.HTTPNotFound(text="no such file") from None
    headers = {}
    if request.query.get("download"):
        name = (stored.file_name or "file").replace('"', "")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream", headers=headers)


async def _points(request: web.Request) -> web.Response:
    return web.json_response(await _sandbox(request).points())


def create_web_app(sandbox: WebSandbox) -> web.Application:
    """The page, its static files and its JSON API."""
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[SANDBOX_KEY] = sandbox
    router = app.router
    router.add_get("/", _index)
    router.add_static("/static/", STATIC)
    router.add_get("/api/personas", _personas)
    router.add_post("/api/personas", _add_persona)
    router.add_get("/api/chats/{user_id}", _chat)
    for act in ("message", "callback", "location", "photo"):
        router.add_post(f"/api/chats/{{user_id}}/{act}", _handler(act))
    router.add_get("/api/files/{file_id}", _file)
    router.add_get("/api/points", _points)

    async def on_shutdown(app: web.Application) -> None:
        # Long polls answer now instead of holding the shutdown.
        sandbox.closing.set()

    app.on_shutdown.append(on_shutdown)
    return app


def _handler(act: str) -> Any:
    async def handle(request: web.Request) -> web.Response:
        return await _inject(request, act)

    return handle


async def start_web_sandbox(
    fake: FakeTelegram, token: str, app: Vecinos | None, host: str = "127.0.0.1", port: int = 0
) -> tuple[WebSandbox, web.AppRunner, str]:
    """Serves the page in the running loop; (its backend, runner, URL with the real port). Stop: runner.cleanup()."""
    sandbox = WebSandbox(fake, token, app)
    runner = web.AppRunner(create_web_app(sandbox), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        with contextlib.suppress(Exception):
            await runner.cleanup()
        raise
    return sandbox, runner, listening_url(runner, host, port) + "/"
