"""RoomActor: the single writer of one room's stream.

Commands are decided against the in-memory aggregate at once; the events they
produce are handed to the group-commit writer when the actor's inbox has been
drained (a ``FlushRoom`` it sends itself queues up behind the commands already
waiting), so commands that arrive together are committed together in one
save. One batch per room is in flight at a time, so a refused batch can never
leave a gap in the stream. Replies go out only once their events are durable. If the store
refuses a commit, the actor rereads the room from its stream (see
``_reread``), so memory never runs ahead of what was recorded; a command that
breaks the actor makes it fail, and its supervisor restarts it from the store.

When a committed batch changed the room's languages (someone joined, changed
language, started a voice session or chose an engine), and when the room is
opened again with members, the actor hands the pairs its transcripts may need
and has not asked for yet to the translation warmer, which prepares them off
this thread: the languages members already spoke first, into the new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import uuid4

import pykka

from actors.assistant.commands import wake_word
from actors.dispatch import DispatchedActor
from actors.messages import (
    Accepted,
    ChangeLanguage,
    ChangePreferences,
    CloseRoom,
    FlushRoom,
    JoinRoom,
    LeaveRoom,
    OpenRoom,
    RecordTrackMute,
    Refused,
    RemoveParticipant,
    Reply,
    ReportClientError,
    RoomCommitted,
    SetAssistant,
    SetRecording,
    SpeakAnswer,
    StartSpeech,
    StartVoiceSession,
    StopSpeech,
    StopVoiceSession,
    SubmitTranscript,
)
from actors.supervisor import FailureReport
from events.domain import LanguagePair, Preferences, Room
from events.store import EventStore
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)


RESTARTING = Refused("room_restarting", "the room restarted; please retry")
CLOSED = Refused("room_closed", "the room was closed; nobody may join it again")
UNKNOWN_ROOM = Refused("unknown_room", "no room with this code was ever opened")

#: Events after which the translations a room may need can have changed.
LANGUAGE_EVENTS = (
    Room.ParticipantJoined,
    Room.LanguageChanged,
    Room.VoiceSessionStarted,
    Room.SpeechStarted,
    Room.PreferencesChanged,
)

#: Takes the pairs to prepare, most urgent first, and returns at once
#: (``TranslationWarmer.warm``).
Warm = Callable[[Sequence[LanguagePair]], None]


class RoomActor(DispatchedActor):
    """Owns one room: membership, languages, modes; records what is said.

    Rooms share the ``rooms`` pool (see :mod:`actors.dispatch`): a room's
    handlers only decide and hand events to the group-commit writer.
    """

    pool_name = "rooms"

    def __init__(
        self,
        code: str,
        store: EventStore,
        writer: GroupCommitWriter,
        away_grace: timedelta,
        on_failure: FailureReport,
        warm: Warm | None = None,
    ) -> None:
        super().__init__()
        self.code = code
        self.store = store
        self.writer = writer
        self.away_grace = away_grace
        self._report_failure = on_failure
        self._warm = warm
        self._warm_after_commit = False
        self._asked: frozenset[LanguagePair] = frozenset()
        self.room: Room | None = None
        self._waiting: list[tuple[Reply, Accepted, int]] = []
        self._flush_scheduled = False
        self._in_flight = False
        self._last_position = 0

    def on_start(self) -> None:
        """Rebuild the room from its stream (None until someone joins)."""
        self.room = self.store.load_room(self.code)
        self._last_position = self.store.position()
        self._warm_pipelines()

    def on_failure(self, *_: Any) -> None:
        """Refuse what was decided but not recorded; hand unread commands on.

        Commands still in the inbox were never looked at: the supervisor
        gives them to the replacement actor, so no client is left waiting.
        """
        for reply, _accepted, _count in self._waiting:
            reply(RESTARTING)
        self._waiting.clear()
        unread: list[object] = []
        while not self.actor_inbox.empty():
            message = self.actor_inbox.get().message
            if hasattr(message, "reply"):
                unread.append(message)
        self._report_failure(tuple(unread))

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type; a command that breaks the actor is refused."""
        try:
            self.handle(message)
        except Exception:
            reply = getattr(message, "reply", None)
            if reply is not None:
                reply(Refused("internal_error", "the room failed on this command and restarted"))
            raise

    @singledispatchmethod
    def handle(self, message: Any) -> None:
        """Unknown messages are a programming error."""
        raise TypeError(f"RoomActor cannot handle {type(message).__name__}")

    @handle.register
    def _join(self, message: JoinRoom) -> None:
        if self.room is None:
            self.room = Room(code=self.code, owner=message.user_id)
        if self.room.closed:
            message.reply(CLOSED)
            return
        barred = self.room.barred_until(message.user_id, Room.Event.create_timestamp())
        if barred is not None:
            until = barred.isoformat(timespec="seconds")
            message.reply(Refused("removed_from_room", f"you were removed; rejoin after {until}"))
            return
        member = self.room.members.get(message.user_id)
        previous = member.language if member is not None else None
        self.room.join(message.user_id, message.name, message.language)
        self._decided(
            message.reply,
            Accepted(
                0,
                self.room.id,
                message.language,
                previous_language=previous,
                preferences=self.room.members[message.user_id].preferences,
                in_voice_session=self.room.members[message.user_id].voice is not None,
                owner=self.room.owner,
                recording=self.room.recording,
            ),
        )

    @handle.register
    def _leave(self, message: LeaveRoom) -> None:
        room = self._member_room(message.user_id, message.reply, present=False)
        if room is not None:
            room.leave(message.user_id, message.reason)
            self._decided(message.reply)

    @handle.register
    def _change_language(self, message: ChangeLanguage) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is not None:
            room.change_language(message.user_id, message.language)
            self._decided(message.reply, language=message.language)

    @handle.register
    def _start_speech(self, message: StartSpeech) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is None:
            return
        if room.members[message.user_id].speaking:
            message.reply(Refused("already_speaking", "stop-speech before starting again"))
            return
        room.start_speech(
            message.user_id,
            message.language,
            message.solo_target,
            message.encoding,
            message.sample_rate,
            assistant=message.assistant,
        )
        preferences = room.members[message.user_id].preferences
        self._decided(message.reply, Accepted(0, room.id, preferences=preferences))

    @handle.register
    def _stop_speech(self, message: StopSpeech) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is None:
            return
        if not room.members[message.user_id].speaking:
            message.reply(Refused("not_speaking", "stop-speech without start-speech"))
            return
        room.end_speech(message.user_id)
        self._decided(message.reply)

    @handle.register
    def _start_voice(self, message: StartVoiceSession) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is not None:
            room.start_voice(
                message.user_id,
                message.language,
                message.solo_target,
                message.livekit_room,
                assistant=message.assistant,
            )
            self._decided(message.reply, language=message.language)

    @handle.register
    def _stop_voice(self, message: StopVoiceSession) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is None:
            return
        if room.members[message.user_id].voice is None:
            message.reply(Refused("not_in_voice_session", "no voice session to stop"))
            return
        room.end_voice(message.user_id, "stopped")
        self._decided(message.reply)

    @handle.register
    def _transcript(self, message: SubmitTranscript) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is not None:
            room.recognize(
                message.transcript_id or uuid4(),
                message.user_id,
                message.text,
                message.source_language,
                message.engine,
                message.duration_ms,
                self.away_grace,
                message.decode_ms,
                message.fallbacks,
                mode=message.mode,
                wake_word=room.assistant and wake_word(message.text),
            )
            self._decided(message.reply)

    @handle.register
    def _set_assistant(self, message: SetAssistant) -> None:
        if self.room is None:
            self.room = Room(code=self.code, owner=message.user_id)
        if self.room.closed:
            message.reply(CLOSED)
            return
        self.room.set_assistant(message.user_id, message.enabled)
        self._decided(message.reply)

    @handle.register
    def _set_recording(self, message: SetRecording) -> None:
        if self.room is None:
            self.room = Room(code=self.code)
        if self.room.closed:
            message.reply(CLOSED)
            return
        self.room.set_recording(message.user_id, message.enabled, message.reason)
        self._decided(message.reply)

    @handle.register
    def _answer(self, message: SpeakAnswer) -> None:
        if self.room is None:
            message.reply(Refused("not_in_room", "the room does not exist"))
            return
        if self.room.closed:
            message.reply(CLOSED)
            return
        self.room.answer(
            message.sentence_id,
            message.answer_id,
            message.text,
            message.language,
            message.engine,
            message.owner,
        )
        self._decided(message.reply)

    @handle.register
    def _preferences(self, message: ChangePreferences) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is not None:
            current = room.members[message.user_id].preferences
            room.set_preferences(message.user_id, _merged(current, message))
            self._decided(message.reply)

    @handle.register
    def _client_error(self, message: ReportClientError) -> None:
        room = self._member_room(message.user_id, message.reply)
        if room is not None:
            room.report_client_error(
                message.user_id, message.code, message.message, message.details
            )
            self._decided(message.reply)

    @handle.register
    def _open(self, message: OpenRoom) -> None:
        if self.room is None:
            self.room = Room(code=self.code, owner=message.owner)
        self._decided(message.reply)

    @handle.register
    def _close(self, message: CloseRoom) -> None:
        room = self._open_room(message.reply)
        if room is not None:
            room.close(message.by)
            self._decided(message.reply)

    @handle.register
    def _remove(self, message: RemoveParticipant) -> None:
        room = self._open_room(message.reply, message.user_id)
        if room is not None:
            room.remove(message.user_id, message.by, message.barred_until)
            self._decided(message.reply)

    @handle.register
    def _mute(self, message: RecordTrackMute) -> None:
        room = self._open_room(message.reply, message.user_id)
        if room is not None:
            room.change_mute(message.user_id, message.by, message.track_sid, muted=message.muted)
            self._decided(message.reply)

    def _open_room(self, reply: Reply, user_id: str | None = None) -> Room | None:
        """The room if it is open (and ``user_id``, if given, is a member of it)."""
        room = self.room
        if room is None:
            reply(UNKNOWN_ROOM)
        elif room.closed:
            reply(CLOSED)
        elif user_id is not None and user_id not in room.members:
            reply(Refused("unknown_participant", f"{user_id} is not in room {self.code}"))
        else:
            return room
        return None

    @handle.register
    def _flush(self, _: FlushRoom) -> None:
        self._flush_scheduled = False
        if self._in_flight or not self._waiting or self.room is None:
            return
        self._in_flight = True
        events = self.room.collect_events()
        self._warm_after_commit = any(isinstance(e, LANGUAGE_EVENTS) for e in events)
        waiting, self._waiting = tuple(self._waiting), []
        before = self._last_position
        me = self.actor_ref

        def committed(result: Sequence[int] | BaseException) -> None:
            """On the writer thread: answer the waiting commands, then the actor."""
            if isinstance(result, BaseException):
                for reply, _, _ in waiting:
                    reply(Refused("store_error", "the event store refused the change"))
                message = RoomCommitted(before, result)
            else:
                for reply, accepted, count in waiting:
                    reply(replace(accepted, position=result[count - 1] if count else before))
                message = RoomCommitted(result[-1] if result else before, None)
            with suppress(pykka.ActorDeadError):
                me.tell(message)

        self.writer.submit(events, committed)

    @handle.register
    def _committed(self, message: RoomCommitted) -> None:
        if message.error is not None:
            self._reread()
            return
        self._last_position = message.position
        self._in_flight = False
        if self._warm_after_commit:
            self._warm_after_commit = False
            self._warm_pipelines()
        if self._waiting:
            self._schedule_flush()

    def _reread(self) -> None:
        """The store refused a batch: drop what memory decided beyond the store.

        The refused batch's commands were answered ``store_error``; those
        decided after it, on a room that included it, are refused
        ``room_restarting``; the room is rebuilt from its stream, and the
        commands still in the inbox are decided against that. This is what a
        restart by the supervisor would do, without a crashed actor's
        traceback for every write a full disk refuses (the writer logs the
        store's condition once).
        """
        for reply, _accepted, _count in self._waiting:
            reply(RESTARTING)
        self._waiting.clear()
        self.room = self.store.load_room(self.code)
        self._last_position = self.store.position()
        self._in_flight = False

    def _warm_pipelines(self) -> None:
        """Ask for the room's new translation pairs to be prepared (returns at once).

        Pairs from languages that could already be spoken come first: someone
        already in the room is likelier to speak next than the newcomer.
        """
        if self._warm is None or self.room is None:
            return
        previous, self._asked = self._asked, self.room.translation_pairs(self.away_grace)
        spoken = {pair.source for pair in previous}
        new = sorted(self._asked - previous, key=lambda p: (p.source not in spoken, p))
        if new:
            self._warm(new)

    def _member_room(self, user_id: str, reply: Reply, *, present: bool = True) -> Room | None:
        """The room if ``user_id`` is a member (connected, if ``present``)."""
        room = self.room
        if room is None or user_id not in room.members or (present and not room.present(user_id)):
            reply(Refused("not_in_room", "join the room first"))
            return None
        return room

    def _decided(
        self, reply: Reply, accepted: Accepted | None = None, language: str | None = None
    ) -> None:
        """Hold the reply until the events decided so far are committed.

        The reply will carry the position of the last event recorded up to
        and including this command (see ``_committed``).
        """
        assert self.room is not None
        pending = len(self.room.pending_events)
        accepted = accepted or Accepted(0, self.room.id, language)
        self._waiting.append((reply, accepted, pending))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Queue a FlushRoom behind the commands already in the inbox."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.actor_ref.tell(FlushRoom())


def _merged(current: Preferences, change: ChangePreferences) -> Preferences:
    """Apply a partial change: None keeps a value, an empty name resets it."""

    def choice(new: str | None, old: str | None) -> str | None:
        return old if new is None else (new or None)

    return Preferences(
        speech=current.speech if change.speech is None else change.speech,
        stt_engine=choice(change.stt_engine, current.stt_engine),
        translation_engine=choice(change.translation_engine, current.translation_engine),
        tts_engine=choice(change.tts_engine, current.tts_engine),
        voice=choice(change.voice, current.voice),
    )
