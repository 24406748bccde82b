"""A small fake of LibreTranslate's HTTP API (POST /translate, GET /languages) for tests and the sandbox:
it 'translates' by tagging the text with the target language, and can be made slow or broken."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

LANGUAGES = ("es", "en", "ar", "bn", "zh", "ro", "fr", "it", "tl", "uk")


def fake_translation(text: str, target: str) -> str:
    """What the fake returns for `text` in `target`."""
    return f"[{target}] {text}"


@dataclass
class FakeTranslator:
    """The fake server's state: every request it got, and how it should misbehave."""

    delay: float = 0.0
    failing: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""

    async def _translate(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        self.requests.append({k: str(v) for k, v in body.items()})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            return web.json_response({"error": "the translator is broken"}, status=500)
        text, source, target = body.get("q"), body.get("source"), body.get("target")
        if not isinstance(text, str) or target not in LANGUAGES or source not in (*LANGUAGES, "auto"):
            return web.json_response({"error": "Invalid request"}, status=400)
        return web.json_response({"translatedText": fake_translation(text, target)})

    async def _languages(self, request: web.Request) -> web.Response:
        return web.json_response([{"code": code, "name": code, "targets": list(LANGUAGES)} for code in LANGUAGES])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host`:`port` (0: any free port); returns the base URL."""
        app = web.Application()
        app.router.add_post("/translate", self._translate)
        app.router.add_get("/languages", self._languages)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        bound = self.runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
