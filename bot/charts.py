"""Result charts: a horizontal bar chart PNG of a poll's votes (matplotlib's Agg backend, no display).

Rendering takes tens of milliseconds and holds the GIL, so callers run it in a thread (`render_in_thread`)
and never on the event loop. Labels the bundled font cannot draw (Arabic needs shaping, Chinese glyphs are
missing) are replaced by the options' numbers: the caption beside the chart names each option in full.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from functools import lru_cache

BAR_COLOUR = "#8fa9c9"
WINNER_COLOUR = "#1f5fa8"
LABEL_MAX = 40


@lru_cache(maxsize=1)
def _drawable_characters() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont("DejaVu Sans"))
    return frozenset(font.get_charmap())


def drawable(text: str) -> bool:
    """Whether the chart's font draws every character of `text` left to right as written (no shaping)."""
    characters = _drawable_characters()
    return all(ord(c) in characters or c.isspace() for c in text) and not any(
        "\u0590" <= c <= "\u08ff" or "\ufb1d" <= c <= "\ufeff" for c in text
    )


def chart_labels(options: Sequence[str]) -> list[str]:
    """The bars' labels: the options' texts when the font draws them all, else their numbers."""
    if all(drawable(o) for o in options):
        return [o if len(o) <= LABEL_MAX else o[: LABEL_MAX - 1] + "…" for o in options]
    return [f"{n}." for n in range(1, len(options) + 1)]


def render_bar_chart(labels: Sequence[str], votes: Sequence[int], winners: Sequence[int] = ()) -> bytes:
    """A PNG of one bar per option (top to bottom in the given order), its votes written at its end, the
    winners' bars darker."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    height = 1.2 + 0.55 * len(labels)
    figure = Figure(figsize=(7, height), dpi=110)
    axes = figure.subplots()
    positions = list(range(len(labels)))[::-1]
    colours = [WINNER_COLOUR if i in winners else BAR_COLOUR for i in range(len(labels))]
    bars = axes.barh(positions, votes, color=colours)
    axes.set_yticks(positions, labels=list(labels))
    axes.bar_label(bars, labels=[str(v) for v in votes], padding=4)
    axes.set_xlim(0, max([*votes, 1]) * 1.15)
    axes.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_in_thread(labels: Sequence[str], votes: Sequence[int], winners: Sequence[int] = ()) -> bytes:
    """`render_bar_chart` off the event loop."""
    return await asyncio.to_thread(render_bar_chart, list(labels), list(votes), list(winners))


# The cases chart: a fixed size, so it looks the same in every chat (1000 x 600 pixels).
STATS_SIZE_INCHES = (10.0, 6.0)
STATS_DPI = 100
STATE_COLOURS = ("#1f5fa8", "#8fa9c9", "#e0a03c", "#5fa86b", "#2e7d32", "#c0504d", "#9e9e9e", "#bdb76b", "#6d4c41")


def legend_labels(names: Sequence[str], codes: Sequence[str]) -> list[str]:
    """The legend's entries: the translated names when the font draws them all, else the stable codes."""
    if all(drawable(n) for n in names):
        return [n if len(n) <= LABEL_MAX else n[: LABEL_MAX - 1] + "…" for n in names]
    return list(codes)


def render_stacked_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[int]],
    colours: Sequence[str] = (),
) -> bytes:
    """A PNG of 1000 x 600 pixels: one bar per group (left to right), stacked by series, `values[s][g]` the
    height of series `s` in group `g`, in `colours[s]` (else the palette's in turn); the title on top (left
    out when the font cannot draw it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=STATS_SIZE_INCHES, dpi=STATS_DPI)
    axes = figure.subplots()
    positions = list(range(len(groups)))
    bottoms = [0] * len(groups)
    for index, (name, heights) in enumerate(zip(series, values, strict=True)):
        colour = colours[index] if index < len(colours) else STATE_COLOURS[index % len(STATE_COLOURS)]
        axes.bar(positions, heights, bottom=bottoms, label=name, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_xticks(positions, labels=list(groups))
    axes.set_ylim(0, max([*bottoms, 1]) * 1.15)
    axes.yaxis.get_major_locator().set_params(integer=True)
    for position, total in zip(positions, bottoms, strict=True):
        axes.annotate(
            str(total), (position, total), ha="center", va="bottom", xytext=(0, 3), textcoords="offset points"
        )
    if series:
        axes.legend(loc="upper right", fontsize="small")
    if drawable(title):
        axes.set_title(title)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    # No bbox_inches="tight": the picture keeps its fixed size.
    figure.savefig(buffer, format="png", dpi=STATS_DPI)
    return buffer.getvalue()


async def render_stacked_in_thread(
    title: str,
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[int]],
    colours: Sequence[str] = (),
) -> bytes:
    """`render_stacked_chart` off the event loop."""
    return await asyncio.to_thread(
        render_stacked_chart, title, list(groups), list(series), [list(v) for v in values], list(colours)
    )
