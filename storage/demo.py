"""Synthetic residents for tests, benchmarks and the sandbox (`vecinos demo populate`), kept apart from real
people by their legal basis ("demo") and a reserved range of Telegram ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select

from bot.domain.residents import MembershipStatus, ResidentStatus, Verification
from storage.base import Repository
from storage.models import Membership, Resident

DEMO_BASIS = "demo"
# Telegram user ids of demo residents start here: far above any real account id in use today.
DEMO_FIRST_USER_ID = 9_000_000_000


class DemoRepository(Repository):
    """Creating synthetic residents in bulk."""

    async def real_residents(self) -> int:
        """How many residents are real people (anything but demo)."""
        query = select(func.count()).select_from(Resident).where(Resident.legal_basis != DEMO_BASIS)
        return int(await self.session.scalar(query) or 0)

    async def demo_residents(self) -> tuple[int, int] | None:
        """(lowest Telegram id, how many) of the demo residents, None when there are none."""
        row = (
            await self.session.execute(
                select(func.min(Resident.telegram_user_id), func.count()).where(Resident.legal_basis == DEMO_BASIS)
            )
        ).one()
        return (int(row[0]), int(row[1])) if row[1] else None

    async def populate(
        self, count: int, circle_ids: Sequence[int], locales: Sequence[str], now: datetime
    ) -> tuple[int, int]:
        """Create `count` verified demo residents spread over `circle_ids` and `locales`, in two statements;
        the range of their Telegram user ids (first, last)."""
        highest = await self.session.scalar(
            select(func.max(Resident.telegram_user_id)).where(Resident.legal_basis == DEMO_BASIS)
        )
        first = max(DEMO_FIRST_USER_ID, int(highest or 0) + 1)
        users = range(first, first + count)
        await self.session.execute(
            insert(Resident),
            [
                {
                    "telegram_user_id": user_id,
                    "chat_id": user_id,
                    "first_name": f"Vecino {user_id - DEMO_FIRST_USER_ID + 1}",
                    "locale": locales[i % len(locales)],
                    "status": ResidentStatus.ACTIVE,
                    "consent_at": now,
                    "created_at": now,
                    "legal_basis": DEMO_BASIS,
                }
                for i, user_id in enumerate(users)
            ],
        )
        ids = (
            await self.session.execute(
                select(Resident.id, Resident.telegram_user_id)
                .where(Resident.telegram_user_id.between(first, first + count - 1))
                .order_by(Resident.telegram_user_id)
            )
        ).all()
        await self.session.execute(
            insert(Membership),
            [
                {
                    "resident_id": row.id,
                    "circle_id": circle_ids[i % len(circle_ids)],
                    "status": MembershipStatus.VERIFIED,
                    "verified_via": Verification.INVITE,
                    "created_at": now,
                    "decided_at": now,
                    "reminders_sent": 0,
                }
                for i, row in enumerate(ids)
            ],
        )
        return first, first + count - 1
