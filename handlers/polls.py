"""Voting in chat: the ballot's buttons (cast, tick, rank, undo, submit), the receipt, changing a vote with
it, /receipt, /polls, results and the published ballots.

A half-built ballot (ticks, an order) lives only in the buttons' data, never in a table: the ballot box sees
a choice once, when it is cast.
"""

from __future__ import annotations

import json
from enum import StrEnum

from bot.channels.base import Button
from bot.domain.ballot_files import to_blt
from bot.domain.ballots import (
    PollKind,
    decode_draft,
    new_receipt,
    parse_receipt,
    stored_choice,
    toggled,
    valid_choice,
)
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action
from bot.domain.polls import PollStatus
from bot.i18n import Safe, safe_join
from handlers.common import stale
from handlers.context import Context, Flow
from handlers.poll_cards import (
    PollCard,
    ballot_buttons,
    ballot_reply,
    ballots_button,
    choice_text,
    draft_positions,
    load_card,
    poll_title,
    result_lines,
    rules_text,
    title,
    turnout_line,
    when,
)
from handlers.poll_schedule import count_poll, published_ballots
from handlers.routing import Callback, Command, Routes, any_input
from storage.models import Poll

LIST_TEXT_MAX = 48


class RevoteStep(StrEnum):
    """Changing a vote: waiting for the receipt."""

    RECEIPT = "receipt"


class ReceiptStep(StrEnum):
    """/receipt without a code: waiting for it."""

    CODE = "code"


# ---------------------------------------------------------------- whether this person may vote now


async def _open_ballot(ctx: Context, poll_id: int | None, casting: bool = False) -> tuple[Poll, PollCard] | None:
    """The poll if the person may vote in it now; otherwise say why (closed, not an elector, voted) and None.
    `casting`: the tap casts at once, so the ballot box's own once-only insert tells a second vote apart."""
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None or ctx.resident is None:
        await stale(ctx)
        return None
    # Why no details when casting: a vote is the hottest path of a district poll, and the receipt shows none.
    card = await load_card(ctx.uow, poll, details=not casting)
    if poll.status == PollStatus.SCHEDULED:
        ctx.toast(ctx.t.plain("This poll has not opened yet."))
        ctx.say(ctx.t.gettext("This poll opens {when}.", when=when(ctx.t, poll.opens_at)))
        return None
    if poll.status != PollStatus.OPEN or ctx.now >= poll.closes_at:
        ctx.toast(ctx.t.plain("This poll is closed."))
        question = ctx.t.gettext("<b>{question}</b>", question=poll_title(ctx.t, poll.question, poll.office))
        ctx.show(safe_join("\n\n", [question, _closed_notice(ctx, poll)]))
        return None
    if not await ctx.uow.polls.is_elector(poll.id, ctx.resident.id):
        ctx.toast(ctx.t.plain("You cannot vote in this poll."))
        ctx.say(_not_elector(ctx, card))
        return None
    if not casting and await ctx.uow.ballots.has_voted(poll.id, ctx.resident.id):
        _already_voted(ctx, card)
        return None
    return poll, card


def _closed_notice(ctx: Context, poll: Poll) -> Safe:
    return ctx.t.gettext("🔒 This poll closed {when}: votes are no longer accepted.", when=when(ctx.t, poll.closes_at))


def _not_elector(ctx: Context, card: PollCard) -> Safe:
    from handlers.poll_cards import scope_text

    return ctx.t.gettext(
        "You are not in this poll's electorate: it is the verified members of {scope} when the poll opened, {when}.",
        scope=scope_text(ctx.t, card),
        when=when(ctx.t, card.opens_at),
    )


def _already_voted(ctx: Context, card: PollCard) -> None:
    ctx.toast(ctx.t.plain("You have already voted."))
    if card.vote_change:
        ctx.say(
            ctx.t.gettext(
                "You have already voted in “{question}”. To change your vote, tap the button and send me your receipt.",
                question=title(ctx.t, card),
            ),
            [[Button(ctx.t.plain("🔁 Change my vote"), cb("pw", card.id))]],
        )
    else:
        ctx.say(
            ctx.t.gettext(
                "You have already voted in “{question}”; votes in this poll cannot be changed.",
                question=title(ctx.t, card),
            )
        )


# ---------------------------------------------------------------- casting


