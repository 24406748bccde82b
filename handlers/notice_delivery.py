"""Notices on their way: queuing one (a slim delivery row per recipient), rendering each delivery in its
recipient's language when the sender claims it, and reporting to the author when it is done."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.base import Button, Reply
from bot.domain.callbacks import cb
from bot.domain.notices import (
    Fate,
    NoticeKind,
    NoticePolicy,
    NoticeScope,
    NoticeScopeKind,
    QuietHours,
    Recipient,
    fate_of,
    muted_set,
    send_time,
    version_for,
)
from bot.i18n import SUPPORTED_LOCALES, Catalogs, Safe, Translator, escape, safe_join
from handlers.context import Services
from handlers.labels import role_name, sector_name
from storage.models import Notice
from storage.notices import Progress, QueuedDelivery
from storage.outbox import PRIORITY_BULK, PRIORITY_PERSONAL, SOURCE_NOTICE, OutboxItem
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

TOPIC_REPORT = "notice.report"
# Rendered notices kept per sender, by (notice, language): a 100,000-recipient notice renders a handful.
RENDER_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class NoticeView:
    """What rendering a notice needs, read once per notice."""

    id: int
    kind: NoticeKind
    urgent: bool
    scope: NoticeScope
    place: str | None  # the barrio's or circle's name
    author: str | None  # a delegate's first name
    texts: dict[str, str]
    original: str
    media_kind: str | None
    media_file_id: str | None
    # Machine translations of the original, by language (only where no human version exists).
    machine: dict[str, str] = field(default_factory=dict)


def scope_of(notice: Notice) -> NoticeScope:
    """A stored notice's audience."""
    return NoticeScope(NoticeScopeKind(notice.scope_kind), notice.scope_id, notice.role)


async def place_name(uow: UnitOfWork, scope: NoticeScope) -> str | None:
    """The proper name of the barrio or circle a scope names (None for the district)."""
    if scope.id is None:
        return None
    if scope.kind is NoticeScopeKind.CIRCLE:
        circle = await uow.territory.circle(scope.id)
        return circle.name if circle else None
    barrio = await uow.territory.barrio(scope.id)
    return barrio.name if barrio else None


async def view_of(uow: UnitOfWork, notice: Notice, author: str | None = None) -> NoticeView:
    """Read what rendering `notice` needs."""
    scope = scope_of(notice)
    texts = dict(notice.texts)
    original = texts.get(notice.original_locale, "")
    machine = await uow.translations.cached(original, notice.original_locale) if original else {}
    return NoticeView(
        id=notice.id,
        kind=NoticeKind(notice.kind),
        urgent=notice.urgent,
        scope=scope,
        place=await place_name(uow, scope),
        author=author,
        texts=dict(notice.texts),
        original=notice.original_locale,
        media_kind=notice.media_kind,
        media_file_id=notice.media_file_id,
        machine={code: text for code, text in machine.items() if code not in texts},
    )


def audience_text(t: Translator, scope: NoticeScope, place: str | None) -> Safe:
    """Whom a notice is for, in the reader's language."""
    where = place if place is not None else t.plain("the whole district")
    if scope.kind is NoticeScopeKind.ROLE:
        role, sector = scope.role_parts()
        who = sector_name(t, sector) if sector is not None else role_name(t, role)
        return t.gettext("{who} · {place}", who=who, place=where)
    return t.gettext("{place}", place=where)


def render_notice(t: Translator, view: NoticeView) -> Reply:
    """The message one recipient gets: a header saying who writes to whom, their language's version (else the
    original, marked with its language), and the attachment."""
    lines: list[Safe] = []
    if view.urgent:
        lines.append(t.gettext("🚨 <b>URGENT</b>"))
    if view.kind is NoticeKind.DELEGATE:
        if view.author:
            lines.append(
                t.gettext("📣 <b>{name}, delegate of {place}, writes:</b>", name=view.author, place=view.place or "")
            )
        else:
            lines.append(t.gettext("📣 <b>Your circle's delegate writes:</b>"))
    else:
        lines.append(
            t.gettext(
                "📢 <b>Notice from the community managers</b> to {audience}",
                audience=audience_text(t, view.scope, view.place),
            )
        )
    text, language = version_for(view.texts, view.original, t.locale)
    buttons: list[list[Button]] = []
    if language != t.locale and view.machine.get(t.locale):
        text = view.machine[t.locale]
        lines.append(
            t.gettext(
                "<i>🤖 Machine-translated from {language}: it may have mistakes. The button shows the original.</i>",
                language=t.language_name(language),
            )
        )
        buttons.append([Button(t.plain("📄 See the original"), cb("nor", view.id))])
    elif language != t.locale:
        lines.append(
            t.gettext(
                "<i>🌐 Written in {language}: there is no version in your language yet.</i>",
                language=t.language_name(language),
            )
        )
    lines.append(Safe(""))
    lines.append(escape(text))
    if not view.urgent:
        lines.append(Safe(""))
        lines.append(t.gettext("<i>You can mute these notices or set your quiet hours in /settings.</i>"))
    body = safe_join("\n", lines)
    if view.media_kind == "photo" and view.media_file_id:
        return Reply(text=body, photo=view.media_file_id, buttons=buttons)
    if view.media_kind == "document" and view.media_file_id:
        return Reply(text=body, document_id=view.media_file_id, buttons=buttons)
    return Reply(text=body, buttons=buttons)


