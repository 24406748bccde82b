"""How a poll looks in chat, in each reader's language: the ballot (with its buttons), the rules, the result.

Rendering is pure: a `PollCard` is loaded once (one query set per poll) and rendered per language, so a
district-wide fan-out renders ten times, not twenty thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.channels.base import Button, Reply
from bot.domain.ballots import PollKind, encode_draft
from bot.domain.callbacks import cb
from bot.domain.polls import MIN_BALLOTS_PUBLISHED, PollScope, ScopeKind, YesNo, turnout_percent
from bot.i18n import N_, Safe, Translator, escape, safe_join
from storage.models import Poll
from storage.uow import UnitOfWork

YESNO_LABELS = {YesNo.YES: N_("Yes"), YesNo.NO: N_("No"), YesNo.ABSTAIN: N_("Abstain")}
KIND_NAMES = {
    PollKind.YESNO: N_("Yes or no"),
    PollKind.SINGLE: N_("One choice"),
    PollKind.APPROVAL: N_("Several choices (approval)"),
    PollKind.RANKED: N_("Ranked (order of preference)"),
}
BUTTON_TEXT_MAX = 60


@dataclass(frozen=True, slots=True)
class OptionView:
    """One option as the cards need it."""

    id: int
    position: int
    text: str
    code: str | None


@dataclass(frozen=True, slots=True)
class PollCard:
    """Everything needed to show a poll in any language, read once."""

    id: int
    kind: PollKind
    question: str
    options: tuple[OptionView, ...]
    status: str
    opens_at: datetime
    closes_at: datetime
    max_choices: int | None
    vote_change: bool
    results_visible: bool
    quorum_percent: int
    threshold_percent: int
    eligible: int
    scope: PollScope
    scope_name: str | None
    lot_positions: tuple[int, ...]
    details: str | None = None
    result: dict[str, Any] | None = None
    published_sha256: str | None = None
    office: str | None = None

    def option_at(self, position: int) -> OptionView | None:
        """The option at a position, if there is one."""
        return self.options[position] if 0 <= position < len(self.options) else None

    def by_id(self) -> dict[int, OptionView]:
        """Options by id."""
        return {o.id: o for o in self.options}


async def scope_name(uow: UnitOfWork, scope: PollScope) -> str | None:
    """The proper name of a circle or barrio scope (None for the district, which is translated)."""
    if scope.kind is ScopeKind.CIRCLE and scope.id:
        circle = await uow.territory.circle(scope.id)
        return circle.name if circle else None
    if scope.kind in (ScopeKind.BARRIO, ScopeKind.COUNCIL) and scope.id:
        barrio = await uow.territory.barrio(scope.id)
        return barrio.name if barrio else None
    return None


async def load_card(uow: UnitOfWork, poll: Poll, details: bool = True) -> PollCard:
    """Read a poll's card: its options, its scope's name and (with `details`) the proposal it was born of."""
    options = tuple(OptionView(o.id, o.position, o.text, o.code) for o in await uow.polls.options(poll.id))
    scope = PollScope(ScopeKind(poll.scope_kind), poll.scope_id)
    positions = {o.id: o.position for o in options}
    proposal = await uow.proposals.of_poll(poll.id) if details and poll.office is None else None
    statements = await _candidate_statements(uow, poll.id) if details and poll.office is not None else None
    return PollCard(
        id=poll.id,
        kind=PollKind(poll.kind),
        question=poll.question,
        options=options,
        status=poll.status,
        opens_at=poll.opens_at,
        closes_at=poll.closes_at,
        max_choices=poll.max_choices,
        vote_change=poll.vote_change,
        results_visible=poll.results_visible,
        quorum_percent=poll.quorum_percent,
        threshold_percent=poll.threshold_percent,
        eligible=poll.eligible_count,
        scope=scope,
        scope_name=await scope_name(uow, scope),
        lot_positions=tuple(positions[i] for i in poll.lot_order if i in positions),
        details=proposal.text if proposal else statements,
        result=poll.result,
        published_sha256=poll.published_sha256,
        office=poll.office,
    )


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word, with an ellipsis if anything was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip() + "…"


async def _candidate_statements(uow: UnitOfWork, poll_id: int) -> str | None:
    """An election ballot's candidate list: each candidate's name and statement, as they wrote it."""
    election = await uow.elections.by_poll(poll_id)
    if election is None:
        return None
    standing = await uow.elections.candidacies(election.id, statuses=["standing"])
    lines = [
        f"• {c.name}: {c.statement}" if c.statement else f"• {c.name}" for c in sorted(standing, key=lambda c: c.id)
    ]
    return "\n".join(lines) or None


def option_label(t: Translator, option: OptionView) -> str:
    """An option's text: yes/no/abstain in the reader's language, anything else as its author wrote it."""
    if option.code in YESNO_LABELS:
        return t.plain(YESNO_LABELS[YesNo(option.code)])
    return option.text


def _button_text(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT_MAX else text[: BUTTON_TEXT_MAX - 1] + "…"


def poll_title(t: Translator, question: str, office: str | None) -> str:
    """A poll's title: its question as the author wrote it, or for an election's vote, what it elects and
    where, in the reader's language."""
    if office == "delegate":
        return t.plain("Election of the delegates of {place}", place=question)
    if office == "forum":
        return t.plain("Election of the {place} council's representatives to the District Forum", place=question)
    if office == "governance":
        return t.plain("Election of the {place} council's representative to its Governance Commission",
                       place=question)  # fmt: skip
    return question


