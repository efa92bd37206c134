"""The room aggregate, the assistant's conversations, and the facts they record.

A room is one event stream, written only by its RoomActor. Translations are
recorded by the translation fan-out projection in a stream of their own per
transcript (see :class:`TranslationProduced`), so the room's single writer is
never contended; each conversation with the assistant is a stream of its own
too, written only by that conversation's assistant (see :class:`Conversation`).
Every event carries what a replay needs to explain itself: who, which
language, which engine, and timings in milliseconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEvent

ROOM_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:room")
TRANSLATIONS_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:translations")
SPEECH_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:speech")
WEBHOOK_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:livekit-webhook")
CONVERSATION_NAMESPACE = uuid5(NAMESPACE_URL, "voicemode:assistant-conversation")


ROOM_CLOSED: Final = "room_closed"
"""The reason recorded for voice sessions ended because their room was closed."""
REMOVED: Final = "removed"
"""The reason recorded for the voice session of a participant taken out of the room."""

ASSISTANT_ID: Final = "assistant"
"""The speaker id of the assistant's answers (no user may take it)."""
ASSISTANT_NAME: Final = "Assistant"


def room_id_for(code: str) -> UUID:
    """Return the stable stream id of the room with this code.

    Deterministic ids let any node find a room's stream from its code alone.
    """
    return uuid5(ROOM_NAMESPACE, code)


def translations_id_for(transcript_id: UUID) -> UUID:
    """Return the stream id that holds the translations of one transcript."""
    return uuid5(TRANSLATIONS_NAMESPACE, transcript_id.hex)


@dataclass(frozen=True)
class Preferences:
    """A participant's choices: hear translations spoken or not, and engines.

    Engine names are preferences: the registry tries them first and falls
    back to the others. The STT and translation engines apply to what this
    participant says; the TTS engine and voice to what they hear.
    """

    speech: bool = True
    stt_engine: str | None = None
    translation_engine: str | None = None
    tts_engine: str | None = None
    voice: str | None = None


def preference(engine: str | None) -> tuple[str, ...]:
    """An engine preference as the registries take it."""
    return (engine,) if engine else ()


class LanguagePair(NamedTuple):
    """A translation direction a room may need, and the engines preferred for it."""

    source: str
    target: str
    preference: tuple[str, ...] = ()


@dataclass(frozen=True)
class VoiceSession:
    """A member talking over LiveKit: the language they speak there, and their mode."""

    language: str
    solo_target: str | None
    livekit_room: str
    assistant: bool = False


@dataclass(frozen=True)
class TranscriptMode:
    """The mode one transcript asked for itself: solo into ``solo_target``, or group (None).

    ``assistant``: the transcript is for the assistant (a typed question).
    Without one, a transcript takes its speaker's current mode.
    """

    solo_target: str | None
    assistant: bool = False


@dataclass
class Member:
    """A participant as the room knows them: identity, language and mode.

    ``solo_target`` is the mode of their speech: set by a speech session
    (``SpeechStarted``) until it ends (``SpeechEnded``), and otherwise by a
    voice session until that ends; None is group mode. ``assistant`` (assistant
    mode: everything they say is for the assistant) is set and ended the same way.

    ``away_since`` is set while a participant is disconnected without having
    left: the room keeps translating into their language for a grace period so
    that a reconnecting client can resume with nothing missed.
    """

    user_id: str
    name: str
    language: str
    solo_target: str | None = None
    assistant: bool = False
    speaking: bool = False
    away_since: datetime | None = None
    voice: VoiceSession | None = None
    preferences: Preferences = field(default_factory=Preferences)

    @property
    def solo(self) -> bool:
        """Whether this member speaks in solo mode (private translation)."""
        return self.solo_target is not None


