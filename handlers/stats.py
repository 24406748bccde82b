"""/stats: a barrio's figures for its community managers, admins and its Community Governance Commission,
for the last 7, 30, 90 or 365 days: as text, and as a chart of cases by sector and state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.channels.base import Button
from bot.charts import STATE_COLOURS, chart_labels, drawable, legend_labels, render_stacked_in_thread
from bot.domain.callbacks import CallbackData, cb
from bot.domain.permissions import Action, Place, Sector, can
from bot.domain.stats import (
    DEFAULT_PERIOD_DAYS,
    NO_SECTOR,
    PERIOD_DAYS,
    STATE_ORDER,
    AreaFigures,
    BarrioFigures,
    Turnout,
    has_activity,
    period_bounds,
)
from bot.i18n import Safe, Translator, safe_join
from handlers.common import stale
from handlers.context import Context
from handlers.labels import case_status_name, category_name, sector_name
from handlers.routing import Callback, Command, Routes
from handlers.stats_figures import barrio_figures
from storage.territory import BarrioView

# Why a second action: the permission table is per role, and a seat on a barrio's Community Governance
# Commission is a `body_seat` row (won in an election), not a role grant. So any registered person reaches the
# handler (SEE_POLLS is every registered person's), and `_visible_barrios` admits exactly the managers and
# admins the table allows (SEE_STATS) plus the governance seat holders; everyone else is told who may look.
ACTIONS = (Action.SEE_STATS, Action.SEE_POLLS)
CALLBACK = "sts"


async def _visible_barrios(ctx: Context) -> list[BarrioView]:
    """The barrios whose figures this person may see: by the permission table, or by a governance seat."""
    seats: set[int] = set()
    if ctx.resident is not None:
        seats = set(await ctx.uow.stats.governance_barrios(ctx.resident.id))
    return [
        b
        for b in await ctx.uow.territory.barrios()
        if b.id in seats or can(ctx.grants, Action.SEE_STATS, Place(barrio_id=b.id))
    ]


def _not_for_you(ctx: Context) -> None:
    ctx.say(
        ctx.t.gettext(
            "📊 The figures are for community managers, admins and members of a barrio's Community Governance "
            "Commission."
        )
    )


async def show_stats(ctx: Context) -> None:
    """/stats: the figures of the first barrio this person may see, for the last 30 days, and their chart."""
    barrios = await _visible_barrios(ctx)
    if not barrios:
        _not_for_you(ctx)
        return
    await _send(ctx, barrios, barrios[0], DEFAULT_PERIOD_DAYS)


async def choose(ctx: Context, data: CallbackData) -> None:
    """A tap on a period or a barrio: the figures for that choice."""
    barrio_id, days = data.int_arg(0), data.int_arg(1)
    if barrio_id is None or days not in PERIOD_DAYS:
        await stale(ctx)
        return
    barrios = await _visible_barrios(ctx)
    chosen = next((b for b in barrios if b.id == barrio_id), None)
    if chosen is None:
        if ctx.incoming.callback_id:
            ctx.toast(ctx.t.plain("You are not allowed to do that."))
        _not_for_you(ctx)
        return
    await _send(ctx, barrios, chosen, days)


async def _send(ctx: Context, barrios: list[BarrioView], barrio: BarrioView, days: int) -> None:
    since, until = period_bounds(days, ctx.now)
    figures = await barrio_figures(ctx.uow, barrio.id, since, until, ctx.now)
    t = ctx.t
    ctx.say(render_figures(t, figures, days), _buttons(t, barrios, barrio, days))
    if not figures.total.cases.created:
        return  # an empty chart says nothing the text does not
    # Drawn inside the update's transaction (about 0.15 s in a worker thread): a staff command, seldom used.
    title = t.plain("Cases of {barrio} by sector and state, last {days} days", barrio=barrio.name, days=t.number(days))
    png, caption = await sector_chart(t, figures.total, barrio.name, title)
    ctx.send_document(png, f"stats-{barrio.code}-{days}d.png", caption)


async def sector_chart(t: Translator, area: AreaFigures, barrio_name: str, title: str) -> tuple[bytes, Safe]:
    """The chart of an area's cases by sector and state (PNG), and its caption in the reader's language."""
    names, groups, series, values, colours = chart_data(t, area)
    png = await render_stacked_in_thread(title, groups, series, values, colours)
    caption = t.gettext("📊 {barrio}: cases by sector and state", barrio=barrio_name)
    if not all(drawable(name) for name in names):
        # The font could not draw the sectors' names: the bars are numbered, the caption names them.
        numbered = [t.gettext("{n}. {sector}", n=t.number(n), sector=name) for n, name in enumerate(names, 1)]
        caption = safe_join("\n", [caption, *numbered])
    return png, caption


def _buttons(t: Translator, barrios: list[BarrioView], barrio: BarrioView, days: int) -> list[list[Button]]:
    periods = [
        Button(
            t.plain("✅ {days} days", days=t.number(d)) if d == days else t.plain("{days} days", days=t.number(d)),
            cb(CALLBACK, barrio.id, d),
        )
        for d in PERIOD_DAYS
    ]
    rows = [periods]
    others = [Button(b.name, cb(CALLBACK, b.id, days)) for b in barrios if b.id != barrio.id]
    rows += [others[i : i + 3] for i in range(0, len(others), 3)]
    return rows


def _sectors(area: AreaFigures) -> list[str]:
    return list(area.cases.by_sector_state)


def _sector_label(t: Translator, sector: str) -> str:
    if sector == NO_SECTOR:
        return t.plain("No sector")
    try:
        return sector_name(t, Sector(sector))
    except ValueError:
        return sector


def _state_label(t: Translator, state: str) -> str:
    try:
        return case_status_name(t, state)
    except (KeyError, ValueError):
        return state


def chart_data(t: Translator, area: AreaFigures) -> tuple[list[str], list[str], list[str], list[list[int]], list[str]]:
    """The chart's sectors' names, its bars' labels (those names, or numbers when the font cannot draw them),
    its stacks (states, in the lifecycle's order, named or coded), their heights, and each state's colour
    (always the same one, so charts compare at a glance)."""
    sectors = _sectors(area)
    matrix = area.cases.by_sector_state
    states = [s for s in STATE_ORDER if any(s in matrix[sector] for sector in sectors)]
    values = [[matrix[sector].get(state, 0) for sector in sectors] for state in states]
    names = [_sector_label(t, s) for s in sectors]
    series = legend_labels([_state_label(t, s) for s in states], states)
    colours = [STATE_COLOURS[STATE_ORDER.index(s) % len(STATE_COLOURS)] for s in states]
    return names, chart_labels(names), series, values, colours


def _hours(t: Translator, duration: timedelta | None) -> Safe:
    if duration is None:
        return t.gettext("none yet")
    return t.gettext("{hours} h", hours=t.number(round(duration.total_seconds() / 3600, 1)))


def _turnout(t: Translator, turnout: Turnout) -> Safe:
    if turnout.ratio is None:
        return t.gettext("{closed} closed", closed=t.number(turnout.count))
    return t.gettext(
        "{closed} closed, turnout {turnout} ({participations} of {electors})",
        closed=t.number(turnout.count),
        turnout=t.percent(turnout.ratio * 100),
        participations=t.number(turnout.participations),
        electors=t.number(turnout.electors),
    )


def _counts(t: Translator, counts: dict[str, int], name: Callable[[str], str]) -> Safe:
    if not counts:
        return t.gettext("none")
    return safe_join(
        ", ",
        [t.gettext("{name}: {count}", name=name(key), count=t.number(n)) for key, n in counts.items()],
    )


def render_area(t: Translator, area: AreaFigures) -> list[Safe]:
    """The lines of one area's figures."""
    cases = area.cases

    def sector(code: str) -> str:
        return _sector_label(t, code)

    def state(code: str) -> str:
        return _state_label(t, code)

    def category(code: str) -> str:
        return category_name(t, code)

    return [
        t.gettext("New cases: {count}", count=t.number(cases.created)),
        t.gettext("· by state: {counts}", counts=_counts(t, cases.by_state, state)),
        t.gettext("· by sector: {counts}", counts=_counts(t, cases.by_sector, sector)),
        t.gettext("· by category: {counts}", counts=_counts(t, cases.by_category, category)),
        t.gettext("Open now: {count}", count=t.number(cases.open_now)),
        t.gettext("· by state: {counts}", counts=_counts(t, cases.open_by_state, state)),
        t.gettext("· by sector: {counts}", counts=_counts(t, cases.open_by_sector, sector)),
        t.gettext("· by category: {counts}", counts=_counts(t, cases.open_by_category, category)),
        t.gettext("Overdue now: {count}", count=t.number(cases.overdue)),
        t.gettext("Median time to acknowledge: {time}", time=_hours(t, cases.median_acknowledge)),
        t.gettext("Median time to resolve: {time}", time=_hours(t, cases.median_resolve)),
        t.gettext("“Me too”: {count}", count=t.number(cases.me_too)),
        t.gettext("Polls: {turnout}", turnout=_turnout(t, area.polls)),
        t.gettext("Elections: {turnout}", turnout=_turnout(t, area.elections)),
    ]


def render_figures(t: Translator, figures: BarrioFigures, days: int) -> Safe:
    """The whole text of /stats: the barrio, then each circle that had cases or votes."""
    lines = [
        t.gettext(
            "📊 <b>{barrio}</b>: last {days} days ({since} to {until})",
            barrio=figures.barrio_name,
            days=t.number(days),
            since=t.datetime(figures.since, "short"),
            until=t.datetime(figures.until, "short"),
        ),
        *render_area(t, figures.total),
    ]
    for circle in figures.circles:
        if has_activity(circle.figures):
            lines += [Safe(""), t.gettext("<b>{circle}</b>", circle=circle.name), *render_area(t, circle.figures)]
    return safe_join("\n", lines)


ROUTES = Routes(
    commands={
        "stats": Command(
            show_stats,
            ACTIONS,
        )
    },
    callbacks={CALLBACK: Callback(choose, ACTIONS)},
)
