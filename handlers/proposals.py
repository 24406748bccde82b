"""Resident proposals: /propose (to my circle or my barrio), /proposals, one-tap support; enough support
within the window opens a yes/no poll, else the proposal expires; proposer and supporters are told either way."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.channels.base import Button, Reply
from bot.domain.ballots import PollKind
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action
from bot.domain.polls import PollScope, PollTerms, ScopeKind
from bot.domain.proposals import TEXT_MAX, TITLE_MAX, ProposalStatus, SupportOutcome, after_support, support_needed
from bot.domain.text import clean_free_text, has_letters_or_digits
from bot.i18n import N_, Catalogs, Safe, Translator, escape, safe_join
from bot.language_detection import warm_up_in_background
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.fanout import fan_out, tell
from handlers.labels import written_for
from handlers.poll_cards import scope_name, when
from handlers.poll_schedule import create_poll, open_poll
from handlers.routing import Callback, Command, Routes, any_input
from storage.models import Proposal
from storage.uow import UnitOfWork

TOPIC_PROPOSAL_NEW = "proposal.new"
TOPIC_PROPOSAL_OUTCOME = "proposal.outcome"


class ProposeStep(StrEnum):
    """Steps of writing a proposal."""

    SCOPE = "scope"
    TITLE = "title"
    TEXT = "text"
    PREVIEW = "preview"


def _cancel_row(t: Translator) -> list[Button]:
    return [Button(t.plain("✖️ Cancel"), cb("ppx"))]


async def _my_scopes(ctx: Context) -> list[PollScope]:
    """My circle and my barrio (where I may propose and support)."""
    circle_id = ctx.verified_circle_id
    if circle_id is None:
        return []
    circle = await ctx.uow.territory.circle(circle_id)
    if circle is None:
        return [PollScope(ScopeKind.CIRCLE, circle_id)]
    return [PollScope(ScopeKind.CIRCLE, circle_id), PollScope(ScopeKind.BARRIO, circle.barrio_id)]


def _scope_label(t: Translator, scope: PollScope, name: str | None) -> str:
    if scope.kind is ScopeKind.CIRCLE:
        return t.plain("My circle: {name}", name=name or "?")
    return t.plain("My barrio: {name}", name=name or "?")


# ---------------------------------------------------------------- writing a proposal


async def start_proposal(ctx: Context) -> None:
    """/propose: to my circle or to my whole barrio?"""
    warm_up_in_background()  # its text will be labelled with its language for readers of others
    scopes = await _my_scopes(ctx)
    if not scopes:
        ctx.say(ctx.t.gettext("Only verified members of a circle can make proposals. Send /start to join yours."))
        return
    await ctx.go(Flow.PROPOSE, ProposeStep.SCOPE)
    rows = [
        [Button(_scope_label(ctx.t, s, await scope_name(ctx.uow, s)), cb("pps", s.kind.value, s.id or 0))]
        for s in scopes
    ]
    rows.append(_cancel_row(ctx.t))
    ctx.say(
        ctx.t.gettext(
            "💡 <b>New proposal</b>\nPropose something to your neighbours. If enough of them support it in time, "
            "it becomes a yes/no poll for everyone. Who is it for?"
        ),
        rows,
    )


async def new_proposal_tapped(ctx: Context, data: CallbackData) -> None:
    """pnp: the "New proposal" button of /proposals."""
    ctx.toast("")
    await start_proposal(ctx)


async def scope_tapped(ctx: Context, data: CallbackData) -> None:
    """pps:<kind>:<id>: then the title."""
    scope = PollScope(ScopeKind(data.args[0]), data.int_arg(1)) if data.args[:1] in (("circle",), ("barrio",)) else None
    if ctx.flow != Flow.PROPOSE or ctx.step != ProposeStep.SCOPE or scope not in await _my_scopes(ctx):
        await stale(ctx)
        return
    await ctx.go(Flow.PROPOSE, ProposeStep.TITLE, scope=scope.key if scope else None)
    ctx.show(ctx.t.gettext("✏️ A short title (at most {max} characters):", max=TITLE_MAX), [_cancel_row(ctx.t)])


async def proposal_input(ctx: Context) -> None:
    """Typed text while writing a proposal: the title, then the text."""
    t = ctx.t
    if ctx.step not in (ProposeStep.TITLE, ProposeStep.TEXT):
        ctx.say(t.gettext("Please use the buttons above, or /cancel."))
        return
    limit = TITLE_MAX if ctx.step == ProposeStep.TITLE else TEXT_MAX
    raw = ctx.incoming.text or ""
    cleaned = clean_free_text(raw, limit)
    if cleaned.problem == "too_long":
        ctx.say(
            t.gettext(
                "That is too long ({length} characters; at most {max}). Please shorten it.",
                length=t.number(len(raw)),
                max=t.number(limit),
            ),
            [_cancel_row(t)],
        )
        return
    if not cleaned.text or not has_letters_or_digits(cleaned.text):
        ctx.say(t.gettext("Please write it in words."), [_cancel_row(t)])
        return
    if ctx.step == ProposeStep.TITLE:
        await ctx.go(Flow.PROPOSE, ProposeStep.TEXT, title=cleaned.text)
        ctx.say(
            t.gettext("Now explain it in one message: what, where, why (at most {max} characters).", max=TEXT_MAX),
            [_cancel_row(t)],
        )
        return
    await ctx.go(Flow.PROPOSE, ProposeStep.PREVIEW, text=cleaned.text)
    await _preview(ctx)


async def _needed(ctx: Context, scope: PollScope) -> int:
    members = await ctx.uow.polls.members_of(scope)
    return support_needed(members, ctx.services.polls.support_rule(scope.kind))


async def _preview(ctx: Context) -> None:
    t = ctx.t
    scope = _scope_of(ctx.data.get("scope", ""))
    if scope is None:
        await stale(ctx)
        return
    needed = await _needed(ctx, scope)
    window = ctx.services.polls.proposal_window
    lines = [
        t.gettext("👀 <b>Your proposal</b> · {scope}", scope=await scope_name(ctx.uow, scope) or "?"),
        t.gettext("<b>{title}</b>", title=ctx.data["title"]),
        escape(ctx.data["text"]),
        t.ngettext(
            "It becomes a poll if {n} neighbour (you included) supports it by {when}.",
            "It becomes a poll if {n} neighbours (you included) support it by {when}.",
            needed,
            when=when(t, ctx.now + window),
        ),
        t.gettext("Every member gets it with a button to support it. Publish it?"),
    ]
    ctx.say(safe_join("\n\n", lines), [[Button(t.plain("✅ Publish"), cb("ppok"))], _cancel_row(t)])


def _scope_of(key: str) -> PollScope | None:
    from bot.domain.polls import parse_scope

    return parse_scope(key)


async def confirm_proposal(ctx: Context, data: CallbackData) -> None:
    """ppok: publish it, supported by its author; every other member of the scope gets it."""
    scope = _scope_of(ctx.data.get("scope", ""))
    if ctx.flow != Flow.PROPOSE or ctx.step != ProposeStep.PREVIEW or scope is None or ctx.resident is None:
        await stale(ctx)
        return
    if scope not in await _my_scopes(ctx):
        await stale(ctx)
        return
    needed = await _needed(ctx, scope)
    proposal = await ctx.uow.proposals.create(
        scope,
        ctx.resident.id,
        ctx.data["title"],
        ctx.data["text"],
        ctx.now,
        ctx.now + ctx.services.polls.proposal_window,
        needed,
    )
    await ctx.finish()
    ctx.toast("")
    if proposal.supporters >= proposal.threshold:
        await _accept(ctx, proposal)
        ctx.show(ctx.t.gettext("🎉 Published, and it already has the support it needs: it is now a poll."))
        return
    name = await scope_name(ctx.uow, scope)
    members = [c for c in await ctx.uow.polls.members_contacts(scope) if c.resident_id != ctx.resident.id]
    await fan_out(
        ctx.uow,
        ctx.services.catalogs,
        members,
        lambda t: _announcement(t, proposal, name),
        TOPIC_PROPOSAL_NEW,
        ctx.now,
        ref=f"proposal:{proposal.id}",
    )
    ctx.wrote_outbox = True
    ctx.show(
        ctx.t.gettext(
            "💡 Published. Your neighbours get it now; /proposals shows its support ({count} of {needed}).",
            count=ctx.t.number(proposal.supporters),
            needed=ctx.t.number(proposal.threshold),
        )
    )


def _support_line(t: Translator, proposal: Proposal) -> Safe:
    return t.gettext(
        "Support: {count} of {needed} needed by {when}.",
        count=t.number(proposal.supporters),
        needed=t.number(proposal.threshold),
        when=when(t, proposal.expires_at),
    )


def _announcement(t: Translator, proposal: Proposal, name: str | None) -> Reply:
    body, machine = written_for(t, proposal.text)
    text = safe_join(
        "\n\n",
        [
            t.gettext("💡 <b>New proposal</b> · {scope}", scope=name or "?"),
            t.gettext("<b>{title}</b>", title=proposal.title),
            body,
            _support_line(t, proposal),
            t.gettext("If enough neighbours support it in time, it becomes a yes/no poll for everyone."),
        ],
    )
    return Reply(text=text, buttons=[[Button(t.plain("👍 Support"), cb("ppsu", proposal.id))]], machine=machine)


async def cancel_proposal(ctx: Context, data: CallbackData) -> None:
    """ppx: drop the proposal being written."""
    if ctx.flow == Flow.PROPOSE:
        await ctx.finish()
    ctx.toast("")
    ctx.show(ctx.t.gettext("The proposal was discarded."))


# ---------------------------------------------------------------- supporting


async def support_tapped(ctx: Context, data: CallbackData) -> None:
    """ppsu:<proposal>: support it (once); the support that reaches the threshold opens the poll."""
    proposal_id = data.int_arg(0)
    proposal = await ctx.uow.proposals.get(proposal_id, lock=True) if proposal_id else None
    if proposal is None or ctx.resident is None:
        await stale(ctx)
        return
    t = ctx.t
    scope = PollScope(ScopeKind(proposal.scope_kind), proposal.scope_id)
    if scope not in await _my_scopes(ctx):
        ctx.toast(t.plain("This proposal is for another circle or barrio."))
        return
    status = ProposalStatus(proposal.status)
    if status is ProposalStatus.OPEN and ctx.now >= proposal.expires_at:
        status = ProposalStatus.EXPIRED
    already = await ctx.uow.proposals.supports(proposal.id, ctx.resident.id)
    outcome = after_support(status, proposal.supporters, proposal.threshold, already=already)
    if outcome is SupportOutcome.CLOSED:
        ctx.toast(t.plain("This proposal is closed."))
        return
    if outcome is SupportOutcome.ALREADY:
        ctx.toast(t.plain("You already support it."))
        return
    await ctx.uow.proposals.support(proposal, ctx.resident.id, ctx.now)
    if outcome is SupportOutcome.REACHED:
        await _accept(ctx, proposal)
        ctx.toast(t.plain("Thank you! It now has the support it needs."))
        return
    ctx.toast(t.plain("Thank you for your support 👍"))
    name = await scope_name(ctx.uow, scope)
    reply = _announcement(t, proposal, name)
    ctx.show(reply.text, [])


async def _accept(ctx: Context, proposal: Proposal) -> None:
    """Open the yes/no poll and tell the proposer and supporters."""
    uow, catalogs, now, policy = ctx.uow, ctx.services.catalogs, ctx.now, ctx.services.polls
    scope = PollScope(ScopeKind(proposal.scope_kind), proposal.scope_id)
    terms = PollTerms(
        kind=PollKind.YESNO,
        question=proposal.title,
        options=(),
        opens_at=now,
        closes_at=now + policy.proposal_poll_length,
    )
    poll = await create_poll(uow, catalogs, terms, scope, now, policy, created_by=proposal.author_id, open_now=False)
    await uow.proposals.decide(proposal, ProposalStatus.ACCEPTED, now, poll.id)
    await open_poll(uow, catalogs, poll, now)  # its ballot shows the proposal's text
    name = await scope_name(uow, scope)

    def accepted(t: Translator) -> Reply:
        return Reply(
            text=t.gettext(
                "🎉 The proposal “{title}” reached {count} supports and is now a poll: every member of {scope} can "
                "vote until {when}. Your ballot comes in a separate message.",
                title=proposal.title,
                count=t.number(proposal.supporters),
                scope=name or "?",
                when=when(t, poll.closes_at),
            )
        )

    await tell(uow, catalogs, await uow.proposals.supporters(proposal.id), accepted, TOPIC_PROPOSAL_OUTCOME, now)
    ctx.wrote_outbox = True


async def expire_proposals(uow: UnitOfWork, catalogs: Catalogs, now: datetime) -> int:
    """Tick: proposals whose window ended without enough support expire; proposer and supporters are told."""
    told = 0
    for proposal in await uow.proposals.claim_expired(now):
        await uow.proposals.decide(proposal, ProposalStatus.EXPIRED, now)

        def expired(t: Translator, proposal: Proposal = proposal) -> Reply:
            return Reply(
                text=t.gettext(
                    "⌛ The proposal “{title}” ended without enough support: {count} of the {needed} needed.",
                    title=proposal.title,
                    count=t.number(proposal.supporters),
                    needed=t.number(proposal.threshold),
                )
            )

        told += await tell(
            uow, catalogs, await uow.proposals.supporters(proposal.id), expired, TOPIC_PROPOSAL_OUTCOME, now
        )
    return told


# ---------------------------------------------------------------- /proposals


async def list_proposals(ctx: Context) -> None:
    """/proposals: open proposals in my circle and barrio, with support buttons; the latest decided."""
    assert ctx.resident is not None
    t = ctx.t
    scopes = await _my_scopes(ctx)
    lines: list[Safe] = [t.gettext("💡 <b>Proposals</b>")]
    rows: list[list[Button]] = []
    open_ones = await ctx.uow.proposals.open_in(scopes, ctx.resident.id)
    if not open_ones:
        lines.append(t.gettext("No open proposals in your circle or barrio."))
    for proposal, mine in open_ones:
        mark = t.gettext(" · ✅ you support it") if mine else Safe("")
        lines.append(
            safe_join("", [t.gettext("• <b>{title}</b>: ", title=proposal.title), _support_line(t, proposal), mark])
        )
        if not mine:
            label = t.plain("👍 Support: {title}", title=proposal.title[:40])
            rows.append([Button(label, cb("ppsu", proposal.id))])
    decided = await ctx.uow.proposals.decided_in(scopes)
    if decided:
        lines.append(t.gettext("<b>Decided</b>"))
        for proposal in decided:
            if proposal.status == ProposalStatus.ACCEPTED:
                lines.append(t.gettext("• {title}: became a poll", title=proposal.title))
            else:
                lines.append(t.gettext("• {title}: not enough support", title=proposal.title))
    if scopes:
        rows.append([Button(t.plain("➕ New proposal"), cb("pnp"))])
    ctx.say(safe_join("\n", lines), rows)


ROUTES = Routes(
    commands={
        "propose": Command(start_proposal, Action.PROPOSE, N_("Only verified members of a circle can make proposals.")),
        "proposals": Command(list_proposals, Action.SEE_POLLS),
    },
    callbacks={
        "pnp": Callback(new_proposal_tapped, Action.PROPOSE),
        "pps": Callback(scope_tapped, Action.PROPOSE),
        "ppok": Callback(confirm_proposal, Action.PROPOSE),
        "ppx": Callback(cancel_proposal, Action.PROPOSE),
        "ppsu": Callback(support_tapped, Action.PROPOSE),
    },
    step_inputs=any_input(Flow.PROPOSE, proposal_input),
)
