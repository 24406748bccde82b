"""Scottish STV counting speed: the real Glasgow 2007 Greater Pollok ballots, and 1,000,000 generated ballots
(20 candidates, 5 seats). Prints JSON: seconds (median of runs) and peak memory of each count, and the same
Glasgow count by an established STV package from PyPI (`stvpoll`, its Scottish STV) in this process, if it is
installed (`.venv/bin/pip install stvpoll`), as a ratio.

The generated ballots are seeded, so every run counts the same election: each voter ranks 1 to 20 candidates
(a few on average, as real voters do) drawn by popularity without replacement.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.ballot_files import read_blt  # noqa: E402
from bot.domain.stv import count_stv  # noqa: E402
from bot.domain.tally import Ballot  # noqa: E402

GLASGOW = ROOT / "data" / "elections" / "glasgow-2007-greater-pollok.blt"
DECLARED = ["Patricia Duffy", "Alex Glass", "Tommy Morrison", "William O'Rourke"]


def generated_election(ballots: int, candidates: int, seed: int = 2026) -> tuple[list[str], list[Ballot]]:
    """`ballots` seeded ballots over `candidates` names, each a ranking of a few drawn by popularity."""
    rng = random.Random(seed)
    names = [f"Candidate {i:02d}" for i in range(1, candidates + 1)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(candidates)]
    generated: list[Ballot] = []
    for _ in range(ballots):
        length = min(candidates, 1 + int(rng.expovariate(1 / 3)))
        pool, pool_weights, ranking = list(range(candidates)), list(weights), []
        for _ in range(length):
            pick = rng.choices(range(len(pool)), weights=pool_weights)[0]
            ranking.append(names[pool.pop(pick)])
            pool_weights.pop(pick)
        generated.append(Ballot(tuple(ranking)))
    return names, generated


def timed(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Median seconds of `runs` calls, and the last result."""
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def peak_mib(work: Callable[[], Any]) -> float:
    """Peak memory Python allocated during one call (MiB), beyond what was allocated before it."""
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def stvpoll_glasgow(candidates: tuple[str, ...], ballots: list[Ballot]) -> Callable[[], list[str]] | None:
    """The Glasgow count by stvpoll's Scottish STV, if the package is installed."""
    try:
        from stvpoll.scottish_stv import calculate_scottish_stv
    except ImportError:
        return None
    data = [(b.ranking, b.count) for b in ballots if b.ranking]

    def work() -> list[str]:
        result = calculate_scottish_stv(list(candidates), data, 4, random_shuffle=False)
        return [str(name) for name in result.elected_as_tuple()]

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=1_000_000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--seats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="Glasgow counts to take the median of")
    args = parser.parse_args()

    started = time.perf_counter()
    glasgow = read_blt(GLASGOW.read_text(encoding="utf-8"))
    read_seconds = time.perf_counter() - started

    def ours() -> tuple[str, ...]:
        return count_stv(glasgow.candidates, glasgow.ballots, seats=glasgow.seats, lot=glasgow.candidates).winners

    glasgow_seconds, winners = timed(args.runs, ours)
    report: dict[str, Any] = {
        "machine_note": "seconds are wall time on this machine, medians; memory is Python's traced peak",
        "glasgow": {
            "ballots": sum(b.count for b in glasgow.ballots),
            "candidates": len(glasgow.candidates),
            "seats": glasgow.seats,
            "read_seconds": round(read_seconds, 4),
            "count_seconds": round(glasgow_seconds, 4),
            "peak_mib": peak_mib(ours),
            "winners": list(winners),
            "declared_result_reproduced": list(winners) == DECLARED,
        },
    }
    theirs = stvpoll_glasgow(glasgow.candidates, glasgow.ballots)
    if theirs is None:
        report["stvpoll"] = "not installed (.venv/bin/pip install stvpoll to compare)"
    else:
        their_seconds, their_winners = timed(args.runs, theirs)
        report["stvpoll"] = {
            "count_seconds": round(their_seconds, 4),
            "winners": their_winners,
            "same_winners": sorted(their_winners) == sorted(winners),
            "ratio_ours_to_theirs": round(glasgow_seconds / their_seconds, 3),
        }

    started = time.perf_counter()
    names, ballots = generated_election(args.ballots, args.candidates)
    generate_seconds = time.perf_counter() - started

    def big() -> Any:
        return count_stv(names, ballots, seats=args.seats, lot=names)

    big_seconds, result = timed(3, big)
    report["generated"] = {
        "ballots": args.ballots,
        "distinct_rankings": len({b.ranking for b in ballots}),
        "candidates": args.candidates,
        "seats": args.seats,
        "generate_seconds": round(generate_seconds, 1),
        "count_seconds": round(big_seconds, 3),
        "peak_mib": peak_mib(big),
        "stages": len(result.stages),
        "winners": list(result.winners),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
