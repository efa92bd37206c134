"""Translation engines and registry, against the real Apertium pipelines."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.engines.translation.apertium import ApertiumTranslator
from adapters.engines.translation.base import (
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry


@pytest.fixture(scope="module")
def apertium() -> Iterator[ApertiumTranslator]:
    """One warm engine shared by the tests that do not break pipelines."""
    engine = ApertiumTranslator()
    yield engine
    engine.close()


@pytest.fixture
def own_apertium() -> Iterator[ApertiumTranslator]:
    """A private engine for tests that kill or stop pipelines."""
    engine = ApertiumTranslator(timeout_s=3.0)
    yield engine
    engine.close()


def group_members(pgid: int) -> set[int]:
    """Process ids whose process group is ``pgid`` (the pipeline's processes)."""
    members = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            members.add(int(entry))
    return members


class FailingTranslator(Translator):
    """Test double: supports everything, always fails."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    def supports(self, source: str, target: str) -> bool:
        return True

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls += 1
        raise TranslationError("always fails")

    def close(self) -> None:
        self.closed = True


class BrokenTranslator(FailingTranslator):
    """Test double: raises something that is not a TranslationError."""

    name = "broken"

    def translate(self, text: str, source: str, target: str) -> str:
        raise RuntimeError("bug")


class HangingTranslator(Translator):
    """Test double: blocks until released."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()

    def supports(self, source: str, target: str) -> bool:
        return True

    def translate(self, text: str, source: str, target: str) -> str:
        self.release.wait(30)
        return "too late"


class NoPairTranslator(FailingTranslator):
    """Test double: supports nothing."""

    name = "nopair"

    def supports(self, source: str, target: str) -> bool:
        return False


# --- Apertium: real translations ----------------------------------------------------


def test_english_to_spanish(apertium: ApertiumTranslator) -> None:
    result = apertium.translate("The house is big.", "en", "es")
    assert "casa" in result
    assert "grande" in result
    assert "*" not in result


def test_spanish_to_english(apertium: ApertiumTranslator) -> None:
    result = apertium.translate("La casa es grande y el perro come pan.", "es", "en")
    assert "house" in result
    assert "dog" in result
    assert "bread" in result


def test_pivot_pair_is_listed_with_its_route_and_translates(apertium: ApertiumTranslator) -> None:
    pairs = apertium.available_pairs()
    assert pairs[("en", "es")] == ("en", "es")
    route = pairs[("en", "fr")]
    assert len(route) == 3
    assert route[0] == "en"
    assert route[-1] == "fr"
    assert route[1] in {"ca", "es"}
    assert apertium.supports("en", "fr")
    assert "maison" in apertium.translate("The house is big.", "en", "fr")
    assert ("en", "pt") in pairs
    assert "casa" in apertium.translate("The house is big.", "en", "pt")


def test_unsupported_pair_raises_in_the_engine(apertium: ApertiumTranslator) -> None:
    assert not apertium.supports("en", "ja")
    assert ("en", "ja") not in apertium.available_pairs()
    with pytest.raises(UnsupportedPairError):
        apertium.translate("Hello", "en", "ja")


def test_unknown_words_lose_their_marks_but_typed_characters_stay(
    apertium: ApertiumTranslator,
) -> None:
    result = apertium.translate("I like xyzzy and #tags at bob@example.com *now*", "en", "es")
    assert "xyzzy" in result
    assert "*xyzzy" not in result
    assert "#" in result
    assert "bob@example.com" in result
    assert "*" in result


def test_awkward_texts_do_not_hang_or_desynchronise(apertium: ApertiumTranslator) -> None:
    awkward = [
        "",
        "   ",
        "?",
        ".",
        "\\",
        "$^@<>{}[]/",
        "\0",
        "He said \"hello\" and 'bye'.",
        "El niño comió crème brûlée en España.",
        "First line.\nSecond line.\n\nThird paragraph.",
    ]
    for text in awkward:
        apertium.translate(text, "en", "es")
        # The pipeline is still in step: the next answer belongs to the next question.
        assert "casa" in apertium.translate("The house is big.", "en", "es")
    assert apertium.translate("", "en", "es") == ""
    assert apertium.translate("   ", "en", "es") == "   "
    two_lines = apertium.translate("The house is big.\nThe dog is small.", "en", "es")
    assert two_lines.splitlines()[0].startswith("La casa")
    assert "perro" in two_lines.splitlines()[1]
    quoted = apertium.translate('The "house" is big.', "en", "es")
    assert '"casa"' in quoted
    accented = apertium.translate("El señor Zúñiga es grande.", "es", "ca")
    assert "Zúñiga" in accented
    assert "és" in accented


def test_long_text_does_not_deadlock_on_pipe_buffers(apertium: ApertiumTranslator) -> None:
    text = " ".join(["The house is big and the dog is small."] * 3000)
    result = apertium.translate(text, "en", "es")
    assert result.count("casa") == 3000


# --- Apertium: warm pipelines -------------------------------------------------------


def test_pipeline_stays_warm_across_calls(apertium: ApertiumTranslator) -> None:
    apertium.translate("Good morning.", "en", "es")
    pid = apertium.pipeline_pid("en", "es")
    assert pid is not None
    apertium.translate("Good evening.", "en", "es")
    assert apertium.pipeline_pid("en", "es") == pid


def test_fifty_sentences_start_no_process(apertium: ApertiumTranslator) -> None:
    apertium.translate("Hello.", "en", "es")
    pid = apertium.pipeline_pid("en", "es")
    assert pid is not None
    before = group_members(pid)
    assert len(before) > 5  # a real multi-program pipeline
    for number in range(50):
        assert apertium.translate(f"I have {number} dogs.", "en", "es")
    assert apertium.pipeline_pid("en", "es") == pid
    assert group_members(pid) == before


def test_concurrent_calls_over_three_directions(apertium: ApertiumTranslator) -> None:
    jobs = (
        [(f"The house number {n} is big.", "en", "es") for n in range(8)]
        + [(f"El perro número {n} es pequeño.", "es", "en") for n in range(8)]
        + [(f"The cat number {n} sleeps.", "en", "ca") for n in range(8)]
    )
    expected = [apertium.translate(*job) for job in jobs]
    assert all("casa" in text for text in expected[:8])
    assert all("dog" in text for text in expected[8:16])
    assert all("gat" in text for text in expected[16:])
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(3):
            results = list(pool.map(lambda job: apertium.translate(*job), jobs))
            assert results == expected


# --- Apertium: failures -------------------------------------------------------------


def test_killed_pipeline_is_restarted_on_next_call(own_apertium: ApertiumTranslator) -> None:
    own_apertium.translate("Hello.", "en", "es")
    pid = own_apertium.pipeline_pid("en", "es")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    assert "casa" in own_apertium.translate("The house is big.", "en", "es")
    new_pid = own_apertium.pipeline_pid("en", "es")
    assert new_pid is not None
    assert new_pid != pid


def test_pipeline_with_a_dead_inner_program_is_restarted(
    own_apertium: ApertiumTranslator,
) -> None:
    own_apertium.translate("Hello.", "en", "es")
    pid = own_apertium.pipeline_pid("en", "es")
    assert pid is not None
    inner = max(group_members(pid) - {pid})
    os.kill(inner, signal.SIGKILL)
    assert "casa" in own_apertium.translate("The house is big.", "en", "es")
    assert own_apertium.pipeline_pid("en", "es") not in {None, pid}


def test_stuck_pipeline_times_out_without_blocking_other_directions(
    own_apertium: ApertiumTranslator,
) -> None:
    own_apertium.translate("Hello.", "en", "es")
    own_apertium.translate("Hello.", "en", "ca")
    pid = own_apertium.pipeline_pid("en", "es")
    assert pid is not None
    os.killpg(pid, signal.SIGSTOP)
    outcome: list[BaseException] = []

    def stuck_call() -> None:
        try:
            own_apertium.translate("The house is big.", "en", "es")
        except TranslationError as exc:
            outcome.append(exc)

    stuck = threading.Thread(target=stuck_call)
    stuck.start()
    assert "casa" in own_apertium.translate("The house is big.", "en", "ca")
    assert stuck.is_alive()  # en→es is still waiting while en→ca answered
    stuck.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], TranslationTimeoutError)
    assert outcome[0].code == "translation_timeout"
    assert group_members(pid) == set()  # the stuck pipeline was killed
    assert "casa" in own_apertium.translate("The house is big.", "en", "es")
    assert own_apertium.pipeline_pid("en", "es") not in {None, pid}


