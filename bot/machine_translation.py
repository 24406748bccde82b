"""A client of a LibreTranslate-compatible server (self-hosted; off unless VECINOS_TRANSLATE_URL is set).

Honest by construction: a translation either comes back within the timeout or not at all, and after a failure
the translator is left alone for a while, so a down or slow server costs a delivery nothing but the original.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

# Our locale codes as LibreTranslate (Argos) names the languages.
LIBRETRANSLATE_CODES = {"zh_Hans": "zh", "fil": "tl"}
# After a failure, how long the translator is not asked at all.
COOL_DOWN_SECONDS = 60.0
# Translations kept in memory, by (text, source, target): a case update to many followers is one call.
CACHE_SIZE = 4096


class TranslationUnavailable(Exception):
    """The translator did not give a translation (down, slow, refused or malformed)."""


class LibreTranslateClient:
    """Translates plain text through POST /translate of a LibreTranslate-compatible server."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 3.0,
        cool_down: float = COOL_DOWN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/") + "/translate"
        self.api_key = api_key
        self.timeout = timeout
        self.cool_down = cool_down
        self.monotonic = monotonic
        self._resting_until = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    @property
    def resting(self) -> bool:
        """Whether a recent failure keeps the translator out of use for now."""
        return self.monotonic() < self._resting_until

    async def translate(self, text: str, source: str, target: str) -> str:
        """`text` from `source` into `target`, or TranslationUnavailable within `timeout` seconds."""
        import aiohttp

        key = (text, source, target)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if self.resting:
            raise TranslationUnavailable("resting after a failure")
        payload: dict[str, str] = {
            "q": text,
            "source": LIBRETRANSLATE_CODES.get(source, source),
            "target": LIBRETRANSLATE_CODES.get(target, target),
            "format": "text",
        }
        if self.api_key:
            payload["api_key"] = self.api_key
        try:
            async with asyncio.timeout(self.timeout):
                if self._session is None or self._session.closed:
                    self._session = aiohttp.ClientSession()
                async with self._session.post(self.url, json=payload) as response:
                    body = await response.json(content_type=None)
                    if response.status != 200:
                        raise TranslationUnavailable(f"HTTP {response.status}: {body!r:.200}")
        except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as error:
            self._rest(error)
            raise TranslationUnavailable(repr(error)) from error
        except TranslationUnavailable as error:
            self._rest(error)
            raise
        translated = body.get("translatedText") if isinstance(body, dict) else None
        if not isinstance(translated, str) or not translated.strip():
            self._rest("no translatedText")
            raise TranslationUnavailable("no translatedText in the answer")
        self._cache[key] = translated
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return translated

    async def translate_many(self, text: str, source: str, targets: list[str]) -> dict[str, str]:
        """`text` in each of `targets` that the translator managed within the timeout (all at once)."""
        results = await asyncio.gather(*(self.translate(text, source, t) for t in targets), return_exceptions=True)
        return {t: r for t, r in zip(targets, results, strict=True) if isinstance(r, str)}

    def _rest(self, why: object) -> None:
        log.warning("machine translation unavailable (%s); originals go out for %.0f s", why, self.cool_down)
        self._resting_until = self.monotonic() + self.cool_down

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
