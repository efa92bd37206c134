"""How much of an answer a listener has heard (``actors.assistant.speaking_clock``).

The server never learns where a listener's playback is; the clock's
estimate decides where an interrupted answer was cut (so the next question's
context holds only what was heard) and when an answer is over (so the next
question waits for it). Times here are plain numbers of seconds.
"""

from __future__ import annotations

import pytest

from actors.assistant.speaking_clock import SpeakingClock

RATE = 10.0  # characters per second, round numbers
DELAY = 0.5


def clock() -> SpeakingClock:
    return SpeakingClock(chars_per_s=RATE, delay_s=DELAY)


def test_nothing_is_heard_or_playing_before_the_first_sentence() -> None:
    empty = clock()
    assert empty.heard(100.0) == 0
    assert not empty.speaking(100.0)
    assert empty.ends == 0.0


def test_a_sentence_plays_after_the_delay_at_the_speaking_rate() -> None:
    c = clock()
    c.released(10.0, 0, 20)  # 20 characters: 2 s, from 10.5 to 12.5
    assert c.ends == pytest.approx(12.5)
    assert c.heard(10.0) == 0
    assert c.heard(10.5) == 0  # synthesis and network: not started yet
    assert c.heard(11.0) == 5
    assert c.heard(12.0) == 15
    assert c.heard(12.5) == 20
    assert c.heard(99.0) == 20  # never more than was released
    assert c.speaking(10.1)  # released, about to play: an interruption cuts it
    assert c.speaking(12.4)
    assert not c.speaking(12.5)


def test_a_sentence_released_while_another_plays_waits_for_it() -> None:
    c = clock()
    c.released(0.0, 0, 20)  # plays 0.5 .. 2.5
    c.released(1.0, 20, 30)  # ready at 1.5, but starts when the first ends: 2.5 .. 3.5
    assert c.ends == pytest.approx(3.5)
    assert c.heard(2.4) == 19
    assert c.heard(2.5) == 20
    assert c.heard(3.0) == 25
    assert c.heard(4.0) == 30


def test_a_sentence_released_after_a_pause_starts_after_its_own_delay() -> None:
    c = clock()
    c.released(0.0, 0, 10)  # 0.5 .. 1.5
    assert not c.speaking(3.0)  # the model is slow: silence, nobody speaking over it
    c.released(5.0, 10, 20)  # 5.5 .. 6.5
    assert c.heard(3.0) == 10  # between sentences: all of the first
    assert c.speaking(5.2)
    assert c.heard(6.0) == 15


@pytest.mark.parametrize("at", [0.0, 0.7, 1.3, 2.6, 3.3, 9.0])
def test_what_was_heard_only_grows_and_stays_within_the_released_text(at: float) -> None:
    c = clock()
    c.released(0.0, 0, 12)
    c.released(0.2, 12, 25)
    steps = [at + 0.1 * i for i in range(30)]
    heard = [c.heard(t) for t in steps]
    assert heard == sorted(heard)
    assert all(0 <= h <= 25 for h in heard)
