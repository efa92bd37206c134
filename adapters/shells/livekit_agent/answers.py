"""Which of the assistant's answers the agent is speaking, and which were spoken over.

An answer arrives sentence by sentence, each in every language its audience
hears. When one of its audience starts speaking the whole answer stops, in
every language (voicemode stops releasing it); sentences already on their
way must not be spoken after that, so the answer is remembered as stopped
until voicemode records it as answered.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, TypeVar
from uuid import UUID

from actors.agent_messages import TranslationToSpeak

T = TypeVar("T")

MAX_ANSWERS: Final = 64
"""Answers remembered at once; one never recorded as answered is forgotten after this many."""


class SpokenAnswers:
    """The answers with sentences being spoken, each with who hears it (None: everyone)."""

    def __init__(self) -> None:
        self._audiences: OrderedDict[UUID, set[str] | None] = OrderedDict()
        self._stopped: OrderedDict[UUID, None] = OrderedDict()

    def admit(self, sentence: TranslationToSpeak) -> bool:
        """Note a sentence of an answer; False if its answer was spoken over (drop it)."""
        answer_id = sentence.answer_id
        assert answer_id is not None
        if answer_id in self._stopped:
            return False
        heard = self._audiences.get(answer_id, set())
        if heard is not None and sentence.audience is not None:
            heard.update(sentence.audience)
        _remember(self._audiences, answer_id, None if sentence.audience is None else heard)
        return True

    def interrupt(self, user_id: str) -> frozenset[UUID]:
        """``user_id`` started speaking: the answers they hear stop; their ids."""
        stopped = frozenset(
            answer_id
            for answer_id, heard in self._audiences.items()
            if heard is None or user_id in heard
        )
        for answer_id in stopped:
            del self._audiences[answer_id]
            _remember(self._stopped, answer_id, None)
        return stopped

    def answered(self, answer_id: UUID) -> None:
        """The answer was recorded: none of its sentences follows."""
        self._audiences.pop(answer_id, None)
        self._stopped.pop(answer_id, None)


def _remember(answers: OrderedDict[UUID, T], answer_id: UUID, value: T) -> None:
    """Set an answer's entry, forgetting the oldest beyond :data:`MAX_ANSWERS`."""
    answers[answer_id] = value
    answers.move_to_end(answer_id)
    while len(answers) > MAX_ANSWERS:
        answers.popitem(last=False)
