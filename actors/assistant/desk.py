"""The assistant desk: hands every question and command to its conversation's actor.

It follows the log: each transcript recorded for the assistant
(``TranscriptRecognized.to_assistant``) is a spoken command or a question
for the conversation it belongs to, the room's shared one or its speaker's
own (``private``). Commands typed or sent as data packets, and the speech
starts that interrupt an answer, come straight from the use cases.

It starts at the end of the log: a question recorded while the service was
down is not answered late (the user asks again), but everything the
conversations recorded is read back by their actors, so an answer after a
restart still knows what was said before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any
from uuid import UUID

import pykka
from eventsourcing.utils import get_topic

from actors.assistant.commands import RecognizedCommand, spoken_command, without_wake_word
from actors.assistant.conversation import (
    Ask,
    AssistantSettings,
    Command,
    ConversationActor,
    ConversationKey,
    ConversationPorts,
    Question,
    SpeechBegan,
)
from actors.messages import Reply, RoomCommand, ToAudience, ignore_reply
from actors.projections.following import LogReader
from adapters.engines.llm.registry import ChatRegistry
from events.domain import Room, room_id_for
from events.store import EventStore, Recorded
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)


class AssistantDesk:
    """Routes questions, commands and interruptions to one actor per conversation."""

    def __init__(
        self,
        store: EventStore,
        writer: GroupCommitWriter,
        chat: ChatRegistry,
        settings: AssistantSettings,
        tell_room: Callable[[str, RoomCommand], None],
        notify: Callable[[UUID, ToAudience], None],
    ) -> None:
        self.store = store
        self.chat = chat
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="assistant")
        self._ports = ConversationPorts(
            store, writer, chat, self._pool, tell_room, notify, settings
        )
        self._lock = threading.Lock()
        self._conversations: dict[ConversationKey, pykka.ActorRef[Any]] = {}
        self._codes: dict[UUID, str] = {}
        self._position = store.position()
        self._reader = LogReader(
            store,
            "assistant",
            lambda: self._position,
            self._read,
            topics=[get_topic(Room.TranscriptRecognized)],
        )
        self._reader.start()

    def command(
        self,
        room_code: str,
        owner: str | None,
        user_id: str,
        language: str,
        command: RecognizedCommand,
        reply: Reply,
    ) -> None:
        """Record a typed or data command in its conversation and do it."""
        key = ConversationKey(room_code, room_id_for(room_code), owner)
        self._tell(key, Command(user_id, language, command, reply))

    def speech_began(self, room_code: str, user_id: str) -> None:
        """``user_id`` started speaking: answers they hear in that room stop."""
        room_id = room_id_for(room_code)
        with self._lock:
            refs = [ref for key, ref in self._conversations.items() if key.room_id == room_id]
        message = SpeechBegan(user_id, time.monotonic())
        for ref in refs:
            _tell_quietly(ref, message)

    def stop(self) -> None:
        """Stop following the log and every conversation."""
        self._reader.stop()
        with self._lock:
            refs = list(self._conversations.values())
            self._conversations.clear()
        for ref in refs:
            with suppress(pykka.ActorDeadError):
                ref.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _read(self, recorded: Recorded) -> None:
        """On the reader thread: a transcript for the assistant is a command or a question."""
        self._position = recorded.position
        event = recorded.event
        if not isinstance(event, Room.TranscriptRecognized) or not event.to_assistant:
            return
        code = self._room_code(event.originator_id)
        if code is None:
            return
        owner = event.speaker_id if event.private else None
        key = ConversationKey(code, event.originator_id, owner)
        command = spoken_command(event.text)
        if command is not None:
            self._tell(key, Command(event.speaker_id, event.source_language, command, ignore_reply))
            return
        question = Question(
            event.speaker_id,
            without_wake_word(event.text),
            event.source_language,
            event.transcript_id,
        )
        self._tell(key, Ask(question))

    def _room_code(self, room_id: UUID) -> str | None:
        """The code of a room, from the first event of its stream (remembered)."""
        code = self._codes.get(room_id)
        if code is None:
            opened = next(iter(self.store.stream(room_id)), None)
            if not isinstance(opened, Room.RoomOpened):
                log.warning("a transcript for the assistant in an unknown room %s", room_id)
                return None
            code = self._codes[room_id] = opened.code
        return code

    def _tell(self, key: ConversationKey, message: object) -> None:
        """Tell the conversation's actor, started (and read back from the log) if needed."""
        for _ in range(2):
            with self._lock:
                ref = self._conversations.get(key)
                if ref is None or not ref.is_alive():
                    ref = ConversationActor.start(key, self._ports)
                    self._conversations[key] = ref
            try:
                ref.tell(message)
                return
            except pykka.ActorDeadError:
                continue
        log.warning("the assistant's conversation %s is gone; dropped %s", key, message)


def _tell_quietly(ref: pykka.ActorRef[Any], message: object) -> None:
    with suppress(pykka.ActorDeadError):
        ref.tell(message)
