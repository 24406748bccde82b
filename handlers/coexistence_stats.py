"""Outcome figures of mediation, support and community courts for the community managers' digests and the
CLI: counts by barrio, kind and outcome, from the anonymous counts that outlive every case's content."""

from __future__ import annotations

from storage.uow import UnitOfWork


async def outcome_statistics(
    uow: UnitOfWork, barrio_id: int | None = None, since_month: str | None = None
) -> list[dict[str, object]]:
    """[{barrio, kind, outcome, count}] for closed cases (of one barrio, from a month on): never a name."""
    codes = {b.id: b.code for b in await uow.territory.barrios()}
    return [
        {"barrio": codes.get(barrio, str(barrio)), "kind": kind, "outcome": outcome, "count": count}
        for barrio, kind, outcome, count in await uow.coexistence.outcome_counts(barrio_id, since_month)
    ]