def test_pipeline_that_keeps_dying_raises_translation_error(tmp_path: Path) -> None:
    modes = tmp_path / "modes"
    modes.mkdir()
    (modes / "eng-spa.mode").write_text(f"lt-proc '{tmp_path / 'missing.bin'}'\n")
    engine = ApertiumTranslator(data_dirs=[tmp_path], timeout_s=10.0)
    try:
        assert engine.available_pairs() == {("en", "es"): ("en", "es")}
        with pytest.raises(TranslationError) as raised:
            engine.translate("The house is big.", "en", "es")
        assert raised.value.code == "translation_failed"
        assert "died twice" in str(raised.value)
    finally:
        engine.close()


def test_data_dir_without_modes_supports_nothing(tmp_path: Path) -> None:
    engine = ApertiumTranslator(data_dirs=[tmp_path])
    assert engine.available_pairs() == {}
    assert not engine.supports("en", "es")


def test_direct_pairs_only_when_pivots_are_disabled() -> None:
    engine = ApertiumTranslator(max_pivots=0)
    assert all(len(route) == 2 for route in engine.available_pairs().values())
    assert not engine.supports("en", "fr")


# --- Identity -----------------------------------------------------------------------


def test_identity_returns_the_text_for_any_pair() -> None:
    engine = IdentityTranslator()
    assert engine.name == "identity"
    assert engine.supports("en", "ja")
    assert engine.translate("Hello\nthere", "en", "ja") == "Hello\nthere"


