"""/notice: community managers announce to the district, a barrio, a circle or a role, and delegates write to
their circle (scope, text, versions in other languages, attachment, urgency, time, a preview per language,
confirm); /notices: my recent notices and how far they have got."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.channels.base import Button, IncomingKind
from bot.domain.callbacks import CallbackData, cb
from bot.domain.notices import (
    TEXT_MAX,
    NoticeKind,
    NoticeScope,
    NoticeScopeKind,
    broadcasts_left,
    madrid_day_start,
    parse_notice_scope,
    parse_send_at,
)
from bot.domain.permissions import PERMISSIONS, Action, Place, Role, Sector
from bot.domain.permissions import ScopeKind as GrantScope
from bot.domain.text import clean_long_text
from bot.i18n import SUPPORTED_LOCALES, Safe, Translator, escape, safe_join
from bot.language_detection import detect_language, warm_up_in_background
from handlers.common import refuse, stale
from handlers.context import Context, Flow
from handlers.labels import circle_label
from handlers.notice_delivery import (
    NoticeView,
    audience_text,
    languages_to_translate,
    place_name,
    progress_lines,
    queue_notice,
    render_notice,
    scope_of,
)
from handlers.routing import Callback, Command, Routes, any_input

# Role audiences a manager can pick in chat (any role, by name, from the command line).
CHAT_ROLE_AUDIENCES: tuple[str, ...] = (Role.DELEGATE.value, Role.COUNCIL_MEMBER.value, Sector.COMMUNITY_POLICE.value)


class NoticeStep(StrEnum):
    """Steps of writing a notice."""

    SCOPE = "scope"
    TEXT = "text"
    VERSIONS = "versions"
    VERSION_TEXT = "version_text"
    MEDIA = "media"
    URGENCY = "urgency"
    WHEN = "when"
    PREVIEW = "preview"


def _cancel_row(t: Translator) -> list[Button]:
    return [Button(t.plain("✖️ Cancel"), cb("ntx"))]


# ---------------------------------------------------------------- where a person may write


async def _place_of(ctx: Context, scope: NoticeScope) -> Place:
    if scope.kind is NoticeScopeKind.CIRCLE and scope.id is not None:
        circle = await ctx.uow.territory.circle(scope.id)
        return Place(circle.barrio_id if circle else None, scope.id)
    if scope.kind is NoticeScopeKind.DISTRICT or scope.id is None:
        return Place()
    return Place(scope.id, None)


async def kind_allowed(ctx: Context, scope: NoticeScope) -> NoticeKind | None:
    """As what this person may write to `scope`: an official notice, a delegate's broadcast, or not at all."""
    place = await _place_of(ctx, scope)
    if ctx.allowed(Action.SEND_NOTICE, place):
        return NoticeKind.OFFICIAL
    if scope.kind is NoticeScopeKind.CIRCLE and ctx.allowed(Action.BROADCAST_CIRCLE, place):
        return NoticeKind.DELEGATE
    return None


