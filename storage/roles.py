"""Role grants: who holds which role over which place, including grants awaiting a first message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, or_, select, update

from bot.domain.permissions import Grant, Role, ScopeKind, Sector
from storage.base import Repository, rowcount
from storage.models import Circle, Resident, RoleGrant
from storage.pg_driver import attach_loaded, count_statement, driver_connection

# PostgreSQL, on the driver's connection (storage/pg_driver.py): the two role reads of a registration.
_PG_WAITING_FOR = """SELECT role, scope, scope_id, sector FROM role_grant
WHERE telegram_user_id = $1 AND resident_id IS NULL"""
_RESIDENT_COLUMNS = tuple(column.name for column in Resident.__table__.columns)
# approvers: as _first_holders with the same two conditions, ranked 0 (the place's own) and 1 (the admins).
_BY_PLACE = (
    f"(role_grant.role = '{Role.DELEGATE.value}' AND role_grant.scope_id = $1) OR "
    f"(role_grant.role = '{Role.COMMUNITY_MANAGER.value}' AND role_grant.scope_id = $2)"
)
_PG_APPROVERS = f"""SELECT CASE WHEN {_BY_PLACE} THEN 0 WHEN role_grant.role = '{Role.ADMIN.value}' THEN 1 END,
    {", ".join(f"resident.{name}" for name in _RESIDENT_COLUMNS)}
FROM resident JOIN role_grant ON role_grant.resident_id = resident.id
WHERE {_BY_PLACE} OR role_grant.role = '{Role.ADMIN.value}'
ORDER BY resident.id"""


def grant_of(row: RoleGrant) -> Grant:
    """A stored grant as a domain value."""
    return grant_of_values(row.role, row.scope, row.scope_id, row.sector)


def grant_of_values(role: str, scope: str, scope_id: int | None, sector: str | None) -> Grant:
    """A stored grant's columns as a domain value."""
    return Grant(Role(role), ScopeKind(scope), scope_id, Sector(sector) if sector else None)


@dataclass(frozen=True, slots=True)
class GrantHolder:
    """One grant with who holds it (a resident, or a Telegram user id that has not written yet)."""

    grant: Grant
    telegram_user_id: int
    first_name: str | None
    granted_at: datetime


