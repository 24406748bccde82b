"""A barrio's figures for managers, read in one unit of work: what `/stats`, `vecinos stats` and the weekly
digest show."""

from __future__ import annotations

from datetime import datetime

from bot.domain.stats import BarrioFigures, CircleFigures, area_figures, split_by_circle
from storage.uow import UnitOfWork


async def barrio_figures(
    uow: UnitOfWork, barrio_id: int, since: datetime, until: datetime, now: datetime | None = None
) -> BarrioFigures:
    """The barrio's figures for [since, until): cases created then, and cases open (and overdue) at `now`
    (default `until`); polls and elections that closed then; in total and for each of its circles."""
    now = until if now is None else now
    barrio = await uow.territory.barrio(barrio_id)
    if barrio is None:
        raise LookupError(f"no barrio {barrio_id}")
    circles = await uow.territory.circles_in_barrio(barrio_id)
    cases = await uow.stats.case_facts(barrio_id, since, until)
    ballots = await uow.stats.ballot_facts(barrio_id, since, until)
    split = split_by_circle(cases, ballots, [c.id for c in circles])
    return BarrioFigures(
        barrio_id=barrio_id,
        barrio_code=barrio.code,
        barrio_name=barrio.name,
        since=since,
        until=until,
        now=now,
        total=area_figures(cases, ballots, since, until, now),
        circles=tuple(
            CircleFigures(c.id, c.code, c.name, area_figures(*split[c.id], since, until, now)) for c in circles
        ),
    )
