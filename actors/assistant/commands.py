"""What a user's words mean to the assistant: a command, or a question.

Commands reach the assistant from three sources with one meaning: a typed
``command`` frame over the WebSocket, a LiveKit data packet
(``{type: "command", text, timestamp}``) and speech. Typed and data commands
must be commands: anything else is refused with a stable code. A spoken
utterance is a command only when it says one of the phrases below (after an
optional wake word such as "assistant" and a "please"); everything else is a
question for the assistant. Speech recognition is not exact, so a spoken
phrase that is close to a command (a similarity of at least
:data:`SPOKEN_SIMILARITY`) counts too, with a lower confidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Final


class Intent(StrEnum):
    """What a command asks the assistant to do."""

    HELP = "help"
    CLEAR_CONTEXT = "clear_context"
    STOP = "stop"
    REPEAT = "repeat"
    SET_LANGUAGE = "set_language"
    MUTE = "mute"
    UNMUTE = "unmute"


class CommandSource(StrEnum):
    """Where a command came from (recorded with it)."""

    TYPED = "typed"
    DATA = "data"
    SPOKEN = "spoken"


@dataclass(frozen=True)
class CommandPhrase:
    """The phrases that say one intent, and how ``help`` describes it."""

    intent: Intent
    phrases: tuple[str, ...]
    description: str


COMMANDS: Final = (
    CommandPhrase(
        Intent.HELP, ("help", "what can you do", "commands", "list commands"), "list the commands"
    ),
    CommandPhrase(
        Intent.CLEAR_CONTEXT,
        ("clear", "clear context", "clear the context", "forget everything", "start over", "reset"),
        "forget the conversation so far",
    ),
    CommandPhrase(
        Intent.STOP,
        ("stop", "stop talking", "be quiet", "cancel", "that's enough"),
        "stop the answer being spoken",
    ),
    CommandPhrase(
        Intent.REPEAT,
        ("repeat", "repeat that", "say that again", "again", "repeat the last answer"),
        "say the last answer again",
    ),
    CommandPhrase(
        Intent.MUTE, ("mute", "mute assistant", "mute the assistant"), "stop speaking answers"
    ),
    CommandPhrase(
        Intent.UNMUTE,
        ("unmute", "unmute assistant", "unmute the assistant"),
        "speak answers again",
    ),
)
"""Every command but the language switch, whose phrase carries a language."""

LANGUAGE_HELP: Final = "switch language to <language>: answer in another language"

LANGUAGE_NAMES: Final[Mapping[str, str]] = {
    "english": "en",
    "spanish": "es",
    "castilian": "es",
    "french": "fr",
    "catalan": "ca",
    "portuguese": "pt",
    "italian": "it",
    "galician": "gl",
    "occitan": "oc",
    "german": "de",
    "dutch": "nl",
}
"""Language names a user may say; two-letter codes are accepted as written."""

MAX_COMMAND_CHARS: Final = 200
SPOKEN_SIMILARITY: Final = 0.85
SPOKEN_EXACT_CONFIDENCE: Final = 0.95

_WAKE: Final = re.compile(r"^(?:(?:hey|ok|okay)\s+)?assistant\b\s*")
_POLITE: Final = re.compile(r"^(?:please\s+|can you\s+|could you\s+)+|\s+please$")
_SWITCH: Final = re.compile(
    r"^(?:(?:switch|change|set)\s+(?:the\s+|your\s+)?(?:language\s+)?to|"
    r"(?:speak|answer|reply)\s+(?:in\s+)?)\s*([a-z]+)$"
)
_NOT_WORD: Final = re.compile(r"[^\w\s']+")


class CommandError(ValueError):
    """A typed or data command that is empty, too long or not a command."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RecognizedCommand:
    """A command as recorded: intent, entities, how sure, from where, and the words."""

    intent: Intent
    source: CommandSource
    text: str
    confidence: float
    entities: Mapping[str, str] = field(default_factory=dict)


def parse_command(text: str, source: CommandSource) -> RecognizedCommand:
    """The command a typed frame or data packet names.

    Raises:
        CommandError: ``empty_command``, ``command_too_long`` or
            ``unknown_command`` (with the phrases ``help`` lists).
    """
    if not text.strip():
        raise CommandError("empty_command", "the command is empty; try 'help'")
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandError(
            "command_too_long", f"a command is at most {MAX_COMMAND_CHARS} characters"
        )
    command = _exact(_normalized(text), text, source, 1.0)
    if command is None:
        raise CommandError("unknown_command", f"unknown command {text[:40]!r}; try 'help'")
    return command


def spoken_command(text: str) -> RecognizedCommand | None:
    """The command an utterance says, or None when it is a question for the assistant."""
    if not text.strip() or len(text) > MAX_COMMAND_CHARS:
        return None
    words = _normalized(text)
    exact = _exact(words, text, CommandSource.SPOKEN, SPOKEN_EXACT_CONFIDENCE)
    if exact is not None:
        return exact
    best: tuple[float, Intent] | None = None
    for command in COMMANDS:
        for phrase in command.phrases:
            similarity = SequenceMatcher(None, words, phrase).ratio()
            if similarity >= SPOKEN_SIMILARITY and (best is None or similarity > best[0]):
                best = (similarity, command.intent)
    if best is None:
        return None
    return RecognizedCommand(
        best[1], CommandSource.SPOKEN, text, round(best[0] * SPOKEN_EXACT_CONFIDENCE, 3)
    )


def help_lines() -> list[str]:
    """What ``help`` answers: one line per command, its first phrase and what it does."""
    lines = [f"{command.phrases[0]}: {command.description}" for command in COMMANDS]
    return [*lines, LANGUAGE_HELP]


def _exact(
    words: str, text: str, source: CommandSource, confidence: float
) -> RecognizedCommand | None:
    """The command ``words`` say exactly, with a language switch's language."""
    for command in COMMANDS:
        if words in command.phrases:
            return RecognizedCommand(command.intent, source, text, confidence)
    switch = _SWITCH.fullmatch(words)
    if switch is not None:
        language = _language(switch.group(1))
        if language is not None:
            entities = {"language": language}
            return RecognizedCommand(Intent.SET_LANGUAGE, source, text, confidence, entities)
    return None


def _language(word: str) -> str | None:
    """The ISO 639-1 code a spoken or typed language name or code stands for."""
    if word in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[word]
    if word in LANGUAGE_NAMES.values():
        return word
    return None


def _normalized(text: str) -> str:
    """Lower case, no punctuation, no wake word or "please", single spaces."""
    words = " ".join(_NOT_WORD.sub(" ", text.lower()).split())
    words = _WAKE.sub("", words)
    return _POLITE.sub("", words).strip()


_WAKE_PREFIX: Final = re.compile(r"^\W*(?:(?:hey|ok|okay)\W+)?assistant\b\W*", re.IGNORECASE)


def wake_word(text: str) -> bool:
    """Whether an utterance begins with the wake word ("assistant", "hey assistant")."""
    return _WAKE_PREFIX.match(text) is not None


def without_wake_word(text: str) -> str:
    """The utterance without its leading wake word (the question asked)."""
    return _WAKE_PREFIX.sub("", text, count=1).strip() or text.strip()