def title(t: Translator, card: PollCard) -> str:
    """`poll_title` of a card."""
    return poll_title(t, card.question, card.office)


def scope_text(t: Translator, card: PollCard) -> str:
    """Whose poll it is, in the reader's language."""
    if card.scope.kind is ScopeKind.DISTRICT:
        return t.plain("the whole district")
    if card.scope.kind is ScopeKind.COUNCIL:
        return t.plain("the Citizen Community Council of {place}", place=card.scope_name or "?")
    return card.scope_name or "?"


def when(t: Translator, moment: datetime) -> str:
    """A date and time in the reader's language and the district's time zone."""
    return t.datetime(moment, "short")


def choice_text(t: Translator, card: PollCard, option_ids: Sequence[int]) -> Safe:
    """A ballot's choice as the voter reads it back."""
    options = card.by_id()
    labels = [escape(option_label(t, options[i])) for i in option_ids if i in options]
    if card.kind is PollKind.RANKED:
        return safe_join(
            ", ", [t.gettext("{rank}. {option}", rank=n, option=label) for n, label in enumerate(labels, 1)]
        )
    return safe_join(", ", labels)


def _instructions(t: Translator, card: PollCard) -> Safe:
    if card.kind is PollKind.APPROVAL:
        return t.ngettext(
            "Tick the option you approve, then tap Submit.",
            "Tick up to {n} options you approve, then tap Submit.",
            card.max_choices or len(card.options),
        )
    if card.kind is PollKind.RANKED:
        return t.gettext(
            "Tap the options in your order of preference (first choice first), then tap Submit. You need not "
            "rank them all."
        )
    return t.gettext("Tap your answer.")


def _secrecy(t: Translator, card: PollCard) -> Safe:
    if card.vote_change:
        return t.gettext("Your vote is secret. You can change it until the poll closes.")
    return t.gettext("Your vote is secret and final: it cannot be changed.")


