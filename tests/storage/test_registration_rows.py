"""A registration's statements (a resident, a membership, the role reads) write and read the same rows on both
backends; on PostgreSQL they run on the driver's connection inside the session's transaction, and the objects
they return are the session's, so a later change to them is saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from bot.domain.permissions import Grant, Role, ScopeKind
from bot.domain.residents import MembershipStatus
from storage.db import Database
from storage.models import Circle, Membership, ProcessedUpdate, Resident

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REMIND_AT = NOW + timedelta(days=2)


def _columns(row: Any, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """A stored row's columns as plain values (datetimes in UTC, enums as their text)."""
    values = {}
    for column in row.__table__.columns:
        if column.name in skip:
            continue
        value = getattr(row, column.name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        values[column.name] = str(value) if isinstance(value, str) else value
    return values


async def _a_circle(db: Database) -> tuple[int, int]:
    """A seeded circle and its barrio."""
    async with db.unit_of_work() as uow:
        circle = (await uow.session.scalars(select(Circle).order_by(Circle.id).limit(1))).one()
        return circle.id, circle.barrio_id


async def _stored(db: Database, model: type[Any], row_id: int) -> dict[str, Any]:
    """A row as committed, read by a new session."""
    async with db.unit_of_work() as uow:
        row = await uow.session.get(model, row_id)
        assert row is not None
        return _columns(row)


async def test_a_registered_resident_and_their_membership_are_stored_with_every_default(db: Database) -> None:
    circle_id, _barrio_id = await _a_circle(db)
    async with db.unit_of_work() as uow:
        resident = await uow.residents.register(601, 602, "Leila", "ar", NOW)
        staff = await uow.residents.register(603, 603, "Pilar", "es", NOW, legal_basis="public_task")
        pending = await uow.memberships.request(resident.id, circle_id, NOW, REMIND_AT, portal="2ºB")
        invite = await uow.invites.create("perf3-code", circle_id, NOW)
        await uow.invites.use_once(invite)
        verified = await uow.memberships.join_with_invite(staff.id, circle_id, invite.id, NOW)
        # What the caller gets back is what was stored (an id, and every column).
        assert resident.id and pending.id and verified.id
        returned = [_columns(resident), _columns(pending), _columns(verified)]
        await uow.commit()
    assert [
        await _stored(db, Resident, resident.id),
        await _stored(db, Membership, pending.id),
        await _stored(db, Membership, verified.id),
    ] == returned
    assert returned[0] == {
        "telegram_user_id": 601, "chat_id": 602, "first_name": "Leila", "locale": "ar", "status": "active",
        "consent_at": NOW, "created_at": NOW, "unreachable_at": None, "legal_basis": "consent",
        "quiet_start": None, "quiet_end": None, "muted_kinds": None, "weekly_digest": False,
    }  # fmt: skip
    assert (await _stored(db, Resident, staff.id))["legal_basis"] == "public_task"
    assert returned[1] == {
        "resident_id": resident.id, "circle_id": circle_id, "building_id": None, "portal": "2ºB",
        "status": "pending", "verified_via": None, "invite_id": None, "decided_by": None, "created_at": NOW,
        "decided_at": None, "remind_at": REMIND_AT, "reminders_sent": 0,
    }  # fmt: skip
    assert returned[2] == {
        "resident_id": staff.id, "circle_id": circle_id, "building_id": None, "portal": None,
        "status": "verified", "verified_via": "invite", "invite_id": invite.id, "decided_by": None,
        "created_at": NOW, "decided_at": NOW, "remind_at": None, "reminders_sent": 0,
    }  # fmt: skip
    async with db.unit_of_work() as uow:
        stored_invite = await uow.invites.by_code("perf3-code")
        assert stored_invite is not None and stored_invite.uses_left == 0


async def test_a_change_to_a_returned_row_in_the_same_transaction_is_saved(db: Database) -> None:
    circle_id, _barrio_id = await _a_circle(db)
    async with db.unit_of_work() as uow:
        resident = await uow.residents.register(611, 611, "Ana", "es", NOW)
        membership = await uow.memberships.request(resident.id, circle_id, NOW, REMIND_AT)
        await uow.residents.change_language(resident, "en")
        await uow.memberships.leave(membership, NOW)
        await uow.commit()
    assert (await _stored(db, Resident, resident.id))["locale"] == "en"
    assert (await _stored(db, Membership, membership.id))["status"] == MembershipStatus.LEFT


async def test_a_rolled_back_registration_leaves_no_rows(db: Database) -> None:
    circle_id, _barrio_id = await _a_circle(db)
    async with db.unit_of_work() as uow:
        resident = await uow.residents.register(621, 621, "Ana", "es", NOW)
        await uow.memberships.request(resident.id, circle_id, NOW, REMIND_AT)
        await uow.rollback()
    async with db.unit_of_work() as uow:
        assert await uow.residents.by_telegram_id(621) is None
        assert (await uow.session.scalars(select(Membership))).all() == []


async def test_waiting_grants_and_approvers_read_the_same_on_both_backends(db: Database) -> None:
    circle_id, barrio_id = await _a_circle(db)
    async with db.unit_of_work() as uow:
        waiting = Grant(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, barrio_id)
        await uow.roles.grant(waiting, NOW, telegram_user_id=631)
        admin = await uow.residents.register(632, 632, "Admin", "es", NOW)
        await uow.roles.grant(Grant(Role.ADMIN, ScopeKind.DISTRICT, None), NOW, resident_id=admin.id)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.roles.waiting_for(631) == [waiting]
        assert await uow.roles.waiting_for(632) == []
        # Nobody over the place: the district's admins decide.
        assert [r.id for r in await uow.roles.approvers(circle_id, barrio_id)] == [admin.id]
    async with db.unit_of_work() as uow:
        manager = await uow.residents.register(631, 631, "Marta", "es", NOW, legal_basis="public_task")
        await uow.roles.hand_over_waiting(631, manager.id)
        delegate = await uow.residents.register(633, 633, "Delia", "es", NOW)
        await uow.roles.grant(Grant(Role.DELEGATE, ScopeKind.CIRCLE, circle_id), NOW, resident_id=delegate.id)
        await uow.roles.grant(Grant(Role.DELEGATE, ScopeKind.CIRCLE, circle_id + 1000), NOW, resident_id=admin.id)
        approvers = await uow.roles.approvers(circle_id, barrio_id)
        # The place's own approvers, in id order, and the very objects this transaction holds.
        assert [r.id for r in approvers] == [manager.id, delegate.id]
        assert approvers[0] is manager and approvers[1] is delegate
        assert await uow.roles.waiting_for(631) == []
        await uow.commit()
    async with db.unit_of_work() as uow:
        approvers = await uow.roles.approvers(circle_id, barrio_id)
        assert [(r.id, r.first_name, r.legal_basis) for r in approvers] == [
            (manager.id, "Marta", "public_task"),
            (delegate.id, "Delia", "consent"),
        ]
        # A change to an approver read this way is saved with the transaction.
        await uow.residents.set_weekly_digest(approvers[1], True)
        await uow.commit()
    assert (await _stored(db, Resident, delegate.id))["weekly_digest"] is True


async def test_delivered_replies_are_forgotten_the_same_on_both_backends(db: Database) -> None:
    async with db.unit_of_work(priority=True) as uow:
        for update_id in (41, 42, 43):
            await uow.updates.record(update_id, 650, [{"text": "hola"}], NOW, deliver_by=NOW)
        await uow.commit()
    async with db.unit_of_work(priority=True) as uow:
        await uow.updates.mark_delivered([41, 43])
        await uow.commit()
    async with db.unit_of_work() as uow:
        stored = (
            await uow.session.execute(
                select(ProcessedUpdate.update_id, ProcessedUpdate.delivered, ProcessedUpdate.replies).order_by(
                    ProcessedUpdate.update_id
                )
            )
        ).all()
        # JSON null, as the ORM writes a None (so either backend reads it back as None).
        raw = (await uow.session.execute(text("SELECT update_id FROM processed_update WHERE replies IS NULL"))).all()
    assert [tuple(row) for row in stored] == [(41, True, None), (42, False, [{"text": "hola"}]), (43, True, None)]
    assert raw == []
