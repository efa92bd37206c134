"""What the assistant remembers (``actors.assistant.context``), stated on its events.

The context is a projection of a conversation's events: these tests record
facts on ``events.domain.Conversation`` directly and read the context back;
no actor, store or engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

import pytest

from actors.assistant.commands import CommandSource, parse_command
from actors.assistant.context import (
    ContextBudget,
    ConversationContext,
    Message,
    QuestionOverBudgetError,
    Turn,
    estimated_tokens,
)
from events.domain import Answer, Conversation, Room, room_id_for

ROOM = room_id_for("r1")


def answer(question: str, text: str, **changes: object) -> Answer:
    """An answer to ``question``; ``changes`` override its other fields."""
    fields: dict[str, object] = {
        "answer_id": uuid4(),
        "user_id": "alice",
        "question_id": uuid4(),
        "question": question,
        "answer": text,
        "language": "en",
        "engine": "fake",
        "model": "fake-1",
        "first_token_ms": 300,
        "total_ms": 900,
    }
    return Answer(**{**fields, **changes})  # type: ignore[arg-type]


class Talk:
    """A conversation and every event it recorded, in order."""

    def __init__(self, owner: str | None = None) -> None:
        self.conversation = Conversation(ROOM, owner)
        self.events: list[object] = []
        self.commit()

    def commit(self) -> None:
        self.events += self.conversation.collect_events()

    def ask(self, question: str, text: str, **changes: object) -> Talk:
        self.conversation.respond(answer(question, text, **changes))
        self.commit()
        return self

    def clear(self, user_id: str = "alice", source: CommandSource = CommandSource.TYPED) -> Talk:
        command = parse_command("clear", source)
        self.conversation.recognize_command(
            user_id,
            command.intent.value,
            command.entities,
            command.confidence,
            command.source.value,
            command.text,
        )
        self.commit()
        return self

    def context(self, budget: ContextBudget | None = None) -> ConversationContext:
        return ConversationContext.rebuilt(self.conversation.id, self.events, budget)


def said(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    return [(turn.question, turn.answer) for turn in turns]


# ------------------------------------------------------------------ what counts


def test_each_answer_makes_a_turn_in_the_order_asked() -> None:
    talk = Talk().ask("Capital of France?", "Paris.").ask("And of Spain?", "Madrid.")
    assert said(talk.context().turns) == [
        ("Capital of France?", "Paris."),
        ("And of Spain?", "Madrid."),
    ]


def test_only_what_was_said_since_the_last_clear_counts() -> None:
    talk = Talk().ask("One?", "1.").clear().ask("Two?", "2.").ask("Three?", "3.")
    assert said(talk.context().turns) == [("Two?", "2."), ("Three?", "3.")]
    assert talk.clear(source=CommandSource.SPOKEN).context().turns == ()


def test_a_clear_command_records_the_command_and_the_clear_together() -> None:
    talk = Talk().clear("bob", CommandSource.DATA)
    command, cleared = talk.events[-2:]
    assert isinstance(command, Conversation.CommandRecognized)
    assert (command.intent, command.source, command.confidence) == ("clear_context", "data", 1.0)
    assert isinstance(cleared, Conversation.ContextCleared)
    assert (cleared.user_id, cleared.source, cleared.room_id) == ("bob", "data", ROOM)


def test_other_commands_leave_the_context_alone() -> None:
    talk = Talk().ask("One?", "1.")
    talk.conversation.recognize_command(
        "alice", "set_language", {"language": "es"}, 1.0, "typed", "switch to spanish"
    )
    talk.commit()
    assert said(talk.context().turns) == [("One?", "1.")]


def test_an_interrupted_answer_counts_only_up_to_where_the_user_spoke_over_it() -> None:
    talk = Talk().ask(
        "Tell me a story.", "Once upon a time, a fox lived in a wood.", interrupted_at=17
    )
    (turn,) = talk.context().turns
    assert turn.answer == "Once upon a time,"
    assert talk.events[-1].interrupted  # type: ignore[attr-defined]


def test_a_question_that_got_nothing_is_left_out() -> None:
    """Interrupted before a word, or no engine answered: the user heard no answer to it."""
    talk = (
        Talk()
        .ask("First?", "Yes.")
        .ask("Cut at once?", "Well, actually...", interrupted_at=0)
        .ask("Nobody home?", "", engine="none", error_code="assistant_unavailable")
    )
    assert said(talk.context().turns) == [("First?", "Yes.")]


def test_an_answer_broken_off_by_an_engine_error_keeps_what_was_delivered() -> None:
    talk = Talk().ask("Why?", "Because the sky", error_code="engine_unavailable")
    assert said(talk.context().turns) == [("Why?", "Because the sky")]


def test_an_interruption_outside_the_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="interrupted at 9 of 3"):
        Talk().ask("Hm?", "Yes", interrupted_at=9)


def test_other_conversations_and_room_events_are_ignored() -> None:
    """A room's whole log may be fed to one conversation's context."""
    mine, bobs = Talk().ask("Mine?", "Yes."), Talk("bob").ask("Bob's?", "Yes.")
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    log = [*room.collect_events(), *mine.events, *bobs.events]
    assert said(ConversationContext.rebuilt(mine.conversation.id, log).turns) == [("Mine?", "Yes.")]
    assert said(ConversationContext.rebuilt(bobs.conversation.id, log).turns) == [
        ("Bob's?", "Yes.")
    ]


# ------------------------------------------------------------------ budgets


def test_at_most_max_turns_are_kept_the_newest() -> None:
    talk = Talk()
    for n in range(5):
        talk.ask(f"Q{n}?", f"A{n}.")
    assert said(talk.context(ContextBudget(max_turns=2)).turns) == [("Q3?", "A3."), ("Q4?", "A4.")]
    assert talk.context(ContextBudget(max_turns=0)).turns == ()


def test_tokens_are_estimated_at_four_characters_each_plus_four_per_message() -> None:
    assert estimated_tokens("") == 4
    assert estimated_tokens("abcd") == 5
    assert estimated_tokens("abcde") == 6


def test_the_oldest_turns_go_first_to_fit_the_token_budget() -> None:
    """System 4+4, question 2+4, each turn (1+4)+(25+4): room for two turns in 86 tokens."""
    talk = Talk()
    for n in range(4):
        talk.ask(f"Q{n}?", f"A{n}" + "." * 98)
    budget = ContextBudget(system_prompt="Be brief, ok?", max_tokens=86)
    prompt = talk.context(budget).prompt("Next?")
    assert [turn.question for turn in prompt.turns] == ["Q2?", "Q3?"]
    assert prompt.tokens == 8 + 6 + 2 * 34
    assert prompt.messages() == [
        Message("user", "Q2?"),
        Message("assistant", "A2" + "." * 98),
        Message("user", "Q3?"),
        Message("assistant", "A3" + "." * 98),
        Message("user", "Next?"),
    ]
    assert prompt.system == "Be brief, ok?"


def test_a_question_over_the_budget_on_its_own_is_refused_with_a_code() -> None:
    context = Talk().context(ContextBudget(system_prompt="", max_tokens=20))
    with pytest.raises(QuestionOverBudgetError) as refused:
        context.prompt("x" * 100)
    assert refused.value.code == "question_too_long"


def test_a_budget_must_allow_something() -> None:
    with pytest.raises(ValueError, match="max_tokens > 0"):
        ContextBudget(max_tokens=0)


# ------------------------------------------------------------------ full read == one at a time


def test_following_one_event_at_a_time_gives_the_same_context_as_a_full_read() -> None:
    talk = Talk().ask("One?", "1.").clear().ask("Two?", "Two and a half.", interrupted_at=3)
    talk.ask("Three?", "3.").ask("Four?", "", error_code="assistant_unavailable")
    budget = ContextBudget(max_turns=3)
    live = ConversationContext(talk.conversation.id, budget)
    for index, event in enumerate(talk.events):
        live.apply(event)
        upto = ConversationContext.rebuilt(talk.conversation.id, talk.events[: index + 1], budget)
        assert live.turns == upto.turns
        assert live.prompt("Now?") == upto.prompt("Now?")
    assert said(live.turns) == [("Two?", "Two"), ("Three?", "3.")]