class Room(Aggregate):
    """One voice room: who is in it, their languages and modes, what was said."""

    class Event(Aggregate.Event):
        """Base class of the room's events."""

    @dataclass(frozen=True)
    class RoomOpened(Aggregate.Created, Event):
        """The room came into being: someone joined it first, or created it over HTTP.

        ``owner`` is that user, who may manage the room; None in rooms
        opened before rooms had owners (only operators manage those).
        """

        code: str
        owner: str | None = None

    @dataclass(frozen=True)
    class ParticipantJoined(Event):
        """A participant entered (or re-entered) the room."""

        user_id: str
        name: str
        language: str

        def apply(self, aggregate: Aggregate) -> None:
            """Add or reattach the member."""
            assert isinstance(aggregate, Room)
            aggregate.members[self.user_id] = Member(self.user_id, self.name, self.language)

    @dataclass(frozen=True)
    class ParticipantLeft(Event):
        """A participant left (``reason`` ``left``) or was disconnected (any other reason)."""

        user_id: str
        reason: str

        def apply(self, aggregate: Aggregate) -> None:
            """Remove the member, or mark them away if they only disconnected."""
            assert isinstance(aggregate, Room)
            if self.reason != "left" and self.user_id in aggregate.members:
                member = aggregate.members[self.user_id]
                member.away_since = self.timestamp
                member.speaking = False
                member.solo_target = None
                member.assistant = False
            else:
                aggregate.members.pop(self.user_id, None)

    @dataclass(frozen=True)
    class LanguageChanged(Event):
        """A participant chose another language to hear and speak."""

        user_id: str
        language: str
        previous: str

        def apply(self, aggregate: Aggregate) -> None:
            """Record the member's new language."""
            assert isinstance(aggregate, Room)
            aggregate.members[self.user_id].language = self.language

    @dataclass(frozen=True)
    class SpeechStarted(Event):
        """A participant started speaking, in group or solo mode.

        ``language`` is the language spoken; what the participant hears is
        still their own language (see LanguageChanged).
        """

        user_id: str
        language: str
        solo_target: str | None
        encoding: str
        sample_rate: int
        assistant: bool = False

        def apply(self, aggregate: Aggregate) -> None:
            """Remember the speaker's language and mode."""
            assert isinstance(aggregate, Room)
            member = aggregate.members[self.user_id]
            member.solo_target = self.solo_target
            member.assistant = self.assistant
            member.speaking = True

    @dataclass(frozen=True)
    class PreferencesChanged(Event):
        """A participant changed their speech and engine preferences."""

        user_id: str
        speech: bool
        stt_engine: str | None
        translation_engine: str | None
        tts_engine: str | None
        voice: str | None

        def apply(self, aggregate: Aggregate) -> None:
            """Remember the member's preferences."""
            assert isinstance(aggregate, Room)
            aggregate.members[self.user_id].preferences = Preferences(
                self.speech, self.stt_engine, self.translation_engine, self.tts_engine, self.voice
            )

    @dataclass(frozen=True)
    class SpeechEnded(Event):
        """A participant stopped speaking; the speech session's solo mode ends with it."""

        user_id: str

        def apply(self, aggregate: Aggregate) -> None:
            """Mark the member as no longer speaking, back to their voice session's mode.

            Solo mode belongs to the speech session that asked for it: after
            it, the member's transcripts are group again (or solo as their
            LiveKit voice session asked, while it lasts).
            """
            assert isinstance(aggregate, Room)
            member = aggregate.members[self.user_id]
            member.speaking = False
            member.solo_target = member.voice.solo_target if member.voice is not None else None
            member.assistant = member.voice.assistant if member.voice is not None else False

    @dataclass(frozen=True)
    class VoiceSessionStarted(Event):
        """A member started (or changed) a voice session over LiveKit.

        ``livekit_room`` is the LiveKit room their audio goes to; the room's
        agent transcribes them in ``language`` and, with ``solo_target``,
        translates for them alone.
        """

        user_id: str
        language: str
        solo_target: str | None
        livekit_room: str
        assistant: bool = False

        def apply(self, aggregate: Aggregate) -> None:
            """Remember the session; a solo session makes the member's transcripts solo."""
            assert isinstance(aggregate, Room)
            member = aggregate.members[self.user_id]
            member.voice = VoiceSession(
                self.language, self.solo_target, self.livekit_room, self.assistant
            )
            member.solo_target = self.solo_target
            member.assistant = self.assistant

    @dataclass(frozen=True)
    class VoiceSessionEnded(Event):
        """A member's voice session ended: ``stopped``, or the reason they left the room."""

        user_id: str
        reason: str

        def apply(self, aggregate: Aggregate) -> None:
            """Forget the session, and its solo mode unless they still speak over WebSocket."""
            assert isinstance(aggregate, Room)
            member = aggregate.members[self.user_id]
            member.voice = None
            if not member.speaking:
                member.solo_target = None

    @dataclass(frozen=True)
    class TranscriptRecognized(Event):
        """A final transcript of one utterance (partials are never stored).

        ``targets`` are the distinct languages it must be translated into,
        decided when it was recorded: each listener's language other than the
        source, or only the solo target in solo mode.

        ``audience`` is who hears it, also decided when it was recorded: each
        member but the speaker whose language is the source or a target, with
        that language (sorted by user id; empty in solo mode). A listener hears
        the utterance in that language and no other, whatever they switch to
        before its translation is recorded. None in transcripts recorded
        before the audience existed: their listeners get the translation into
        the language they hear when it arrives.

        ``to_assistant``: the utterance is a question or command for the
        assistant (see :meth:`Room.recognize`); ``private``: for the
        speaker's own conversation with it, which nobody else hears. ``answer_id`` is set on the
        assistant's own sentences (speaker :data:`ASSISTANT_ID`): the answer
        they belong to. An answer's sentences are heard in the source
        language too, so their targets include it (see :meth:`Room.answer`).
        """

        transcript_id: UUID
        speaker_id: str
        speaker_name: str
        text: str
        source_language: str
        solo_target: str | None
        targets: tuple[str, ...]
        engine: str
        duration_ms: int
        decode_ms: int = 0
        fallbacks: tuple[str, ...] = ()
        translation_preference: tuple[str, ...] = ()
        audience: tuple[tuple[str, str], ...] | None = None
        to_assistant: bool = False
        private: bool = False
        answer_id: UUID | None = None

        def apply(self, aggregate: Aggregate) -> None:
            """Count the transcript."""
            assert isinstance(aggregate, Room)
            aggregate.transcripts += 1

    @dataclass(frozen=True)
    class AssistantModeChanged(Event):
        """The room's shared assistant was turned on or off (by ``user_id``).

        It lives in the room's stream because it changes what the room does
        with its members' transcripts: in a room with the assistant on, they
        are questions (or commands) for it as well as words for the listeners.
        """

        user_id: str
        enabled: bool

        def apply(self, aggregate: Aggregate) -> None:
            """Remember whether the assistant is on."""
            assert isinstance(aggregate, Room)
            aggregate.assistant = self.enabled

    @dataclass(frozen=True)
    class ClientErrorReported(Event):
        """A client reported an error of its own (telemetry)."""

        user_id: str
        code: str
        message: str
        details: str | None

        def apply(self, aggregate: Aggregate) -> None:
            """Client errors do not change the room."""

    @dataclass(frozen=True)
    class RoomClosed(Event):
        """The room's owner or an operator (``by``) closed it: nobody is in it any more.

        The voice sessions still going were ended just before (reason
        ``room_closed``). Nobody may join a closed room again; its history
        stays for replay.
        """

        by: str

        def apply(self, aggregate: Aggregate) -> None:
            """Empty the room and remember who closed it."""
            assert isinstance(aggregate, Room)
            aggregate.members.clear()
            aggregate.closed_by = self.by

    @dataclass(frozen=True)
    class ParticipantRemoved(Event):
        """``by`` took ``user_id`` out of the room (a kick).

        Their voice session was ended just before (reason ``removed``). They
        may not join again before ``barred_until`` (None: at once).
        """

        user_id: str
        by: str
        barred_until: datetime | None

        def apply(self, aggregate: Aggregate) -> None:
            """Forget the member and remember until when they are barred."""
            assert isinstance(aggregate, Room)
            aggregate.members.pop(self.user_id, None)
            if self.barred_until is not None:
                aggregate.barred[self.user_id] = self.barred_until

    @dataclass(frozen=True)
    class TrackMuteChanged(Event):
        """``by`` muted (or unmuted) ``user_id``'s published track ``track_sid`` on LiveKit."""

        user_id: str
        by: str
        track_sid: str
        muted: bool

        def apply(self, aggregate: Aggregate) -> None:
            """LiveKit keeps the track's state; the room only records who did it."""

    @dataclass(frozen=True)
    class RecordingStarted(Event):
        """The room's audio is recorded from now on (turned on by ``by``).

        ``room_code`` lets the ``recording`` frame name the room from the event alone.
        """

        by: str
        room_code: str

        def apply(self, aggregate: Aggregate) -> None:
            """Remember that the room records."""
            assert isinstance(aggregate, Room)
            aggregate.recording = True

    @dataclass(frozen=True)
    class RecordingStopped(Event):
        """The room's audio is no longer recorded, for ``reason``.

        ``stopped``: turned off by ``by``; ``store_failed``: the blob store
        refused a clip (``by`` is the server).
        """

        by: str
        reason: str
        room_code: str

        def apply(self, aggregate: Aggregate) -> None:
            """Remember that the room does not record."""
            assert isinstance(aggregate, Room)
            aggregate.recording = False

    def __init__(self, code: str, owner: str | None = None) -> None:
        self.code = code
        self.owner = owner
        self.members: dict[str, Member] = {}
        self.transcripts = 0
        self.assistant = False
        self.closed_by: str | None = None
        self.barred: dict[str, datetime] = {}
        self.recording = False

    @staticmethod
    def create_id(code: str) -> UUID:
        """Derive the room's id from its code (see :func:`room_id_for`)."""
        return room_id_for(code)

    @property
    def closed(self) -> bool:
        """Whether the room was closed (see ``RoomClosed``)."""
        return self.closed_by is not None

    def barred_until(self, user_id: str, now: datetime) -> datetime | None:
        """Until when ``user_id`` may not join, if a removal still bars them at ``now``."""
        until = self.barred.get(user_id)
        return until if until is not None and until > now else None

    def close(self, by: str) -> None:
        """Close the room: voice sessions and the recording end, then everyone is out (once)."""
        if self.closed:
            return
        for user_id in sorted(self.members):
            self.end_voice(user_id, ROOM_CLOSED)
        self.set_recording(by, False, ROOM_CLOSED)
        self.trigger_event(self.RoomClosed, by=by)

    def remove(self, user_id: str, by: str, barred_until: datetime | None) -> None:
        """Take a member out: their voice session ends, then they are no longer a member."""
        self.end_voice(user_id, REMOVED)
        self.trigger_event(
            self.ParticipantRemoved, user_id=user_id, by=by, barred_until=barred_until
        )

    def change_mute(self, user_id: str, by: str, track_sid: str, *, muted: bool) -> None:
        """Record that ``by`` muted or unmuted one of ``user_id``'s tracks."""
        self.trigger_event(
            self.TrackMuteChanged, user_id=user_id, by=by, track_sid=track_sid, muted=muted
        )

    def present(self, user_id: str) -> bool:
        """Whether the user is a member who is currently connected."""
        member = self.members.get(user_id)
        return member is not None and member.away_since is None

    def join(self, user_id: str, name: str, language: str) -> None:
        """Let a user in (again); joining while present changes nothing.

        An away member comes back with the language they had, then switches
        if they asked for another one, so a replay shows what they heard when.
        """
        if not self.present(user_id):
            member = self.members.get(user_id)
            self.trigger_event(
                self.ParticipantJoined,
                user_id=user_id,
                name=name,
                language=member.language if member is not None else language,
            )
        self.change_language(user_id, language)

    def leave(self, user_id: str, reason: str) -> None:
        """Let a user out.

        ``reason`` is ``left`` for a deliberate leave; anything else (a
        dropped connection, a client too slow to read) keeps them as an away
        member, so they can come back and resume. Either way their voice
        session ends: an away member's speech would not be recorded, and
        the room should not keep an agent for someone who is gone.
        """
        if self.present(user_id) or (reason == "left" and user_id in self.members):
            self.end_voice(user_id, reason)
            self.trigger_event(self.ParticipantLeft, user_id=user_id, reason=reason)

    def change_language(self, user_id: str, language: str) -> None:
        """Switch a member's language; choosing the same one records nothing."""
        previous = self.members[user_id].language
        if previous != language:
            self.trigger_event(
                self.LanguageChanged, user_id=user_id, language=language, previous=previous
            )

    def start_speech(
        self,
        user_id: str,
        language: str,
        solo_target: str | None,
        encoding: str,
        sample_rate: int,
        *,
        assistant: bool = False,
    ) -> None:
        """Record that a member started speaking, with language and mode."""
        self.trigger_event(
            self.SpeechStarted,
            user_id=user_id,
            language=language,
            solo_target=solo_target,
            encoding=encoding,
            sample_rate=sample_rate,
            assistant=assistant,
        )

    def end_speech(self, user_id: str) -> None:
        """Record that a member stopped speaking (no-op if they were not)."""
        if self.members[user_id].speaking:
            self.trigger_event(self.SpeechEnded, user_id=user_id)

    def start_voice(
        self,
        user_id: str,
        language: str,
        solo_target: str | None,
        livekit_room: str,
        *,
        assistant: bool = False,
    ) -> None:
        """Record a member's voice session; the same session again records nothing."""
        session = VoiceSession(language, solo_target, livekit_room, assistant)
        if self.members[user_id].voice != session:
            self.trigger_event(
                self.VoiceSessionStarted,
                user_id=user_id,
                language=language,
                solo_target=solo_target,
                livekit_room=livekit_room,
                assistant=assistant,
            )

    def end_voice(self, user_id: str, reason: str) -> None:
        """Record the end of a member's voice session (no-op without one)."""
        if self.members[user_id].voice is not None:
            self.trigger_event(self.VoiceSessionEnded, user_id=user_id, reason=reason)

    def recognize(
        self,
        transcript_id: UUID,
        speaker_id: str,
        text: str,
        source_language: str,
        engine: str,
        duration_ms: int,
        away_grace: timedelta,
        decode_ms: int = 0,
        fallbacks: tuple[str, ...] = (),
        *,
        mode: TranscriptMode | None = None,
        wake_word: bool = False,
    ) -> None:
        """Record a final transcript and decide which languages it needs.

        It is translated with the speaker's preferred translation engine, in
        its own ``mode`` if it asked for one, else in the speaker's mode.

        It is for the assistant when its speaker is in assistant mode, or, in
        a room with the assistant on, when it begins with the wake word
        (``wake_word``, as the caller found it). In a room with the assistant
        off, assistant mode is a private conversation: nobody else hears the
        transcript, as in solo mode.
        """
        speaker = self.members[speaker_id]
        solo_target = speaker.solo_target if mode is None else mode.solo_target
        for_assistant = speaker.assistant if mode is None else mode.assistant
        private = for_assistant and not self.assistant
        targets = (
            ()
            if private
            else self.target_languages(speaker, source_language, away_grace, solo_target)
        )
        self.trigger_event(
            self.TranscriptRecognized,
            transcript_id=transcript_id,
            speaker_id=speaker_id,
            speaker_name=speaker.name,
            text=text,
            source_language=source_language,
            solo_target=solo_target,
            targets=targets,
            engine=engine,
            duration_ms=duration_ms,
            decode_ms=decode_ms,
            fallbacks=fallbacks,
            translation_preference=preference(speaker.preferences.translation_engine),
            audience=()
            if private
            else self.audience(speaker, source_language, targets, solo_target),
            to_assistant=for_assistant or (self.assistant and wake_word),
            private=private,
        )

    def answer(
        self,
        sentence_id: UUID,
        answer_id: UUID,
        text: str,
        language: str,
        engine: str,
        owner: str | None,
    ) -> None:
        """Record one sentence of the assistant's answer, for the members who hear it.

        ``owner`` is the one member of a private conversation; None is every
        member (the shared assistant). Each hears it in their own language,
        the answer's own included (see ``TranscriptRecognized``).
        """
        listeners = [
            member for member in self.members.values() if owner is None or member.user_id == owner
        ]
        audience = tuple(sorted((member.user_id, member.language) for member in listeners))
        self.trigger_event(
            self.TranscriptRecognized,
            transcript_id=sentence_id,
            speaker_id=ASSISTANT_ID,
            speaker_name=ASSISTANT_NAME,
            text=text,
            source_language=language,
            solo_target=None,
            targets=tuple(sorted({lang for _, lang in audience})),
            engine=engine,
            duration_ms=0,
            audience=audience,
            answer_id=answer_id,
        )

    def set_preferences(self, user_id: str, preferences: Preferences) -> None:
        """Record a member's new preferences (nothing if unchanged)."""
        if self.members[user_id].preferences != preferences:
            self.trigger_event(
                self.PreferencesChanged,
                user_id=user_id,
                speech=preferences.speech,
                stt_engine=preferences.stt_engine,
                translation_engine=preferences.translation_engine,
                tts_engine=preferences.tts_engine,
                voice=preferences.voice,
            )

    def target_languages(
        self,
        speaker: Member,
        source_language: str,
        away_grace: timedelta,
        solo_target: str | None,
    ) -> tuple[str, ...]:
        """Distinct languages a transcript must be translated into.

        Only ``solo_target`` for a solo transcript. Members who disconnected
        less than ``away_grace`` ago still count, so their client can resume
        without gaps.
        """
        if solo_target is not None:
            wanted = {solo_target}
        else:
            cutoff = Room.Event.create_timestamp() - away_grace
            wanted = {
                member.language
                for member in self.members.values()
                if member.user_id != speaker.user_id
                and (member.away_since is None or member.away_since >= cutoff)
            }
        wanted.discard(source_language)
        return tuple(sorted(wanted))

    def translation_pairs(self, away_grace: timedelta) -> frozenset[LanguagePair]:
        """Every translation this room's transcripts may need next, to prepare ahead of use.

        The languages members will speak are not known until they speak, so
        each member's heard language (and their voice session's language) is
        taken as a language they may speak; each is paired with every other
        member's language (and the member's solo target), with the member's
        preferred translation engine. Members count as for
        ``target_languages``: present, or away less than ``away_grace``.
        """
        cutoff = Room.Event.create_timestamp() - away_grace
        members = [
            member
            for member in self.members.values()
            if member.away_since is None or member.away_since >= cutoff
        ]
        heard = Counter(member.language for member in members)
        pairs: set[LanguagePair] = set()
        for speaker in members:
            sources = {speaker.language}
            if speaker.voice is not None:
                sources.add(speaker.voice.language)
            targets = {lang for lang, n in heard.items() if lang != speaker.language or n > 1}
            if speaker.solo_target is not None:
                targets.add(speaker.solo_target)
            engine = preference(speaker.preferences.translation_engine)
            pairs.update(
                LanguagePair(source, target, engine)
                for source in sources
                for target in targets
                if source != target
            )
        return frozenset(pairs)

    def audience(
        self,
        speaker: Member,
        source_language: str,
        targets: tuple[str, ...],
        solo_target: str | None,
    ) -> tuple[tuple[str, str], ...]:
        """Who hears a transcript, and in which language: see ``TranscriptRecognized``.

        Away members are included whatever their absence (a translation into
        their language exists only if it is a target), so a resume delivers
        what exists; solo transcripts have no audience but the speaker.
        """
        if solo_target is not None:
            return ()
        heard = {source_language, *targets}
        return tuple(
            sorted(
                (member.user_id, member.language)
                for member in self.members.values()
                if member.user_id != speaker.user_id and member.language in heard
            )
        )

    def set_assistant(self, user_id: str, enabled: bool) -> None:
        """Turn the room's shared assistant on or off; no change records nothing."""
        if self.assistant != enabled:
            self.trigger_event(self.AssistantModeChanged, user_id=user_id, enabled=enabled)

    def set_recording(self, by: str, enabled: bool, reason: str = "stopped") -> None:
        """Start or stop recording the room's audio; no change records nothing."""
        if self.recording == enabled:
            return
        if enabled:
            self.trigger_event(self.RecordingStarted, by=by, room_code=self.code)
        else:
            self.trigger_event(self.RecordingStopped, by=by, reason=reason, room_code=self.code)

    def report_client_error(
        self, user_id: str, code: str, message: str, details: str | None
    ) -> None:
        """Record an error a client reported about itself."""
        self.trigger_event(
            self.ClientErrorReported, user_id=user_id, code=code, message=message, details=details
        )


