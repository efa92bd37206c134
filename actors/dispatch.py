"""Actors that share a few threads instead of owning one each.

pykka's :class:`~pykka.ThreadingActor` gives every actor a thread of its own.
With a session actor per connected client that is hundreds of threads, and
every delivered event wakes one of them: on two cores the thread switches and
the GIL hand-overs they cause, not the work, decided the delivery latency
(bench/delivery.py at 200 rooms x 4: 166 deliveries/s of 600 offered, p50
42 s, with the server at 67 % of a core). A :class:`DispatchedActor` keeps
pykka's semantics (an inbox handled one message at a time, in order,
``on_start``/``on_stop``/``on_failure``, ``tell``/``ask``/proxies, the
registry) but runs its inbox on a :class:`Dispatcher`'s small pool: an actor
with messages is queued once, and a pool thread handles a burst of them
before moving on to the next actor.

Handlers of dispatched actors must not block for long (a store read is fine;
waiting on another actor's future is not), since they hold a pool thread.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections import deque
from typing import Any, ClassVar

import pykka

log = logging.getLogger(__name__)

#: Messages one actor handles before its pool thread turns to the next actor.
BURST = 64


class Dispatcher:
    """A fixed pool of daemon threads that run the inboxes of ready actors."""

    _shared: ClassVar[dict[str, Dispatcher]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def named(cls, name: str, threads: int) -> Dispatcher:
        """The process's dispatcher called ``name``, started on first use."""
        with cls._shared_lock:
            if name not in cls._shared:
                cls._shared[name] = cls(threads, name)
            return cls._shared[name]

    def __init__(self, threads: int, name: str) -> None:
        self._ready: queue.SimpleQueue[DispatchedActor] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True)
            for index in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def schedule(self, actor: DispatchedActor) -> None:
        """Queue an actor that has messages (each actor is queued at most once)."""
        self._ready.put(actor)

    def _run(self) -> None:
        while True:
            self._ready.get()._run_burst()


class _DispatchedInbox:
    """An actor's inbox that asks the dispatcher for a thread when it gets mail."""

    def __init__(self, actor: DispatchedActor) -> None:
        self._actor = actor
        self._dispatcher = actor.dispatcher()  # looked up once, not on every message
        self._lock = threading.Lock()
        self._envelopes: deque[Any] = deque()
        self._scheduled = True  # until the actor's on_start has run

    def put(self, envelope: Any, /) -> None:
        """Add a message; schedule the actor unless it is already queued or running."""
        with self._lock:
            self._envelopes.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        self._dispatcher.schedule(self._actor)

    def get(self) -> Any:
        """The oldest message (only called while there is one)."""
        with self._lock:
            return self._envelopes.popleft()

    def empty(self) -> bool:
        """Tell whether no message waits."""
        with self._lock:
            return not self._envelopes

    def release(self) -> None:
        """End a burst: reschedule if messages came meanwhile, else go idle."""
        with self._lock:
            if not self._envelopes:
                self._scheduled = False
                return
        self._dispatcher.schedule(self._actor)


class DispatchedActor(pykka.ThreadingActor):
    """A pykka actor whose messages are handled on its class's :class:`Dispatcher`.

    Subclasses name their pool (:attr:`pool_name`) and its size
    (:attr:`pool_threads`); every actor of that name shares it.
    """

    pool_name: ClassVar[str] = "actors"
    pool_threads: ClassVar[int] = 4
    _started: bool = False

    @classmethod
    def dispatcher(cls) -> Dispatcher:
        """The pool this class's actors run on."""
        return Dispatcher.named(cls.pool_name, cls.pool_threads)

    def _create_actor_inbox(self) -> Any:  # type: ignore[override]
        return _DispatchedInbox(self)

    def _start_actor_loop(self) -> None:
        self.dispatcher().schedule(self)

    def _run_burst(self) -> None:
        """Handle up to :data:`BURST` messages, as pykka's own loop would."""
        inbox: _DispatchedInbox = self.actor_inbox  # type: ignore[assignment]
        if not self._started:
            self._started = True
            self._actor_loop_setup()
        for _ in range(BURST):
            if self.actor_stopped.is_set():
                self._actor_loop_teardown()
                inbox.release()
                return
            if inbox.empty():
                break
            self._handle_envelope(inbox.get())
        if self.actor_stopped.is_set():
            self._actor_loop_teardown()
        inbox.release()

    def _handle_envelope(self, envelope: Any) -> None:
        """One message: pykka's ``_actor_loop_running`` body, unchanged in meaning."""
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                log.info("Exception returned from %s to caller:", self, exc_info=True)
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:
                    self._handle_failure(*sys.exc_info())
        except BaseException:
            log.debug("%r in %s: stopping all actors", sys.exc_info()[1], self)
            self._stop()
            pykka.ActorRegistry.stop_all()
