"""Every error code, close code and refusal a client of voicemode can see.

One list, so that what the README promises and what the code emits cannot
drift apart: ``tests/test_error_codes.py`` checks the README's tables against
these lists, and every code literal in the source against them, both ways.
The HTTP API's OpenAPI document is built from :data:`HTTP_ERRORS`.

Codes carried inside a delivered message (``errorCode`` of
``translated-message`` or ``synthesized-speech-end``) are not errors of the
client's input and are documented with those messages.
"""

from __future__ import annotations

WEBSOCKET_ERRORS: dict[str, str] = {
    "malformed_json": "the text frame is not JSON",
    "invalid_frame": "not an object, no event string, or data not an object",
    "unknown_event": "an event name the server does not know",
    "missing_field": "a required field is absent",
    "invalid_field": "a field has the wrong type or range",
    "empty_transcript": "a blank transcript",
    "transcript_too_long": "a transcript over 5000 characters",
    "frame_too_large": "a text frame over 64 KiB",
    "unknown_language": "not an ISO 639-1 code",
    "invalid_room_code": "a room code outside 1-64 of A-Za-z0-9._-",
    "unsupported_encoding": "start-speech with an unknown encoding",
    "invalid_sample_rate": "start-speech with a rate outside 8-48 kHz",
    "invalid_audio": "audio the decoder cannot accept",
    "not_speaking": "speech-data or stop-speech without start-speech",
    "odd_byte_count": "a LINEAR16 chunk with an odd number of bytes",
    "corrupt_audio": "Opus data that cannot be decoded",
    "audio_too_fast": "audio faster than 1.5x real time",
    "audio_overflow": "more than 512 KiB of audio queued",
    "audio_rate_limited": "more than 200 audio frames/s",
    "speech_unavailable": "audio sent to a server started with VOICEMODE_SPEECH=off",
    "speech_pipeline_failed": "the speech pipeline failed; start-speech again",
    "unknown_engine": "set-preferences names an engine or voice this server does not have",
    "recognition_failed": "no STT engine could transcribe an utterance",
    "recognition_timeout": "the STT engines were too slow for an utterance",
    "unsupported_language": "no STT engine knows the spoken language",
    "engine_auth_failed": "a hosted engine refused the API key",
    "engine_rate_limited": "a hosted engine rate-limited us",
    "engine_unavailable": "a hosted engine did not answer",
    "assistant_failed": "the assistant's language model gave no usable answer",
    "assistant_timeout": "the assistant's language model gave no first token in time",
    "assistant_unavailable": "no language model answered (the user hears an apology), or "
    "the server runs with VOICEMODE_ASSISTANT=off",
    "assistant_busy": "a question while 3 others already wait for the same conversation",
    "empty_question": "ask-assistant with a blank text",
    "question_too_long": "a question over 5000 characters, or over the context's token budget",
    "empty_command": "assistant-command or a command data packet with a blank text",
    "command_too_long": "a command over 200 characters",
    "unknown_command": "a typed or data command the assistant does not know (see help)",
    "malformed_command": "a LiveKit data packet that is not a JSON object with a text",
    "binary_not_expected": "a binary frame as the first (authenticate) frame",
    "not_authenticated": "a frame before authenticate",
    "already_authenticated": "a second authenticate",
    "auth_timeout": "no authenticate frame within 10 s of connecting",
    "invalid_token": "a forged or malformed token",
    "token_expired": "an expired token",
    "wrong_token_kind": "an agent's token used as a user's, or the reverse",
    "not_in_room": "a room command before join-room",
    "livekit_not_configured": "start-voice-session on a server without LiveKit",
    "livekit_unavailable": "LiveKit did not answer",
    "not_in_voice_session": "stop-voice-session without an active voice session",
    "already_speaking": "start-speech while already speaking",
    "rate_limited": "more frames than the per-connection limit",
    "room_restarting": "the room actor failed and restarted; retry",
    "room_unavailable": "the room actor was restarting; retry",
    "unavailable": "the actor failed repeatedly and was stopped; retry",
    "internal_error": "the room failed on this command; retry",
    "store_error": "the event store refused the change; retry",
    "timeout": "the room did not answer in time; retry",
    "agent_already_attached": "agent channel: another agent already serves the room",
    "not_attached": "agent channel: a frame for a room the agent has not attached",
    # room management (close-room, remove-participant, mute-participant; joining)
    "not_room_owner": "a management frame (or set-recording) from someone who neither owns the "
    "room nor is an operator",
    "unknown_room": "a management frame (or set-recording) naming a room never opened",
    "unknown_participant": "remove-participant or mute-participant naming someone not in the room",
    "track_not_found": "mute-participant for someone who publishes no microphone on LiveKit",
    "room_closed": "join-room, or a management frame, for a room that was closed",
    "removed_from_room": "join-room by someone removed from the room before their bar ended",
    # recording
    "recording_unavailable": "set-recording on a server started without --record",
}
"""Codes of ``error`` frames, on the users' WebSocket and the agents' channel."""