async def _cast(ctx: Context, poll: Poll, card: PollCard, positions: list[int]) -> None:
    assert ctx.resident is not None
    choice = stored_choice(card.kind, draft_positions(card, positions))
    if not valid_choice(card.kind, [o.id for o in card.options], choice, card.max_choices):
        await stale(ctx)
        return
    receipt = new_receipt(poll.id)
    if not await ctx.uow.ballots.cast(poll.id, ctx.resident.id, choice, receipt.tracker_hash):
        _already_voted(ctx, card)
        return
    t = ctx.t
    shown = draft_positions(card, positions) if card.kind is PollKind.RANKED else choice
    lines = [
        t.gettext("✅ <b>Your vote is cast</b> · {question}", question=title(t, card)),
        t.gettext("You chose: {choice}", choice=choice_text(t, card, shown)),
        t.gettext("🧾 Your receipt (shown only this once: keep it somewhere safe):"),
        Safe(f"<code>{receipt.code}</code>"),
        t.gettext(
            "With /receipt and this code you can check at any time that your ballot is in the count. Nobody else "
            "has it: the ballot box keeps only its fingerprint, and no link to you."
        ),
    ]
    buttons = []
    if card.vote_change:
        buttons.append([Button(t.plain("🔁 Change my vote"), cb("pw", card.id))])
    if card.results_visible:
        buttons.append([Button(t.plain("📊 Results so far"), cb("pres", card.id))])
    ctx.toast(t.plain("Vote cast ✅"))
    ctx.show(safe_join("\n", lines), buttons, secret=True)


async def vote_tapped(ctx: Context, data: CallbackData) -> None:
    """pv:<poll>:<position>: a yes/no or single-choice vote, cast on the tap."""
    ready = await _open_ballot(ctx, data.int_arg(0), casting=True)
    if ready is None:
        return
    poll, card = ready
    position = data.args[1] if len(data.args) > 1 and data.args[1].isdigit() else None
    if card.kind not in (PollKind.YESNO, PollKind.SINGLE) or position is None or card.option_at(int(position)) is None:
        await stale(ctx)
        return
    await _cast(ctx, poll, card, [int(position)])


def _draft(card: PollCard, data: CallbackData, index: int) -> list[int] | None:
    return decode_draft(data.args[index], len(card.options)) if len(data.args) > index else None


async def _draft_tap(ctx: Context, data: CallbackData, kind: PollKind) -> tuple[PollCard, list[int], int] | None:
    """<poll>:<draft>:<position> on a ballot of `kind` being built: the card, the draft and the option tapped."""
    ready = await _open_ballot(ctx, data.int_arg(0))
    if ready is None:
        return None
    _poll, card = ready
    draft = _draft(card, data, 1)
    position = data.args[2] if len(data.args) > 2 and data.args[2].isdigit() else None
    if card.kind is not kind or draft is None or position is None or card.option_at(int(position)) is None:
        await stale(ctx)
        return None
    return card, draft, int(position)


async def approval_toggled(ctx: Context, data: CallbackData) -> None:
    """pa:<poll>:<draft>:<position>: tick or untick an option (no more than the poll allows)."""
    tap = await _draft_tap(ctx, data, PollKind.APPROVAL)
    if tap is None:
        return
    card, draft, position = tap
    picked = toggled(draft, position)
    limit = card.max_choices or len(card.options)
    if len(picked) > limit:
        ctx.toast(ctx.t.plain("You can tick at most {max}. Untick one first.", max=limit))
        return
    ctx.show(ballot_reply(ctx.t, card, draft=picked).text, ballot_buttons(ctx.t, card, picked))


async def _submit(ctx: Context, data: CallbackData, kind: PollKind) -> None:
    """Cast the draft held in the button (the ticked options, or the order), if the poll is of that kind."""
    ready = await _open_ballot(ctx, data.int_arg(0))
    if ready is None:
        return
    poll, card = ready
    draft = _draft(card, data, 1)
    if card.kind is not kind or not draft:
        await stale(ctx)
        return
    await _cast(ctx, poll, card, draft)


async def approval_submitted(ctx: Context, data: CallbackData) -> None:
    """pas:<poll>:<draft>: cast the ticked options."""
    await _submit(ctx, data, PollKind.APPROVAL)


async def rank_tapped(ctx: Context, data: CallbackData) -> None:
    """pr:<poll>:<draft>:<position>: the next preference."""
    tap = await _draft_tap(ctx, data, PollKind.RANKED)
    if tap is None:
        return
    card, draft, position = tap
    if position in draft:
        ctx.toast(ctx.t.plain("Already in your order."))
        return
    order = [*draft, position]
    ctx.show(ballot_reply(ctx.t, card, draft=order).text, ballot_buttons(ctx.t, card, order))


