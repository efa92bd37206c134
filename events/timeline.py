"""The replay debugger's view of the log: one explained line per event.

Reads stored notifications in large batches and decodes only their state
(no domain objects), since a replay of a million events must run at hundreds
of thousands of events per second. ``state_at`` rebuilds a room as it was at
a position with the real aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from events.domain import (
    Conversation,
    LiveKitWebhookReceived,
    Room,
    SpeechSynthesized,
    TranslationProduced,
    room_id_for,
)
from events.recording import AudioDeleted, AudioRecorded
from events.sqlite import StoredRow, originator_hex
from events.store import EventStore, LogFollower
from events.transcoder import decode_plain

State = dict[str, Any]


def _nested_events(aggregate: type[Room | Conversation]) -> list[str]:
    """The names of the events an aggregate declares (its created event included)."""
    return [
        name
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, aggregate.Event)
        and value not in (aggregate.Event, aggregate.Created)
    ]


EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(
        _nested_events(Room)
        + _nested_events(Conversation)
        + [
            event.__name__
            for event in (
                TranslationProduced,
                SpeechSynthesized,
                LiveKitWebhookReceived,
                AudioRecorded,
                AudioDeleted,
            )
        ]
    )
)
"""Every event name the log can hold, as ``replay`` prints it and ``--type`` takes it."""


class UnknownEventTypeError(ValueError):
    """A ``--type`` that names no event: a filter on it would silently show nothing."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown event type {name!r}; known types: {', '.join(EVENT_TYPES)}")
        self.name = name


def event_types(names: Iterable[str]) -> frozenset[str]:
    """The event names meant by ``names``, matched case-insensitively.

    Raises:
        UnknownEventTypeError: a name matches no event type.
    """
    by_folded = {name.casefold(): name for name in EVENT_TYPES}
    chosen = set()
    for name in names:
        known = by_folded.get(name.strip().casefold())
        if known is None:
            raise UnknownEventTypeError(name)
        chosen.add(known)
    return frozenset(chosen)


