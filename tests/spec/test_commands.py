"""Assistant commands: one meaning whether typed, sent as a data packet or spoken."""

from __future__ import annotations

import pytest

from actors.assistant.commands import (
    COMMANDS,
    MAX_COMMAND_CHARS,
    CommandError,
    CommandSource,
    Intent,
    help_lines,
    parse_command,
    spoken_command,
)

TYPED = CommandSource.TYPED


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("help", Intent.HELP),
        ("Help!", Intent.HELP),
        ("clear context", Intent.CLEAR_CONTEXT),
        ("Assistant, clear the context please.", Intent.CLEAR_CONTEXT),
        ("stop", Intent.STOP),
        ("Hey assistant, stop talking", Intent.STOP),
        ("repeat the last answer", Intent.REPEAT),
        ("say that again", Intent.REPEAT),
        ("mute", Intent.MUTE),
        ("Unmute the assistant", Intent.UNMUTE),
    ],
)
def test_a_typed_command_and_the_same_words_spoken_mean_the_same(text: str, intent: Intent) -> None:
    typed = parse_command(text, TYPED)
    spoken = spoken_command(text)
    assert typed.intent is intent and typed.confidence == 1.0
    assert spoken is not None and spoken.intent is intent
    assert spoken.source is CommandSource.SPOKEN and spoken.confidence < typed.confidence


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("switch language to Spanish", "es"),
        ("change the language to french", "fr"),
        ("set your language to ca", "ca"),
        ("speak English", "en"),
        ("answer in Portuguese please", "pt"),
    ],
)
def test_a_language_switch_names_its_language(text: str, language: str) -> None:
    for command in (parse_command(text, CommandSource.DATA), spoken_command(text)):
        assert command is not None
        assert command.intent is Intent.SET_LANGUAGE
        assert command.entities == {"language": language}


def test_a_language_nobody_can_hear_is_not_a_switch() -> None:
    with pytest.raises(CommandError) as refused:
        parse_command("switch language to klingon", TYPED)
    assert refused.value.code == "unknown_command"
    assert spoken_command("switch language to klingon") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_command"),
        ("   ", "empty_command"),
        ("x" * (MAX_COMMAND_CHARS + 1), "command_too_long"),
        ("make me a sandwich", "unknown_command"),
        ("what is the capital of France?", "unknown_command"),
    ],
)
def test_typed_commands_that_are_not_commands_are_refused_with_a_stable_code(
    text: str, code: str
) -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(text, TYPED)
    assert refused.value.code == code


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Can you help me write an email to my landlord?",
        "Stop signs are red in most countries, why is that?",
        "",
        "please " * 40,
    ],
)
def test_a_spoken_question_is_not_taken_for_a_command(question: str) -> None:
    assert spoken_command(question) is None


def test_a_misheard_command_still_counts_but_with_less_confidence() -> None:
    command = spoken_command("clear contexts")
    assert command is not None and command.intent is Intent.CLEAR_CONTEXT
    exact = spoken_command("clear context")
    assert exact is not None and command.confidence < exact.confidence


def test_help_lists_every_command() -> None:
    lines = help_lines()
    for command in COMMANDS:
        assert any(line.startswith(command.phrases[0] + ":") for line in lines)
    assert any("language" in line for line in lines)
