"""The conversation the assistant's language model sees: a projection of the log.

Nothing about a conversation is kept anywhere but its events
(``events.domain.Conversation``): the context is rebuilt from them, whole
after a restart or one event at a time while serving, with the same result.
Its rules:

- only what happened since the last ``ContextCleared`` counts;
- a turn is a question and the answer as the user got it: an interrupted
  answer is cut at the character where the user spoke over it, and a
  question that got nothing (a failure, or interrupted before its first
  character) is left out, since the conversation the user heard has no
  answer to it (and chat APIs want the roles to alternate);
- at most ``max_turns`` turns, the newest, and no more than ``max_tokens``
  estimated tokens with the system prompt and the new question (see
  :func:`estimated_tokens`); the oldest turns go first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal
from uuid import UUID

from events.domain import Conversation, conversation_id_for
from events.store import EventStore

DEFAULT_SYSTEM_PROMPT: Final = (
    "You are a voice assistant. Your answers are spoken aloud: answer briefly, in plain "
    "sentences without lists or markup, in the language of the question."
)
DEFAULT_MAX_TURNS: Final = 12
DEFAULT_MAX_TOKENS: Final = 2000
CHARS_PER_TOKEN: Final = 4
MESSAGE_OVERHEAD_TOKENS: Final = 4


def estimated_tokens(text: str) -> int:
    """A rough token count of one message: a token per 4 characters, rounded up, plus 4.

    The 4 extra are the role and separators a chat API adds per message.
    Tokenizers differ by model and language (English runs at about 4
    characters a token, many other languages at fewer), so this is a budget
    that keeps a prompt well inside a model's window, not a count.
    """
    return -(-len(text) // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS


@dataclass(frozen=True)
class ContextBudget:
    """How much of a conversation the model sees, and what it is told first."""

    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_turns: int = DEFAULT_MAX_TURNS
    max_tokens: int = DEFAULT_MAX_TOKENS

    def __post_init__(self) -> None:
        if self.max_turns < 0 or self.max_tokens <= 0:
            msg = f"a context budget needs max_turns >= 0 and max_tokens > 0, not {self}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Turn:
    """One exchange as the user lived it: who asked what, and the answer they got."""

    user_id: str
    question: str
    answer: str
    language: str

    @property
    def tokens(self) -> int:
        """The estimated tokens of its two messages."""
        return estimated_tokens(self.question) + estimated_tokens(self.answer)


Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One message of a chat API's conversation."""

    role: Role
    content: str


@dataclass(frozen=True)
class Prompt:
    """What is sent to the model: the system prompt, past turns and the new question."""

    system: str
    turns: tuple[Turn, ...]
    question: str | None
    tokens: int

    def messages(self) -> list[Message]:
        """The turns, then the question, as alternating user and assistant messages."""
        messages: list[Message] = []
        for turn in self.turns:
            messages += [Message("user", turn.question), Message("assistant", turn.answer)]
        if self.question is not None:
            messages.append(Message("user", self.question))
        return messages


class QuestionOverBudgetError(ValueError):
    """A question that alone, with the system prompt, exceeds the token budget."""

    code: Final = "question_too_long"

    def __init__(self, tokens: int, budget: int) -> None:
        super().__init__(f"the question needs about {tokens} tokens; the budget is {budget}")


class ConversationContext:
    """The turns of one conversation since its last clear, fed its events in log order.

    Events of other streams are ignored, so a room's whole log may be fed
    to it. Only the newest ``max_turns`` turns are kept, so its memory is
    bounded however long the conversation.
    """

    def __init__(self, conversation_id: UUID, budget: ContextBudget | None = None) -> None:
        self.conversation_id = conversation_id
        self.budget = budget or ContextBudget()
        self._turns: deque[Turn] = deque(maxlen=self.budget.max_turns)

    @classmethod
    def rebuilt(
        cls,
        conversation_id: UUID,
        events: Iterable[object],
        budget: ContextBudget | None = None,
    ) -> ConversationContext:
        """The context after ``events`` (in log order): a full read, as after a restart."""
        context = cls(conversation_id, budget)
        for event in events:
            context.apply(event)
        return context

    def apply(self, event: object) -> None:
        """Follow one more event of the log."""
        if getattr(event, "originator_id", None) != self.conversation_id:
            return
        if isinstance(event, Conversation.ContextCleared):
            self._turns.clear()
        elif isinstance(event, Conversation.AssistantResponded) and event.delivered:
            self._turns.append(Turn(event.user_id, event.question, event.delivered, event.language))

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The turns kept since the last clear, oldest first (at most ``max_turns``)."""
        return tuple(self._turns)

    def prompt(self, question: str | None = None) -> Prompt:
        """What the model is sent for ``question``: the newest turns that fit the budget.

        Raises:
            QuestionOverBudgetError: the question and the system prompt alone
                exceed ``max_tokens``.
        """
        used = estimated_tokens(self.budget.system_prompt)
        if question is not None:
            used += estimated_tokens(question)
        if used > self.budget.max_tokens:
            raise QuestionOverBudgetError(used, self.budget.max_tokens)
        kept: list[Turn] = []
        for turn in reversed(self._turns):
            if used + turn.tokens > self.budget.max_tokens:
                break
            used += turn.tokens
            kept.append(turn)
        return Prompt(self.budget.system_prompt, tuple(reversed(kept)), question, used)


def load_context(
    store: EventStore, room_id: UUID, owner: str | None, budget: ContextBudget | None = None
) -> ConversationContext:
    """A conversation's context read from its own stream (a restart reads no other)."""
    conversation_id = conversation_id_for(room_id, owner)
    return ConversationContext.rebuilt(conversation_id, store.stream(conversation_id), budget)


def contexts_at(
    store: EventStore, code: str, position: int, budget: ContextBudget | None = None
) -> list[tuple[str | None, ConversationContext]]:
    """Each conversation of a room as it was right after ``position``, by owner.

    Conversations come in the order they started; the shared one has owner None.
    """
    contexts: dict[UUID, tuple[str | None, ConversationContext]] = {}
    for recorded in store.read_room(code, 0, position):
        event = recorded.event
        if isinstance(event, Conversation.ConversationStarted):
            context = ConversationContext(event.originator_id, budget)
            contexts[event.originator_id] = (event.owner, context)
        elif event.originator_id in contexts:
            contexts[event.originator_id][1].apply(event)
    return list(contexts.values())


def describe_contexts(contexts: list[tuple[str | None, ConversationContext]]) -> list[str]:
    """What ``replay --state-at`` prints of the assistant: each prompt it would send next."""
    lines = []
    for owner, context in contexts:
        prompt = context.prompt()
        budget = context.budget
        with_whom = f"one to one with {owner}" if owner else "shared by the room"
        lines.append(
            f"assistant ({with_whom}): sends {len(prompt.turns)} of {len(context.turns)} "
            f"turn(s), about {prompt.tokens} of {budget.max_tokens} tokens"
        )
        lines.append(f"  system     {_shown(prompt.system)}")
        for turn in prompt.turns:
            lines.append(f"  {turn.user_id:<10} {_shown(turn.question)}")
            lines.append(f"  {'assistant':<10} {_shown(turn.answer)} [{turn.language}]")
    return lines


def _shown(text: str, limit: int = 100) -> str:
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'
