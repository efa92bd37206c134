"""What every engine registry shares: named engines, preference order, one fallback loop.

Translation, speech-to-text and text-to-speech registries differ only in how
one engine is asked and what a failure means; this base keeps the engines by
name, walks them in a user's order of preference until one answers
(:meth:`EngineRegistry._first`), runs each call on its thread pool within a
time limit (:meth:`EngineRegistry._ask`) and closes everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

#: Engine name recorded when no engine produced a result.
NO_ENGINE = "none"


class EngineError(Exception):
    """An engine could not do what it was asked; each kind's errors derive from it.

    ``code`` is stable and goes into events; the registry records it for each
    engine that failed before another answered.
    """

    code: str
    """Set by each kind's errors (hosted engines set it per instance)."""


class NamedEngine(Protocol):
    """An engine a registry can hold."""

    @property
    def name(self) -> str:
        """Stable engine name, recorded in events."""

    def close(self) -> None:
        """Release what the engine holds."""


EngineT = TypeVar("EngineT", bound=NamedEngine)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Answer(Generic[EngineT, ResultT]):
    """What walking the engines gave for one request.

    Attributes:
        engine: the engine that answered, or None if none did.
        result: its answer, or None if no engine answered.
        fallbacks: ``"engine:error_code"`` for each engine that failed first.
        error_code: why no engine answered (None when one did).

    """

    engine: EngineT | None
    result: ResultT | None
    fallbacks: tuple[str, ...]
    error_code: str | None

    @property
    def engine_name(self) -> str:
        """The answering engine's name, or :data:`NO_ENGINE`."""
        return self.engine.name if self.engine is not None else NO_ENGINE


class EngineRegistry(Generic[EngineT]):
    """Engines in registration order, tried with per-user preference first.

    A kind's registry names its errors (``failure``, ``timeout``) and how its
    engines are called in logs (``kind``).

    Args:
        engines: the engines, in fallback order; names must be unique.
        timeout_s: time limit for one engine call.
        max_workers: size of the thread pool engine calls run in.
        thread_name_prefix: names the pool's threads in logs and dumps.

    Raises:
        ValueError: two engines share a name.

    """

    failure: ClassVar[type[EngineError]]
    """The kind's base error: what an engine that failed raises."""
    timeout: ClassVar[type[EngineError]]
    """The kind's error for an engine that gave no answer within the time limit."""
    kind: ClassVar[str]
    """How the kind's engines are called in logs, e.g. ``translation engine``."""

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

    def _first(
        self,
        preference: Sequence[str],
        attempt: Callable[[EngineT], ResultT | None],
        unsupported: str,
    ) -> Answer[EngineT, ResultT]:
        """Ask the engines in order of preference until one answers: the one fallback loop.

        An engine that fails is logged and recorded in ``fallbacks``, and the
        next is asked; one whose ``attempt`` gives None does not serve the
        request and is skipped silently. Unknown names in ``preference`` are
        ignored.

        Args:
            preference: the user's preferred engine names, best first.
            attempt: asks one engine; None if it does not serve the request.
            unsupported: the error code when no engine serves the request.

        """
        fallbacks: list[str] = []
        error_code = unsupported
        for engine in self._in_order(preference):
            try:
                result = attempt(engine)
            except self.failure as exc:
                logger.warning("%s %s failed: %s: %s", self.kind, engine.name, exc.code, exc)
                fallbacks.append(f"{engine.name}:{exc.code}")
                error_code = exc.code
                continue
            if result is not None:
                return Answer(engine, result, tuple(fallbacks), None)
        return Answer(None, None, tuple(fallbacks), error_code)

    def _ask(
        self,
        engine: EngineT,
        supported: Callable[[], bool],
        call: Callable[[], ResultT],
        awaited: str = "answer",
    ) -> ResultT | None:
        """Run one engine's ``call`` on the pool within the time limit; None if not ``supported``.

        Raises:
            failure: the engine raised it, or broke in an unexpected way
                (logged, and reported with the message of what it raised).
            timeout: it gave no ``awaited`` within the registry's time limit.
        """
        try:
            if not supported():
                return None
            future = self._pool.submit(call)
        except self.failure:
            raise
        except Exception as exc:
            logger.exception("%s %s could not be asked", self.kind, engine.name)
            raise self.failure(str(exc)) from exc
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeoutError:
            future.cancel()
            raise self.timeout(
                f"{engine.name} gave no {awaited} within {self._timeout_s} s"
            ) from None
        except self.failure:
            raise
        except Exception as exc:
            logger.exception("%s %s broke", self.kind, engine.name)
            raise self.failure(str(exc)) from exc


def elapsed_ms(started: float) -> int:
    """Return the milliseconds since ``started`` (a ``time.perf_counter()`` value)."""
    return round((time.perf_counter() - started) * 1000)