class NoticeFeed:
    """The sender's source of notices: claims due deliveries and renders each in its recipient's language
    now, once per notice and language."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs
        self._views: dict[int, NoticeView] = {}
        self._rendered: dict[tuple[int, str], dict[str, Any]] = {}

    async def claim(
        self, uow: UnitOfWork, now: datetime, limit: int, sender: str, lease_until: datetime
    ) -> list[OutboxItem]:
        """Claim up to `limit` due deliveries for `sender`, rendered."""
        claimed = await uow.notices.claim(now, limit, sender, lease_until)
        if not claimed:
            return []
        missing = sorted({c.notice_id for c in claimed} - set(self._views))
        if missing:
            notices = await uow.notices.many(missing)
            authors = await uow.notices.author_names([n.author_id for n in notices if n.author_id])
            for notice in notices:
                self._views[notice.id] = await view_of(uow, notice, authors.get(notice.author_id or 0))
            if len(self._views) > RENDER_CACHE_SIZE:
                self._views = {k: self._views[k] for k in sorted(self._views)[-RENDER_CACHE_SIZE // 2 :]}
        items = []
        for delivery in claimed:
            view = self._views.get(delivery.notice_id)
            if view is None:  # deleted meanwhile (cascade); nothing to render
                continue
            translator = self.catalogs.translator(delivery.locale)
            key = (view.id, translator.locale)
            payload = self._rendered.get(key)
            if payload is None:
                if len(self._rendered) > RENDER_CACHE_SIZE:
                    self._rendered.clear()
                payload = self._rendered[key] = render_notice(translator, view).to_dict()
            items.append(
                OutboxItem(
                    delivery.id,
                    delivery.chat_id,
                    delivery.attempts,
                    PRIORITY_BULK,
                    payload,
                    source=SOURCE_NOTICE,
                    locale=translator.locale,
                )
            )
        return items


# ---------------------------------------------------------------- queuing


async def queue_notice(uow: UnitOfWork, policy: NoticePolicy, zone: ZoneInfo, notice: Notice, now: datetime) -> int:
    """Queue one delivery row per recipient of `notice` (its author excepted), each with its fate and the
    time it may go out (after that recipient's quiet hours, unless urgent); sent only if the caller commits.
    Returns how many recipients it has."""
    scope = scope_of(notice)
    kind = NoticeKind(notice.kind)
    due = max(notice.send_at, now)
    times: dict[tuple[int | None, int | None], datetime] = {}
    quiet_cache: dict[tuple[int | None, int | None], QuietHours] = {}
    deliveries = []
    for member in await uow.notices.audience(scope):
        if member.resident_id == notice.author_id:
            continue
        key = (member.quiet_start, member.quiet_end)
        quiet = quiet_cache.get(key)
        if quiet is None:
            quiet = quiet_cache[key] = policy.quiet_of(*key)
        digest = member.weekly_digest and policy.digests
        recipient = Recipient(member.reachable, muted_set(member.muted_kinds), quiet, digest)
        fate = fate_of(recipient, kind, urgent=notice.urgent)
        at = due
        if fate is Fate.SEND:
            at = times.get(key) or times.setdefault(key, send_time(recipient, due, zone, urgent=notice.urgent))
        deliveries.append(QueuedDelivery(member.resident_id, member.chat_id, member.locale, fate.value, at))
    return await uow.notices.queue(notice, deliveries, now)


# ---------------------------------------------------------------- reports


def progress_lines(t: Translator, progress: Progress) -> list[Safe]:
    """A notice's delivery figures, in the reader's language."""
    lines = [
        t.gettext("Sent: {sent} of {total}", sent=t.number(progress.sent), total=t.number(progress.total)),
    ]
    if progress.due:
        lines.append(t.gettext("Still going out: {count}", count=t.number(progress.due)))
    if progress.waiting:
        lines.append(t.gettext("Waiting for their quiet hours to end: {count}", count=t.number(progress.waiting)))
    if progress.muted:
        lines.append(t.gettext("Muted these notices: {count}", count=t.number(progress.muted)))
    if progress.digest:
        lines.append(t.gettext("In their weekly digest: {count}", count=t.number(progress.digest)))
    if progress.unreachable:
        lines.append(t.gettext("Not reachable (blocked the bot): {count}", count=t.number(progress.unreachable)))
    if progress.failed:
        lines.append(t.gettext("Could not be delivered: {count}", count=t.number(progress.failed)))
    return lines


def language_lines(t: Translator, progress: Progress) -> list[Safe]:
    """Per language: how many were sent of how many."""
    lines = []
    for locale in sorted(progress.by_locale, key=lambda code: -sum(progress.by_locale[code].values())):
        counts = progress.by_locale[locale]
        lines.append(
            t.gettext(
                "{language}: {sent} sent of {total}",
                language=t.language_name(locale),
                sent=t.number(counts.get("sent", 0)),
                total=t.number(sum(counts.values())),
            )
        )
    return lines


def report_text(t: Translator, notice: Notice, progress: Progress, *, final: bool) -> Safe:
    """The delivery report the author gets."""
    title = (
        t.gettext("📬 <b>Delivery report</b> of your notice #{id}", id=notice.id)
        if final
        else t.gettext("📬 <b>Your notice #{id} has gone out</b> to everyone it can reach now", id=notice.id)
    )
    excerpt, _ = version_for(dict(notice.texts), notice.original_locale, notice.original_locale)
    lines = [title, t.gettext("<i>{excerpt}</i>", excerpt=_excerpt(excerpt)), Safe("")]
    lines += progress_lines(t, progress)
    lines += [Safe(""), t.gettext("<b>By language</b>"), *language_lines(t, progress)]
    if not final:
        lines += [Safe(""), t.gettext("The rest go out when their quiet hours end; you will get a final report.")]
    return safe_join("\n", lines)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def languages_to_translate(
    uow: UnitOfWork, scope: NoticeScope, texts: dict[str, str], original: str, *, besides: int | None
) -> tuple[dict[str, int], list[str]]:
    """How many of the audience (but `besides`) read each language, and which of those languages have neither
    a human version in `texts` nor a cached machine translation of the `original` one."""
    languages = await uow.notices.languages(scope, besides=besides)
    missing = [code for code in languages if code not in texts and code in SUPPORTED_LOCALES]
    if not missing or original not in texts:
        return languages, []
    cached = await uow.translations.cached(texts[original], original, missing)
    return languages, [code for code in missing if code not in cached]


async def untranslated_languages(uow: UnitOfWork, services: Services, notice: Notice) -> list[str]:
    """The languages of `notice`'s audience still to machine-translate (none when no translator is set)."""
    if services.machine_translator is None:
        return []
    scope, texts = scope_of(notice), dict(notice.texts)
    return (await languages_to_translate(uow, scope, texts, notice.original_locale, besides=notice.author_id))[1]


async def expand_due_notices(services: Services) -> int:
    """Tick: queue the deliveries of notices whose time has come (each in its own transaction), machine-
    translating first, outside any transaction, into the audience's languages no author wrote; what the
    translator does not return within its timeout goes out in the original."""
    expanded = 0
    skipped: set[int] = set()
    while True:
        now = services.clock()
        async with services.db.unit_of_work() as uow:
            due = [n for n in await uow.notices.due_scheduled(now, limit=len(skipped) + 1) if n.id not in skipped]
            if not due:
                return expanded
            notice_id = due[0].id
            missing = await untranslated_languages(uow, services, due[0])
            source = due[0].original_locale
            original = dict(due[0].texts).get(source, "")
        made: dict[str, str] = {}
        if missing and services.machine_translator is not None:
            made = await services.machine_translator.translate_many(original, source, missing)
        async with services.db.unit_of_work() as uow:
            fresh = await uow.notices.get(notice_id)
            if fresh is None or fresh.status != "scheduled":
                skipped.add(notice_id)
                continue
            await uow.translations.keep(original, source, made, now)
            await queue_notice(uow, services.notices, services.catalogs.zone, fresh, services.clock())
            await uow.commit()
        expanded += 1
        services.on_outbox()


async def report_finished_notices(services: Services) -> int:
    """Tick: tell authors how their notices went, once everything that can go out now has gone out (and
    again, finally, after the last quiet hours)."""
    reported = 0
    now = services.clock()
    async with services.db.unit_of_work() as uow:
        for notice in await uow.notices.sending():
            progress = await uow.notices.progress(notice.id, now)
            if progress.due:
                continue
            final = progress.waiting == 0
            if not final and notice.reported >= 1:
                continue
            author = await uow.residents.get(notice.author_id) if notice.author_id else None
            if author is not None and author.status == "active":
                t = services.catalogs.translator(author.locale)
                reply = Reply(text=report_text(t, notice, progress, final=final))
                await uow.outbox.add(
                    author.chat_id,
                    reply.to_dict(),
                    TOPIC_REPORT,
                    now,
                    resident_id=author.id,
                    priority=PRIORITY_PERSONAL,
                    ref=f"notice:{notice.id}",
                )
                reported += 1
            await uow.notices.mark_reported(notice, 2 if final else 1, done=final)
        await uow.commit()
    if reported:
        services.on_outbox()
    return reported


async def send_due_notice_work(services: Services) -> int:
    """Tick: scheduled notices to queue, finished ones to report."""
    return await expand_due_notices(services) + await report_finished_notices(services)