def ballot_reply(
    t: Translator, card: PollCard, *, draft: Sequence[int] = (), header: Safe | None = None, notice: Safe | None = None
) -> Reply:
    """The ballot: the question, how to vote, and one button per option (approval: ticks; ranked: the order so
    far, undo and submit). `draft` holds the option positions picked so far."""
    lines: list[Safe] = []
    if header is not None:
        lines.append(header)
    lines.append(t.gettext("🗳️ <b>Poll</b> · {scope}", scope=scope_text(t, card)))
    lines.append(t.gettext("<b>{question}</b>", question=title(t, card)))
    if card.details:
        lines.append(escape(card.details))
    if card.kind is PollKind.RANKED:
        picked = [card.options[p] for p in draft]
        if picked:
            order = safe_join(
                "\n",
                [t.gettext("{rank}. {option}", rank=n, option=option_label(t, o)) for n, o in enumerate(picked, 1)],
            )
            lines.append(safe_join("\n", [t.gettext("Your order so far:"), order]))
    if card.kind is PollKind.APPROVAL and draft:
        lines.append(
            t.gettext(
                "Ticked: {count} of at most {max}.",
                count=t.number(len(draft)),
                max=t.number(card.max_choices or len(card.options)),
            )
        )
    lines.append(safe_join(" ", [_instructions(t, card), _secrecy(t, card)]))
    lines.append(t.gettext("Closes {when}.", when=when(t, card.closes_at)))
    if notice is not None:
        lines.append(notice)
    return Reply(text=safe_join("\n\n", lines), buttons=ballot_buttons(t, card, draft))


def ballot_buttons(t: Translator, card: PollCard, draft: Sequence[int] = ()) -> list[list[Button]]:
    """The ballot's buttons for the draft so far."""
    rows: list[list[Button]] = []
    encoded = encode_draft(draft)
    if card.kind is PollKind.YESNO:
        yes, no, abstain = card.options
        rows.append([Button(option_label(t, o), cb("pv", card.id, o.position)) for o in (yes, no)])
        rows.append([Button(option_label(t, abstain), cb("pv", card.id, abstain.position))])
    elif card.kind is PollKind.SINGLE:
        rows.extend([Button(_button_text(o.text), cb("pv", card.id, o.position))] for o in card.options)
    elif card.kind is PollKind.APPROVAL:
        chosen = set(draft)
        for o in card.options:
            mark = "☑️" if o.position in chosen else "⬜"
            rows.append([Button(f"{mark} {_button_text(o.text)}", cb("pa", card.id, encoded, o.position))])
        if chosen:
            rows.append([Button(t.plain("✅ Submit ({count})", count=len(chosen)), cb("pas", card.id, encoded))])
    else:
        for o in card.options:
            if o.position not in draft:
                rows.append([Button(_button_text(o.text), cb("pr", card.id, encoded, o.position))])
        if draft:
            rows.append(
                [
                    Button(t.plain("↩️ Undo"), cb("pru", card.id, encoded)),
                    Button(t.plain("✅ Submit"), cb("prs", card.id, encoded)),
                ]
            )
    rows.append([Button(t.plain("ℹ️ Rules of this poll"), cb("pi", card.id))])
    return rows


