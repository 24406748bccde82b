"""/mydata and /forget: a copy of everything stored about me, and erasure."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.channels.base import Button
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Role
from handlers.coexistence_party import forget_coexistence, own_coexistence_data
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.routing import Callback, Command, Routes, any_input


class ForgetStep(StrEnum):
    """Steps of /forget."""

    CONFIRM = "confirm"


async def export_my_data(ctx: Context) -> None:
    """/mydata: a JSON file of everything stored about the person."""
    assert ctx.resident is not None
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
    reports = [
        {
            "reference": case.ref,
            "category": case.category,
            "status": case.status,
            "yours": case.reporter_id == r.id,
            "anonymous_to_staff": case.anonymous,
            "text": case.text if case.reporter_id == r.id else None,
            "reported_at": case.created_at.isoformat(),
        }
        for case in await ctx.uow.cases.of_resident(r.id, limit=1000)
    ]
    document = {
        "resident": {
            "telegram_user_id": r.telegram_user_id,
            "chat_id": r.chat_id,
            "first_name": r.first_name,
            "language": r.locale,
            "status": r.status,
            "legal_basis": r.legal_basis,
            "consent_given_at": r.consent_at.isoformat() if r.legal_basis == "consent" else None,
            "registered_at": r.created_at.isoformat(),
            "quiet_hours_minutes": None if r.quiet_start is None else [r.quiet_start, r.quiet_end],
            "muted_notices": r.muted_kinds or "",
            "weekly_digest_instead_of_notices": r.weekly_digest,
        },
        "memberships": memberships,
        "roles": [
            {"role": g.role, "scope": g.scope, "scope_id": g.scope_id, "sector": g.sector}
            for g in ctx.grants
            if g.role is not Role.RESIDENT
        ],
        "reports": reports,
        "notices_to_you": [
            {"notice": d.notice_id, "status": d.status, "language": d.locale, "sent_at": _iso(d.sent_at)}
            for d in await ctx.uow.notices.deliveries_to(r.chat_id)
        ],
        "notices_you_wrote": [
            {"notice": n.id, "scope": n.scope_kind, "texts": n.texts, "created_at": n.created_at.isoformat()}
            for n in await ctx.uow.notices.recent_by_author(r.id, limit=1000)
        ],
        "mediation_support_and_court": await own_coexistence_data(ctx, r),
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


def _forget_buttons(ctx: Context) -> list[list[Button]]:
    return [
        [
            Button(ctx.t.plain("Yes, erase my data"), cb("forget", "yes")),
            Button(ctx.t.plain("No, keep it"), cb("forget", "no")),
        ]
    ]


async def ask_forget(ctx: Context) -> None:
    """/forget: confirm erasure."""
    await ctx.go(Flow.FORGET, ForgetStep.CONFIRM)
    ctx.say(
        ctx.t.gettext(
            "⚠️ This erases your name, language, circle, roles and messages from Vecinos. Only "
            "anonymous counts remain. It cannot be undone. Erase everything?"
        ),
        _forget_buttons(ctx),
    )


async def forget_text(ctx: Context) -> None:
    """Typed text while /forget waits for an answer: ask again, with the buttons."""
    ctx.say(ctx.t.gettext("Please answer with the buttons: erase all your data?"), _forget_buttons(ctx))


async def confirm_forget(ctx: Context, data: CallbackData) -> None:
    """forget:yes erases the person; forget:no keeps everything."""
    if ctx.resident is None:
        await stale(ctx)
        return
    if data.args[:1] != ("yes",):
        if ctx.flow == Flow.FORGET:
            await ctx.finish()
        ctx.show(ctx.t.gettext("Nothing has changed."))
        return
    await forget_coexistence(ctx, ctx.resident)
    await ctx.uow.residents.erase(ctx.resident)
    ctx.resident = None
    ctx.grants = []
    ctx.erased = True
    ctx.show(
        ctx.t.gettext(
            "🗑️ Your data has been erased. Thank you for taking part. Send /start if you ever want to come back."
        )
    )


ROUTES = Routes(
    commands={
        "mydata": Command(export_my_data, Action.VIEW_OWN_DATA),
        "forget": Command(ask_forget, Action.ERASE_OWN_DATA),
    },
    callbacks={"forget": Callback(confirm_forget, Action.ERASE_OWN_DATA)},
    step_inputs=any_input(Flow.FORGET, forget_text),
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