# --- Registry -----------------------------------------------------------------------


def test_registry_uses_apertium(apertium: ApertiumTranslator) -> None:
    registry = TranslationRegistry([apertium])
    result = registry.translate("The house is big.", "en", "es")
    assert "casa" in result.text
    assert result.engine == "apertium"
    assert result.fallbacks == ()
    assert result.error_code is None
    assert result.latency_ms >= 0


def test_registry_unsupported_pair_returns_original_text(apertium: ApertiumTranslator) -> None:
    nopair = NoPairTranslator()
    registry = TranslationRegistry([apertium, nopair])
    result = registry.translate("The house is big.", "en", "ja")
    assert result.text == "The house is big."
    assert result.engine == "none"
    assert result.error_code == "unsupported_language_pair"
    assert result.fallbacks == ()
    assert nopair.calls == 0


def test_failing_engine_falls_back_and_is_recorded(apertium: ApertiumTranslator) -> None:
    failing = FailingTranslator()
    registry = TranslationRegistry([failing, apertium])
    result = registry.translate("The house is big.", "en", "es")
    assert "casa" in result.text
    assert result.engine == "apertium"
    assert result.fallbacks == ("failing:translation_failed",)
    assert result.error_code is None
    assert failing.calls == 1


def test_broken_engine_counts_as_failed(apertium: ApertiumTranslator) -> None:
    registry = TranslationRegistry([BrokenTranslator(), apertium])
    result = registry.translate("The house is big.", "en", "es")
    assert result.engine == "apertium"
    assert result.fallbacks == ("broken:translation_failed",)


def test_hanging_engine_times_out_and_falls_back(apertium: ApertiumTranslator) -> None:
    hanging = HangingTranslator()
    registry = TranslationRegistry([hanging, apertium], timeout_s=0.3)
    try:
        result = registry.translate("The house is big.", "en", "es")
        assert "casa" in result.text
        assert result.engine == "apertium"
        assert result.fallbacks == ("hanging:translation_timeout",)
        assert result.latency_ms >= 300
    finally:
        hanging.release.set()
        registry.close()


def test_every_engine_failing_returns_original_with_last_code() -> None:
    hanging = HangingTranslator()
    registry = TranslationRegistry([FailingTranslator(), hanging], timeout_s=0.2)
    try:
        result = registry.translate("Hello", "en", "es")
        assert result.text == "Hello"
        assert result.engine == "none"
        assert result.fallbacks == ("failing:translation_failed", "hanging:translation_timeout")
        assert result.error_code == "translation_timeout"
    finally:
        hanging.release.set()
        registry.close()


def test_user_preference_goes_first(apertium: ApertiumTranslator) -> None:
    failing = FailingTranslator()
    registry = TranslationRegistry([apertium, IdentityTranslator(), failing])
    assert registry.names() == ("apertium", "identity", "failing")
    assert registry.known_engine("identity")
    assert not registry.known_engine("google")

    preferred = registry.translate("The house is big.", "en", "es", preference=["identity"])
    assert preferred.engine == "identity"
    assert preferred.text == "The house is big."

    fallback = registry.translate(
        "The house is big.", "en", "es", preference=["google", "failing", "failing"]
    )
    assert fallback.engine == "apertium"
    assert fallback.fallbacks == ("failing:translation_failed",)
    assert failing.calls == 1


def test_same_language_calls_no_engine() -> None:
    failing = FailingTranslator()
    registry = TranslationRegistry([failing])
    result = registry.translate("Hola", "es", "es")
    assert result.text == "Hola"
    assert result.engine == "none"
    assert result.error_code is None
    assert failing.calls == 0


def test_duplicate_engine_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        TranslationRegistry([IdentityTranslator(), IdentityTranslator()])


def test_close_closes_every_engine() -> None:
    first, second = FailingTranslator(), BrokenTranslator()
    registry = TranslationRegistry([first, second])
    registry.close()
    assert first.closed
    assert second.closed