def rules_text(t: Translator, card: PollCard) -> Safe:
    """What decides this poll, fixed before it opened: kind, closing, quorum, threshold, the tie-break order."""
    lines = [
        t.gettext("ℹ️ <b>Rules</b> · {question}", question=title(t, card)),
        t.gettext("Kind: {kind}", kind=t.plain(KIND_NAMES[card.kind])),
        t.gettext(
            "Who votes: the verified members of {scope} when the poll opened ({count}).",
            scope=scope_text(t, card),
            count=t.number(card.eligible),
        ),
        t.gettext("Closes {when}.", when=when(t, card.closes_at)),
    ]
    if card.quorum_percent:
        lines.append(
            t.gettext(
                "Quorum: at least {percent} of them must vote, or no result is declared.",
                percent=t.percent(card.quorum_percent),
            )
        )
    else:
        lines.append(t.gettext("Quorum: none."))
    if card.kind is PollKind.YESNO:
        lines.append(
            t.gettext(
                "It carries if yes is more than {percent} of the yes and no votes (abstentions are not counted).",
                percent=t.percent(card.threshold_percent),
            )
        )
    elif card.kind is PollKind.RANKED:
        lines.append(
            t.gettext(
                "Counting: instant runoff. The option with fewest votes drops out and its ballots pass to their "
                "next choice, until one option has more than half of the ballots still in the count."
            )
        )
    elif card.kind is PollKind.APPROVAL:
        lines.append(t.gettext("Counting: the option approved by most voters wins."))
    else:
        lines.append(t.gettext("Counting: the option with most votes wins."))
    if card.kind is not PollKind.YESNO and card.lot_positions:
        order = ", ".join(card.options[p].text for p in card.lot_positions)
        lines.append(t.gettext("A tie is broken by this order, fixed before voting opened: {order}.", order=order))
    lines.append(
        t.gettext("Results: shown as voting goes.")
        if card.results_visible
        else t.gettext("Results: hidden until the poll closes; only the turnout is shown.")
    )
    lines.append(_secrecy(t, card))
    lines.append(
        t.gettext(
            "Secrecy: the ballot box keeps no link between you and your ballot, and your receipt lets you check it "
            "was counted. Telegram carries your taps, as it carries every message."
        )
    )
    return safe_join("\n", lines)


def turnout_line(t: Translator, voted: int, eligible: int) -> Safe:
    """'23 of 61 have voted (37%).'"""
    return t.ngettext(
        "{voted} of {n} has voted ({percent}).",
        "{voted} of {n} have voted ({percent}).",
        eligible,
        voted=t.number(voted),
        percent=t.percent(turnout_percent(voted, eligible)),
    )


def result_lines(t: Translator, card: PollCard, result: dict[str, Any], *, brief: bool = False) -> list[Safe]:
    """The result of a count, in the reader's language (`brief`: for a photo caption)."""
    options = {o.text: o for o in card.options}
    lines = [t.gettext("📊 <b>Result</b> · {question}", question=title(t, card))]
    lines.append(turnout_line(t, result["voted"], result["eligible"]))
    winners = set(result.get("winners") or [])
    for rank, row in enumerate(result["results"], 1):
        option = options.get(row["option"])
        label = option_label(t, option) if option else row["option"]
        trophy = " 🏆" if row["option"] in winners else ""
        votes = t.number(row["votes"])
        if card.kind is PollKind.YESNO:
            lines.append(t.gettext("{option}: {votes}{trophy}", option=label, votes=votes, trophy=trophy))
        else:
            # Numbered, as the chart's bars are when it cannot draw the options' script.
            lines.append(
                t.gettext("{rank}. {option}: {votes}{trophy}", rank=rank, option=label, votes=votes, trophy=trophy)
            )
    lines.append(_outcome_line(t, card, result))
    if not brief:
        lines.extend(_rounds_lines(t, card, result))
        tie = _tie_line(t, result)
        if tie is not None:
            lines.append(tie)
    if result.get("published"):
        lines.append(
            t.ngettext(
                "The {n} ballot is published without names; check yours with /receipt.",
                "The {n} ballots are published without names; check yours with /receipt.",
                result["ballots"],
            )
        )
    elif result["ballots"]:
        lines.append(
            t.gettext(
                "Fewer than {min} ballots: only the totals are published, so that no one's vote can be told.",
                min=t.number(MIN_BALLOTS_PUBLISHED),
            )
        )
    return lines


def _outcome_line(t: Translator, card: PollCard, result: dict[str, Any]) -> Safe:
    if not result["quorum_met"]:
        return t.gettext(
            "Quorum not reached (at least {percent} had to vote): no result is declared.",
            percent=t.percent(card.quorum_percent),
        )
    if card.kind is PollKind.YESNO:
        yes_share = result.get("yes_percent", 0)
        if result.get("carried"):
            return t.gettext(
                "✅ Carried: yes has {share} of the yes and no votes (more than {percent} was needed).",
                share=t.percent(yes_share),
                percent=t.percent(card.threshold_percent),
            )
        return t.gettext(
            "❌ Not carried: yes has {share} of the yes and no votes (more than {percent} was needed).",
            share=t.percent(yes_share),
            percent=t.percent(card.threshold_percent),
        )
    if not result.get("winners"):
        return t.gettext("No option received a vote.")
    if result.get("method") == "stv":
        return t.gettext("🏆 Elected, in order: {names}", names=", ".join(result["winners"]))
    return t.gettext("Winner: {option}", option=", ".join(result["winners"]))


