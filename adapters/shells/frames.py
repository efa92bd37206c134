"""The WebSocket client wire format: every frame a client receives is built here.

Pure, no I/O. What each participant sees of each stored event
(:func:`frames_for`), the replies to commands, errors, captions and speech.
Live delivery and resume use the same function, so a client that resumes
receives exactly the frames it would have received had it stayed.

A listener hears each utterance once, in the language they heard when it was
recorded: the room names each transcript's audience with their languages
(``TranscriptRecognized.audience``) and the fan-out copies the listeners of
each language into its ``TranslationProduced``. So a translation goes to the
people it was made for even if they switched language before it arrived, and
deciding it needs nothing but the event itself (resume can start anywhere).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from actors.assistant.notices import AnswerStopped, AnswerText, AssistantNotice
from actors.listener import FRAMED_EVENTS, Listener
from actors.messages import Outgoing
from actors.speech import SpeechHeader, SpeechKey, SpeechPiece
from actors.wire import Caption, Frame, SpokenText
from events.domain import ASSISTANT_ID, Conversation, Preferences, Room, TranslationProduced
from events.store import Recorded

if TYPE_CHECKING:
    from actors.usecases import Joined, Left, VoiceEnded, VoiceReady
    from actors.usecases.management import MuteChanged

__all__ = [
    "CLIENT_FRAMES",
    "FRAMED_EVENTS",
    "ClientFrames",
    "Frame",
    "Listener",
    "ack",
    "agent_listening",
    "error",
    "frames_for",
    "joined_room",
    "left_room",
    "mute_changed",
    "recording",
    "reply",
    "server_frame",
    "spoken_on_websocket",
    "voice_session_ended",
    "voice_session_ready",
]


def server_frame(event: str, data: dict[str, Any], pos: int | None = None) -> Frame:
    """Build a server frame; frames from stored events carry their ``pos``."""
    frame: Frame = {"event": event, "data": data}
    if pos is not None:
        frame["pos"] = pos
    return frame


def frames_for(listener: Listener, recorded: Recorded) -> list[Frame]:
    """The frames ``listener`` receives for one stored event.

    Also follows the listener's own language changes and voice sessions,
    which is why ``listener`` is mutable: feed it the events in log order.
    """
    event = recorded.event
    pos = recorded.position
    me = listener.user_id
    if isinstance(event, Room.ParticipantJoined):
        if event.user_id == me:
            listener.language = event.language
            return []
        data = {"userId": event.user_id, "name": event.name, "language": event.language}
        return [server_frame("user-joined", data, pos)]
    if isinstance(event, Room.ParticipantLeft):
        if event.user_id == me:
            return []
        return [server_frame("user-left", {"userId": event.user_id, "reason": event.reason}, pos)]
    if isinstance(event, Room.VoiceSessionStarted | Room.VoiceSessionEnded) and event.user_id == me:
        listener.in_voice_session = isinstance(event, Room.VoiceSessionStarted)
        return []
    if isinstance(event, Room.VoiceSessionStarted):
        data = {"userId": event.user_id, "language": event.language}
        return [server_frame("user-started-voice", data, pos)]
    if isinstance(event, Room.VoiceSessionEnded):
        data = {"userId": event.user_id, "reason": event.reason}
        return [server_frame("user-stopped-voice", data, pos)]
    if isinstance(event, Room.LanguageChanged):
        if event.user_id == me:
            listener.language = event.language
        return []
    if isinstance(event, Room.PreferencesChanged):
        if event.user_id == me:
            listener.preferences = Preferences(
                event.speech,
                event.stt_engine,
                event.translation_engine,
                event.tts_engine,
                event.voice,
            )
        return []
    if isinstance(event, Room.RecordingStarted | Room.RecordingStopped):
        return [recording(event, pos)]
    if isinstance(event, Room.TranscriptRecognized):
        return _transcript_frames(listener, event, pos)
    if isinstance(event, Room.RoomClosed | Room.ParticipantRemoved | Room.TrackMuteChanged):
        return _moderation_frames(listener, event, pos)
    if isinstance(event, TranslationProduced):
        return _translation_frames(listener, event, pos)
    if isinstance(event, Conversation.Event):
        return _conversation_frames(listener, event, pos)
    return []


SPOKEN = frozenset({"translated-message", "solo-translated"})
"""The frames whose translation a listener may hear spoken."""


def spoken_on_websocket(listener: Listener, frame: Frame) -> bool:
    """Whether ``listener`` hears this frame's translation as ``synthesized-speech``.

    Each listener hears a translation once, on the channel they listen on.
    In a voice session the room's agent speaks group translations on the
    ``tts-<lang>`` LiveKit track, so the WebSocket carries only their text;
    solo translations, which the agent never speaks, stay on the WebSocket.
    The assistant's answers are spoken in their own language too: nobody
    heard them otherwise.
    """
    data = frame["data"]
    return (
        listener.preferences.speech
        and frame["event"] in SPOKEN
        and (data["targetLang"] != data["sourceLang"] or data["fromUserId"] == ASSISTANT_ID)
        and not data.get("errorCode")
        and not (listener.in_voice_session and frame["event"] == "translated-message")
    )


def _transcript_frames(
    listener: Listener, event: Room.TranscriptRecognized, pos: int
) -> list[Frame]:
    transcript_id = str(event.transcript_id)
    if event.speaker_id == ASSISTANT_ID:
        return []  # every listener gets the answer's sentences as translations
    if event.speaker_id == listener.user_id:
        if event.solo_target is None:
            return [
                server_frame(
                    "recognized-speech",
                    {
                        "id": transcript_id,
                        "text": event.text,
                        "sourceLang": event.source_language,
                        "speakerName": event.speaker_name,
                    },
                    pos,
                )
            ]
        if not event.targets:
            return [
                _solo_frame(
                    transcript_id,
                    event.text,
                    event.text,
                    event.source_language,
                    event.solo_target,
                    event.speaker_name,
                    pos,
                )
            ]
        return []
    if event.solo_target is None and _heard(listener, event) == event.source_language:
        return [
            _translated_frame(
                transcript_id,
                event.text,
                event.text,
                event.source_language,
                event.source_language,
                event.speaker_id,
                listener.user_id,
                event.speaker_name,
                pos,
            )
        ]
    return []


def _translation_frames(listener: Listener, event: TranslationProduced, pos: int) -> list[Frame]:
    transcript_id = str(event.transcript_id)
    if event.solo:
        if event.speaker_id != listener.user_id:
            return []
        frame = _solo_frame(
            transcript_id,
            event.original_text,
            event.translated_text,
            event.source_language,
            event.target_language,
            event.speaker_name,
            pos,
        )
    elif event.speaker_id != listener.user_id and _hears(listener, event):
        frame = _translated_frame(
            transcript_id,
            event.original_text,
            event.translated_text,
            event.source_language,
            event.target_language,
            event.speaker_id,
            listener.user_id,
            event.speaker_name,
            pos,
        )
    else:
        return []
    if event.error_code is not None:
        frame["data"]["errorCode"] = event.error_code
    if event.answer_id is not None:
        frame["data"]["answerId"] = str(event.answer_id)
    return [frame]


def _conversation_frames(listener: Listener, event: Conversation.Event, pos: int) -> list[Frame]:
    """What a conversation with the assistant shows: to its owner, or everyone if shared."""
    owner = getattr(event, "owner", None)
    if owner is not None and owner != listener.user_id:
        return []
    if isinstance(event, Conversation.CommandRecognized):
        data: dict[str, Any] = {
            "userId": event.user_id,
            "intent": event.intent,
            "entities": dict(event.entities),
            "confidence": event.confidence,
            "source": event.source,
            "text": event.text,
        }
        return [server_frame("command-recognized", data, pos)]
    if isinstance(event, Conversation.ContextCleared):
        data = {"userId": event.user_id, "source": event.source}
        return [server_frame("context-cleared", data, pos)]
    if isinstance(event, Conversation.AssistantResponded):
        data = {
            "answerId": str(event.answer_id),
            "userId": event.user_id,
            "question": event.question,
            "answer": event.answer,
            "delivered": event.delivered,
            "language": event.language,
            "engine": event.engine,
            "model": event.model,
            "firstTokenMs": event.first_token_ms,
            "totalMs": event.total_ms,
            "interruptedAt": event.interrupted_at,
        }
        if event.error_code is not None:
            data["errorCode"] = event.error_code
        return [server_frame("assistant-response", data, pos)]
    return []


def _moderation_frames(
    listener: Listener,
    event: Room.RoomClosed | Room.ParticipantRemoved | Room.TrackMuteChanged,
    pos: int,
) -> list[Frame]:
    """What the room's owner or an operator did: a closing, a removal, a (un)muted track.

    The removed participant is told ``removed`` (and until when they may not
    rejoin); the others see them leave with the reason ``removed``.
    """
    room = listener.room_code
    data: dict[str, Any]
    if isinstance(event, Room.RoomClosed):
        return [server_frame("room-closed", {"roomId": room, "by": event.by}, pos)]
    if isinstance(event, Room.ParticipantRemoved):
        if event.user_id != listener.user_id:
            data = {"userId": event.user_id, "reason": "removed", "by": event.by}
            return [server_frame("user-left", data, pos)]
        until = event.barred_until
        data = {
            "roomId": room,
            "by": event.by,
            "until": None if until is None else until.isoformat().replace("+00:00", "Z"),
        }
        return [server_frame("removed", data, pos)]
    data = {
        "roomId": room,
        "userId": event.user_id,
        "trackSid": event.track_sid,
        "muted": event.muted,
        "by": event.by,
    }
    return [server_frame("track-muted", data, pos)]


def recording(event: Room.RecordingStarted | Room.RecordingStopped, pos: int) -> Frame:
    """``recording {roomId, recording, by, reason?}``: the room's audio is (no longer) recorded.

    ``reason`` (when it stops): ``stopped`` by ``by``, or ``store_failed``.
    """
    data: dict[str, Any] = {
        "roomId": event.room_code,
        "recording": isinstance(event, Room.RecordingStarted),
        "by": event.by,
    }
    if isinstance(event, Room.RecordingStopped):
        data["reason"] = event.reason
    return server_frame("recording", data, pos)


def _heard(listener: Listener, event: Room.TranscriptRecognized) -> str | None:
    """The language ``listener`` heard when the transcript was recorded (None: not theirs)."""
    if event.audience is None:
        return listener.language
    audience = event.audience  # sorted by user id
    index = bisect_left(audience, (listener.user_id,))
    if index < len(audience) and audience[index][0] == listener.user_id:
        return audience[index][1]
    return None


def _hears(listener: Listener, event: TranslationProduced) -> bool:
    """Whether this translation is the one ``listener`` hears of its transcript."""
    if event.audience is None:
        return listener.language == event.target_language
    return listener.user_id in event.audience


def _solo_frame(
    transcript_id: str,
    original: str,
    translated: str,
    source: str,
    target: str,
    speaker_name: str,
    pos: int,
) -> Frame:
    return server_frame(
        "solo-translated",
        {
            "id": transcript_id,
            "originalText": original,
            "translatedText": translated,
            "sourceLang": source,
            "targetLang": target,
            "speakerName": speaker_name,
        },
        pos,
    )


def _translated_frame(
    transcript_id: str,
    original: str,
    translated: str,
    source: str,
    target: str,
    from_user: str,
    to_user: str,
    speaker_name: str,
    pos: int,
) -> Frame:
    return server_frame(
        "translated-message",
        {
            "id": transcript_id,
            "originalText": original,
            "translatedText": translated,
            "sourceLang": source,
            "targetLang": target,
            "fromUserId": from_user,
            "toUserId": to_user,
            "speakerName": speaker_name,
        },
        pos,
    )


# Replies to a client's commands ----------------------------------------------


def reply(event: str, data: dict[str, Any], ref: str | int | None) -> Frame:
    """An answer to a command, echoing the client's ``ref``."""
    frame = server_frame(event, data)
    if ref is not None:
        frame["ref"] = ref
    return frame


