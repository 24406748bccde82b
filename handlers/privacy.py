"""/mydata and /forget: a copy of everything stored about me, and erasure."""

from __future__ import annotations

import json
from typing import Any

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from handlers.context import Context
from handlers.registration import stale


async def export_my_data(ctx: Context) -> None:
    """/mydata: a JSON file of everything stored about the resident."""
    if ctx.resident is None:
        ctx.say(ctx.t.gettext("We store nothing about you: you are not registered."))
        return
    r = ctx.resident
    memberships: list[dict[str, Any]] = []
    for m in await ctx.uow.memberships.of_resident(r.id):
        circle = await ctx.uow.territory.circle(m.circle_id)
        building = await ctx.uow.territory.building(m.building_id) if m.building_id else None
        memberships.append(
            {
                "circle": circle.name if circle else None,
                "circle_code": circle.code if circle else None,
                "building": building.address if building else m.portal,
                "status": m.status,
                "verified_via": m.verified_via,
                "requested_at": m.created_at.isoformat(),
                "decided_at": m.decided_at.isoformat() if m.decided_at else None,
            }
        )
    outbox = await ctx.uow.outbox.for_chat(r.chat_id)
    document = {
        "resident": {
            "telegram_user_id": r.telegram_user_id,
            "chat_id": r.chat_id,
            "first_name": r.first_name,
            "language": r.locale,
            "status": r.status,
            "consent_given_at": r.consent_at.isoformat(),
            "registered_at": r.created_at.isoformat(),
        },
        "memberships": memberships,
        "roles": [{"role": g.role, "scope": g.scope, "scope_id": g.scope_id, "sector": g.sector} for g in ctx.grants],
        "conversation": {"flow": ctx.flow, "step": ctx.step, "data": ctx.data},
        "messages_to_you": [
            {"topic": o.topic, "status": o.status, "created_at": o.created_at.isoformat(), "content": o.payload}
            for o in outbox
        ],
        "exported_at": ctx.now.isoformat(),
    }
    content = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    ctx.send_document(
        content,
        "vecinos-mydata.json",
        ctx.t.gettext("📄 Everything Vecinos stores about you. To erase it, send /forget."),
    )


async def ask_forget(ctx: Context) -> None:
    """/forget: confirm erasure."""
    if ctx.resident is None:
        ctx.say(ctx.t.gettext("We store nothing about you: you are not registered."))
        return
    ctx.say(
        ctx.t.gettext(
            "⚠️ This erases your name, language, circle, roles and messages from Vecinos. Only "
            "anonymous counts remain. It cannot be undone. Erase everything?"
        ),
        [
            [
                Button(ctx.t.gettext("Yes, erase my data"), cb("forget", "yes")),
                Button(ctx.t.gettext("No, keep it"), cb("forget", "no")),
            ]
        ],
    )


async def confirm_forget(ctx: Context, data: CallbackData) -> None:
    """forget:yes erases the resident; forget:no keeps everything."""
    if ctx.resident is None:
        await stale(ctx)
        return
    if data.args[:1] != ("yes",):
        ctx.show(ctx.t.gettext("Nothing has changed."))
        return
    await ctx.uow.residents.erase(ctx.resident)
    ctx.resident = None
    ctx.grants = []
    ctx.erased = True
    ctx.show(
        ctx.t.gettext(
            "🗑️ Your data has been erased. Thank you for taking part. Send /start if you ever want to come back."
        )
    )
