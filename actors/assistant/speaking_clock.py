"""How much of an answer has been heard: an estimate from when its sentences were released.

Listeners play an answer's speech as it arrives, on their own devices (the
browser, the LiveKit track), so the server never learns which character a
listener had reached when they spoke over it. It estimates it: each sentence
starts playing :attr:`SpeakingClock.delay_s` after it is released (synthesis
and network), or when the previous one ends, and is spoken at
:attr:`SpeakingClock.chars_per_s`. The estimate decides where an interrupted
answer was cut (``AssistantResponded.interrupted_at``) and when an answer is
over. espeak-ng speaks about 14 characters a second at its default rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

DEFAULT_CHARS_PER_S: Final = 14.0
DEFAULT_DELAY_S: Final = 0.3


@dataclass(frozen=True)
class _Spoken:
    """One sentence on the clock: when it starts playing and which characters it holds."""

    starts: float
    first: int
    last: int


@dataclass
class SpeakingClock:
    """The playback of one answer's sentences as the server imagines it."""

    chars_per_s: float = DEFAULT_CHARS_PER_S
    delay_s: float = DEFAULT_DELAY_S
    _sentences: list[_Spoken] = field(default_factory=list)
    ends: float = 0.0
    """When the last sentence released so far stops playing (0 before any)."""

    def released(self, now: float, first: int, last: int) -> None:
        """Characters ``first``..``last`` of the answer were released at ``now``."""
        starts = max(now + self.delay_s, self.ends)
        self._sentences.append(_Spoken(starts, first, last))
        self.ends = starts + (last - first) / self.chars_per_s

    def heard(self, now: float) -> int:
        """How many characters of the answer had been heard at ``now``."""
        heard = 0
        for sentence in self._sentences:
            if now <= sentence.starts:
                break
            played = int((now - sentence.starts) * self.chars_per_s)
            heard = min(sentence.last, sentence.first + played)
        return heard

    def speaking(self, now: float) -> bool:
        """Whether some of what was released is still being played at ``now``."""
        return bool(self._sentences) and now < self.ends
