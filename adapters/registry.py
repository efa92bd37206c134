"""What every engine registry shares: named engines, preference order, a pool.

Translation, speech-to-text and text-to-speech registries differ only in how
one engine is asked and what a failure means; this base keeps the engines by
name, orders them by a user's preference, runs calls on its thread pool and
closes everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

#: Engine name recorded when no engine produced a result.
NO_ENGINE = "none"


class NamedEngine(Protocol):
    """An engine a registry can hold."""

    @property
    def name(self) -> str:
        """Stable engine name, recorded in events."""

    def close(self) -> None:
        """Release what the engine holds."""


EngineT = TypeVar("EngineT", bound=NamedEngine)
ResultT = TypeVar("ResultT")


class EngineRegistry(Generic[EngineT]):
    """Engines in registration order, tried with per-user preference first.

    Args:
        engines: the engines, in fallback order; names must be unique.
        timeout_s: time limit for one engine call.
        max_workers: size of the thread pool engine calls run in.
        thread_name_prefix: names the pool's threads in logs and dumps.

    Raises:
        ValueError: two engines share a name.

    """

    def __init__(
        self,
        engines: Sequence[EngineT],
        timeout_s: float,
        max_workers: int,
        thread_name_prefix: str,
    ) -> None:
        self._engines = {engine.name: engine for engine in engines}
        if len(self._engines) != len(engines):
            raise ValueError(f"engine names must be unique: {[e.name for e in engines]}")
        self._timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=thread_name_prefix)

    def names(self) -> tuple[str, ...]:
        """List the registered engine names, in registration (fallback) order."""
        return tuple(self._engines)

    def known_engine(self, name: str) -> bool:
        """Tell whether ``name`` is a registered engine, to validate a user's preference."""
        return name in self._engines

    def close(self) -> None:
        """Close every engine (errors are logged, not raised) and the thread pool."""
        for engine in self._engines.values():
            try:
                engine.close()
            except Exception:
                logger.exception("closing engine %s failed", engine.name)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _in_order(self, preference: Sequence[str]) -> Iterator[EngineT]:
        """Yield preferred engines first (in the user's order), then the rest as registered."""
        preferred = [name for name in dict.fromkeys(preference) if name in self._engines]
        for name in preferred:
            yield self._engines[name]
        for name, engine in self._engines.items():
            if name not in preferred:
                yield engine

    def _ask(
        self,
        engine: EngineT,
        supported: Callable[[], bool],
        call: Callable[[], ResultT],
        failure: type[Exception],
        timeout: type[Exception],
    ) -> ResultT | None:
        """Run one engine's ``call`` on the pool within the time limit; None if not ``supported``.

        Raises:
            failure: the engine raised it, or broke in an unexpected way
                (logged, and reported with the message of what it raised).
            timeout: it gave no answer within the registry's time limit.
        """
        try:
            if not supported():
                return None
            future = self._pool.submit(call)
        except Exception as exc:
            logger.exception("engine %s could not be asked", engine.name)
            raise failure(str(exc)) from exc
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeoutError:
            future.cancel()
            raise timeout(f"{engine.name} gave no answer within {self._timeout_s} s") from None
        except failure:
            raise
        except Exception as exc:
            logger.exception("engine %s broke", engine.name)
            raise failure(str(exc)) from exc
