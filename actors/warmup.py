"""Translation warm-up: prepare the pipelines a room will need before anyone speaks.

An Apertium direction takes from a hundred milliseconds to seconds to start
(more through a pivot), so the first message of a pair used to wait for it.
Rooms tell the warmer which pairs they may need whenever their languages
change (a join, a language change, a voice session, an engine preference)
and when they are opened again after a restart; the warmer prepares them in
order on a thread of its own. Asking never blocks: the room actor and the
asyncio loop never wait for a pipeline to start. One thread, because starting
a pipeline is CPU-bound: more at once would only slow down a translation that
is already needed (a message said right after a join).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from events.domain import LanguagePair

log = logging.getLogger(__name__)


class Warmable(Protocol):
    """What the warmer prepares: the translation registry."""

    def warm(self, source: str, target: str, preference: tuple[str, ...] = ()) -> None:
        """Prepare one pair (blocking; never raises)."""


class TranslationWarmer:
    """Warms language pairs on its own threads; a pair already being warmed is not queued twice.

    Args:
        registry: what prepares a pair (``TranslationRegistry.warm``).
        workers: how many pairs are prepared at once (see above).

    """

    def __init__(self, registry: Warmable, workers: int = 1) -> None:
        self.registry = registry
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="translate-warm")
        self._lock = threading.Lock()
        self._pending: set[LanguagePair] = set()

    def warm(self, pairs: Iterable[LanguagePair]) -> None:
        """Queue the pairs not already queued, in order; returns at once (any thread)."""
        for pair in pairs:
            with self._lock:
                if pair in self._pending:
                    continue
                self._pending.add(pair)
            try:
                self._pool.submit(self._prepare, pair)
            except RuntimeError:  # shut down: nothing to warm any more
                with self._lock:
                    self._pending.discard(pair)
                return

    def stop(self) -> None:
        """Drop what is queued; a pipeline being started finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _prepare(self, pair: LanguagePair) -> None:
        try:
            self.registry.warm(pair.source, pair.target, pair.preference)
        except Exception:
            log.exception("warming %s -> %s failed", pair.source, pair.target)
        finally:
            with self._lock:
                self._pending.discard(pair)
