"""Updates of the fake Bot API: the update queue, getUpdates and its long polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from bot.fakeapi.state import (
    CONFLICT_POLL,
    CONFLICT_WEBHOOK,
    DEFAULT_EXCLUDED_UPDATES,
    UPDATE_HISTORY_SIZE,
    ApiError,
    BotState,
    QueuedUpdate,
    Upload,
    _bad,
    _int,
    _json_field,
    _update_kind,
)


class UpdatesMixin:
    """The update queue of each bot and getUpdates."""

    def _allowed(self, bot: BotState, kind: str) -> bool:
        allowed = bot.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in DEFAULT_EXCLUDED_UPDATES

    def _set_allowed_updates(self, bot: BotState, params: dict[str, Any]) -> None:
        if "allowed_updates" not in params:
            return
        allowed = _json_field(params, "allowed_updates")
        if allowed is None:
            return
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise _bad("can't parse allowed updates")
        bot.allowed_updates = list(allowed)

    def _confirm(self, bot: BotState, offset: int) -> None:
        queue = bot.updates
        if offset < 0:
            while len(queue) > -offset:
                self._drop_head(bot)
            return
        if offset > bot.confirmed_offset:
            bot.confirmed_offset = offset

        def confirmed(entry: QueuedUpdate) -> bool:
            return entry.update_id < offset and (not entry.replay or entry.delivered)

        while queue and confirmed(queue[0]):
            self._drop_head(bot)
        if bot.replays_queued and any(confirmed(entry) for entry in queue):
            # Replayed updates break the id order of the queue, so fall back to a full filter.
            kept = [entry for entry in queue if not confirmed(entry)]
            bot.updates = deque(kept)
            bot.replays_queued = sum(1 for entry in kept if entry.replay)

    @staticmethod
    def _drop_head(bot: BotState) -> None:
        entry = bot.updates.popleft()
        if entry.replay:
            bot.replays_queued -= 1

    def _collect(self, bot: BotState, limit: int) -> list[QueuedUpdate]:
        batch: list[QueuedUpdate] = []
        unwanted = False
        for entry in bot.updates:
            if not self._allowed(bot, entry.kind):
                unwanted = True
                continue
            batch.append(entry)
            if len(batch) >= limit:
                break
        if unwanted:
            # allowed_updates changed after these were queued; Telegram never delivers them, so drop them.
            kept = [entry for entry in bot.updates if self._allowed(bot, entry.kind)]
            bot.updates = deque(kept)
            bot.replays_queued = sum(1 for entry in kept if entry.replay)
        if bot.replays_queued:
            batch.sort(key=lambda entry: entry.update_id)
        return batch

    async def _get_updates(
        self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        if bot.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = _int(params, "offset", 0) or 0
        limit = _int(params, "limit", 100) or 100
        limit = min(max(limit, 1), 100)
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            raise _bad("invalid timeout specified") from None
        timeout = min(max(timeout, 0.0), 600.0)
        self._set_allowed_updates(bot, params)
        self._confirm(bot, offset)
        # A newer getUpdates terminates any older one still waiting, as Telegram does.
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.wake_updates()
        deadline = time.monotonic() + timeout
        while True:
            batch = self._collect(bot, limit)
            if batch or bot.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = bot.update_event
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()
            if bot.poll_generation != generation:
                raise ApiError(409, CONFLICT_POLL)
            if bot.webhook.get("url"):
                raise ApiError(409, CONFLICT_WEBHOOK)
        for entry in batch:
            entry.delivered = True
        return [entry.data for entry in batch]

    def _clear_updates(self, bot: BotState) -> None:
        bot.updates.clear()
        bot.replays_queued = 0

    def _enqueue(self, bot: BotState, update: dict[str, Any], *, replay: bool = False) -> bool:
        kind = _update_kind(update)
        bot.update_history[update["update_id"]] = update
        bot.update_history_order.append(update["update_id"])
        if len(bot.update_history_order) > UPDATE_HISTORY_SIZE:
            bot.update_history.pop(bot.update_history_order.popleft(), None)
        # Telegram does not even create updates of types the bot did not ask for.
        if not self._allowed(bot, kind):
            return False
        bot.updates.append(QueuedUpdate(update["update_id"], kind, update, replay=replay))
        if replay:
            bot.replays_queued += 1
        bot.wake_updates()
        return True

    def _next_update_id(self, bot: BotState) -> int:
        update_id = bot.next_update_id
        if update_id >= bot.update_ids_reserved:
            self._reserve_update_ids(bot, update_id)
        bot.next_update_id += 1
        return update_id