@dataclass(frozen=True)
class TranslationProduced(DomainEvent):
    """One transcript rendered into one target language.

    Recorded by the translation fan-out projection, once per target language,
    in the transcript's own stream (:func:`translations_id_for`), together with
    the projection's tracking position. If no engine could translate,
    ``translated_text`` is the original text and ``error_code`` says why: the
    listener is never left in silence.

    ``audience`` names the members who hear this translation: those who heard
    ``target_language`` when the transcript was recorded (see
    ``TranscriptRecognized.audience``). None in translations of transcripts
    recorded without an audience. ``answer_id`` is the assistant's answer this
    is a sentence of (``TranscriptRecognized.answer_id``).
    """

    room_id: UUID
    transcript_id: UUID
    speaker_id: str
    speaker_name: str
    original_text: str
    translated_text: str
    source_language: str
    target_language: str
    solo: bool
    engine: str
    latency_ms: int
    fallbacks: tuple[str, ...]
    error_code: str | None
    audience: tuple[str, ...] | None = None
    answer_id: UUID | None = None


WEBSOCKET_CHANNEL = "websocket"
"""Speech sent over a listener's WebSocket as ``synthesized-speech``."""
LIVEKIT_CHANNEL = "livekit"
"""Speech played by a room's agent on its ``tts-<lang>`` LiveKit track."""