async def rank_undone(ctx: Context, data: CallbackData) -> None:
    """pru:<poll>:<draft>: take back the last preference."""
    ready = await _open_ballot(ctx, data.int_arg(0))
    if ready is None:
        return
    _poll, card = ready
    draft = _draft(card, data, 1)
    if card.kind is not PollKind.RANKED or draft is None:
        await stale(ctx)
        return
    order = draft[:-1]
    ctx.show(ballot_reply(ctx.t, card, draft=order).text, ballot_buttons(ctx.t, card, order))


async def rank_submitted(ctx: Context, data: CallbackData) -> None:
    """prs:<poll>:<draft>: cast the order."""
    await _submit(ctx, data, PollKind.RANKED)


async def ballot_requested(ctx: Context, data: CallbackData) -> None:
    """po:<poll>: show the ballot again (from /polls)."""
    ready = await _open_ballot(ctx, data.int_arg(0))
    if ready is None:
        return
    _poll, card = ready
    reply = ballot_reply(ctx.t, card)
    ctx.say(reply.text, reply.buttons)


async def rules_tapped(ctx: Context, data: CallbackData) -> None:
    """pi:<poll>: the rules fixed before the poll opened."""
    poll_id = data.int_arg(0)
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None:
        await stale(ctx)
        return
    ctx.toast("")
    ctx.say(rules_text(ctx.t, await load_card(ctx.uow, poll)))


# ---------------------------------------------------------------- changing a vote with the receipt


async def change_vote_tapped(ctx: Context, data: CallbackData) -> None:
    """pw:<poll>: ask for the receipt; only it can find the ballot to withdraw."""
    poll_id = data.int_arg(0)
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None or ctx.resident is None or not poll.vote_change:
        await stale(ctx)
        return
    if poll.status != PollStatus.OPEN or ctx.now >= poll.closes_at:
        ctx.say(_closed_notice(ctx, poll))
        return
    await ctx.go(Flow.POLL_REVOTE, RevoteStep.RECEIPT, poll=poll.id)
    ctx.toast("")
    ctx.say(
        ctx.t.gettext(
            "🔁 To change your vote in “{question}”, send me the receipt you were given when you voted (it starts "
            "with {prefix}). I cannot find your ballot without it. Send /cancel to keep your vote.",
            question=poll_title(ctx.t, poll.question, poll.office),
            prefix=f"{poll.id}-",
        )
    )


async def revote_receipt_sent(ctx: Context) -> None:
    """The receipt, while changing a vote: withdraw that ballot and hand out a fresh one."""
    text = ctx.incoming.text if ctx.incoming.text else ""
    receipt = parse_receipt(text)
    poll = await ctx.uow.polls.get(int(ctx.data.get("poll", 0)))
    if poll is None or ctx.resident is None:
        await ctx.finish()
        await stale(ctx)
        return
    if receipt is None:
        ctx.say(_receipt_shape(ctx, poll.id))
        return
    if receipt.poll_id != poll.id:
        ctx.say(
            ctx.t.gettext(
                "That receipt is for poll {other}, not this one ({poll}). Send the receipt of this poll, or /cancel.",
                other=receipt.poll_id,
                poll=poll.id,
            )
        )
        return
    if poll.status != PollStatus.OPEN or ctx.now >= poll.closes_at:
        await ctx.finish()
        ctx.say(_closed_notice(ctx, poll))
        return
    if not await ctx.uow.ballots.withdraw(poll.id, ctx.resident.id, receipt.tracker_hash):
        ctx.say(
            ctx.t.gettext(
                "No ballot of yours in this poll has that receipt, so nothing has changed. Check that you copied "
                "all of it, or /cancel."
            )
        )
        return
    await ctx.finish()
    card = await load_card(ctx.uow, poll)
    notice = ctx.t.gettext(
        "↩️ Your earlier ballot is withdrawn and its receipt no longer counts. Vote again now: until you do, you "
        "have not voted."
    )
    reply = ballot_reply(ctx.t, card, header=notice)
    ctx.say(reply.text, reply.buttons)


