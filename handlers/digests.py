"""Monday digests. Each barrio's community managers and Governance Commission members get the week's new, open,
overdue and resolved cases by sector, mediation, support and court outcomes, polls and elections closing and
meetings in the week ahead, in their language, with the chart of cases by sector and state. A resident who
chose it gets their circle's week instead of separate notices. Each person gets each week's digest once (its
outbox ref says which), caught up after downtime."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.channels.base import Reply
from bot.domain.digests import DigestWeek, due_week, still_due
from bot.domain.notices import version_for
from bot.domain.stats import AreaFigures
from bot.i18n import Safe, Translator, safe_join
from handlers.coexistence_texts import kind_name, outcome_name
from handlers.context import Services
from handlers.election_life import office_line
from handlers.labels import sector_name
from handlers.meeting_life import meetings_ahead
from handlers.stats import sector_chart
from handlers.stats_figures import barrio_figures
from storage.digests import Closing, digest_ref
from storage.models import Resident
from storage.outbox import PRIORITY_BULK
from storage.territory import BarrioView
from storage.uow import UnitOfWork

TOPIC_DIGEST = "digest"
AHEAD = timedelta(days=7)
EXCERPT = 280  # characters of each held notice shown in a resident's digest


async def send_due_digests(services: Services) -> int:
    """Tick: queue this week's digest for everyone due one and not sent it yet (at most once a week each)."""
    if not services.weekly_digests:
        return 0
    week = due_week(services.clock(), services.catalogs.zone)
    if not still_due(week, services.clock()):
        return 0
    queued = 0
    async with services.db.unit_of_work() as uow:
        sent = await uow.digests.sent_this_week(week.key)
        for barrio in await uow.territory.barrios():
            recipients = [
                person
                for person in await uow.digests.recipients(barrio.id)
                if digest_ref(week.key, barrio.id, person.id) not in sent
            ]
            if recipients:
                queued += await _queue_barrio_digest(uow, services, barrio, week, recipients)
        for reader, circle_id in await uow.digests.digest_readers():
            ref = digest_ref(week.key, 0, reader.id)
            if ref not in sent:
                queued += await _queue_circle_digest(uow, services, reader, circle_id, week, ref)
        await uow.commit()
    if queued:
        services.on_outbox()
    return queued


async def _queue_barrio_digest(
    uow: UnitOfWork, services: Services, barrio: BarrioView, week: DigestWeek, recipients: Sequence
) -> int:  # type: ignore[type-arg]
    # Open and overdue are as of now: what the reader finds when they look.
    figures = await barrio_figures(uow, barrio.id, week.since, week.until, services.clock())
    digest = WeekDigest(
        barrio=barrio,
        week=week,
        area=figures.total,
        resolved=await uow.digests.resolved_by_sector(barrio.id, week.since, week.until),
        outcomes=await uow.digests.coexistence_closed(barrio.id, week.since, week.until),
        closing=await uow.digests.closing(barrio.id, week.until, week.until + AHEAD),
        places=await _places(uow, barrio),
        meetings=await _meetings_ahead(uow, barrio.id, week),
    )
    if digest.empty:
        return 0
    charts: dict[str, tuple[bytes, Safe]] = {}
    for person in recipients:
        t = services.catalogs.translator(person.locale)
        ref = digest_ref(week.key, barrio.id, person.id)
        messages = [Reply(digest.text(t))]
        if digest.area.cases.created:
            if t.locale not in charts:
                title = t.plain("Cases of {barrio} by sector and state, this week", barrio=barrio.name)
                charts[t.locale] = await sector_chart(t, digest.area, barrio.name, title)
            png, caption = charts[t.locale]
            messages.append(Reply(caption, document=png, filename=f"digest-{barrio.code}-{week.key}.png"))
        for message in messages:
            await uow.outbox.add(
                person.chat_id,
                message.to_dict(),
                TOPIC_DIGEST,
                services.clock(),
                resident_id=person.id,
                priority=PRIORITY_BULK,
                ref=ref,
            )
    return len(recipients)


async def _queue_circle_digest(
    uow: UnitOfWork, services: Services, reader: Resident, circle_id: int, week: DigestWeek, ref: str
) -> int:
    """A resident's Monday digest of their circle: the notices held for it, the week's reports, the polls open
    and the circle's meetings ahead; nothing when there is nothing. The held notices count as sent."""
    circle = await uow.territory.circle(circle_id)
    if circle is None:
        return 0
    held = await uow.digests.held_notices(reader.id)
    reports = await uow.digests.circle_reports(circle_id, week.since, week.until)
    polls = await uow.digests.open_circle_polls(circle_id)
    meetings = [
        m
        for m in await meetings_ahead(uow, circle.barrio_id, week.until, week.until + AHEAD)
        if m.body == "circle" and m.scope_id == circle_id
    ]
    if not (held or reports or polls or meetings):
        return 0
    t = services.catalogs.translator(reader.locale)
    lines = [t.gettext("📰 <b>Your week in {circle}</b>", circle=circle.name)]
    if held:
        lines += [Safe(""), t.gettext("<b>Notices</b>")]
        for notice in held:
            text, _locale = version_for(notice.texts, notice.original_locale, t.locale)
            excerpt = text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"
            lines.append(t.gettext("• {date}: {text}", date=t.datetime(notice.created_at, "short"), text=excerpt))
    if reports:
        lines += [
            Safe(""),
            t.ngettext(
                "📝 {n} report about your circle this week",
                "📝 {n} reports about your circle this week",
                reports,
                n=t.number(reports),
            ),
        ]
    if polls:
        lines += [Safe(""), t.gettext("<b>Polls you can vote in</b> (/polls)")]
        lines += [
            t.gettext("• {question} · closes {date}", question=q, date=t.datetime(at, "short")) for q, at in polls
        ]
    if meetings:
        lines += [Safe(""), t.gettext("<b>Meetings ahead</b>")]
        lines += [
            t.gettext(
                "• {title} · {date} · {place}",
                title=m.title,
                date=t.datetime(m.starts_at, "short"),
                place=m.place or "—",
            )
            for m in meetings
        ]
    lines += [Safe(""), t.gettext("You get this digest instead of separate notices: /settings changes it.")]
    await uow.outbox.add(
        reader.chat_id,
        Reply(safe_join("\n", lines)).to_dict(),
        TOPIC_DIGEST,
        services.clock(),
        resident_id=reader.id,
        priority=PRIORITY_BULK,
        ref=ref,
    )
    await uow.digests.digested([n.delivery_id for n in held], services.clock())
    return 1


