"""Shells: what drives the core from outside.

Each shell translates one wire format into calls on :mod:`actors.usecases`
and the answers back, and nothing more: the WebSocket gateway (``gateway``,
``protocol`` parses client frames, ``frames`` builds server frames), the HTTP
API (``http_api``), the agents' channel (``agent_channel``, and the
in-process ``direct_control_plane``), LiveKit's server API and voice-session
rooms (``livekit_api``, ``media_plane``) and the LiveKit agent worker, a
process of its own (``livekit_agent``).
"""
