"""The assistant's context survives a restart: recorded in SQLite, rebuilt from it.

A room and its conversations are recorded through the real ``EventStore``,
the store is closed and opened again (as a restarted ``serve`` would), and
the context read back from the conversation's stream is the one that was
being followed live. ``voicemode replay`` explains the facts and shows the
context at a position.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from actors.assistant.commands import CommandSource, parse_command, spoken_command
from actors.assistant.context import (
    ConversationContext,
    contexts_at,
    load_context,
)
from events.domain import Answer, Conversation, Room, room_id_for
from events.store import EventStore
from tests.test_cli_replay import voicemode_command

ROOM = room_id_for("r1")


def answer(question: str, text: str, interrupted_at: int | None = None) -> Answer:
    return Answer(
        answer_id=uuid4(),
        user_id="alice",
        question_id=uuid4(),
        question=question,
        answer=text,
        language="en",
        engine="anthropic",
        model="claude-test",
        first_token_ms=310,
        total_ms=1200,
        tokens_in=42,
        tokens_out=17,
        fallbacks=("openai:engine_unavailable",),
        interrupted_at=interrupted_at,
    )


@dataclass
class Recorded:
    """A store with a room and its shared conversation, the positions of note, and the live view."""

    db: str
    live: ConversationContext
    at: dict[str, int]


def record(store: EventStore, aggregate: Aggregate, live: ConversationContext) -> int:
    """Append what the aggregate decided, feed it to the live context; the last position."""
    events = aggregate.collect_events()
    positions = store.append(events)
    for event in events:
        live.apply(event)
    return positions[-1]


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    db = str(tmp_path / "voicemode.db")
    store = EventStore.open(db)
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "es")
    room.set_assistant("alice", True)
    conversation = Conversation(ROOM, None)
    live = ConversationContext(conversation.id)
    at = {"room": record(store, room, live)}
    conversation.respond(answer("What is the capital of France?", "Paris."))
    at["paris"] = record(store, conversation, live)
    command = parse_command("clear context", CommandSource.DATA)
    conversation.recognize_command(
        "bob",
        command.intent.value,
        command.entities,
        command.confidence,
        command.source.value,
        command.text,
    )
    at["cleared"] = record(store, conversation, live)
    spoken = spoken_command("assistant, switch to Spanish please")
    assert spoken is not None
    conversation.recognize_command(
        "alice",
        spoken.intent.value,
        spoken.entities,
        spoken.confidence,
        spoken.source.value,
        spoken.text,
    )
    record(store, conversation, live)
    conversation.respond(answer("Tell me about Madrid.", "Madrid is the capital of Spain.", 6))
    at["madrid"] = record(store, conversation, live)
    store.close()
    yield Recorded(db, live, at)


def test_a_restarted_store_rebuilds_the_context_that_was_followed_live(recorded: Recorded) -> None:
    store = EventStore.open(recorded.db)
    try:
        rebuilt = load_context(store, ROOM, None)
        assert rebuilt.turns == recorded.live.turns
        assert [(t.question, t.answer) for t in rebuilt.turns] == [
            ("Tell me about Madrid.", "Madrid")
        ]
        assert rebuilt.prompt("And its river?") == recorded.live.prompt("And its river?")
        assert load_context(store, ROOM, "alice").turns == (), "no one-to-one conversation"
    finally:
        store.close()


def test_the_facts_come_back_with_their_types(recorded: Recorded) -> None:
    store = EventStore.open(recorded.db)
    try:
        conversation = room_id_for("r1")
        events = list(store.stream(Conversation.create_id(conversation, None)))
        command = events[2]
        assert isinstance(command, Conversation.CommandRecognized)
        assert (command.intent, command.entities, command.source) == ("clear_context", {}, "data")
        switch = events[4]
        assert isinstance(switch, Conversation.CommandRecognized)
        assert (switch.entities, switch.source, switch.confidence) == (
            {"language": "es"},
            "spoken",
            0.95,
        )
        said = events[-1]
        assert isinstance(said, Conversation.AssistantResponded)
        assert said.fallbacks == ("openai:engine_unavailable",)
        assert (said.interrupted_at, said.delivered, said.question_id is not None) == (
            6,
            "Madrid",
            True,
        )
        assert store.load_room("r1").assistant  # type: ignore[union-attr]
    finally:
        store.close()


def test_state_at_is_the_context_as_it_was_then(recorded: Recorded) -> None:
    store = EventStore.open(recorded.db)
    try:
        (before,) = contexts_at(store, "r1", recorded.at["paris"])
        assert before[0] is None
        assert [t.answer for t in before[1].turns] == ["Paris."]
        (after,) = contexts_at(store, "r1", recorded.at["cleared"])
        assert after[1].turns == ()
        assert contexts_at(store, "r1", recorded.at["room"]) == []
    finally:
        store.close()


def replay(*args: str) -> list[str]:
    result = subprocess.run(
        [*voicemode_command(), "replay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_replay_explains_the_assistant_and_shows_its_context(recorded: Recorded) -> None:
    lines = replay(
        "r1", "--db", recorded.db, "--type", "AssistantResponded", "--type", "ContextCleared"
    )
    assert len(lines) == 3
    assert '"What is the capital of France?" -> "Paris." [en] via anthropic claude-test' in lines[0]
    assert "cleared the assistant's context (data)" in lines[1]
    assert "interrupted at character 6 of 31" in lines[2]

    state = replay("r1", "--db", recorded.db, "--state-at", str(recorded.at["paris"]))
    assert state[0].endswith("2 participant(s), assistant on")
    assert state[3].startswith("assistant (shared by the room): sends 1 of 1 turn(s)")
    assert [" ".join(line.split()) for line in state[5:]] == [
        'alice "What is the capital of France?"',
        'assistant "Paris." [en]',
    ]