async def _meetings_ahead(uow: UnitOfWork, barrio_id: int, week: DigestWeek) -> list[tuple[str, object, str]]:
    """(title, starts at, place) of the barrio's meetings in the week ahead."""
    return [
        (m.title, m.starts_at, m.place or "")
        for m in await meetings_ahead(uow, barrio_id, week.until, week.until + AHEAD)
    ]


async def _places(uow: UnitOfWork, barrio: BarrioView) -> dict[tuple[str, int | None], str]:
    """The names of the barrio's electorates: its circles, and its council (the barrio's name)."""
    places: dict[tuple[str, int | None], str] = {("council", barrio.id): barrio.name}
    for circle in await uow.territory.circles_in_barrio(barrio.id):
        places[("circle", circle.id)] = circle.name
    return places


class WeekDigest:
    """One barrio's week, ready to be written in any language."""

    def __init__(
        self,
        *,
        barrio: BarrioView,
        week: DigestWeek,
        area: AreaFigures,
        resolved: dict[str, int],
        outcomes: list[tuple[str, str, int]],
        closing: list[Closing],
        meetings: list[tuple[str, object, str]],
        places: dict[tuple[str, int | None], str],
    ) -> None:
        self.barrio, self.week, self.area, self.places = barrio, week, area, places
        self.resolved, self.outcomes, self.closing, self.meetings = resolved, outcomes, closing, meetings

    def text(self, t: Translator) -> Safe:
        """The digest in the reader's language."""
        cases = self.area.cases
        last_day = self.week.until - timedelta(days=1)
        lines = [
            t.gettext(
                "📰 <b>The week in {barrio}</b> ({since} to {until})",
                barrio=self.barrio.name,
                since=t.date(self.week.since),
                until=t.date(last_day),
            ),
            Safe(""),
            t.gettext(
                "<b>Reports</b>: {new} new · {open} open · {overdue} overdue · {resolved} resolved",
                new=t.number(cases.created),
                open=t.number(cases.open_now),
                overdue=t.number(cases.overdue),
                resolved=t.number(sum(self.resolved.values())),
            ),
        ]
        sectors = sorted(set(cases.by_sector) | set(cases.open_by_sector) | set(self.resolved))
        for sector in sectors:
            lines.append(
                t.gettext(
                    "• {sector}: {new} new, {open} open, {resolved} resolved",
                    sector=_sector_label(t, sector),
                    new=t.number(cases.by_sector.get(sector, 0)),
                    open=t.number(cases.open_by_sector.get(sector, 0)),
                    resolved=t.number(self.resolved.get(sector, 0)),
                )
            )
        if self.outcomes:
            lines += [Safe(""), t.gettext("<b>Mediation, support and community court</b> (cases closed)")]
            lines += [
                t.gettext(
                    "• {kind}: {outcome} × {n}",
                    kind=kind_name(t, kind),
                    outcome=outcome_name(t, outcome),
                    n=t.number(n),
                )
                for kind, outcome, n in self.outcomes
                if outcome
            ]
        if self.closing:
            lines += [Safe(""), t.gettext("<b>Closing in the week ahead</b>")]
            for item in self.closing:
                what = t.plain("Poll") if item.kind == "poll" else t.plain("Election")
                lines.append(
                    t.gettext(
                        "• {what}: {title} · closes {date}",
                        what=what,
                        title=_closing_title(t, item, self.places),
                        date=t.datetime(item.closes_at, "short"),
                    )
                )
        if self.meetings:
            lines += [Safe(""), t.gettext("<b>Meetings ahead</b>")]
            for title, at, place in self.meetings:
                lines.append(
                    t.gettext(
                        "• {title} · {date} · {place}",
                        title=title,
                        date=t.datetime(at, "short"),  # type: ignore[arg-type]
                        place=place or "—",
                    )
                )
        return safe_join("\n", lines)

    @property
    def empty(self) -> bool:
        """Nothing happened in the week and nothing is ahead: no digest is worth a message. (Cases merely still
        open do not count, or a barrio's first report would bring last week's digest at once.)"""
        return not (self.area.cases.created or self.resolved or self.outcomes or self.closing or self.meetings)


def _sector_label(t: Translator, sector: str) -> str:
    from bot.domain.permissions import Sector

    return sector_name(t, Sector(sector)) if sector in set(Sector) else t.plain("The community managers")


def _closing_title(t: Translator, item: Closing, places: dict[tuple[str, int | None], str]) -> str:
    if item.kind == "poll":
        return item.title
    return office_line(t, item.title, item.seats, places.get((item.scope_kind, item.scope_id), "?"))