async def notice_scopes(ctx: Context) -> list[tuple[NoticeScope, str]]:
    """The audiences this person may write to, with a button label each, from their grants."""
    t = ctx.t
    found: list[tuple[NoticeScope, str]] = []

    def roles(barrio_id: int | None, where: str) -> None:
        for name in CHAT_ROLE_AUDIENCES:
            scope = NoticeScope(NoticeScopeKind.ROLE, barrio_id, name)
            found.append((scope, "👥 " + audience_text(t, scope, where)))

    for grant in ctx.grants:
        actions = PERMISSIONS[grant.role]
        if Action.SEND_NOTICE in actions and grant.scope is GrantScope.DISTRICT:
            found.append((NoticeScope(NoticeScopeKind.DISTRICT), t.plain("🌐 The whole district")))
            barrios = await ctx.uow.territory.barrios()
            found.extend((NoticeScope(NoticeScopeKind.BARRIO, b.id), f"🏘️ {b.name}") for b in barrios)
            roles(None, t.plain("the whole district"))
        elif Action.SEND_NOTICE in actions and grant.scope is GrantScope.BARRIO and grant.scope_id:
            barrio = await ctx.uow.territory.barrio(grant.scope_id)
            if barrio is None:
                continue
            found.append((NoticeScope(NoticeScopeKind.BARRIO, barrio.id), f"🏘️ {barrio.name}"))
            for circle in await ctx.uow.territory.circles_in_barrio(barrio.id):
                found.append((NoticeScope(NoticeScopeKind.CIRCLE, circle.id), circle_label(circle.kind, circle.name)))
            roles(barrio.id, barrio.name)
        elif Action.BROADCAST_CIRCLE in actions and grant.scope is GrantScope.CIRCLE and grant.scope_id:
            circle = await ctx.uow.territory.circle(grant.scope_id)
            if circle is not None:
                found.append((NoticeScope(NoticeScopeKind.CIRCLE, circle.id), circle_label(circle.kind, circle.name)))
    unique: dict[str, tuple[NoticeScope, str]] = {}
    for scope, label in found:
        unique.setdefault(scope.key, (scope, label))
    return list(unique.values())


def _me(ctx: Context) -> int | None:
    return ctx.resident.id if ctx.resident is not None else None


async def _broadcasts_left(ctx: Context) -> int:
    assert ctx.resident is not None
    policy = ctx.services.notices
    since = madrid_day_start(ctx.now, ctx.t.zone)
    sent = await ctx.uow.notices.broadcasts_since(ctx.resident.id, NoticeKind.DELEGATE.value, since)
    return broadcasts_left(sent, policy.delegate_daily_limit)


async def _may_broadcast(ctx: Context, kind: NoticeKind) -> bool:
    """Whether a delegate's broadcast is within today's limit (other notices have none); if not, say so and
    leave the wizard."""
    if kind is not NoticeKind.DELEGATE or await _broadcasts_left(ctx) > 0:
        return True
    await ctx.finish()
    _limit_reached(ctx)
    return False


def _limit_reached(ctx: Context) -> None:
    limit = ctx.services.notices.delegate_daily_limit
    ctx.say(
        ctx.t.ngettext(
            "⛔ You have already sent {n} broadcast to your circle today, the most a delegate can send in one "
            "day. You can write again tomorrow; for something urgent, ask your community managers.",
            "⛔ You have already sent {n} broadcasts to your circle today, the most a delegate can send in one "
            "day. You can write again tomorrow; for something urgent, ask your community managers.",
            limit,
        )
    )


# ---------------------------------------------------------------- steps


async def start_notice(ctx: Context) -> None:
    """/notice: whom is it for? (skipped when there is only one audience)."""
    warm_up_in_background()  # the text will be read for its language: load the models while they choose
    scopes = await notice_scopes(ctx)
    if not scopes:
        refuse(ctx)
        return
    if len(scopes) == 1:
        await _scope_chosen(ctx, scopes[0][0])
        return
    await ctx.go(Flow.NOTICE, NoticeStep.SCOPE)
    rows = [[Button(label, cb("nts", *scope.key.split(":")))] for scope, label in scopes[:60]]
    rows.append(_cancel_row(ctx.t))
    ctx.say(ctx.t.gettext("📢 <b>New notice</b>\nWho is it for?"), rows)


async def new_notice_tapped(ctx: Context, data: CallbackData) -> None:
    """ntn: the "New notice" button of /notices."""
    ctx.toast("")
    await start_notice(ctx)


async def scope_tapped(ctx: Context, data: CallbackData) -> None:
    """nts:<scope key parts>: the audience."""
    scope = parse_notice_scope(":".join(data.args))
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.SCOPE or scope is None:
        await stale(ctx)
        return
    await _scope_chosen(ctx, scope)


