"""What the assistant tells a conversation's clients that is not a stored event.

An answer's text as it streams, its interruption and a failure to answer are
news for the people in the conversation right now; what was finally answered
is recorded (``Conversation.AssistantResponded``) and reaches them as a stored
event. Each shell renders these in its own wire format
(:meth:`actors.wire.ClientWire.notice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class AnswerText:
    """A piece of the assistant's answer as the model generates it."""

    answer_id: UUID
    user_id: str
    text: str
    language: str


@dataclass(frozen=True)
class AnswerStopped:
    """An answer was interrupted: clients stop playing it; ``at`` characters were heard."""

    answer_id: UUID
    at: int


@dataclass(frozen=True)
class AssistantProblem:
    """The assistant could not answer ``user_id``'s question (code and message)."""

    user_id: str
    code: str
    message: str


AssistantNotice = AnswerText | AnswerStopped | AssistantProblem
