"""Prometheus metrics: updates handled by kind and how long they took, messages the sender sent, were refused
(429 flood waits, 403 blocked chats) or retried; and, read from the database when scraped, the outbox's depth by
status and topic and the open cases by state; and the statements sent to the database (round trips) by kind.
One registry per process (several processes: scrape each)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

REGISTRY = CollectorRegistry()
UPDATES = Counter("vecinos_updates_total", "Updates handled, by kind", ["kind"], registry=REGISTRY)
UPDATE_SECONDS = Histogram(
    "vecinos_update_seconds",
    "Time from picking an update up to having answered it, by kind",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SENT = Counter("vecinos_messages_sent_total", "Messages the outbox sender delivered", ["source"], registry=REGISTRY)
RATE_LIMITED = Counter("vecinos_rate_limited_total", "429 answers (flood waits) the sender got", registry=REGISTRY)
BLOCKED = Counter("vecinos_blocked_total", "403 answers: chats that blocked the bot", registry=REGISTRY)
RETRIES = Counter("vecinos_send_retries_total", "Sends queued again after a transient failure", registry=REGISTRY)
OUTBOX = Gauge("vecinos_outbox_messages", "Outbox rows by status and topic", ["status", "topic"], registry=REGISTRY)
OPEN_CASES = Gauge("vecinos_open_cases", "Open report cases by state", ["state"], registry=REGISTRY)
SCHEDULER_LAG = Gauge(
    "vecinos_scheduler_lag_seconds", "How late the last scheduler tick ran, by tick", ["tick"], registry=REGISTRY
)


class DatabaseStatements:
    """`vecinos_db_statements_total{kind}`, read at scrape time from the database layer's own tally (a dict
    increment per statement on the hot path costs less than a labelled prometheus counter)."""

    def __init__(self) -> None:
        self.counts: Mapping[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        """The counts as one counter family (called by the registry on every scrape)."""
        family = CounterMetricFamily(
            "vecinos_db_statements",
            "Statements sent to the database, by kind (statement, begin, commit, rollback): its round trips",
            labels=["kind"],
        )
        for kind in ("statement", "begin", "commit", "rollback"):
            family.add_metric([kind], float(self.counts.get(kind, 0)))
        yield family


DB_STATEMENTS = DatabaseStatements()
REGISTRY.register(DB_STATEMENTS)


def watch_database(counts: Mapping[str, int]) -> None:
    """Serve this process's database statement counts (storage.db.RoundTrips.counts)."""
    DB_STATEMENTS.counts = counts


async def render(read_gauges: Callable[[], Awaitable[tuple[dict[tuple[str, str], int], dict[str, int]]]]) -> bytes:
    """The metrics in Prometheus' text format, with the database gauges read now."""
    outbox, cases = await read_gauges()
    OUTBOX.clear()
    for (status, topic), count in outbox.items():
        OUTBOX.labels(status=status, topic=topic).set(count)
    OPEN_CASES.clear()
    for state, count in cases.items():
        OPEN_CASES.labels(state=state).set(count)
    return generate_latest(REGISTRY)