async def _scope_chosen(ctx: Context, scope: NoticeScope) -> None:
    kind = await kind_allowed(ctx, scope)
    if kind is None:
        refuse(ctx)
        return
    if not await _may_broadcast(ctx, kind):
        return
    languages = await ctx.uow.notices.languages(scope, besides=_me(ctx))
    if sum(languages.values()) == 0:
        ctx.say(ctx.t.gettext("Nobody is in that audience yet: there is no one to send it to."))
        return
    await ctx.go(Flow.NOTICE, NoticeStep.TEXT, scope=scope.key, kind=kind.value, original=ctx.t.locale, texts={})
    t = ctx.t
    intro = (
        t.gettext("📣 Your message to your circle will show that it comes from you, its delegate.")
        if kind is NoticeKind.DELEGATE
        else t.gettext("📢 Your notice will show that it comes from the community managers.")
    )
    ctx.show(
        safe_join(
            "\n\n",
            [
                intro,
                t.gettext(
                    "✏️ Write it in {language}, in one message (at most {max} characters).",
                    language=t.language_name(t.locale),
                    max=t.number(TEXT_MAX),
                ),
            ],
        ),
        [_cancel_row(t)],
    )


async def notice_input(ctx: Context) -> None:
    """What was sent during the notice wizard: the text, a version, the attachment or the time, by step."""
    step = ctx.step
    if step == NoticeStep.TEXT:
        await _text_written(ctx, ctx.data.get("original", ctx.t.locale))
    elif step == NoticeStep.VERSION_TEXT:
        await _text_written(ctx, ctx.data.get("editing", ""))
    elif step == NoticeStep.MEDIA:
        await _media_sent(ctx)
    elif step == NoticeStep.WHEN:
        await _time_written(ctx)
    else:
        ctx.say(ctx.t.gettext("Please use the buttons above, or /cancel."))


async def _text_written(ctx: Context, language: str) -> None:
    t = ctx.t
    if ctx.incoming.kind is not IncomingKind.TEXT:
        ctx.say(t.gettext("Please write the text of the notice as a message."), [_cancel_row(t)])
        return
    raw = ctx.incoming.text or ""
    cleaned = clean_long_text(raw, TEXT_MAX)
    if cleaned.problem == "too_long":
        ctx.say(
            t.gettext(
                "That is too long ({length} characters; at most {max}). Please shorten it.",
                length=t.number(len(raw)),
                max=t.number(TEXT_MAX),
            ),
            [_cancel_row(t)],
        )
        return
    if not cleaned.text:
        ctx.say(t.gettext("Please write the text of the notice as a message."), [_cancel_row(t)])
        return
    if language not in SUPPORTED_LOCALES:
        await stale(ctx)
        return
    detected = detect_language(cleaned.text)
    texts = dict(ctx.data.get("texts") or {})
    if detected is not None and detected != language and ctx.step == NoticeStep.TEXT:
        # The original is labelled with the language it is written in, not the one its author reads.
        ctx.say(t.gettext("🔎 This reads as {language}: it goes out as written in {language}.",
                          language=t.language_name(detected)))  # fmt: skip
        language = detected
    elif detected is not None and detected != language:
        ctx.say(
            t.gettext(
                "⚠️ This reads as {detected}, not {language}. It is kept as the {language} version: rewrite it "
                "if that was a mistake.",
                detected=t.language_name(detected),
                language=t.language_name(language),
            )
        )
    texts[language] = cleaned.text
    original = language if ctx.step == NoticeStep.TEXT else ctx.data.get("original")
    await ctx.go(Flow.NOTICE, NoticeStep.VERSIONS, texts=texts, editing=None, original=original)
    await _ask_versions(ctx)


async def _audience_languages(ctx: Context) -> dict[str, int]:
    scope = parse_notice_scope(ctx.data.get("scope", ""))
    return {} if scope is None else await ctx.uow.notices.languages(scope, besides=_me(ctx))


