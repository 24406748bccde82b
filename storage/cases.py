"""Reports (cases): categories and routes, cases with their events, photos and followers, case numbers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.permissions import Sector
from bot.domain.reports import (
    OPEN_STATES,
    CaseSpot,
    CaseStatus,
    Route,
    RoutingTable,
    SlaState,
    deadlines,
    next_due_at,
)
from storage.base import Repository
from storage.models import (
    Case,
    CaseCounter,
    CaseEvent,
    CaseFollower,
    CasePhoto,
    CoexistenceCase,
    ReportCategory,
    ReportRoute,
    Resident,
)
from storage.territory import TerritoryCache


@dataclass(frozen=True, slots=True)
class CategoryView:
    """A report category as reference data."""

    code: str
    name: str
    public: bool = True


def sla_of(case: Case) -> SlaState:
    """A stored case's deadline state, for the pure rules."""
    return SlaState(
        CaseStatus(case.status),
        case.acknowledge_by,
        case.resolve_by,
        case.clock_from,
        case.ack_reminded,
        case.ack_escalated,
        case.resolve_reminded,
        case.resolve_escalated,
    )


class CaseRepository(Repository):
    """Cases and what belongs to them (categories and routes come from the process's reference-data cache)."""

    def __init__(self, session: AsyncSession, postgres: bool, cache: TerritoryCache | None = None) -> None:
        super().__init__(session, postgres)
        self.cache = cache or TerritoryCache(ttl=0)

    async def _reference(self) -> tuple[list[CategoryView], RoutingTable]:
        cached = self.cache.fresh_reports()
        if cached is not None:
            return cached
        rows = await self.session.scalars(select(ReportCategory).order_by(ReportCategory.position))
        categories = [CategoryView(r.code, r.name, r.public) for r in rows]
        district: dict[str, Route] = {}
        barrios: dict[int, dict[str, Route]] = {}
        for row in await self.session.scalars(select(ReportRoute)):
            route = Route(
                Sector(row.sector) if row.sector else None,
                timedelta(minutes=row.acknowledge_minutes),
                timedelta(minutes=row.resolve_minutes),
            )
            if row.barrio_id is None:
                district[row.category] = route
            else:
                barrios.setdefault(row.barrio_id, {})[row.category] = route
        table = RoutingTable(district, barrios)
        self.cache.reports = (categories, table, time.monotonic())
        return categories, table

    # ------------------------------------------------------------ reference data

    async def upsert_category(self, code: str, name: str, position: int, public: bool = True) -> None:
        """Create or update a category (seeding)."""
        row = await self.session.get(ReportCategory, code)
        if row is None:
            self.session.add(ReportCategory(code=code, name=name, position=position, public=public))
        else:
            row.name, row.position, row.public = name, position, public
        await self.session.flush()
        self.cache.invalidate()

    async def upsert_route(
        self, barrio_id: int | None, category: str, sector: str | None, acknowledge_minutes: int, resolve_minutes: int
    ) -> None:
        """Create or update a route: district-wide (`barrio_id` None) or one barrio's override (seeding)."""
        condition = ReportRoute.barrio_id.is_(None) if barrio_id is None else ReportRoute.barrio_id == barrio_id
        row = await self.session.scalar(select(ReportRoute).where(condition, ReportRoute.category == category))
        if row is None:
            row = ReportRoute(barrio_id=barrio_id, category=category)
            self.session.add(row)
        row.sector, row.acknowledge_minutes, row.resolve_minutes = sector, acknowledge_minutes, resolve_minutes
        await self.session.flush()
        self.cache.invalidate()

    async def categories(self) -> list[CategoryView]:
        """Every category, in the territory file's order."""
        return list((await self._reference())[0])

    async def routing(self) -> RoutingTable:
        """The whole routing table."""
        return (await self._reference())[1]

    # ------------------------------------------------------------ opening

    async def next_number(self, barrio_id: int) -> int:
        """The barrio's next case number (the counter row is locked until commit, so numbers never repeat)."""
        insert = self._insert(CaseCounter).values(barrio_id=barrio_id, next_number=1)
        await self.session.execute(insert.on_conflict_do_nothing(index_elements=["barrio_id"]))
        number = await self.session.scalar(
            update(CaseCounter)
            .where(CaseCounter.barrio_id == barrio_id)
            .values(next_number=CaseCounter.next_number + 1)
            .returning(CaseCounter.next_number - 1)
        )
        return int(number or 1)

    async def open(
        self,
        ref: str,
        *,
        barrio_id: int,
        circle_id: int | None,
        category: str,
        route: Route,
        text: str,
        now: datetime,
        reporter_id: int | None = None,
        anonymous: bool = False,
        source: str = "chat",
        latitude: float | None = None,
        longitude: float | None = None,
        address: str | None = None,
        photos: Sequence[str] = (),
    ) -> Case:
        """A new case, routed, with its deadlines running from now."""
        due = deadlines(route, now)
        case = Case(
            ref=ref,
            barrio_id=barrio_id,
            circle_id=circle_id,
            category=category,
            sector=route.sector.value if route.sector else None,
            status=CaseStatus.NEW,
            reporter_id=reporter_id,
            anonymous=anonymous,
            source=source,
            text=text,
            latitude=latitude,
            longitude=longitude,
            address=address,
            created_at=now,
            updated_at=now,
            clock_from=now,
            acknowledge_by=due.acknowledge_by,
            resolve_by=due.resolve_by,
            ack_reminded=False,
            ack_escalated=False,
            resolve_reminded=False,
            resolve_escalated=False,
            supporters=0,
        )
        self.session.add(case)
        await self.session.flush()
        case.due_at = next_due_at(sla_of(case))
        for position, file_id in enumerate(photos):
            self.session.add(CasePhoto(case_id=case.id, file_id=file_id, position=position))
        self.session.add(
            CaseEvent(case_id=case.id, at=now, actor_id=reporter_id, kind="created", to_status=CaseStatus.NEW)
        )
        await self.session.flush()
        return case

    # ------------------------------------------------------------ reading

    async def get(self, case_id: int, *, lock: bool = False) -> Case | None:
        """One case, locked for update on PostgreSQL when asked (transitions)."""
        query = select(Case).where(Case.id == case_id)
        if lock and self.postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def by_ref(self, ref: str) -> Case | None:
        """One case by its reference (EMB-0042)."""
        return await self.session.scalar(select(Case).where(Case.ref == ref))

    async def photos(self, case_id: int) -> list[str]:
        """The case's photos (file ids), in order."""
        rows = await self.session.scalars(
            select(CasePhoto.file_id).where(CasePhoto.case_id == case_id).order_by(CasePhoto.position)
        )
        return list(rows)

    async def events(self, case_id: int) -> Sequence[CaseEvent]:
        """The case's history, oldest first."""
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
        return (await self.session.scalars(query)).all()

    async def event(self, event_id: int) -> CaseEvent | None:
        """One event (a question being answered)."""
        return await self.session.get(CaseEvent, event_id)

    async def followers(self, case_id: int) -> Sequence[Resident]:
        """Who said "me too" (or whose case was merged into this one)."""
        query = (
            select(Resident)
            .join(CaseFollower, CaseFollower.resident_id == Resident.id)
            .where(CaseFollower.case_id == case_id)
            .order_by(Resident.id)
        )
        return (await self.session.scalars(query)).all()

    async def open_spots(self, barrio_id: int, category: str) -> list[CaseSpot]:
        """Open cases of a category in a barrio, where they are (for "me too"). Never those of a category that
        is not public (a conflict between neighbours, a vulnerable person) nor those in mediation or before a
        community court: "me too" shows their words to whoever reports something alike."""
        in_coexistence = select(CoexistenceCase.id).where(CoexistenceCase.case_id == Case.id).exists()
        public = select(ReportCategory.code).where(ReportCategory.code == Case.category, ReportCategory.public)
        query = select(Case.id, Case.category, Case.circle_id, Case.latitude, Case.longitude).where(
            Case.barrio_id == barrio_id,
            Case.category == category,
            Case.status.in_(list(OPEN_STATES)),
            public.exists(),
            ~in_coexistence,
        )
        return [
            CaseSpot(r.id, r.category, r.circle_id or 0, r.latitude, r.longitude)
            for r in await self.session.execute(query)
        ]

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Case]:
        """Cases keyed by id."""
        if not ids:
            return {}
        return {c.id: c for c in await self.session.scalars(select(Case).where(Case.id.in_(list(ids))))}

    async def of_resident(self, resident_id: int, limit: int = 20) -> Sequence[Case]:
        """Cases a resident reported or follows, newest first."""
        followed = select(CaseFollower.case_id).where(CaseFollower.resident_id == resident_id)
        query = (
            select(Case)
            .where(or_(Case.reporter_id == resident_id, Case.id.in_(followed)))
            .order_by(Case.id.desc())
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    @staticmethod
    def _scope_condition(scopes: Sequence[tuple[int | None, str | None]]) -> Any:
        """Cases of any of the scopes: (barrio or None for all, sector or None for all)."""
        parts = []
        for barrio_id, sector in scopes:
            terms = []
            if barrio_id is not None:
                terms.append(Case.barrio_id == barrio_id)
            if sector is not None:
                terms.append(Case.sector == sector)
            parts.append(and_(*terms) if terms else true())
        return or_(*parts) if parts else false()

    async def in_scopes(
        self, scopes: Sequence[tuple[int | None, str | None]], statuses: Sequence[str], *, limit: int, offset: int = 0
    ) -> tuple[Sequence[Case], int]:
        """Cases of the scopes in these states, oldest first; and how many there are in all."""
        condition = and_(self._scope_condition(scopes), Case.status.in_(list(statuses)))
        total = await self.session.scalar(select(func.count()).select_from(Case).where(condition)) or 0
        query = select(Case).where(condition).order_by(Case.created_at, Case.id).offset(offset).limit(limit)
        return (await self.session.scalars(query)).all(), int(total)

    async def count_by_status(self, scopes: Sequence[tuple[int | None, str | None]]) -> dict[str, int]:
        """How many cases of the scopes are in each state."""
        query = select(Case.status, func.count()).where(self._scope_condition(scopes)).group_by(Case.status)
        return {status: count for status, count in await self.session.execute(query)}

    # ------------------------------------------------------------ changing

    async def record(
        self,
        case: Case,
        kind: str,
        now: datetime,
        *,
        actor_id: int | None,
        note: str | None = None,
        from_status: str | None = None,
        to_status: str | None = None,
        sector: str | None = None,
    ) -> CaseEvent:
        """Add a step to the case's history."""
        event = CaseEvent(
            case_id=case.id,
            at=now,
            actor_id=actor_id,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            sector=sector,
            note=note,
        )
        self.session.add(event)
        case.updated_at = now
        await self.session.flush()
        return event

    async def move(
        self,
        case: Case,
        target: CaseStatus,
        now: datetime,
        *,
        actor_id: int | None,
        note: str | None,
        route: Route | None = None,
        sector: str | None = None,
        follow_up_after: timedelta | None = None,
        merged_into: Case | None = None,
    ) -> CaseEvent:
        """Apply a transition the lifecycle allowed: referral (to `sector`) and reopening restart the deadlines
        (of `route`); resolving schedules the "is it fixed?" question."""
        previous = case.status
        case.status = target
        if target is CaseStatus.REFERRED:
            case.sector = sector
        if target in (CaseStatus.REFERRED, CaseStatus.REOPENED) and route is not None:
            due = deadlines(route, now)
            case.clock_from = now
            case.acknowledge_by = due.acknowledge_by if target is CaseStatus.REFERRED else None
            case.resolve_by = due.resolve_by
            case.ack_reminded = case.ack_escalated = target is CaseStatus.REOPENED
            case.resolve_reminded = case.resolve_escalated = False
        if target is CaseStatus.RESOLVED:
            case.resolved_at = now
            case.follow_up_at = now + follow_up_after if follow_up_after is not None else None
        elif target is not CaseStatus.REOPENED:
            case.follow_up_at = None
        if merged_into is not None:
            case.merged_into_id = merged_into.id
        case.due_at = next_due_at(sla_of(case))
        return await self.record(
            case, "transition", now, actor_id=actor_id, note=note, from_status=previous, to_status=target,
            sector=case.sector,
        )  # fmt: skip

    async def add_follower(self, case: Case, resident_id: int, now: datetime) -> bool:
        """A resident says "me too"; False if they already follow it (or reported it)."""
        if case.reporter_id == resident_id:
            return False
        exists = await self.session.get(CaseFollower, (case.id, resident_id))
        if exists is not None:
            return False
        self.session.add(CaseFollower(case_id=case.id, resident_id=resident_id, since=now))
        case.supporters += 1
        await self.session.flush()
        return True

    async def merge(self, case: Case, into: Case, now: datetime, *, actor_id: int | None, note: str | None) -> None:
        """Merge `case` into `into`: its reporter and followers follow the survivor, whose count grows."""
        people = {f.id for f in await self.followers(case.id)}
        if case.reporter_id is not None:
            people.add(case.reporter_id)
        for resident_id in sorted(people):
            await self.add_follower(into, resident_id, now)
        await self.session.execute(delete(CaseFollower).where(CaseFollower.case_id == case.id))
        await self.move(case, CaseStatus.MERGED, now, actor_id=actor_id, note=note, merged_into=into)

    async def mark_deadline_work(self, case: Case, done: Sequence[str], now: datetime) -> None:
        """Remember which reminders and escalations went out, and when to look again."""
        for flag in done:
            setattr(case, flag, True)
        case.due_at = next_due_at(sla_of(case))
        await self.session.flush()

    async def claim_due(self, now: datetime, limit: int = 100) -> Sequence[Case]:
        """Cases whose deadline work is due (each claimed by one scheduler: SKIP LOCKED on PostgreSQL)."""
        query = select(Case).where(Case.due_at <= now).order_by(Case.due_at).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    async def claim_follow_ups(self, now: datetime, limit: int = 100) -> Sequence[Case]:
        """Resolved cases whose reporter is due the "is it fixed?" question; asked once."""
        query = (
            select(Case)
            .where(Case.follow_up_at <= now, Case.status == CaseStatus.RESOLVED)
            .order_by(Case.follow_up_at)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        rows = (await self.session.scalars(query)).all()
        for row in rows:
            row.follow_up_at = None
        await self.session.flush()
        return rows

    async def public(
        self,
        *,
        refs: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[Case]:
        """Cases for the Open311 API, newest first (filters as GeoReport v2 defines them)."""
        query = select(Case)
        if refs is not None:
            query = query.where(Case.ref.in_(list(refs)))
        else:
            conditions = []
            if categories:
                conditions.append(Case.category.in_(list(categories)))
            if statuses:
                conditions.append(Case.status.in_(list(statuses)))
            if since is not None:
                conditions.append(Case.created_at >= since)
            if until is not None:
                conditions.append(Case.created_at <= until)
            if conditions:
                query = query.where(and_(*conditions))
        return (await self.session.scalars(query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit))).all()

    async def export_batch(
        self, after_id: int, limit: int, *, barrio_id: int | None = None, since: datetime | None = None
    ) -> Sequence[Case]:
        """The next `limit` cases after `after_id`, oldest first (exports walk every case in batches)."""
        query = select(Case).where(Case.id > after_id, *self._export_filters(barrio_id, since))
        return (await self.session.scalars(query.order_by(Case.id).limit(limit))).all()

    async def export_count(self, *, barrio_id: int | None = None, since: datetime | None = None) -> int:
        """How many cases an export with these filters holds."""
        query = select(func.count()).select_from(Case).where(*self._export_filters(barrio_id, since))
        return await self.session.scalar(query) or 0

    @staticmethod
    def _export_filters(barrio_id: int | None, since: datetime | None) -> list[Any]:
        conditions: list[Any] = []
        if barrio_id is not None:
            conditions.append(Case.barrio_id == barrio_id)
        if since is not None:
            conditions.append(Case.created_at >= since)
        return conditions

    async def last_public_notes(self, case_ids: Sequence[int]) -> dict[int, tuple[str | None, datetime]]:
        """Each case's latest transition note and time (status_notes, updated_datetime)."""
        if not case_ids:
            return {}
        query = (
            select(CaseEvent.case_id, CaseEvent.note, CaseEvent.at)
            .where(CaseEvent.case_id.in_(list(case_ids)), CaseEvent.kind.in_(["transition", "created"]))
            .order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)
        )
        latest: dict[int, tuple[str | None, datetime]] = {}
        for case_id, note, at in await self.session.execute(query):
            previous = latest.get(case_id)
            latest[case_id] = (note if note else (previous[0] if previous else None), at)
        return latest
