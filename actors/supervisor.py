"""Supervision: an actor that fails is restarted and rebuilds its state.

pykka stops an actor whose handler raised. Every room and session actor is
started through :class:`Supervisor`, which remembers how to build it; the
actor's ``on_failure`` tells the supervisor, which starts a replacement under
the same key. A room rebuilds itself from its stream, a session carries on
from its delivery cursor. A key that keeps failing (more than
``max_restarts`` within ``window_s``) is given up rather than restarted in a
loop; the next request for it starts it afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.messages import ChildFailed, Refused

log = logging.getLogger(__name__)

ActorFactory = Callable[[], pykka.ActorRef[Any]]
FailureReport = Callable[[tuple[object, ...]], None]


@dataclass
class _Child:
    factory: ActorFactory
    ref: pykka.ActorRef[Any]
    failures: deque[float] = field(default_factory=deque)


class Supervisor:
    """Starts, finds, restarts and stops the supervised actors (thread-safe)."""

    def __init__(self, max_restarts: int = 5, window_s: float = 60.0) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.restarts = 0
        self._lock = threading.Lock()
        self._children: dict[str, _Child] = {}
        self._ref = SupervisorActor.start(self)

    def get_or_start(self, key: str, factory: ActorFactory) -> pykka.ActorRef[Any]:
        """The live actor under ``key``, started with ``factory`` if there is none."""
        with self._lock:
            child = self._children.get(key)
            if child is None or not child.ref.is_alive():
                child = _Child(factory, factory())
                self._children[key] = child
            return child.ref

    def get(self, key: str) -> pykka.ActorRef[Any] | None:
        """The actor under ``key`` if one is running."""
        with self._lock:
            child = self._children.get(key)
            return child.ref if child is not None else None

    def report_failure_of(self, key: str) -> FailureReport:
        """The ``on_failure`` callback for the actor under ``key``."""
        return lambda unread: self.report_failure(key, unread)

    def report_failure(self, key: str, unread: tuple[object, ...] = ()) -> None:
        """Called from a failing actor's ``on_failure``: restart it soon.

        ``unread`` messages are handed to the replacement.
        """
        try:
            self._ref.tell(ChildFailed(key, unread))
        except pykka.ActorDeadError:
            log.warning("supervisor stopped; %s not restarted", key)

    def restart(self, key: str, unread: tuple[object, ...] = ()) -> None:
        """Replace a failed actor by a fresh one built by the same factory."""
        with self._lock:
            child = self._children.get(key)
            if child is None or child.ref.is_alive():
                return
            now = time.monotonic()
            child.failures.append(now)
            while child.failures and now - child.failures[0] > self.window_s:
                child.failures.popleft()
            if len(child.failures) > self.max_restarts:
                log.error(
                    "%s failed %d times in %.0fs; giving up",
                    key,
                    len(child.failures),
                    self.window_s,
                )
                del self._children[key]
                refuse_unread(unread)
                return
            child.ref = child.factory()
            self.restarts += 1
            for message in unread:
                child.ref.tell(message)
        log.warning("restarted %s", key)

    def stop(self, key: str) -> None:
        """Stop and forget one actor."""
        with self._lock:
            child = self._children.pop(key, None)
        if child is not None and child.ref.is_alive():
            child.ref.stop(block=False)

    def stop_all(self) -> None:
        """Stop every supervised actor, then the supervisor itself."""
        with self._lock:
            children = list(self._children.values())
            self._children.clear()
        for child in children:
            if child.ref.is_alive():
                child.ref.stop(block=True, timeout=5)
        self._ref.stop(block=True, timeout=5)


def refuse_unread(unread: tuple[object, ...]) -> None:
    """Answer commands that will never be handled, so no client waits forever."""
    for message in unread:
        reply = getattr(message, "reply", None)
        if callable(reply):
            reply(Refused("unavailable", "the actor failed repeatedly and was stopped"))


class SupervisorActor(pykka.ThreadingActor):
    """Receives failure reports so restarts happen off the failing thread."""

    def __init__(self, supervisor: Supervisor) -> None:
        super().__init__()
        self.supervisor = supervisor

    def on_receive(self, message: Any) -> None:
        """Restart the child named by a ChildFailed report."""
        if isinstance(message, ChildFailed):
            self.supervisor.restart(message.key, message.unread)