async def _ask_versions(ctx: Context, *, edit: bool = False) -> None:
    t = ctx.t
    languages = await _audience_languages(ctx)
    texts: dict[str, str] = ctx.data.get("texts") or {}
    original = ctx.data.get("original", t.locale)
    others = [code for code in sorted(languages, key=lambda c: -languages[c]) if code != original]
    others = [code for code in others if code in SUPPORTED_LOCALES]
    if not others:
        await ctx.go(Flow.NOTICE, NoticeStep.MEDIA)
        _ask_media(ctx, edit=edit)
        return
    counts = " · ".join(
        t.plain("{language}: {count}", language=t.language_name(c), count=t.number(languages[c]))
        for c in sorted(languages, key=lambda c: -languages[c])
    )
    written = t.join(t.language_name(c) for c in texts)
    lines = [
        t.gettext("🌐 <b>Languages of this audience</b> (people who read each):"),
        t.gettext("{counts}", counts=counts),
        t.gettext("Versions written: {languages}", languages=written),
    ]
    unwritten = [code for code in others if code not in texts]
    if unwritten:
        # The versions still worth writing, the most read first.
        lines.append(
            t.gettext(
                "✍️ Still without a version: {languages}",
                languages=t.join(
                    t.plain("{language} ({count})", language=t.language_name(c), count=t.number(languages[c]))
                    for c in unwritten
                ),
            )
        )
    if ctx.services.machine_translator is not None:
        fallback = t.gettext(
            "Whoever has no version in their language gets a machine translation, marked as such, with the "
            "original ({language}) a tap away.",
            language=t.language_name(original),
        )
    else:
        fallback = t.gettext(
            "Whoever has no version in their language gets the original, marked as written in {language}.",
            language=t.language_name(original),
        )
    lines += [fallback, t.gettext("Add a version in another language, one at a time, or continue.")]
    rows = []
    for code in others:
        label = (
            t.plain("✏️ Rewrite the {language} version", language=t.language_name(code))
            if code in texts
            else str(
                t.ngettext(
                    "➕ {language} version ({n} person)",
                    "➕ {language} version ({n} people)",
                    languages[code],
                    language=t.language_name(code),
                )
            )
        )
        rows.append([Button(label, cb("ntl", code))])
    rows.append([Button(t.plain("➡️ Continue"), cb("ntd"))])
    rows.append(_cancel_row(t))
    (ctx.show if edit else ctx.say)(safe_join("\n", lines), rows)


async def version_tapped(ctx: Context, data: CallbackData) -> None:
    """ntl:<language>: write (or rewrite) the version in that language."""
    code = data.args[0] if data.args else ""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.VERSIONS or code not in SUPPORTED_LOCALES:
        await stale(ctx)
        return
    await ctx.go(Flow.NOTICE, NoticeStep.VERSION_TEXT, editing=code)
    ctx.show(
        ctx.t.gettext("✏️ Write the {language} version now, in one message.", language=ctx.t.language_name(code)),
        [_cancel_row(ctx.t)],
    )


async def versions_done(ctx: Context, data: CallbackData) -> None:
    """ntd: no more versions; then the attachment."""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.VERSIONS:
        await stale(ctx)
        return
    await ctx.go(Flow.NOTICE, NoticeStep.MEDIA)
    _ask_media(ctx, edit=True)


def _ask_media(ctx: Context, *, edit: bool = False) -> None:
    t = ctx.t
    rows = [[Button(t.plain("⏭️ No attachment"), cb("ntm"))], _cancel_row(t)]
    (ctx.show if edit else ctx.say)(
        t.gettext("📎 Send a photo or a document to go with it, or tap No attachment."), rows
    )


async def _media_sent(ctx: Context) -> None:
    incoming = ctx.incoming
    if incoming.kind is IncomingKind.PHOTO and incoming.photo_file_id:
        await ctx.go(Flow.NOTICE, NoticeStep.URGENCY, media_kind="photo", media=incoming.photo_file_id)
    elif incoming.kind is IncomingKind.DOCUMENT and incoming.document_file_id:
        await ctx.go(Flow.NOTICE, NoticeStep.URGENCY, media_kind="document", media=incoming.document_file_id)
    else:
        _ask_media(ctx)
        return
    await _ask_urgency(ctx)


