"""VoiceAgent: voicemode's agent in one LiveKit room.

It listens to every person in the room (one speech pipeline per microphone
track), reports what they say to voicemode, and speaks the translations
voicemode sends back on one ``tts-<lang>`` track per language heard by a
person connected to the LiveKit room, with the text alongside as
``lk.transcription`` text streams. A language heard only over WebSocket gets
no track: those listeners get their speech there, and nothing is spoken to
nobody (or recorded as delivered when it was not).

It subscribes to tracks itself (the room is joined without auto-subscribe)
and only to microphones of people: never to agents' tracks, its own or
another agent's, so synthesized speech is never transcribed again.
Solo-mode translations are for their speaker alone: they go as text to that
speaker only and are not spoken, since every ``tts-<lang>`` track is shared.

For the assistant it speaks the answer's sentences (even in the language
they were written in) to the answer's audience, and stops them as soon as
one of that audience starts speaking, telling voicemode at once. An answer
of a private conversation is spoken only on a track nobody else listens to
(otherwise it is sent as text to its owner alone). People send the
assistant commands as data packets, and are told in data packets of final
transcripts and of answers (:mod:`~adapters.shells.livekit_agent.data_packets`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from livekit import rtc
from livekit.rtc.room import EventTypes

from actors.agent_messages import (
    AssistantAnswered,
    AssistantCommand,
    ControlPlane,
    ControlPlaneError,
    FinalTranscript,
    PartialTranscript,
    RecordedAudio,
    RoomMembers,
    RoomRecording,
    RoomUpdate,
    SpeechBegan,
    SynthesisReport,
    TranslationToSpeak,
)
from actors.service import SpeechStack
from adapters.shells.livekit_agent.answers import SpokenAnswers
from adapters.shells.livekit_agent.data_packets import (
    MalformedCommandError,
    assistant_response_packet,
    command_text,
    error_packet,
    now_ms,
    transcription_packet,
)
from adapters.shells.livekit_agent.listening import Report, TrackListener
from adapters.shells.livekit_agent.recording import AgentRecorder
from adapters.shells.livekit_agent.speaking import LanguageVoice

log = logging.getLogger(__name__)

TRANSCRIPTION_TOPIC: Final = "lk.transcription"
SPEAKING_KINDS: Final = frozenset(
    {rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD, rtc.ParticipantKind.PARTICIPANT_KIND_SIP}
)
"""Participants who are people: browsers and apps, and phone callers."""
COMMAND_FROM_AGENT: Final = "command_from_agent"

_Outgoing = PartialTranscript | FinalTranscript | SynthesisReport | AssistantCommand | RecordedAudio
"""What the agent sends voicemode in order, one at a time."""


@dataclass(frozen=True)
class AgentSettings:
    """Tunables of an agent.

    ``tts_sample_rate`` is the rate of every ``tts-<lang>`` track; the
    default is espeak-ng's, so the embedded engine's audio goes out
    untouched and other engines' is resampled. A speaker's language is their
    LiveKit participant attribute ``language_attribute``, else the language
    they hear in the voicemode room, else ``default_language``.

    ``voice_sleep_s``: how long a ``tts-<lang>`` track stays published while
    nothing is said in the room (``math.inf``: always). LiveKit encodes 10 ms
    of silence every 10 ms on an idle track (about 3.7 % of a core each,
    ``bench/idle_tracks.py``), so a quiet room's tracks are unpublished, and
    published again as soon as anyone in it starts speaking: by the time the
    utterance is transcribed and translated, the track is back and its
    listeners subscribed again.
    """

    default_language: str = "en"
    language_attribute: str = "language"
    tts_sample_rate: int = 22050
    voice_sleep_s: float = 10.0
    synthesis_workers: int = 2
    audio_buffer_bytes: int = 512 * 1024
    end_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        """Refuse a sleep that is not a positive duration (0 would make the doze spin)."""
        if not self.voice_sleep_s > 0:
            raise ValueError(f"voice_sleep_s must be above 0, not {self.voice_sleep_s}")


class VoiceAgent:
    """Listens, reports and speaks for one voicemode room in one LiveKit room."""

    def __init__(
        self,
        room: rtc.Room,
        room_code: str,
        control: ControlPlane,
        speech: SpeechStack,
        settings: AgentSettings | None = None,
    ) -> None:
        self.room = room
        self.room_code = room_code
        self.control = control
        self.speech = speech
        self.settings = settings or AgentSettings()
        self._members = RoomMembers(room_code, {})
        self._answers = SpokenAnswers()
        self._listeners: dict[str, TrackListener] = {}
        self._voices: dict[str, LanguageVoice] = {}
        self._asleep: set[str] = set()
        self._heard_at = 0.0
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._recorder = AgentRecorder(room_code, self._outbox.put_nowait)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool = ThreadPoolExecutor(self.settings.synthesis_workers, thread_name_prefix="tts")
        self._handlers: dict[EventTypes, Callable[..., None]] = {
            "track_published": self._on_track_published,
            "track_subscribed": self._on_track_subscribed,
            "track_unsubscribed": self._on_track_unsubscribed,
            "participant_connected": self._on_participant_connected,
            "participant_disconnected": self._on_participant_disconnected,
            "reconnected": self._on_reconnected,
            "data_received": self._on_data_received,
        }
        self._tuning = asyncio.Lock()
        self._following: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None
        self._dozing: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def listening(self) -> frozenset[str]:
        """The identities of the participants whose speech is being transcribed."""
        return frozenset(listener.speaker_id for listener in self._listeners.values())

    @property
    def speaking(self) -> frozenset[str]:
        """The languages with a published ``tts-<lang>`` track."""
        return frozenset(self._voices)

    @property
    def asleep(self) -> frozenset[str]:
        """The languages whose track is unpublished while the room is quiet."""
        return frozenset(self._asleep)

    async def start(self) -> None:
        """Attach to the voicemode room, publish its languages, and start listening.

        The LiveKit room must already be connected, without auto-subscribe.

        Raises:
            ControlPlaneError: voicemode refused the agent.
        """
        await self.control.attach(self.room_code)
        updates = self.control.updates(self.room_code)
        first = await anext(updates)
        await self._update(first)
        self._sending = asyncio.create_task(self._send(), name="agent-send")
        self._following = asyncio.create_task(self._follow(updates), name="agent-follow")
        self._dozing = asyncio.create_task(self._doze(), name="agent-doze")
        for event, handler in self._handlers.items():
            self.room.on(event, handler)
        self._subscribe_all()
        self._spawn(self._retune())  # for whoever came in before the handlers were on

    async def aclose(self) -> None:
        """Report what was still being said, then take everything down."""
        self._closing = True
        for event, handler in self._handlers.items():
            self.room.off(event, handler)
        await _cancel(self._following)
        await _cancel(self._dozing)
        listeners, self._listeners = list(self._listeners.values()), {}
        await asyncio.gather(*(listener.aclose() for listener in listeners))
        self._recorder.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.end_timeout_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), self.settings.end_timeout_s)
        await _cancel(self._sending)
        for task in list(self._tasks):
            await _cancel(task)
        voices, self._voices = list(self._voices.values()), {}
        for voice in voices:
            await voice.aclose()
        await self.control.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("%s: agent stopped", self.room_code)

    # Listening -------------------------------------------------------------

    def _subscribe_all(self) -> None:
        """Subscribe to every speaker's microphone not subscribed yet.

        Also runs after a reconnect: after a full reconnect LiveKit announces
        the tracks again while the session is still being rebuilt, and a
        subscription asked for then is lost.
        """
        for participant in self.room.remote_participants.values():
            for publication in participant.track_publications.values():
                self._on_track_published(publication, participant)

    def _on_reconnected(self) -> None:
        self._subscribe_all()
        self._spawn(self._retune())

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if _is_speech(publication, participant) and not publication.subscribed:
            publication.set_subscribed(True)

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if not _is_speech(publication, participant):
            return
        previous = self._listeners.pop(publication.sid, None)
        if previous is not None:
            self._spawn(previous.aclose())
        log.info("%s: listening to %s", self.room_code, participant.identity)
        self._listeners[publication.sid] = TrackListener(
            self.room_code,
            participant.identity,
            self._language_of(participant),
            track,
            self.speech.engines,
            self._heard,
            self.settings.audio_buffer_bytes,
            self.settings.end_timeout_s,
            self._recorder.heard_by(participant.identity),
        )

    def _on_track_unsubscribed(
        self,
        _: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        __: rtc.RemoteParticipant,
    ) -> None:
        listener = self._listeners.pop(publication.sid, None)
        if listener is not None:
            log.info("%s: no longer listening to %s", self.room_code, listener.speaker_id)
            self._spawn(listener.aclose())

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind in SPEAKING_KINDS:
            self._spawn(self._retune())

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind in SPEAKING_KINDS:
            self._spawn(self._retune())
        for sid, listener in list(self._listeners.items()):
            if listener.speaker_id == participant.identity:
                log.info("%s: %s left", self.room_code, participant.identity)
                del self._listeners[sid]
                self._spawn(listener.aclose())

    def _language_of(self, participant: rtc.RemoteParticipant) -> str:
        return (
            participant.attributes.get(self.settings.language_attribute)
            or self._members.languages.get(participant.identity)
            or self.settings.default_language
        )

    def _heard(self, report: Report) -> None:
        """What a listener heard: speech beginning stops answers and wakes tracks now.

        Transcripts and captions queue up for voicemode.
        """
        self._heard_at = asyncio.get_running_loop().time()
        if isinstance(report, SpeechBegan):
            self._barge_in(report)
            if self._asleep and not self._closing:
                self._spawn(self._wake())
        else:
            self._outbox.put_nowait(report)

    def _barge_in(self, began: SpeechBegan) -> None:
        """Stop the answers the speaker hears at once, in every language, then tell voicemode."""
        answers = self._answers.interrupt(began.user_id)
        if answers:
            cut = [voice.language for voice in self._voices.values() if voice.interrupt(answers)]
            log.info("%s: %s spoke over the assistant (%s)", self.room_code, began.user_id, cut)
        self._spawn(self.control.speech_began(began))

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        """A command packet from a person goes to voicemode; a malformed one is refused."""
        sender = packet.participant
        if sender is None:
            return  # from a server SDK: nobody to answer
        try:
            text = command_text(packet.data)
        except MalformedCommandError as error:
            if sender.kind in SPEAKING_KINDS:
                self._spawn(self._refuse(sender.identity, error.code, error.message))
            return
        if text is None:
            return
        if sender.kind not in SPEAKING_KINDS:
            log.info(
                "%s: %s: ignored a command from %s",
                self.room_code,
                COMMAND_FROM_AGENT,
                sender.identity,
            )
            return
        self._outbox.put_nowait(AssistantCommand(self.room_code, sender.identity, text))

    async def _send(self) -> None:
        """Report to voicemode one thing at a time, so captions never overtake transcripts."""
        while True:
            report = await self._outbox.get()
            try:
                await self._report(report)
            except ControlPlaneError as error:
                log.warning("voicemode refused a report from %s: %s", self.room_code, error)
            except Exception:
                log.exception("reporting to voicemode failed")
            finally:
                self._outbox.task_done()

    async def _report(self, report: _Outgoing) -> None:
        """Send one report; a recorded transcript and a refused command are told their sender.

        The seed's client shows every ``transcription`` packet as its user's
        own words, and a private question must reach nobody else.
        """
        match report:
            case PartialTranscript():
                await self.control.partial(report)
            case SynthesisReport():
                await self.control.synthesized(report)
            case RecordedAudio():
                await self.control.recorded(report)
            case FinalTranscript():
                await self.control.transcript(report)
                packet = transcription_packet(
                    report.text, report.language, report.speaker_id, now_ms()
                )
                self._spawn(self._publish(packet, [report.speaker_id]))
            case AssistantCommand():
                try:
                    await self.control.command(report)
                except ControlPlaneError as error:
                    await self._refuse(report.user_id, error.code, error.message)

    async def _refuse(self, identity: str, code: str, message: str) -> None:
        """Tell the sender of a command why it was refused."""
        log.info("%s: refused a command from %s: %s", self.room_code, identity, code)
        await self._publish(error_packet(code, message, now_ms()), [identity])

    async def _publish(self, packet: bytes, to: list[str] | None) -> None:
        """Send a reliable data packet to ``to`` (None: everyone in the room; empty: nobody)."""
        if to is not None and not to:
            return
        await self.room.local_participant.publish_data(
            packet, reliable=True, destination_identities=to or []
        )

    # Speaking --------------------------------------------------------------

    async def _follow(self, updates: AsyncIterator[RoomUpdate]) -> None:
        async for update in updates:
            try:
                await self._update(update)
            except Exception:
                log.exception("the agent of %s could not apply %r", self.room_code, update)

    async def _update(self, update: RoomUpdate) -> None:
        if isinstance(update, RoomMembers):
            await self._set_languages(update)
            return
        if isinstance(update, RoomRecording):
            self._recorder.recording = update.recording
            return
        if isinstance(update, AssistantAnswered):
            self._answers.answered(update.answer_id)
            to = None if update.owner is None else [update.owner]
            self._spawn(self._publish(assistant_response_packet(update), to))
            return
        if update.assistant and not self._answers.admit(update):
            return  # a sentence of an answer someone spoke over
        if update.language in self._asleep and self._speaks(update):
            # Nobody spoke in LiveKit (typed text, an answer to a typed question): the
            # voice holds its first speech until a listener is back (FIRST_LISTENER_WAIT_S).
            await self._wake(frozenset({update.language}))
        voice = self._voices.get(update.language)
        if voice is not None and self._speaks(update):
            voice.say(update)
        self._spawn(self._show(update, voice))

    def _speaks(self, translation: TranslationToSpeak) -> bool:
        """Whether to speak a translation on its language's track, which all its listeners hear.

        A solo translation is not spoken; an answer is, unless someone
        outside its audience listens to that track.
        """
        if not translation.assistant:
            return not translation.solo
        if translation.audience is None:
            return True
        return self._listeners_of(translation.language) <= set(translation.audience)

    def _listeners_of(self, language: str) -> set[str]:
        """The people in the LiveKit room who hear ``language``."""
        return {
            participant.identity
            for participant in self.room.remote_participants.values()
            if participant.kind in SPEAKING_KINDS
            and self._members.languages.get(participant.identity) == language
        }

    async def _set_languages(self, members: RoomMembers) -> None:
        """Remember who hears which language, and retune the tracks to it."""
        self._members = members
        await self._retune()

    async def _retune(self) -> None:
        """One track per language a person in the LiveKit room hears: publish new, retire old.

        Serialized, so joins and leaves arriving together never publish a
        language twice; each run reads who is here when it starts. While
        LiveKit reconnects, people seem to leave and come back: nothing
        changes then, and the run after ``reconnected`` sees who stayed.
        """
        async with self._tuning:
            if not self._connected:
                return
            here = {
                participant.identity
                for participant in self.room.remote_participants.values()
                if participant.kind in SPEAKING_KINDS
            }
            wanted = self._members.languages_of(here)
            self._asleep &= wanted
            for language in sorted(set(self._voices) - wanted):
                await self._voices.pop(language).aclose()
            for language in sorted(wanted - set(self._voices) - self._asleep):
                await self._publish_voice(language)

    @property
    def _connected(self) -> bool:
        """Whether the LiveKit room is connected (not connecting, reconnecting or gone)."""
        return self.room.connection_state == rtc.ConnectionState.CONN_CONNECTED

    async def _publish_voice(self, language: str) -> None:
        """Publish ``language``'s track (the caller holds the tuning lock)."""
        voice = LanguageVoice(
            self.room,
            language,
            self.speech.synthesizers,
            self._pool,
            self.settings.tts_sample_rate,
            self._outbox.put_nowait,
            self._recorder.spoken,
        )
        await voice.publish()
        self._voices[language] = voice

    async def _doze(self) -> None:
        """Unpublish the tracks of a room where nothing was heard or said for a while."""
        sleep_s = self.settings.voice_sleep_s
        if not math.isfinite(sleep_s):
            return
        while True:
            await asyncio.sleep(min(1.0, sleep_s / 4))
            try:
                await self._put_quiet_voices_to_sleep(sleep_s)
            except Exception:
                log.exception("%s: putting quiet tracks to sleep failed", self.room_code)

    async def _put_quiet_voices_to_sleep(self, sleep_s: float) -> None:
        """One pass of :meth:`_doze`: the voices quiet for ``sleep_s`` in a quiet room sleep."""
        quiet_from = asyncio.get_running_loop().time() - sleep_s
        if self._heard_at > quiet_from or not self._voices:
            return
        async with self._tuning:
            if self._closing or not self._connected or self._heard_at > quiet_from:
                return
            dozing = {
                language: voice
                for language, voice in self._voices.items()
                if (since := voice.quiet_since) is not None and since <= quiet_from
            }
            for language in dozing:  # no await in between: nothing is said to a closing voice
                del self._voices[language]
                self._asleep.add(language)
            if dozing:
                log.info("%s: quiet, tracks asleep: %s", self.room_code, sorted(dozing))
                # Shielded: a cancelled doze (the job ending) still closes every source.
                await asyncio.shield(asyncio.gather(*(v.aclose() for v in dozing.values())))

    async def _wake(self, languages: frozenset[str] | None = None) -> None:
        """Publish the tracks put to sleep again (all, or ``languages``), side by side.

        A track LiveKit refuses stays asleep, to be tried at the next wake.
        """
        async with self._tuning:
            if self._closing or not self._connected:
                return
            waking = sorted(self._asleep if languages is None else self._asleep & languages)
            results = await asyncio.gather(
                *(self._publish_voice(language) for language in waking), return_exceptions=True
            )
            for language, result in zip(waking, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("%s: could not wake tts-%s: %s", self.room_code, language, result)
                else:
                    self._asleep.discard(language)
        if waking:
            log.info("%s: tracks awake: %s", self.room_code, waking)

    async def _show(self, translation: TranslationToSpeak, voice: LanguageVoice | None) -> None:
        """Send the translation's text: a solo one to its speaker, an answer to its audience."""
        attributes = {
            "language": translation.language,
            "transcript_id": str(translation.transcript_id),
            "speaker_id": translation.speaker_id,
            "lk.segment_id": str(translation.transcript_id),
            "lk.transcription_final": "true",
        }
        if voice is not None and voice.track_sid is not None:
            attributes["lk.transcribed_track_id"] = voice.track_sid
        to = _readers(translation)
        if to is not None and not to:
            return
        await self.room.local_participant.send_text(
            translation.text,
            topic=TRANSCRIPTION_TOPIC,
            attributes=attributes,
            destination_identities=to,
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, keeping it referenced and its failure logged."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("agent work in %s failed: %s", self.room_code, error, exc_info=error)


def _readers(translation: TranslationToSpeak) -> list[str] | None:
    """Who is sent a translation's text (None: everyone in the room)."""
    if translation.assistant and translation.audience is not None:
        return list(translation.audience)
    return [translation.speaker_id] if translation.solo else None


def _is_speech(publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant) -> bool:
    """A person's microphone; never an agent's track."""
    return (
        participant.kind in SPEAKING_KINDS
        and publication.kind == rtc.TrackKind.KIND_AUDIO
        and publication.source == rtc.TrackSource.SOURCE_MICROPHONE
    )


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
