"""Cutting a streaming answer into sentences, so speech starts after the first one.

A language model streams its answer a few characters at a time; speech can
start as soon as the first sentence is whole, while the rest is still being
generated. A sentence ends at ``.``, ``!``, ``?`` followed by a space or
the end of the answer, or at their CJK forms (which no space follows in
Chinese or Japanese); one that runs past :data:`MAX_SENTENCE_CHARS` without
ending is cut at its last space, so a model that never punctuates still
starts speaking.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

MAX_SENTENCE_CHARS: Final = 240
"""The longest piece spoken as one sentence before it is cut at a space."""

_END: Final = re.compile(
    "[.!?\u2026]+[\"')\\]]*\\s+"  # Latin: "3.50" and "Paris.com" are no ends
    "|[\u3002\uff01\uff1f]+[\"')\\]\u300d\u300f]*\\s*"  # CJK: no space follows an end
)


class Sentence(NamedTuple):
    """A sentence of the answer and where it lies in it (characters ``start``..``end``)."""

    text: str
    start: int
    end: int


class SentenceSplitter:
    """Feed it text pieces in order; it hands back each sentence once it is complete.

    Each sentence says where it lies in the answer, spaces around it
    included, so the sentences' spans cover the answer fed so far.
    """

    def __init__(self) -> None:
        self._pending = ""
        self.released = 0
        """Characters of the answer handed back so far, separating spaces included."""

    def feed(self, piece: str) -> list[Sentence]:
        """The sentences ``piece`` completes (often none)."""
        self._pending += piece
        sentences: list[Sentence] = []
        while True:
            # Only ends within the limit count, so a long sentence is cut the
            # same way whether it arrived in one piece or in many.
            end = _END.search(self._pending, 0, MAX_SENTENCE_CHARS + 1)
            if end is not None:
                cut = end.end()
            elif len(self._pending) > MAX_SENTENCE_CHARS:
                space = self._pending.rfind(" ", 0, MAX_SENTENCE_CHARS)
                cut = space + 1 if space > 0 else MAX_SENTENCE_CHARS
            else:
                return sentences
            self._take(cut, sentences)

    def flush(self) -> list[Sentence]:
        """The last sentence, unfinished or not, once the answer has ended."""
        sentences: list[Sentence] = []
        if self._pending:
            self._take(len(self._pending), sentences)
        return sentences

    def _take(self, cut: int, sentences: list[Sentence]) -> None:
        text, self._pending = self._pending[:cut], self._pending[cut:]
        start, self.released = self.released, self.released + len(text)
        if text.strip():
            sentences.append(Sentence(text.strip(), start, self.released))