async def media_skipped(ctx: Context, data: CallbackData) -> None:
    """ntm: no attachment."""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.MEDIA:
        await stale(ctx)
        return
    await ctx.go(Flow.NOTICE, NoticeStep.URGENCY, media_kind=None, media=None)
    await _ask_urgency(ctx, edit=True)


async def _ask_urgency(ctx: Context, *, edit: bool = False) -> None:
    t = ctx.t
    if ctx.data.get("kind") != NoticeKind.OFFICIAL:
        # A delegate's message is never urgent: urgent notices are the institutions' safety warnings.
        await ctx.go(Flow.NOTICE, NoticeStep.WHEN, urgent=False)
        _ask_when(ctx, edit=edit)
        return
    rows = [
        [Button(t.plain("Normal"), cb("ntu", "normal"))],
        [Button(t.plain("🚨 Urgent (safety)"), cb("ntu", "urgent"))],
        _cancel_row(t),
    ]
    (ctx.show if edit else ctx.say)(
        t.gettext(
            "Is it urgent? Urgent notices are for safety: they go out at once, also during quiet hours, and reach "
            "people who muted notices. Normal notices wait until each person's quiet hours are over."
        ),
        rows,
    )


async def urgency_tapped(ctx: Context, data: CallbackData) -> None:
    """ntu:<normal|urgent>: how it goes out."""
    value = data.args[0] if data.args else ""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.URGENCY or value not in ("normal", "urgent"):
        await stale(ctx)
        return
    if ctx.data.get("kind") != NoticeKind.OFFICIAL and value == "urgent":
        refuse(ctx)
        return
    await ctx.go(Flow.NOTICE, NoticeStep.WHEN, urgent=value == "urgent")
    _ask_when(ctx, edit=True)


def _ask_when(ctx: Context, *, edit: bool = False, note: Safe | None = None) -> None:
    t = ctx.t
    lines = [
        t.gettext(
            "🕒 When should it go out? Tap Now, or write a date and time such as {example} (Madrid time).",
            example="20/12/2026 20:00",
        )
    ]
    if note is not None:
        lines.insert(0, note)
    rows = [[Button(t.plain("▶️ Now"), cb("ntw"))], _cancel_row(t)]
    (ctx.show if edit else ctx.say)(safe_join("\n\n", lines), rows)


async def now_tapped(ctx: Context, data: CallbackData) -> None:
    """ntw: send as soon as it is confirmed."""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.WHEN:
        await stale(ctx)
        return
    await ctx.go(Flow.NOTICE, NoticeStep.PREVIEW, at=None)
    await _preview(ctx)


async def _time_written(ctx: Context) -> None:
    at = parse_send_at(ctx.incoming.text or "", ctx.now, ctx.t.zone)
    if at is None:
        _ask_when(ctx, note=ctx.t.gettext("I could not read that date, or it has already passed."))
        return
    await ctx.go(Flow.NOTICE, NoticeStep.PREVIEW, at=at.isoformat())
    await _preview(ctx)


def _draft_view(ctx: Context, scope: NoticeScope, place: str | None) -> NoticeView:
    data = ctx.data
    return NoticeView(
        id=0,
        kind=NoticeKind(data.get("kind", NoticeKind.OFFICIAL)),
        urgent=bool(data.get("urgent", False)),
        scope=scope,
        place=place,
        author=ctx.resident.first_name if ctx.resident else None,
        texts=dict(data.get("texts") or {}),
        original=data.get("original", ctx.t.locale),
        media_kind=data.get("media_kind"),
        media_file_id=data.get("media"),
    )