def speech_id_for(
    transcript_id: UUID,
    language: str,
    voice: str | None,
    engine: str,
    channel: str = WEBSOCKET_CHANNEL,
) -> UUID:
    """The stream id of one synthesis of a transcript's translation on one channel.

    The WebSocket and a LiveKit track each speak a translation once, so both
    are recorded; WebSocket syntheses keep the ids they always had.
    """
    suffix = "" if channel == WEBSOCKET_CHANNEL else f"/{channel}"
    return uuid5(SPEECH_NAMESPACE, f"{transcript_id.hex}/{language}/{voice}/{engine}{suffix}")


@dataclass(frozen=True)
class SpeechSynthesized(DomainEvent):
    """A translation was spoken, once per language, voice, engine and channel.

    The audio itself is not an event; this records what a replay needs to
    explain it: which channel delivered it (``websocket`` or ``livekit``),
    which engine and voice, how long, how fast the first audio came, and
    what failed first.
    """

    room_id: UUID
    transcript_id: UUID
    language: str
    voice: str | None
    engine: str
    sample_rate: int
    audio_ms: int
    first_chunk_ms: int
    fallbacks: tuple[str, ...]
    error_code: str | None
    channel: str = WEBSOCKET_CHANNEL

    @classmethod
    def recording(
        cls,
        *,
        room_id: UUID,
        transcript_id: UUID,
        language: str,
        voice: str | None,
        engine: str,
        sample_rate: int,
        audio_ms: int,
        first_chunk_ms: int,
        fallbacks: tuple[str, ...],
        error_code: str | None,
        channel: str,
    ) -> SpeechSynthesized:
        """The event for one synthesis on one channel, in its own stream (see speech_id_for).

        Both channels record through here, so a synthesis's identity is decided once.
        """
        return cls(
            originator_id=speech_id_for(transcript_id, language, voice, engine, channel),
            originator_version=1,
            timestamp=cls.create_timestamp(),
            room_id=room_id,
            transcript_id=transcript_id,
            language=language,
            voice=voice,
            engine=engine,
            sample_rate=sample_rate,
            audio_ms=audio_ms,
            first_chunk_ms=first_chunk_ms,
            fallbacks=fallbacks,
            error_code=error_code,
            channel=channel,
        )