def _receipt_shape(ctx: Context, poll_id: int | None = None) -> Safe:
    example = f"{poll_id or 12}-ABCDE-FGHIJ-KLMNO-PQRST-UVWXYZ"
    return ctx.t.gettext(
        "That does not look like a receipt. A receipt is the poll's number and 26 letters and digits, like "
        "{example}. Send it again, or /cancel.",
        example=example,
    )


# ---------------------------------------------------------------- /receipt


async def receipt_command(ctx: Context) -> None:
    """/receipt [CODE]: is this ballot in the box, or in the published count?"""
    if ctx.incoming.args.strip():
        await _check_receipt(ctx, ctx.incoming.args)
        return
    await ctx.go(Flow.RECEIPT, ReceiptStep.CODE)
    ctx.say(ctx.t.gettext("🧾 Send me the receipt you were given when you voted (or /cancel)."))


async def receipt_sent(ctx: Context) -> None:
    """The code, after /receipt."""
    await _check_receipt(ctx, ctx.incoming.text or "")


async def _check_receipt(ctx: Context, text: str) -> None:
    t = ctx.t
    receipt = parse_receipt(text)
    if receipt is None:
        ctx.say(_receipt_shape(ctx))
        return
    await ctx.finish()
    poll = await ctx.uow.polls.get(receipt.poll_id)
    if poll is None:
        ctx.say(
            t.gettext("There is no poll number {number}. Check the receipt's first digits.", number=receipt.poll_id)
        )
        return
    choice = await ctx.uow.ballots.find(poll.id, receipt.tracker_hash)
    closed = poll.status in (PollStatus.COUNTED, PollStatus.CLOSED)
    if choice is None:
        ctx.say(
            t.gettext(
                "No ballot of “{question}” has that receipt. Check that you copied all of it. If you changed your "
                "vote, only the receipt of your last ballot counts.",
                question=poll_title(t, poll.question, poll.office),
            )
        )
        return
    card = await load_card(ctx.uow, poll)
    chose = choice_text(t, card, choice)
    if not closed:
        ctx.say(
            t.gettext(
                "✅ Your ballot is in the ballot box of “{question}”: {choice}.\nThe ballots are published, without "
                "names, when the poll closes ({when}).",
                question=poll_title(t, poll.question, poll.office),
                choice=chose,
                when=when(t, poll.closes_at),
            )
        )
    elif poll.published_sha256:
        ctx.say(
            t.gettext(
                "✅ Your ballot is among the published ballots of “{question}”: {choice}.\nIn the file it is the one "
                "whose receipt_hash starts with {hash}.",
                question=poll_title(t, poll.question, poll.office),
                choice=chose,
                hash=receipt.tracker_hash[:12],
            ),
            [ballots_button(t, card)],
        )
    else:
        ctx.say(
            t.gettext(
                "✅ Your ballot was counted in “{question}”: {choice}.\nWith so few ballots only the totals are "
                "published, so that no one's vote can be told.",
                question=poll_title(t, poll.question, poll.office),
                choice=chose,
            )
        )


# ---------------------------------------------------------------- /polls, results, ballots


def _short(text: str) -> str:
    return text if len(text) <= LIST_TEXT_MAX else text[: LIST_TEXT_MAX - 1] + "…"


async def list_polls(ctx: Context) -> None:
    """/polls: the open polls I may vote in (marking those I have not), mine with turnout, the latest closed."""
    assert ctx.resident is not None
    t = ctx.t
    lines: list[Safe] = [t.gettext("🗳️ <b>Polls</b>")]
    rows: list[list[Button]] = []
    open_polls = await ctx.uow.polls.open_for(ctx.resident.id)
    if open_polls:
        lines.append(t.gettext("<b>Open</b>"))
        for poll, voted in open_polls:
            mark = t.gettext("✅ you voted") if voted else t.gettext("🔔 you have not voted yet")
            lines.append(
                t.gettext(
                    "• {question} (closes {when}) · {mark}",
                    question=poll_title(t, poll.question, poll.office),
                    when=when(t, poll.closes_at),
                    mark=mark,
                )
            )
            if not voted:
                rows.append([Button(t.plain("🗳️ Vote: {question}", question=_short(poll.question)), cb("po", poll.id))])
    else:
        lines.append(t.gettext("There are no open polls for you right now."))
    mine = await ctx.uow.polls.created_by(ctx.resident.id)
    if mine:
        lines.append(t.gettext("<b>Created by you</b>"))
        for poll in mine:
            voted_count = await ctx.uow.ballots.turnout(poll.id)
            lines.append(
                t.gettext(
                    "• {question}: {turnout}",
                    question=poll_title(t, poll.question, poll.office),
                    turnout=turnout_line(t, voted_count, poll.eligible_count),
                )
            )
    closed = await ctx.uow.polls.closed_for(ctx.resident.id)
    if closed:
        lines.append(t.gettext("<b>Closed</b>"))
        for poll in closed:
            lines.append(t.gettext("• {question}", question=poll_title(t, poll.question, poll.office)))
            rows.append([Button(t.plain("📊 {question}", question=_short(poll.question)), cb("pres", poll.id))])
    if ctx.allowed_somewhere(Action.CREATE_POLL):
        rows.append([Button(t.plain("➕ New poll"), cb("pnew"))])
    ctx.say(safe_join("\n", lines), rows)


