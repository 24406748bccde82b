"""The web sandbox in a real browser: an Arabic-speaking resident registers from the page, the community manager
approves her from the page, and each sees it on their screen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Vecinos
from bot.config import load_settings
from bot.i18n import Catalogs
from bot.sandbox.local import SandboxAddresses, run_sandbox
from tests.conftest import fresh_database_url, open_seeded
from tests.e2e.conftest import free_port
from tests.e2e.test_web_sandbox_api import PNG

CHROMIUM = Path("/usr/bin/chromium")
CIRCLE = "Plaza de Lavapiés"
CATALOGS = Catalogs("es")
# Generous for a loaded machine; each step usually takes a fraction of a second.
STEP_MS = 15_000


def tr(locale: str, message: str, **values: object) -> str:
    """A message as the bot sends it in `locale`."""
    return CATALOGS.translator(locale).gettext(message, **values)


def plain(html_text: str) -> str:
    """What a reader sees of a translated message (the markup gone)."""
    for tag in ("<b>", "</b>"):
        html_text = html_text.replace(tag, "")
    return html_text


@contextlib.asynccontextmanager
async def web_sandbox(tmp_path: Path) -> AsyncIterator[SandboxAddresses]:
    """`vecinos run` without a token, in this event loop: fake Telegram, the bot on SQLite and the web page."""
    database_url = await fresh_database_url("sqlite", tmp_path)
    db = await open_seeded(database_url)
    await db.dispose()
    settings = load_settings(
        database_url=database_url,
        http_port=free_port(),
        per_chat_interval_seconds=0.05,
        send_rate_per_second=200,
        scheduler_tick_seconds=0.5,
        weekly_digests=False,
    )
    stop = asyncio.Event()
    ready: asyncio.Future[SandboxAddresses] = asyncio.get_running_loop().create_future()
    sandbox = asyncio.create_task(
        run_sandbox(
            Vecinos.build(settings),
            stop,
            port=0,
            web_port=0,
            open_chat=False,
            var=tmp_path / "var",
            ready=ready.set_result,
        )
    )
    await asyncio.wait({sandbox, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if sandbox.done():
        sandbox.result()
    assert ready.done(), "the sandbox did not start within 60 s"
    try:
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(sandbox, 30)


async def test_an_arabic_resident_registers_and_the_manager_approves_her_in_the_browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) to run the browser test")
    from playwright.async_api import async_playwright, expect

    async with web_sandbox(tmp_path) as addresses, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1800, "height": 1000})
            page.set_default_timeout(STEP_MS)
            await page.goto(addresses.web_url)
            amina = page.locator('.column[data-persona="amina"]')
            manager = page.locator('.column[data-persona="manager"]')
            for persona in ("resident", "amina", "delegate", "manager", "police"):
                await expect(page.locator(f'.column[data-persona="{persona}"]')).to_be_visible()
            assert await amina.get_attribute("dir") == "rtl"

            # Amina registers: /start typed and sent with Enter, then every choice tapped on the page.
            await amina.locator(".text-input").fill("/start")
            await amina.locator(".text-input").press("Enter")
            await amina.locator('button[data-callback="lang:ar"]').last.click()
            await amina.locator('button[data-callback="consent:yes"]').last.click()
            await amina.locator("button.callback-button", has_text="Embajadores").last.click()
            await amina.locator("button.callback-button", has_text=CIRCLE).last.click()
            await amina.locator('button[data-callback="nobld"]').last.click()
            sent = tr(
                "ar",
                "📨 Thank you! Your request to join <b>{circle}</b> has been sent to its delegates and "
                "community managers. I will tell you as soon as they answer.",
                circle=CIRCLE,
            )
            await expect(amina.locator(".msg.bot").last).to_contain_text(plain(sent).split(CIRCLE)[0].strip())

            # The manager's request card, approved with its button: the card changes where it is.
            card = manager.locator(".msg.bot", has_text="Amina").filter(has=page.locator("button", has_text="✅")).last
            await expect(card).to_be_visible()
            card_id = await card.get_attribute("data-message-id")
            bubbles_before = await manager.locator(".msg").count()
            await card.locator("button", has_text="✅").click()
            approved = manager.locator(f'.msg[data-message-id="{card_id}"]')
            verdict = tr("es", "✅ You approved <b>{name}</b> for <b>{circle}</b>.", name="Amina", circle=CIRCLE)
            await expect(approved).to_contain_text(plain(verdict))
            await expect(approved).to_have_count(1)
            await expect(approved.locator("button")).to_have_count(0)
            assert int(await approved.get_attribute("data-edits") or 0) >= 1
            await expect(approved.locator(".meta")).to_contain_text("edited")
            await expect(approved.locator("b").first).to_have_text("Amina")
            assert await manager.locator(".msg").count() == bubbles_before, "the edit was appended, not in place"

            # Amina is told in Arabic, with the circle in bold, laid out right to left.
            welcome = tr(
                "ar",
                "🎉 Welcome to the <b>{circle}</b> circle! Your membership has been verified. Send /help to "
                "see what you can do.",
                circle=CIRCLE,
            )
            told = amina.locator(".msg.bot", has_text=plain(welcome).split(CIRCLE)[0].strip()).last
            await expect(told).to_be_visible()
            # In Amina's right-to-left column the Latin name sits between isolate marks, as the bot sent it.
            await expect(told.locator("b")).to_have_text(f"\u2068{CIRCLE}\u2069")
            assert await told.evaluate("bubble => getComputedStyle(bubble).direction") == "rtl"
            assert await told.get_attribute("dir") == "auto"

            # Lucía shares a circle's point from the 📍 picker and sends a photo with 📎.
            lucia = page.locator('.column[data-persona="resident"]')
            await lucia.locator(".location-button").click()
            await lucia.locator("select.points").select_option(label=f"{CIRCLE} (Embajadores)")
            await lucia.locator(".share-location").click()
            await expect(lucia.locator(".msg.user.kind-location")).to_contain_text("📍 40.")
            photo = {"name": "door.png", "mimeType": "image/png", "buffer": PNG}
            await lucia.locator(".file-input").set_input_files(files=[photo])
            sent_photo = lucia.locator(".msg.user.kind-photo img.photo")
            await expect(sent_photo).to_be_visible()
            assert await sent_photo.evaluate("image => image.decode().then(() => image.naturalWidth)") == 2

            # A person added from the page gets a column of their own.
            form = page.locator("#add-persona")
            await form.locator('input[name="name"]').fill("Rahim")
            await form.locator('input[name="language"]').fill("bn")
            await form.locator('button[type="submit"]').click()
            await expect(page.locator(".column .persona-name", has_text="Rahim")).to_be_visible()

            screenshot = tmp_path / "web-sandbox.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000
        finally:
            await browser.close()