def webhook_stream_for(webhook_id: str) -> UUID:
    """The stream of one LiveKit webhook: a redelivery lands on the same id and is refused."""
    return uuid5(WEBHOOK_NAMESPACE, webhook_id)


@dataclass(frozen=True)
class LiveKitWebhookReceived(DomainEvent):
    """The LiveKit server told us something happened in a media room (verified).

    ``room_id`` is the voicemode room of the same name, so a voice session's
    media events show in that room's timeline.
    """

    room_id: UUID
    webhook_id: str
    event: str
    room_name: str
    room_sid: str
    participant_identity: str | None
    participant_sid: str | None
    track_sid: str | None
    created_at: int


def conversation_id_for(room_id: UUID, owner: str | None) -> UUID:
    """The stream id of one conversation with the assistant in a room.

    ``owner`` is the user of a one-to-one conversation; None is the room's
    shared assistant, which every member of an assistant room talks to.
    """
    who = "room" if owner is None else f"user:{owner}"
    return uuid5(CONVERSATION_NAMESPACE, f"{room_id.hex}/{who}")


CLEAR_CONTEXT_INTENT = "clear_context"
"""The intent that empties the assistant's context (``Intent.CLEAR_CONTEXT``'s value)."""


@dataclass(frozen=True)
class Answer:
    """One answer as the assistant's writer hands it to ``Conversation.respond``.

    The fields of ``AssistantResponded`` but the room, which the conversation knows.
    """

    answer_id: UUID
    user_id: str
    question_id: UUID | None
    question: str
    answer: str
    language: str
    engine: str
    model: str
    first_token_ms: int
    total_ms: int
    tokens_in: int = 0
    tokens_out: int = 0
    fallbacks: tuple[str, ...] = ()
    error_code: str | None = None
    interrupted_at: int | None = None