def error(code: str, message: str, ref: str | int | None = None) -> Frame:
    """What was wrong with what the client sent (``ref``: the offending frame's)."""
    return reply("error", {"code": code, "message": message}, ref)


def ack(event: str, position: int, ref: str | int) -> Frame:
    """A command was recorded; ``position`` is its last event's."""
    return reply("ack", {"event": event, "position": position}, ref)


def joined_room(joined: Joined, ref: str | int | None) -> Frame:
    """The answer to ``join-room``."""
    data = {
        "roomId": joined.room_code,
        "userId": joined.user_id,
        "language": joined.language,
        "position": joined.position,
        "owner": joined.owner,
        "recording": joined.recording,
    }
    return reply("joined-room", data, ref)


def left_room(left: Left, ref: str | int | None) -> Frame:
    """The answer to ``leave-room``."""
    return reply("left-room", {"roomId": left.room_code}, ref)


def voice_session_ready(ready: VoiceReady, ref: str | int | None) -> Frame:
    """The answer to ``start-voice-session``: where and how to connect to LiveKit."""
    data = {
        "roomId": ready.room_code,
        "liveKitToken": ready.token,
        "liveKitUrl": ready.url,
        "expiresAt": ready.expires_at.isoformat().replace("+00:00", "Z"),
        "language": ready.language,
        "position": ready.position,
    }
    return reply("voice-session-ready", data, ref)