WEBSOCKET_CLOSES: dict[str, str] = {
    "1007": "a text frame that is not valid UTF-8 (RFC 6455)",
    "1008 slow_consumer": "the client stopped reading and its outbox is full",
    "1009": "a frame over 1 MiB",
    "4401": "authentication failed; the reason is the error code",
}
"""Close codes (with the reason's code where it is fixed) a connection can end with."""

HANDSHAKE_REFUSALS: dict[str, str] = {
    "401": "a bad query token; the body is `invalid_token: ...` or `token_expired: ...`",
    "404": "no WebSocket at this path",
    "414": "a request line over 8 KiB, e.g. an oversized query token",
    "503 agent_channel_disabled": "/agent on a server without VOICEMODE_AGENT_SECRET",
}
"""HTTP answers that refuse a WebSocket handshake."""

HTTP_ERRORS: dict[str, str] = {
    "missing_token": "401: no `Authorization: Bearer <token>` header",
    "invalid_token": "401: the bearer token is forged, malformed or names no valid user",
    "token_expired": "401: the bearer token has expired",
    "wrong_token_kind": "401: the bearer token is an agent's, not a user's",
    "missing_signature": "401: a webhook without LiveKit's Authorization header",
    "invalid_signature": "401: a webhook not signed by our LiveKit server for this very body",
    "user_mismatch": "403: userId / participantId is not the authenticated user",
    "not_a_member": "403: the user neither created the room nor is a member of it",
    "grant_not_allowed": "403: a permission other than canPublish, canSubscribe, canPublishData",
    "dev_only": "403: a route that only a server started with --dev offers",
    "malformed_json": "400: the body is not valid JSON (or not a LiveKit event)",
    "invalid_body": "400: the body is not a JSON object",
    "body_too_large": "400: the body exceeds the route's limit",
    "missing_field": "400: a required field is absent",
    "invalid_field": "400: a field has the wrong type or is out of range",
    "invalid_room_name": "400: roomName is not 1-64 letters, digits, '.', '_' or '-'",
    "unknown_language": "400: the language is not an ISO 639-1 code",
    "body_timeout": "408: the body did not arrive within 10 s",
    "not_found": "404: no such route",
    "unknown_room": "404: no room with this code was ever opened",
    # metrics (issue 14 §2)
    "no_media_metrics": "404: no agent reported the room's media in the last 30 s",
    "method_not_allowed": "405: the route does not take this method",
    "too_many_connections": "429: the client already holds the maximum of open connections",
    "internal_error": "500: the server failed; nothing was recorded",
    "livekit_unavailable": "502: the LiveKit server did not answer or refused",
    "livekit_not_configured": "503: LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET are unset",
    # room management (/api/rooms...)
    "not_room_owner": "403: only the room's owner or an operator (a `role: admin` token) may "
    "manage it",
    "unknown_participant": "404: the user is not a participant of the room",
    "track_not_found": "404: the participant publishes no microphone track on LiveKit",
    "room_closed": "409: the room was closed (nothing more happens in it; its history stays)",
    # recording
    "nothing_recorded": "404: the room has no recorded audio (yet, or any more)",
    "unsupported_format": "400: an audio format other than wav, ogg or opus",
    "recording_unavailable": "409: the server runs without --record",
}
"""Codes of the HTTP API's ``{"error": {"code", "message"}}``, each with its status."""


def http_status(code: str) -> int:
    """The HTTP status an HTTP API error code is answered with."""
    return int(HTTP_ERRORS[code].split(":", 1)[0])
