"""ParticipantSessionActor: one connected client's view of its room.

It turns the room's events into the frames this participant sees (the same
pure function for live delivery and for resume), keeps the delivery cursor
(the position of the last event it handled) so nothing is sent twice, and
pushes serialized frames to the connection's bounded outbound queue. What a
frame looks like is the client wire's business (:class:`~actors.wire.ClientWire`,
handed in with the spec); the session only decides when and to whom.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

import pykka

from actors.assistant.notices import AnswerStopped
from actors.dispatch import DispatchedActor
from actors.listener import Listener, ends_membership
from actors.messages import (
    CatchUp,
    Deliver,
    Outgoing,
    ReleaseHeld,
    Resume,
    SpeechArrived,
    ToAudience,
    Transient,
)
from actors.speech import SpeechEnd, SpeechKey, SpeechPiece, SpeechSynthesis
from actors.supervisor import FailureReport
from actors.telemetry import NO_TELEMETRY, Telemetry
from actors.wire import ClientWire, Frame
from events.domain import Preferences, Room, preference
from events.store import EventStore, Recorded, room_of

INTERRUPTED = "interrupted"
"""``errorCode`` of the end of a synthesis cut short because its answer was interrupted."""
INTERRUPTED_ANSWERS_KEPT = 16
"""How many interrupted answers a session remembers, to speak none of their late sentences."""


class FrameSink(Protocol):
    """Where a session's serialized frames go (the connection's outbox)."""

    def push(self, frames: list[Outgoing]) -> None:
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
    wire: ClientWire
    cursor: DeliveryCursor
    hold_s: float
    preferences: Preferences = field(default_factory=Preferences)
    speech: SpeechSynthesis | None = None
    in_voice_session: bool = False
    on_removed: Callable[[], None] | None = None
    """Called (on the session's thread) once the frames of the event that put the
    participant out of the room (closed, or they were removed) are sent."""
    telemetry: Telemetry = NO_TELEMETRY


class ParticipantSessionActor(DispatchedActor):
    """Delivers one room's events to one participant, in order, exactly once.

    Sessions share the ``sessions`` pool (see :mod:`actors.dispatch`): one
    thread per connected client made thread switches, not work, the cost of
    delivery.
    """

    pool_name = "sessions"

    def __init__(self, spec: SessionSpec, on_failure: FailureReport) -> None:
        super().__init__()
        self.spec = spec
        self._report_failure = on_failure
        self.listener = Listener(
            spec.user_id, spec.language, spec.preferences, spec.in_voice_session, spec.room_code
        )
        self._speech_queue: deque[SpeechKey] = deque()
        self._speech_pieces: dict[SpeechKey, list[SpeechPiece]] = {}
        self._answer_of: dict[SpeechKey, UUID] = {}
        self._interrupted: deque[UUID] = deque(maxlen=INTERRUPTED_ANSWERS_KEPT)
        self._head_started = False
        self._held: list[Recorded] | None = [] if spec.hold_s > 0 else None
        self._timer: threading.Timer | None = None
        self._wire = spec.wire
        self._removed = False

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
        if self._take(message.recorded):
            self.spec.telemetry.delivered(message.recorded.event)

    @handle.register
    def _catch_up(self, message: CatchUp) -> None:
        after = max(message.after, self.spec.cursor.position)
        for recorded in self.spec.store.read_room(self.spec.room_code, after, message.until):
            self._take(recorded)

    def _take(self, recorded: Recorded) -> bool:
        """Hold an event or send its frames; whether frames were sent just now."""
        if self._held is not None:
            self._held.append(recorded)
            return False
        sent = self._send(self._live_frames(recorded))
        self._check_removed((recorded,))
        return sent

    @handle.register
    def _resume(self, message: Resume) -> None:
        since = self._within_log(message.since)
        missed = list(self.spec.store.read_room(self.spec.room_code, since, self.spec.joined_at))
        listener = Listener(
            self.spec.user_id, self._language_before(missed), room_code=self.spec.room_code
        )
        frames_for = self._wire.frames_for
        self._send(frame for recorded in missed for frame in frames_for(listener, recorded))
        self.spec.cursor.advance(since)
        self._release()
        if message.ref is not None:
            self._send([self._wire.resume_ack(self.spec.cursor.position, message.ref)])

    def _within_log(self, since: int) -> int:
        """``since`` clamped to the log as it is: 0 up to its newest position.

        The parser bounds ``since`` already; this keeps any value that gets
        here from overflowing the store's integers (which would crash the
        session) or from moving the cursor past events not yet written
        (which would silence the session until the log caught up).
        """
        return max(0, min(since, self.spec.store.position()))

    @handle.register
    def _release_held(self, _: ReleaseHeld) -> None:
        self._release()

    def _release(self) -> None:
        held, self._held = self._held or [], None
        self._send(frame for recorded in held for frame in self._live_frames(recorded))
        self._check_removed(held)

    def _check_removed(self, delivered: Iterable[Recorded]) -> None:
        """Tell the participant, once, that an event just sent put them out of the room."""
        on_removed = self.spec.on_removed
        if on_removed is None or self._removed:
            return
        if any(ends_membership(self.listener, recorded.event) for recorded in delivered):
            self._removed = True
            on_removed()

    def _live_frames(self, recorded: Recorded) -> list[Frame]:
        """Frames for an event not yet handled; nothing for one already seen."""
        if recorded.position <= self.spec.cursor.position:
            return []
        frames = self._wire.frames_for(self.listener, recorded)
        self.spec.cursor.advance(recorded.position)
        self._speak(room_of(recorded.event), frames)
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

    @handle.register
    def _transient(self, message: Transient) -> None:
        self.spec.sink.push([message.frame])

    @handle.register
    def _to_audience(self, message: ToAudience) -> None:
        if message.audience is not None and self.spec.user_id not in message.audience:
            return
        if isinstance(message.notice, AnswerStopped):
            self._stop_speaking(message.notice.answer_id)
        self.spec.sink.push([self._wire.notice(message.notice)])
        self._flush_speech()

    def _stop_speaking(self, answer_id: UUID) -> None:
        """Speak no more of an interrupted answer.

        A synthesis already being sent gets its end (``interrupted``) so the
        client's stream stays well formed; its sentences not yet sent are
        dropped, and those delivered later are not spoken.
        """
        self._interrupted.append(answer_id)
        for key in [k for k, answer in self._answer_of.items() if answer == answer_id]:
            if self._head_started and key == self._speech_queue[0]:
                end = SpeechEnd(0, error_code=INTERRUPTED)
                self.spec.sink.push([self._wire.speech(key, end)])
                self._head_started = False
            self._speech_queue.remove(key)
            del self._speech_pieces[key]
            del self._answer_of[key]

    @handle.register
    def _speech_arrived(self, message: SpeechArrived) -> None:
        if message.key in self._speech_pieces:
            self._speech_pieces[message.key].append(message.piece)
            self._flush_speech()

    def _speak(self, room_id: UUID, frames: list[Frame]) -> None:
        """Ask for the spoken form of translations this listener wants to hear."""
        synthesis = self.spec.speech
        preferences = self.listener.preferences
        if synthesis is None:
            return
        me = self.actor_ref
        for frame in frames:
            spoken = self._wire.spoken(self.listener, frame)
            if spoken is None or spoken.answer_id in self._interrupted:
                continue
            key = SpeechKey(
                spoken.transcript_id,
                spoken.language,
                preferences.voice,
                preference(preferences.tts_engine),
            )
            if key in self._speech_pieces:
                continue
            self._speech_queue.append(key)
            self._speech_pieces[key] = []
            if spoken.answer_id is not None:
                self._answer_of[key] = spoken.answer_id
            synthesis.request(
                room_id,
                key,
                spoken.text,
                lambda key, piece: _tell_quietly(me, SpeechArrived(key, piece)),
            )

    def _flush_speech(self) -> None:
        """Send speech one synthesis at a time, so binary frames are never interleaved."""
        while self._speech_queue:
            key = self._speech_queue[0]
            pieces = self._speech_pieces[key]
            out = [self._wire.speech(key, piece) for piece in pieces]
            finished = bool(pieces) and isinstance(pieces[-1], SpeechEnd)
            pieces.clear()
            if out:
                self.spec.sink.push(out)
                self._head_started = True
            if not finished:
                return
            self._speech_queue.popleft()
            del self._speech_pieces[key]
            self._answer_of.pop(key, None)
            self._head_started = False

    def _send(self, frames: Iterable[Frame]) -> bool:
        payloads = self._wire.encode(frames)
        if payloads:
            self.spec.sink.push(payloads)
        return bool(payloads)


def _tell_quietly(ref: pykka.ActorRef[Any], message: object) -> None:
    """Tell an actor something unless it already stopped."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return