class RoleRepository(Repository):
    """Role grants."""

    async def grants_of(self, resident_id: int) -> list[Grant]:
        """A resident's grants as domain values."""
        rows = await self.session.scalars(select(RoleGrant).where(RoleGrant.resident_id == resident_id))
        return [grant_of(r) for r in rows]

    async def waiting_for(self, telegram_user_id: int) -> list[Grant]:
        """Grants given to a Telegram user who has not written to the bot yet."""
        if self.postgres:
            connection = await driver_connection(self.session)
            count_statement(self.statement_counts)
            rows = await connection.fetch(_PG_WAITING_FOR, telegram_user_id)
            return [grant_of_values(row[0], row[1], row[2], row[3]) for row in rows]
        rows = await self.session.scalars(
            select(RoleGrant).where(RoleGrant.telegram_user_id == telegram_user_id, RoleGrant.resident_id.is_(None))
        )
        return [grant_of(r) for r in rows]

    async def hand_over_waiting(self, telegram_user_id: int, resident_id: int) -> int:
        """Attach grants made before a person's first message to their new resident row."""
        result = await self.session.execute(
            update(RoleGrant)
            .where(RoleGrant.telegram_user_id == telegram_user_id, RoleGrant.resident_id.is_(None))
            .values(resident_id=resident_id, telegram_user_id=None)
        )
        return rowcount(result)

    def _same(self, grant: Grant) -> Any:
        return and_(
            RoleGrant.role == grant.role,
            RoleGrant.scope == grant.scope,
            RoleGrant.scope_id.is_(None) if grant.scope_id is None else RoleGrant.scope_id == grant.scope_id,
            RoleGrant.sector.is_(None) if grant.sector is None else RoleGrant.sector == grant.sector,
        )

    @staticmethod
    def _holder(resident_id: int | None, telegram_user_id: int | None) -> Any:
        if resident_id is not None:
            return RoleGrant.resident_id == resident_id
        if telegram_user_id is None:
            raise ValueError("a grant needs a resident or a Telegram user id")
        return and_(RoleGrant.telegram_user_id == telegram_user_id, RoleGrant.resident_id.is_(None))

    async def grant(
        self,
        grant: Grant,
        now: datetime,
        *,
        resident_id: int | None = None,
        telegram_user_id: int | None = None,
        granted_by: int | None = None,
    ) -> bool:
        """Give a role to a resident (or to a Telegram user who has not written yet); False if already held."""
        existing = await self.session.scalar(
            select(RoleGrant.id).where(self._holder(resident_id, telegram_user_id), self._same(grant))
        )
        if existing is not None:
            return False
        self.session.add(
            RoleGrant(
                resident_id=resident_id,
                telegram_user_id=None if resident_id is not None else telegram_user_id,
                role=grant.role,
                scope=grant.scope,
                scope_id=grant.scope_id,
                sector=grant.sector,
                granted_by=granted_by,
                granted_at=now,
            )
        )
        await self.session.flush()
        return True

    async def revoke(
        self, grant: Grant, *, resident_id: int | None = None, telegram_user_id: int | None = None
    ) -> bool:
        """Take a role away; False if it was not held."""
        result = await self.session.execute(
            delete(RoleGrant).where(self._holder(resident_id, telegram_user_id), self._same(grant))
        )
        return rowcount(result) > 0

    async def revoke_circle_roles(self, resident_id: int, circle_id: int) -> None:
        """Drop the roles a resident held over one circle (when they leave it)."""
        await self.session.execute(
            delete(RoleGrant).where(
                RoleGrant.resident_id == resident_id,
                RoleGrant.scope == ScopeKind.CIRCLE,
                RoleGrant.scope_id == circle_id,
            )
        )

    async def circle_role_holders(self, role: Role, circle_id: int) -> list[int]:
        """Residents holding `role` over one circle."""
        query = select(RoleGrant.resident_id).where(
            RoleGrant.role == role, RoleGrant.scope == ScopeKind.CIRCLE, RoleGrant.scope_id == circle_id,
            RoleGrant.resident_id.is_not(None),
        )  # fmt: skip
        return [int(r) for r in (await self.session.scalars(query)).all() if r is not None]

    async def delegate_elsewhere_in(self, resident_id: int, barrio_id: int, except_circle_id: int) -> bool:
        """Whether a resident is a delegate of another circle of the barrio."""
        query = (
            select(RoleGrant.id)
            .join(Circle, Circle.id == RoleGrant.scope_id)
            .where(
                RoleGrant.resident_id == resident_id,
                RoleGrant.role == Role.DELEGATE,
                RoleGrant.scope == ScopeKind.CIRCLE,
                Circle.barrio_id == barrio_id,
                RoleGrant.scope_id != except_circle_id,
            )
            .limit(1)
        )
        return (await self.session.scalar(query)) is not None

    async def holders(self) -> Sequence[GrantHolder]:
        """Every grant with its holder, staff who have not written yet included, by role and place."""
        query = (
            select(RoleGrant, Resident)
            .outerjoin(Resident, Resident.id == RoleGrant.resident_id)
            .order_by(RoleGrant.role, RoleGrant.scope_id, RoleGrant.id)
        )
        result = []
        for row, resident in (await self.session.execute(query)).all():
            user_id = resident.telegram_user_id if resident is not None else row.telegram_user_id
            result.append(
                GrantHolder(grant_of(row), int(user_id or 0), resident.first_name if resident else None, row.granted_at)
            )
        return result

    async def approvers(self, circle_id: int, barrio_id: int) -> Sequence[Resident]:
        """Who decides on a membership: the circle's delegates and the barrio's community managers,
        or the district admins when the circle has neither."""
        if self.postgres:
            return await self._approvers_on_postgres(circle_id, barrio_id)
        by_place = or_(
            and_(RoleGrant.role == Role.DELEGATE, RoleGrant.scope_id == circle_id),
            and_(RoleGrant.role == Role.COMMUNITY_MANAGER, RoleGrant.scope_id == barrio_id),
        )
        return await self._first_holders(by_place, RoleGrant.role == Role.ADMIN)

    async def _approvers_on_postgres(self, circle_id: int, barrio_id: int) -> Sequence[Resident]:
        """approvers on PostgreSQL: one statement on the driver's connection, the residents then held by the
        session (the one it holds already when it has them)."""
        connection = await driver_connection(self.session)
        count_statement(self.statement_counts)
        rows = await connection.fetch(_PG_APPROVERS, circle_id, barrio_id)
        if not rows:
            return []
        best = min(row[0] for row in rows)
        holders: dict[int, Resident] = {}
        for row in rows:
            if row[0] == best and row[1] not in holders:
                values = dict(zip(_RESIDENT_COLUMNS, row[1:], strict=True))
                holders[row[1]] = attach_loaded(self.session, Resident, values)
        return list(holders.values())

    async def community_managers(self, barrio_id: int) -> Sequence[Resident]:
        """The barrio's community managers, or the district admins when it has none."""
        by_barrio = and_(RoleGrant.role == Role.COMMUNITY_MANAGER, RoleGrant.scope_id == barrio_id)
        return await self._first_holders(by_barrio, RoleGrant.role == Role.ADMIN)

    async def case_handlers(self, barrio_id: int, sector: str | None) -> Sequence[Resident]:
        """Who is told about a case: the sector's managers in the barrio and the barrio's community managers
        (who see every case), or the district admins when the barrio has neither."""
        managers = and_(RoleGrant.role == Role.COMMUNITY_MANAGER, RoleGrant.scope_id == barrio_id)
        if sector is not None:
            managers = or_(
                managers,
                and_(
                    RoleGrant.role == Role.SECTORIAL_MANAGER,
                    RoleGrant.scope_id == barrio_id,
                    RoleGrant.sector == sector,
                ),
            )
        return await self._first_holders(managers, RoleGrant.role == Role.ADMIN)

    async def holders_in_barrio(self, role: Role, barrio_id: int, sector: str | None = None) -> Sequence[Resident]:
        """The residents holding `role` over the barrio (of `sector`, when given), by id."""
        condition = and_(RoleGrant.role == role, RoleGrant.scope_id == barrio_id)
        if sector is not None:
            condition = and_(condition, RoleGrant.sector == sector)
        return await self._first_holders(condition)

    async def _first_holders(self, *conditions: Any) -> Sequence[Resident]:
        """The residents holding a grant that matches the first condition anyone matches, by id (one statement:
        each grant is ranked by the first condition it matches, and the best rank wins)."""
        rank = case(*((condition, index) for index, condition in enumerate(conditions)))
        query = (
            select(Resident, rank.label("rank"))
            .join(RoleGrant, RoleGrant.resident_id == Resident.id)
            .where(or_(*conditions))
            .order_by(Resident.id)
        )
        rows = (await self.session.execute(query)).all()
        if not rows:
            return []
        best = min(row.rank for row in rows)
        holders: dict[int, Resident] = {}
        for row in rows:
            if row.rank == best:
                holders.setdefault(row.Resident.id, row.Resident)
        return list(holders.values())