def _votes(t: Translator, text: str) -> str:
    """An STV count's five-decimal votes, to two decimals in the reader's locale (the JSON keeps all five)."""
    return t.number(round(float(text), 2))


def _stv_lines(t: Translator, result: dict[str, Any]) -> list[Safe]:
    """Every stage of a Scottish STV count, in words."""
    lines = [
        t.ngettext(
            "Scottish STV for {n} seat: a candidate is elected on reaching the quota of {quota} votes.",
            "Scottish STV for {n} seats: a candidate is elected on reaching the quota of {quota} votes.",
            int(result.get("seats", 1)),
            quota=_votes(t, result.get("quota", "0")),
        )
    ]
    for stage in result.get("rounds", []):
        number, subject = stage["round"], stage.get("subject")
        if stage.get("action") == "surplus":
            lines.append(
                t.gettext(
                    "Round {round}: the surplus of {name} ({votes} votes) passes to the next preferences.",
                    round=number,
                    name=subject,
                    votes=_votes(t, stage.get("transferred", "0")),
                )
            )
        elif stage.get("action") == "exclusion":
            lines.append(
                t.gettext(
                    "Round {round}: {name} has fewest votes and is excluded; their ballots pass on.",
                    round=number,
                    name=subject,
                )
            )
        elif stage.get("action") == "remaining_elected":
            lines.append(
                t.gettext("Round {round}: as many candidates are left as seats, so they are elected.", round=number)
            )
        if stage.get("elected"):
            lines.append(t.gettext("Round {round}: elected {names}.", round=number, names=", ".join(stage["elected"])))
    return lines


def _rounds_lines(t: Translator, card: PollCard, result: dict[str, Any]) -> list[Safe]:
    if card.kind is not PollKind.RANKED or not result.get("quorum_met"):
        return []
    if result.get("method") == "stv":
        return _stv_lines(t, result)
    lines = []
    for round_ in result.get("rounds", []):
        for name in round_.get("excluded", []):
            lines.append(t.gettext("Round {round}: {option} drops out.", round=round_["round"], option=name))
        for name in round_.get("elected", []):
            lines.append(
                t.gettext(
                    "Round {round}: {option} has more than half of the ballots still in the count.",
                    round=round_["round"],
                    option=name,
                )
            )
    return lines


def _tie_line(t: Translator, result: dict[str, Any]) -> Safe | None:
    ties = [r["tie_break"] for r in result.get("rounds", []) if r.get("tie_break")]
    if not ties:
        return None
    tie = ties[-1]
    if tie["kind"] == "look_back":
        return t.gettext(
            "A tie between {options} was broken by the votes of an earlier round.", options=", ".join(tie["among"])
        )
    return t.gettext(
        "A tie between {options} was broken by the order published before voting opened.",
        options=", ".join(tie["among"]),
    )


def result_reply(t: Translator, card: PollCard, *, brief: bool = False) -> Reply:
    """The result message (text only; the announcement adds the chart)."""
    assert card.result is not None
    return Reply(text=safe_join("\n", result_lines(t, card, card.result, brief=brief)))


def ballots_button(t: Translator, card: PollCard) -> list[Button]:
    """The button that sends the published ballots file."""
    return [Button(t.plain("⬇️ The published ballots (JSON)"), cb("pbl", card.id))]


def draft_positions(card: PollCard, positions: Sequence[int]) -> list[int]:
    """Option ids for option positions."""
    return [card.options[p].id for p in positions]