async def _preview(ctx: Context) -> None:
    t = ctx.t
    scope = parse_notice_scope(ctx.data.get("scope", ""))
    if scope is None or not (ctx.data.get("texts") or {}):
        await stale(ctx)
        return
    place = await place_name(ctx.uow, scope)
    view = _draft_view(ctx, scope, place)
    languages = await ctx.uow.notices.languages(scope, besides=_me(ctx))
    for code in sorted(languages, key=lambda c: -languages[c]):
        reader = ctx.services.catalogs.translator(code)
        if reader.locale != code:
            continue
        ctx.say(
            t.ngettext(
                "👁️ How the {n} person who reads {language} will see it:",
                "👁️ How the {n} people who read {language} will see it:",
                languages[code],
                language=t.language_name(code),
            )
        )
        ctx.replies.append(render_notice(reader, view))
    at = ctx.data.get("at")
    when = t.gettext("now") if not at else Safe(t.datetime(datetime.fromisoformat(at), "medium"))
    lines = [
        t.gettext("<b>Ready to send?</b>"),
        t.gettext("To: {audience}", audience=audience_text(t, scope, place)),
        t.ngettext("{n} person", "{n} people", sum(languages.values())),
        t.gettext("When: {when}", when=when),
        t.gettext("🚨 Urgent: yes") if view.urgent else t.gettext("Urgent: no (it waits for quiet hours)"),
    ]
    rows = [[Button(t.plain("✅ Send"), cb("ntc"))], _cancel_row(t)]
    ctx.say(safe_join("\n", lines), rows)


async def confirm_tapped(ctx: Context, data: CallbackData) -> None:
    """ntc: store the notice and queue it (or schedule it)."""
    if ctx.flow != Flow.NOTICE or ctx.step != NoticeStep.PREVIEW or ctx.resident is None:
        await stale(ctx)
        return
    t = ctx.t
    scope = parse_notice_scope(ctx.data.get("scope", ""))
    texts = ctx.data.get("texts") or {}
    original = ctx.data.get("original", t.locale)
    if scope is None or original not in texts:
        await stale(ctx)
        return
    kind = await kind_allowed(ctx, scope)
    if kind is None or kind.value != ctx.data.get("kind"):
        refuse(ctx)
        return
    if not await _may_broadcast(ctx, kind):
        return
    at_text = ctx.data.get("at")
    at = datetime.fromisoformat(at_text) if at_text else ctx.now
    notice = await ctx.uow.notices.create(
        author_id=ctx.resident.id,
        kind=kind.value,
        scope_kind=scope.kind.value,
        scope_id=scope.id,
        role=scope.role,
        texts=texts,
        original_locale=original,
        urgent=bool(ctx.data.get("urgent", False)) and kind is NoticeKind.OFFICIAL,
        media_kind=ctx.data.get("media_kind"),
        media_file_id=ctx.data.get("media"),
        status="scheduled",
        send_at=at,
        created_at=ctx.now,
    )
    await ctx.finish()
    if at <= ctx.now:
        audience: dict[str, int] = {}
        missing: list[str] = []
        if ctx.services.machine_translator is not None:
            audience, missing = await languages_to_translate(ctx.uow, scope, texts, original, besides=_me(ctx))
        if missing:
            # Machine translations first, outside this transaction: the scheduler queues it in a moment.
            count = sum(audience.values())
            ctx.notice_due = True
        else:
            count = await queue_notice(ctx.uow, ctx.services.notices, t.zone, notice, ctx.now)
            ctx.wrote_outbox = True
        ctx.show(
            t.ngettext(
                "✅ Your notice #{id} is on its way to {n} person. You will get a delivery report; /notices "
                "shows how it is going.",
                "✅ Your notice #{id} is on its way to {n} people. You will get a delivery report; /notices "
                "shows how it is going.",
                count,
                id=notice.id,
            )
        )
        return
    ctx.show(
        t.gettext(
            "🕒 Your notice #{id} will go out on {when}. /notices shows it.",
            id=notice.id,
            when=t.datetime(at, "medium"),
        )
    )


async def cancel_tapped(ctx: Context, data: CallbackData) -> None:
    """ntx: drop the draft."""
    if ctx.flow == Flow.NOTICE:
        await ctx.finish()
    ctx.show(ctx.t.gettext("Cancelled: nothing was sent."))


# ---------------------------------------------------------------- /notices


