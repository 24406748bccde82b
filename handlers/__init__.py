"""Channel-neutral conversations: the dispatcher, and the routes every conversation module declares."""

from __future__ import annotations

from handlers import (
    account,
    admin,
    approvals,
    cases,
    coexistence,
    coexistence_invites,
    coexistence_party,
    contact,
    elections,
    meetings,
    notices,
    poll_wizard,
    polls,
    privacy,
    proposals,
    registration,
    reports,
    settings,
    stats,
)
from handlers.dispatch import Dispatcher, Outcome, UpdateNotApplied, route
from handlers.routing import Routes, assemble

ROUTES: Routes = assemble(
    [
        registration.ROUTES,
        settings.ROUTES,
        account.ROUTES,
        privacy.ROUTES,
        approvals.ROUTES,
        admin.ROUTES,
        contact.ROUTES,
        reports.ROUTES,
        cases.ROUTES,
        polls.ROUTES,
        poll_wizard.ROUTES,
        proposals.ROUTES,
        elections.ROUTES,
        notices.ROUTES,
        meetings.ROUTES,
        coexistence.ROUTES,
        coexistence_invites.ROUTES,
        coexistence_party.ROUTES,
        stats.ROUTES,
    ]
)

__all__ = ["ROUTES", "Dispatcher", "Outcome", "UpdateNotApplied", "route"]