def voice_session_ended(ended: VoiceEnded, ref: str | int | None) -> Frame:
    """The answer to ``stop-voice-session``."""
    return reply(
        "voice-session-ended", {"roomId": ended.room_code, "position": ended.position}, ref
    )


def mute_changed(changed: MuteChanged, ref: str | int | None) -> Frame:
    """The answer to ``mute-participant`` (and of the HTTP route): the tracks changed."""
    data = {
        "roomId": changed.room_code,
        "userId": changed.user_id,
        "trackSids": list(changed.track_sids),
        "muted": changed.muted,
        "position": changed.position,
    }
    return reply("participant-muted", data, ref)


def agent_listening(room_code: str, listening: bool) -> Outgoing:
    """``agent-listening {roomId, listening}``: whether the room's voice sessions are heard.

    Sent to the whole room, not stored: when its LiveKit agent attaches or
    detaches, and when a voice session starts there.
    """
    data = {"roomId": room_code, "listening": listening}
    return Outgoing(orjson.dumps(server_frame("agent-listening", data)))


# What sessions send ---------------------------------------------------------


class ClientFrames:
    """:class:`~actors.wire.ClientWire` for WebSocket clients: what sessions send."""

    frames_for = staticmethod(frames_for)
    """See :func:`frames_for` (the function itself: no extra call per event)."""

    def spoken(self, listener: Listener, frame: Frame) -> SpokenText | None:
        """The translation the listener hears as ``synthesized-speech``, if any."""
        if not spoken_on_websocket(listener, frame):
            return None
        data = frame["data"]
        answer = data.get("answerId")
        return SpokenText(
            UUID(data["id"]),
            data["targetLang"],
            data["translatedText"],
            UUID(answer) if answer else None,
        )

    def encode(self, frames: Iterable[Frame]) -> list[Outgoing]:
        """JSON text frames."""
        return [Outgoing(orjson.dumps(frame)) for frame in frames]

    def resume_ack(self, position: int, ref: str | int) -> Frame:
        """``ack {event: "resume", position}``."""
        return ack("resume", position, ref)

    def speech(self, key: SpeechKey, piece: SpeechPiece) -> Outgoing:
        """A header, audio bytes, or the end of one synthesis."""
        if isinstance(piece, bytes):
            return Outgoing(piece, binary=True)
        data: dict[str, Any] = {"id": str(key.transcript_id), "language": key.language}
        if isinstance(piece, SpeechHeader):
            name = "synthesized-speech"
            data |= {
                "sampleRate": piece.sample_rate,
                "encoding": "LINEAR16",
                "voice": piece.voice,
                "engine": piece.engine,
            }
        else:
            name = "synthesized-speech-end"
            data["durationMs"] = piece.audio_ms
            if piece.error_code:
                data["errorCode"] = piece.error_code
        return Outgoing(orjson.dumps(server_frame(name, data)))

    def caption(self, caption: Caption) -> Outgoing:
        """``partial-speech``."""
        data = {
            "id": str(caption.utterance_id),
            "text": caption.text,
            "sourceLang": caption.language,
            "speakerName": caption.speaker_name,
        }
        return Outgoing(orjson.dumps(server_frame("partial-speech", data)))

    def notice(self, notice: AssistantNotice) -> Outgoing:
        """``assistant-text``, ``assistant-interrupted`` or an ``error`` about an answer."""
        data: dict[str, Any]
        if isinstance(notice, AnswerText):
            data = {
                "answerId": str(notice.answer_id),
                "userId": notice.user_id,
                "text": notice.text,
                "language": notice.language,
            }
            frame = server_frame("assistant-text", data)
        elif isinstance(notice, AnswerStopped):
            data = {"answerId": str(notice.answer_id), "at": notice.at}
            frame = server_frame("assistant-interrupted", data)
        else:
            frame = error(notice.code, notice.message)
        return Outgoing(orjson.dumps(frame))


CLIENT_FRAMES = ClientFrames()
"""The one WebSocket client wire the shells hand the core."""