class Conversation(Aggregate):
    """One conversation with the assistant: the commands it took and the answers it gave.

    A conversation is a stream of its own (:func:`conversation_id_for`), not
    part of the room's, because its writer is not the RoomActor: it is the
    conversation's assistant, which serializes its answers and commands, so
    one conversation has one writer and the room's writer is never held up by
    an answer being generated. Commands from every source (typed, data packet,
    spoken) are recorded here by that same writer, together with what they do
    (``clear`` records ``ContextCleared`` in the same append), so a command
    and its effect are never apart in the log. Every event names its room, so
    ``replay ROOM`` shows it with the room's own.

    What the assistant remembers is not kept here: it is a projection of
    these events (``actors/assistant/context.py``).
    """

    class Event(Aggregate.Event):
        """Base class of a conversation's events: each declares the ``room_id`` it is in."""

        if TYPE_CHECKING:
            room_id: UUID

    @dataclass(frozen=True)
    class ConversationStarted(Aggregate.Created, Event):
        """The first command or question of a conversation with the assistant.

        ``owner`` is the user of a one-to-one conversation, None for the
        room's shared assistant.
        """

        room_id: UUID
        owner: str | None

    @dataclass(frozen=True)
    class CommandRecognized(Event):
        """A user gave the assistant a command.

        ``intent`` and ``source`` are the values of
        ``actors.assistant.commands.Intent`` and ``CommandSource`` (plain
        strings: the log does not depend on the core's enums); ``entities``
        are names and values such as ``{"language": "es"}`` (a JSON object in
        the log and in ``replay --json``, sorted by name);
        ``confidence`` is 1.0 for typed and data commands, lower for a
        spoken phrase that only resembles a command; ``text`` is what the
        user typed, sent or said.
        """

        room_id: UUID
        owner: str | None
        user_id: str
        intent: str
        entities: Mapping[str, str]
        confidence: float
        source: str
        text: str

    @dataclass(frozen=True)
    class AssistantResponded(Event):
        """The assistant answered a question (or failed to, see ``error_code``).

        ``answer_id`` is the id its sentences carried as they were spoken
        (``TranscriptRecognized.answer_id``).

        ``question`` is the text asked, recorded here so that a conversation's
        stream alone holds everything its context needs; ``question_id`` is
        the transcript it came from (None for a question that is not a
        transcript). ``answer`` is the text generated, ``interrupted_at`` the
        character of ``answer`` at which it stopped being delivered because
        the user spoke over it (None when it was delivered whole): what the
        user actually heard is ``answer[:interrupted_at]``, and only that is
        the assistant's part of the conversation afterwards.

        ``engine`` and ``model`` answered after the engines in ``fallbacks``
        failed; ``first_token_ms`` and ``total_ms`` are measured from the
        request to the engine; ``tokens_in``/``tokens_out`` are the engine's
        counts (0 if it gave none). With ``error_code`` no engine answered
        fully: ``answer`` holds what was delivered before the failure
        (empty if nothing was).
        """

        room_id: UUID
        owner: str | None
        answer_id: UUID
        user_id: str
        question_id: UUID | None
        question: str
        answer: str
        language: str
        engine: str
        model: str
        first_token_ms: int
        total_ms: int
        tokens_in: int
        tokens_out: int
        fallbacks: tuple[str, ...]
        error_code: str | None
        interrupted_at: int | None

        @property
        def interrupted(self) -> bool:
            """Whether the user spoke over the answer before it was delivered whole."""
            return self.interrupted_at is not None

        @property
        def delivered(self) -> str:
            """The part of the answer the user actually got."""
            return (
                self.answer if self.interrupted_at is None else self.answer[: self.interrupted_at]
            )

    @dataclass(frozen=True)
    class ContextCleared(Event):
        """A user (``user_id``) made the assistant forget the conversation so far.

        ``source`` is where the command came from (typed, data or spoken).
        """

        room_id: UUID
        owner: str | None
        user_id: str
        source: str

    def __init__(self, room_id: UUID, owner: str | None) -> None:
        self.room_id = room_id
        self.owner = owner

    @staticmethod
    def create_id(room_id: UUID, owner: str | None) -> UUID:
        """Derive the conversation's id (see :func:`conversation_id_for`)."""
        return conversation_id_for(room_id, owner)

    def recognize_command(
        self,
        user_id: str,
        intent: str,
        entities: Mapping[str, str],
        confidence: float,
        source: str,
        text: str,
    ) -> None:
        """Record a command; a ``clear_context`` command clears the context with it."""
        self.trigger_event(
            self.CommandRecognized,
            room_id=self.room_id,
            owner=self.owner,
            user_id=user_id,
            intent=intent,
            entities=dict(sorted(entities.items())),
            confidence=confidence,
            source=source,
            text=text,
        )
        if intent == CLEAR_CONTEXT_INTENT:
            self.trigger_event(
                self.ContextCleared,
                room_id=self.room_id,
                owner=self.owner,
                user_id=user_id,
                source=source,
            )

    def respond(self, answer: Answer) -> None:
        """Record an answer (see ``AssistantResponded``).

        Raises:
            ValueError: ``interrupted_at`` is not a character of the answer.
        """
        if answer.interrupted_at is not None and not 0 <= answer.interrupted_at <= len(
            answer.answer
        ):
            msg = f"interrupted at {answer.interrupted_at} of {len(answer.answer)} characters"
            raise ValueError(msg)
        self.trigger_event(
            self.AssistantResponded,
            room_id=self.room_id,
            owner=self.owner,
            **asdict(answer),
        )