async def list_notices(ctx: Context) -> None:
    """/notices: my latest notices with their delivery progress."""
    t = ctx.t
    assert ctx.resident is not None
    notices = await ctx.uow.notices.recent_by_author(ctx.resident.id, limit=10)
    rows = [[Button(t.plain("📢 New notice"), cb("ntn"))]]
    if not notices:
        ctx.say(t.gettext("You have not sent any notices yet."), rows)
        return
    blocks = [t.gettext("📢 <b>Your latest notices</b>")]
    for notice in notices:
        scope = scope_of(notice)
        audience = audience_text(t, scope, await place_name(ctx.uow, scope))
        head = t.gettext(
            "<b>#{id}</b> · {when} · {audience}",
            id=notice.id,
            when=t.datetime(notice.created_at, "short"),
            audience=audience,
        )
        if notice.status == "scheduled":
            lines = [head, t.gettext("🕒 Goes out on {when}", when=t.datetime(notice.send_at, "medium"))]
        else:
            progress = await ctx.uow.notices.progress(notice.id, ctx.now)
            lines = [head, *progress_lines(t, progress)]
        blocks.append(safe_join("\n", lines))
    ctx.say(safe_join("\n\n", blocks), rows)


async def original_tapped(ctx: Context, data: CallbackData) -> None:
    """nor:<notice>: the original text of a notice that reached me machine-translated."""
    notice_id = data.int_arg()
    assert ctx.resident is not None
    notice = await ctx.uow.notices.get(notice_id) if notice_id else None
    if notice is None or not await ctx.uow.notices.was_sent_to(notice.id, ctx.resident.id):
        await stale(ctx)
        return
    text = dict(notice.texts).get(notice.original_locale, "")
    ctx.say(
        safe_join(
            "\n\n",
            [
                ctx.t.gettext(
                    "📄 <b>The original of notice #{id}</b>, as written in {language}:",
                    id=notice.id,
                    language=ctx.t.language_name(notice.original_locale),
                ),
                escape(text),
            ],
        )
    )


async def message_original_tapped(ctx: Context, data: CallbackData) -> None:
    """mto:<outbox message>: the original of what reached me machine-translated (a case update, a proposal)."""
    message_id = data.int_arg()
    row = await ctx.uow.outbox.get(message_id) if message_id else None
    machine = (row.payload or {}).get("machine") if row is not None and row.chat_id == ctx.incoming.chat_id else None
    if not machine or not machine.get("q"):
        await stale(ctx)
        return
    ctx.say(
        safe_join(
            "\n\n",
            [
                ctx.t.gettext(
                    "📄 <b>The original</b>, as written in {language}:",
                    language=ctx.t.language_name(machine.get("source", "")),
                ),
                escape(machine["q"]),
            ],
        )
    )


ROUTES = Routes(
    commands={
        "notice": Command(start_notice, Action.BROADCAST_CIRCLE),
        "broadcast": Command(start_notice, Action.BROADCAST_CIRCLE),
        "notices": Command(list_notices, Action.BROADCAST_CIRCLE),
    },
    callbacks={
        "ntn": Callback(new_notice_tapped, Action.BROADCAST_CIRCLE),
        "nts": Callback(scope_tapped, Action.BROADCAST_CIRCLE),
        "ntl": Callback(version_tapped, Action.BROADCAST_CIRCLE),
        "ntd": Callback(versions_done, Action.BROADCAST_CIRCLE),
        "ntm": Callback(media_skipped, Action.BROADCAST_CIRCLE),
        "ntu": Callback(urgency_tapped, Action.BROADCAST_CIRCLE),
        "ntw": Callback(now_tapped, Action.BROADCAST_CIRCLE),
        "ntc": Callback(confirm_tapped, Action.BROADCAST_CIRCLE),
        "ntx": Callback(cancel_tapped, Action.CANCEL),
        "nor": Callback(original_tapped, Action.VIEW_OWN_DATA),
        "mto": Callback(message_original_tapped, Action.VIEW_OWN_DATA),
    },
    step_inputs=any_input(Flow.NOTICE, notice_input),
)