async def results_tapped(ctx: Context, data: CallbackData) -> None:
    """pres:<poll>: the result of a closed poll, or the running count where the poll shows it."""
    poll_id = data.int_arg(0)
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None:
        await stale(ctx)
        return
    t = ctx.t
    ctx.toast("")
    card = await load_card(ctx.uow, poll)
    if poll.status == PollStatus.CLOSED and poll.result is not None:
        buttons = [ballots_button(t, card)] if poll.result.get("published") else []
        ctx.say(safe_join("\n", result_lines(t, card, poll.result)), buttons)
        return
    voted = await ctx.uow.ballots.turnout(poll.id)
    if poll.status == PollStatus.OPEN and poll.results_visible:
        running, _document = await count_poll(ctx.uow, poll, card)
        lines = result_lines(t, card, {**running, "published": False, "ballots": 0}, brief=True)
        lines[0] = t.gettext(
            "📊 <b>Results so far</b> · {question}", question=poll_title(t, poll.question, poll.office)
        )
        lines[-1] = t.gettext("The poll closes {when}.", when=when(t, poll.closes_at))
        ctx.say(safe_join("\n", lines))
        return
    ctx.say(
        safe_join(
            "\n",
            [
                t.gettext("Results are hidden until the poll closes ({when}).", when=when(t, poll.closes_at)),
                turnout_line(t, voted, poll.eligible_count),
            ],
        )
    )


async def ballots_tapped(ctx: Context, data: CallbackData) -> None:
    """pbl:<poll>: the published ballots as a JSON file (what `vecinos tally` reads), with its fingerprint."""
    poll_id = data.int_arg(0)
    poll = await ctx.uow.polls.get(poll_id) if poll_id else None
    if poll is None:
        await stale(ctx)
        return
    document = await published_ballots(ctx.uow, poll)
    ctx.toast("")
    if document is None:
        ctx.say(ctx.t.gettext("This poll has no published ballots (it is open, or had fewer than 5 ballots)."))
        return
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    caption = ctx.t.gettext(
        "Ballots of poll {poll}. SHA-256 of its canonical form: {sha}", poll=poll.id, sha=poll.published_sha256
    )
    ctx.send_document(content, f"poll-{poll.id}-ballots.json", caption)
    if poll.count_method == "stv":
        # An election's ballots also in BLT, the format every STV counter reads.
        ctx.send_document(to_blt(document).encode("utf-8"), f"poll-{poll.id}-ballots.blt")


ROUTES = Routes(
    commands={
        "polls": Command(list_polls, Action.SEE_POLLS),
        "receipt": Command(receipt_command, Action.CHECK_RECEIPT),
    },
    callbacks={
        "pv": Callback(vote_tapped, Action.VOTE),
        "pa": Callback(approval_toggled, Action.VOTE),
        "pas": Callback(approval_submitted, Action.VOTE),
        "pr": Callback(rank_tapped, Action.VOTE),
        "pru": Callback(rank_undone, Action.VOTE),
        "prs": Callback(rank_submitted, Action.VOTE),
        "po": Callback(ballot_requested, Action.VOTE),
        "pw": Callback(change_vote_tapped, Action.VOTE),
        "pi": Callback(rules_tapped, Action.SEE_POLLS),
        "pres": Callback(results_tapped, Action.SEE_POLLS),
        "pbl": Callback(ballots_tapped, Action.CHECK_RECEIPT),
    },
    step_inputs={
        **any_input(Flow.POLL_REVOTE, revote_receipt_sent),
        **any_input(Flow.RECEIPT, receipt_sent),
    },
)
