"""The JSON data packets a LiveKit client and the agent exchange, without I/O.

The seed's ``useLiveKitVoice`` hook publishes commands as reliable data
packets ``{"type": "command", "text": ..., "timestamp": ...}`` and listens for
``{"type": "transcription", ...}`` and ``{"type": "assistant_response",
transcript, response, timestamp}``. This module reads the first and builds
the others (and ``{"type": "error", code, message, timestamp}`` for a refused
command), so the agent only moves bytes. Timestamps are milliseconds since
the epoch, as the hook's ``Date.now()``.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from actors.agent_messages import AssistantAnswered

COMMAND: Final = "command"
TRANSCRIPTION: Final = "transcription"
ASSISTANT_RESPONSE: Final = "assistant_response"
ERROR: Final = "error"
MALFORMED_COMMAND: Final = "malformed_command"


class MalformedCommandError(Exception):
    """A data packet the agent cannot read as a command; ``code`` is ``malformed_command``."""

    code = MALFORMED_COMMAND

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def command_text(payload: bytes) -> str | None:
    """The text of a ``command`` packet; None for a packet of another ``type``.

    Raises:
        MalformedCommandError: the packet is not UTF-8 JSON, not an object,
            has no string ``type``, or is a command without a string ``text``.
    """
    try:
        packet = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MalformedCommandError("the data packet is not UTF-8 JSON") from None
    if not isinstance(packet, dict):
        raise MalformedCommandError("the data packet is not a JSON object")
    kind = packet.get("type")
    if not isinstance(kind, str):
        raise MalformedCommandError('the data packet has no string "type"')
    if kind != COMMAND:
        return None
    text = packet.get("text")
    if not isinstance(text, str):
        raise MalformedCommandError('a command packet needs a string "text"')
    return text


def now_ms() -> int:
    """The time now as a packet's ``timestamp``."""
    return time.time_ns() // 1_000_000


def transcription_packet(text: str, language: str, identity: str, timestamp_ms: int) -> bytes:
    """What a participant said, once their utterance was recorded."""
    return _packet(
        TRANSCRIPTION,
        text=text,
        language=language,
        participantIdentity=identity,
        final=True,
        timestamp=timestamp_ms,
    )


def assistant_response_packet(answered: AssistantAnswered) -> bytes:
    """An answer of the assistant: the question and what was delivered of the answer."""
    return _packet(
        ASSISTANT_RESPONSE,
        transcript=answered.question,
        response=answered.response,
        timestamp=answered.timestamp_ms,
        language=answered.language,
        interrupted=answered.interrupted,
        participantIdentity=answered.user_id,
        errorCode=answered.error_code,
    )


def error_packet(code: str, message: str, timestamp_ms: int) -> bytes:
    """Why a command was refused, for its sender."""
    return _packet(ERROR, code=code, message=message, timestamp=timestamp_ms)


def _packet(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": kind, **fields})
