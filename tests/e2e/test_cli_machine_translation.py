"""`vecinos notices send` with a machine translator: the audience's languages without a version are translated
(against a fake LibreTranslate server) before the notice is queued; with the translator down it is queued at
once and says which languages get the original."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.fakeapi.translate import FakeTranslator
from tests.e2e.cli import cli  # noqa: F401  (the fixture)

CIRCLE = "emb-plaza-lavapies"


async def test_a_notice_from_the_command_line_is_translated_before_it_is_queued(cli, tmp_path):  # noqa: F811
    translator = FakeTranslator()
    url = await translator.start()
    cli.monkeypatch.setenv("VECINOS_TRANSLATE_URL", url)
    await asyncio.to_thread(cli.ok, "demo", "populate", "--residents", "20", "--circle", CIRCLE)
    text = tmp_path / "agua.txt"
    text.write_text("Mañana se corta el agua de 9 a 12 en toda la plaza.", encoding="utf-8")
    sent = await asyncio.to_thread(cli.run, "notices", "send", "--scope", f"circle:{CIRCLE}", "--text", str(text))
    assert sent.returncode == 0, sent.stderr
    database = sqlite3.connect(tmp_path / "v.db")
    targets = {row[0] for row in database.execute("SELECT target FROM machine_translation")}
    assert targets == {"en", "ar", "bn", "zh_Hans", "ro", "fr", "it", "fil", "uk"}  # every reader's but Spanish
    assert {r["target"] for r in translator.requests} == {"en", "ar", "bn", "zh", "ro", "fr", "it", "tl", "uk"}

    await translator.stop()
    text.write_text("El jueves revisan el gas en todos los portales.", encoding="utf-8")
    down = await asyncio.to_thread(cli.run, "notices", "send", "--scope", f"circle:{CIRCLE}", "--text", str(text))
    assert down.returncode == 0, down.stderr
    assert "9 languages get the original" in down.stderr
    assert database.execute("SELECT count(*) FROM notice WHERE status = 'sending'").fetchone()[0] == 2
