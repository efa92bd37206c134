"""ParticipantSessionActor: one connected client's view of its room.

It turns the room's events into the frames this participant sees (the same
pure function for live delivery and for resume), keeps the delivery cursor
(the position of the last event it handled) so nothing is sent twice, and
pushes serialized frames to the connection's bounded outbound queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, Protocol

import orjson
import pykka

from actors.messages import CatchUp, Deliver, ReleaseHeld, Resume
from actors.supervisor import FailureReport
from adapters.frames import Listener, frames_for
from events.domain import Room
from events.store import EventStore, Recorded


class FrameSink(Protocol):
    """Where a session's serialized frames go (the connection's outbox)."""

    def push(self, payloads: list[bytes]) -> None:
        """Queue frames for sending; called from actor threads."""


@dataclass
class DeliveryCursor:
    """The position of the last event a session handled.

    It outlives the actor: a restarted session carries on from here.
    """

    position: int
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, position: int) -> None:
        """Move forward (never back)."""
        with self.lock:
            self.position = max(self.position, position)


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session actor needs to (re)start."""

    user_id: str
    room_code: str
    language: str
    joined_at: int
    store: EventStore
    sink: FrameSink
    cursor: DeliveryCursor
    hold_s: float


class ParticipantSessionActor(pykka.ThreadingActor):
    """Delivers one room's events to one participant, in order, exactly once."""

    def __init__(self, spec: SessionSpec, on_failure: FailureReport) -> None:
        super().__init__()
        self.spec = spec
        self._report_failure = on_failure
        self.listener = Listener(spec.user_id, spec.language)
        self._held: list[Recorded] | None = [] if spec.hold_s > 0 else None
        self._timer: threading.Timer | None = None

    def on_start(self) -> None:
        """Open the resume window: live frames wait briefly for a ``resume``."""
        if self._held is not None:
            ref = self.actor_ref
            self._timer = threading.Timer(self.spec.hold_s, _tell_quietly, (ref, ReleaseHeld()))
            self._timer.daemon = True
            self._timer.start()

    def on_failure(self, *_: object) -> None:
        """Let the supervisor restart the session from its delivery cursor."""
        self._report_failure(())

    def on_stop(self) -> None:
        """Cancel the resume window timer."""
        if self._timer is not None:
            self._timer.cancel()

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type."""
        self.handle(message)

    @singledispatchmethod
    def handle(self, message: Any) -> None:
        """Unknown messages are a programming error."""
        raise TypeError(f"session cannot handle {type(message).__name__}")

    @handle.register
    def _deliver(self, message: Deliver) -> None:
        if self._held is not None:
            self._held.append(message.recorded)
        else:
            self._send(self._live_frames(message.recorded))

    @handle.register
    def _catch_up(self, message: CatchUp) -> None:
        after = max(message.after, self.spec.cursor.position)
        for recorded in self.spec.store.read_room(self.spec.room_code, after, message.until):
            self._deliver(Deliver(recorded))

    @handle.register
    def _resume(self, message: Resume) -> None:
        missed = list(
            self.spec.store.read_room(self.spec.room_code, message.since, self.spec.joined_at)
        )
        listener = Listener(self.spec.user_id, self._language_before(missed))
        self._send(frame for recorded in missed for frame in frames_for(listener, recorded))
        self.spec.cursor.advance(message.since)
        self._release()

    @handle.register
    def _release_held(self, _: ReleaseHeld) -> None:
        self._release()

    def _release(self) -> None:
        held, self._held = self._held or [], None
        self._send(frame for recorded in held for frame in self._live_frames(recorded))

    def _live_frames(self, recorded: Recorded) -> list[dict[str, Any]]:
        """Frames for an event not yet handled; nothing for one already seen."""
        if recorded.position <= self.spec.cursor.position:
            return []
        frames = frames_for(self.listener, recorded)
        self.spec.cursor.advance(recorded.position)
        return frames

    def _language_before(self, missed: list[Recorded]) -> str:
        """The language the participant heard at the start of ``missed``."""
        for recorded in missed:
            event = recorded.event
            if getattr(event, "user_id", None) != self.spec.user_id:
                continue
            if isinstance(event, Room.LanguageChanged):
                return event.previous
            if isinstance(event, Room.ParticipantJoined):
                return event.language
        return self.listener.language

    def _send(self, frames: Iterable[dict[str, Any]]) -> None:
        payloads = [orjson.dumps(frame) for frame in frames]
        if payloads:
            self.spec.sink.push(payloads)


def _tell_quietly(ref: pykka.ActorRef[Any], message: object) -> None:
    """Tell an actor something unless it already stopped."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return