@dataclass(frozen=True)
class TimelineEntry:
    """One event as the replay debugger shows it (JSON-native field values)."""

    position: int
    time: str
    room: str
    event: str
    who: str
    summary: str
    fields: State

    def line(self) -> str:
        """The human-readable one-line form."""
        stamp = f"{self.time[:10]} {self.time[11:23]}"
        return (
            f"{self.position:>9}  {stamp}  {self.room:<12} {self.event:<21} "
            f"{self.who:<14} {self.summary}"
        )

    def record(self) -> State:
        """The machine-readable form (one JSON object per line)."""
        return {
            **self.fields,
            "pos": self.position,
            "time": self.time,
            "room": self.room,
            "event": self.event,
            "who": self.who,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class TimelineFilter:
    """Which events to show."""

    room: str | None = None
    types: frozenset[str] = frozenset()
    participant: str | None = None
    since: int = 0
    until: int | None = None

    def wants(self, entry: TimelineEntry) -> bool:
        """Whether an entry passes the type and participant filters."""
        if self.types and entry.event not in self.types:
            return False
        return self.participant is None or self.participant in _people(entry.fields)


class Timeline:
    """Turns stored rows into timeline entries."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._room_codes: dict[str, str] = {}

    def entries(self, selection: TimelineFilter) -> Iterator[TimelineEntry]:
        """The selected stored events from ``since`` to ``until``, in log order."""
        return self._filtered(self.store.scan(selection.since, selection.until), selection)

    def follow(self, selection: TimelineFilter, follower: LogFollower) -> Iterator[TimelineEntry]:
        """The selected events arriving live on ``follower``."""
        rows = (
            (n.id, originator_hex(n.originator_id), n.topic, n.state)
            for n in follower.notifications()
        )
        return self._filtered(rows, selection)

    def _filtered(
        self, rows: Iterable[StoredRow], selection: TimelineFilter
    ) -> Iterator[TimelineEntry]:
        room_hex = None
        if selection.room:
            room_hex = room_id_for(selection.room).hex
            self._room_codes[room_hex] = selection.room
        for row in rows:
            entry = self.entry(row)
            if (room_hex is None or entry.fields["room_id"] == room_hex) and selection.wants(entry):
                yield entry

    def entry(self, row: StoredRow) -> TimelineEntry:
        """Explain one stored event."""
        position, originator_id, topic, data = row
        state = decode_plain(data)
        name = topic[max(topic.rfind("."), topic.rfind(":")) + 1 :]
        room_hex = state.get("room_id") or originator_id
        if name == "RoomOpened":
            self._room_codes[room_hex] = state["code"]
        state["room_id"] = room_hex
        who, summary = summarize(name, state)
        room = self._room_codes.get(room_hex) or self._code_of(room_hex)
        return TimelineEntry(position, state.pop("timestamp"), room, name, who, summary, state)

    def _code_of(self, room_hex: str) -> str:
        """The code of a room whose RoomOpened was before the replayed range."""
        opened = self.store.recorder.select_events(UUID(room_hex), limit=1)
        code = str(decode_plain(opened[0].state).get("code", "")) if opened else ""
        self._room_codes[room_hex] = code or room_hex[:8]
        return self._room_codes[room_hex]


def summarize(event: str, state: State) -> tuple[str, str]:
    """Who an event is about, and the one-line explanation ``replay`` prints for it."""
    return _SUMMARIES.get(event, _generic)(state)


def render_entry(entry: TimelineEntry, *, as_json: bool) -> bytes:
    """One output line: the text form, or one JSON object."""
    if as_json:
        return orjson.dumps(entry.record()) + b"\n"
    return entry.line().encode() + b"\n"


def state_at(store: EventStore, code: str, position: int) -> Room | None:
    """The room as it was right after the event at ``position``."""
    room: Any = None
    room_id = room_id_for(code)
    for recorded in store.read(0, position):
        if recorded.event.originator_id == room_id:
            room = recorded.event.mutate(room)  # type: ignore[attr-defined]
    return room if isinstance(room, Room) else None


def describe_room(room: Room, position: int) -> list[str]:
    """Lines describing a room's participants, languages and modes."""
    assistant = ", assistant on" if room.assistant else ""
    lines = [
        f"room {room.code} at position {position}: {len(room.members)} participant(s){assistant}"
    ]
    if room.closed:
        lines.append(f"  closed by {room.closed_by}")
    for member in sorted(room.members.values(), key=lambda m: m.user_id):
        mode = f"solo -> {member.solo_target}" if member.solo_target else "group"
        status = "away" if member.away_since else "present"
        speaking = ", speaking" if member.speaking else ""
        lines.append(
            f"  {member.user_id:<14} {member.name:<16} hears {member.language}  "
            f"{mode}  {status}{speaking}"
        )
    return lines


def _people(state: State) -> set[str]:
    return {
        str(state[key])
        for key in ("user_id", "speaker_id", "owner", "by")
        if state.get(key) is not None
    }


def _quote(text: str, limit: int = 80) -> str:
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _generic(state: State) -> tuple[str, str]:
    return str(state.get("user_id", "")), ""


def _opened(state: State) -> tuple[str, str]:
    owner = state.get("owner")
    return "", f"room {state['code']} opened" + (f", owned by {owner}" if owner else "")


def _joined(state: State) -> tuple[str, str]:
    return state["user_id"], f"{state['name']} joined, hears {state['language']}"


def _left(state: State) -> tuple[str, str]:
    return state["user_id"], f"left ({state['reason']})"


def _language(state: State) -> tuple[str, str]:
    return state["user_id"], f"hears {state['previous']} -> {state['language']}"


def _mode(state: State) -> str:
    """Group, solo into a language, or assistant mode (everything said is for the assistant)."""
    if state.get("assistant"):
        return "assistant"
    return f"solo -> {state['solo_target']}" if state["solo_target"] else "group"


def _speech_started(state: State) -> tuple[str, str]:
    mode = _mode(state)
    return state["user_id"], (
        f"speaks {state['language']} ({mode}), {state['encoding']} {state['sample_rate']} Hz"
    )


def _voice_started(state: State) -> tuple[str, str]:
    mode = _mode(state)
    return state["user_id"], (
        f"voice session in LiveKit room {state['livekit_room']}, speaks {state['language']} "
        f"({mode})"
    )


def _voice_ended(state: State) -> tuple[str, str]:
    return state["user_id"], f"voice session ended ({state['reason']})"


def _transcript(state: State) -> tuple[str, str]:
    """Spoken transcripts say how long the utterance was and how long its decode took.

    A bare ``2848 ms`` read like a latency; the utterance's length is audio
    time, so it is written in seconds and named. Typed transcripts have no audio.
    """
    targets = ",".join(state["targets"]) or "-"
    timing = ""
    if state["duration_ms"]:
        timing = f", audio {state['duration_ms'] / 1000:.1f} s"
        timing += f", decoded in {state.get('decode_ms', 0)} ms"
    return state["speaker_id"], (
        f"{_quote(state['text'])} [{state['source_language']} -> {targets}] "
        f"via {state['engine']}{timing}{_outcome(state)}{_for_assistant(state)}"
    )


def _for_assistant(state: State) -> str:
    """A question or command for the assistant, or a sentence of its answer."""
    if state.get("answer_id"):
        return f", sentence of answer {str(state['answer_id'])[:8]}"
    if state.get("to_assistant"):
        return ", for the assistant" + (" (private)" if state.get("private") else "")
    return ""


def _outcome(state: State) -> str:
    """What failed before the engine that answered, and any final error."""
    extra = ""
    if state.get("fallbacks"):
        extra += f" after {', '.join(state['fallbacks'])}"
    if state.get("error_code"):
        extra += f" [{state['error_code']}]"
    return extra


def _translation(state: State) -> tuple[str, str]:
    return state["speaker_id"], (
        f"{state['source_language']} -> {state['target_language']} "
        f"{_quote(state['translated_text'])} via {state['engine']} "
        f"in {state['latency_ms']} ms{_outcome(state)}"
    )


def _synthesized(state: State) -> tuple[str, str]:
    return "", (
        f"spoke {state['language']} over {state.get('channel', 'websocket')} "
        f"with {state['engine']} voice {state['voice']}: "
        f"{state['audio_ms']} ms of audio, first audio after {state['first_chunk_ms']} ms"
        f"{_outcome(state)}"
    )


def _preferences(state: State) -> tuple[str, str]:
    chosen = ", ".join(
        f"{key}={state[key]}"
        for key in ("stt_engine", "translation_engine", "tts_engine", "voice")
        if state.get(key)
    )
    return state["user_id"], f"speech {'on' if state['speech'] else 'off'}; {chosen or 'defaults'}"


def _webhook(state: State) -> tuple[str, str]:
    track = f" track {state['track_sid']}" if state.get("track_sid") else ""
    return str(state.get("participant_identity") or ""), (
        f"livekit {state['event']} in {state['room_name']}{track}"
    )


def _client_error(state: State) -> tuple[str, str]:
    return state["user_id"], f"{state['code']}: {_quote(state['message'])}"


def _closed(state: State) -> tuple[str, str]:
    return state["by"], "closed the room: everyone is out, nobody may join again"


def _removed(state: State) -> tuple[str, str]:
    until = state["barred_until"]
    bar = f", may not rejoin before {until}" if until else ", may rejoin at once"
    return state["user_id"], f"removed from the room by {state['by']}{bar}"


def _muted(state: State) -> tuple[str, str]:
    what = "muted" if state["muted"] else "unmuted"
    return state["user_id"], f"microphone {state['track_sid']} {what} by {state['by']}"


def _assistant_mode(state: State) -> tuple[str, str]:
    return state["user_id"], f"assistant {'on' if state['enabled'] else 'off'} for the room"


def _conversation(state: State) -> tuple[str, str]:
    owner = state["owner"]
    with_whom = f"one to one with {owner}" if owner else "shared by the room"
    return owner or "", f"assistant conversation started ({with_whom})"


def _command(state: State) -> tuple[str, str]:
    entities = "".join(f" {name}={value}" for name, value in state["entities"].items())
    return state["user_id"], (
        f"command {state['intent']}{entities} ({state['source']}, "
        f"confidence {state['confidence']:.2f}) {_quote(state['text'], 40)}"
    )


def _answered(state: State) -> tuple[str, str]:
    """The question, what the user got of the answer, and how the engine did.

    An interrupted answer shows only what was delivered, and how much of the
    generated text that was.
    """
    answer, cut = state["answer"], state["interrupted_at"]
    heard = answer if cut is None else answer[:cut]
    interrupted = "" if cut is None else f", interrupted at character {cut} of {len(answer)}"
    return state["user_id"], (
        f"{_quote(state['question'], 40)} -> {_quote(heard, 60)} [{state['language']}] "
        f"via {state['engine']} {state['model']}: first token {state['first_token_ms']} ms, "
        f"total {state['total_ms']} ms, tokens {state['tokens_in']} in / {state['tokens_out']} out"
        f"{interrupted}{_outcome(state)}"
    )


def _cleared(state: State) -> tuple[str, str]:
    return state["user_id"], f"cleared the assistant's context ({state['source']})"


def _recording_started(state: State) -> tuple[str, str]:
    return state["by"], "started recording the room's audio"


def _recording_stopped(state: State) -> tuple[str, str]:
    why = "" if state["reason"] == "stopped" else f" ({state['reason']})"
    return state["by"], f"stopped recording the room's audio{why}"


def _audio_recorded(state: State) -> tuple[str, str]:
    what = (
        f"{state['speaker_id']}'s utterance heard"
        if state["kind"] == "utterance"
        else f"speech in {state['language']} by {state['engine']}"
    )
    return state["speaker_id"] or "", (
        f"recorded {what}: {state['duration_ms']} ms at {state['sample_rate']} Hz as {state['key']}"
    )


def _audio_deleted(state: State) -> tuple[str, str]:
    return "", f"deleted {state['key']} ({state['reason']})"


_SUMMARIES: dict[str, Callable[[State], tuple[str, str]]] = {
    "RoomOpened": _opened,
    "ParticipantJoined": _joined,
    "ParticipantLeft": _left,
    "LanguageChanged": _language,
    "SpeechStarted": _speech_started,
    "VoiceSessionStarted": _voice_started,
    "VoiceSessionEnded": _voice_ended,
    "TranscriptRecognized": _transcript,
    "TranslationProduced": _translation,
    "ClientErrorReported": _client_error,
    "SpeechSynthesized": _synthesized,
    "PreferencesChanged": _preferences,
    "LiveKitWebhookReceived": _webhook,
    "AssistantModeChanged": _assistant_mode,
    "RoomClosed": _closed,
    "ParticipantRemoved": _removed,
    "TrackMuteChanged": _muted,
    "ConversationStarted": _conversation,
    "CommandRecognized": _command,
    "AssistantResponded": _answered,
    "ContextCleared": _cleared,
    "RecordingStarted": _recording_started,
    "RecordingStopped": _recording_stopped,
    "AudioRecorded": _audio_recorded,
    "AudioDeleted": _audio_deleted,
}
