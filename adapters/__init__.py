"""Everything that talks to the outside world.

``shells`` drive the core (WebSocket, HTTP, LiveKit); ``engines`` are driven
by it (audio, VAD, STT, TTS, translation). Beside them: the error codes every
shell answers with (``errors``), language codes (``languages``), the
environment (``settings``) and the one-line start-up failures (``startup``).
"""
