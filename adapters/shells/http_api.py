"""The HTTP side of ``voicemode serve --http-port``: health, LiveKit rooms, tokens, webhooks.

Users call it with the same bearer token as the WebSocket (``Authorization:
Bearer <voicemode token>``); LiveKit calls the webhook route with its own
signature instead. Every error is ``{"error": {"code", "message"}}`` with a
stable ``code`` from :data:`adapters.errors.HTTP_ERRORS`, like the
WebSocket's ``error`` frames, and ``GET /openapi.json`` describes every route
(:func:`adapters.shells.http_openapi.openapi_document`).

Who may get a LiveKit token for a room: its owner (who created it through
this API: the room is recorded with its owner, so that outlives a restart)
and the members of the voicemode room whose code is the room's name, while
the room is open; who owns and who is a member of a room is the core's to
say (:meth:`~actors.usecases.management.RoomManagement.room`). The routes that
list and manage rooms are :mod:`adapters.shells.http_rooms`'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from actors.media import LiveKitWebhook
from actors.messages import Refused
from adapters.shells.auth import Identity, TokenError, verify_user_token
from adapters.shells.exposition import METRICS_PATH, exposition_handler
from adapters.shells.http_openapi import (
    MAX_EMPTY_TIMEOUT_S,
    MAX_METADATA_BYTES,
    MAX_PARTICIPANTS,
    ROOMS_PATH,
    TOKEN_PATH,
    WEBHOOK_PATH,
    openapi_document,
)
from adapters.shells.livekit_api import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    MIN_TTL_S,
    ROOM_NAME,
    LiveKitRooms,
    LiveKitSettings,
    LiveKitUnavailableError,
    ParticipantToken,
    Permissions,
    RoomConfig,
    WebhookRejectedError,
    WebhookVerifier,
    mint_participant_token,
    new_room_name,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from actors.service import VoiceService
    from actors.usecases import VoiceCore

log = logging.getLogger(__name__)

RecordWebhook = Callable[[LiveKitWebhook], Awaitable[None]]
"""Records an accepted webhook as an event; it must not block the loop."""

MAX_BODY_BYTES = 64 * 1024
MAX_WEBHOOK_BYTES = 1024 * 1024
"""A webhook carries the room and participant as LiveKit knows them: bigger."""
BODY_TIMEOUT_S = 10.0
"""How long a request's body may take to arrive (headers: :mod:`adapters.shells.http_limits`)."""
PERMISSION_FIELDS = {
    "canPublish": "can_publish",
    "canSubscribe": "can_subscribe",
    "canPublishData": "can_publish_data",
}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    """The JSON body every error has."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(
        {"error": {"code": code, "message": message}},
        status=status,
        headers=headers,
        dumps=lambda value: orjson.dumps(value).decode(),
    )


def json_response(body: Mapping[str, Any], status: int = 200) -> web.Response:
    """A JSON answer, encoded with orjson."""
    return web.json_response(body, status=status, dumps=lambda value: orjson.dumps(value).decode())


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure, aiohttp's own included, into the JSON error shape."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message)
    except web.HTTPNotFound:
        return error_response(404, "not_found", f"no route {request.path}")
    except web.HTTPMethodNotAllowed as error:
        response = error_response(
            405, "method_not_allowed", f"{request.path} does not take {request.method}"
        )
        response.headers["Allow"] = ", ".join(sorted(error.allowed_methods))
        return response
    except web.HTTPException:
        raise
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "the server failed to handle the request")


async def read_body(request: web.Request, limit: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    """The request body, refused past ``limit`` bytes or ``timeout_s`` seconds.

    Without a deadline a client that sends its body a byte at a time holds a
    handler (and its connection) for as long as it likes.
    """
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(400, "body_too_large", f"bodies are limited to {limit} bytes")
    try:
        async with asyncio.timeout(timeout_s):
            body = await request.content.read(limit + 1)
            while len(body) <= limit and not request.content.at_eof():
                body += await request.content.read(limit + 1 - len(body))
    except TimeoutError as error:
        raise ApiError(
            408, "body_timeout", f"the body must arrive within {timeout_s:g} s"
        ) from error
    if len(body) > limit:
        raise ApiError(400, "body_too_large", f"bodies are limited to {limit} bytes")
    return body


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return value


def required_text(body: Mapping[str, Any], key: str, path: str = "") -> str:
    """A non-empty string field."""
    value = body.get(key)
    if value is None:
        raise ApiError(400, "missing_field", f"{path}{key} is required")
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_field", f"{path}{key} must be a non-empty string")
    return value


def optional_int(
    body: Mapping[str, Any], key: str, low: int, high: int, path: str = ""
) -> int | None:
    """An integer field within ``[low, high]``, or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, "invalid_field", f"{path}{key} must be an integer {low}-{high}")
    return value


def optional_flag(body: Mapping[str, Any], key: str) -> bool:
    """A boolean field (absent: False)."""
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_field", f"{key} must be a boolean")
    return value


def optional_object(body: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A JSON object field, or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_field", f"{key} must be an object")
    return value


def parse_room_config(config: Mapping[str, Any] | None) -> RoomConfig:
    """``config {maxParticipants?, emptyTimeout?, metadata?}`` of a room to create."""
    if config is None:
        return RoomConfig()
    unknown = set(config) - {"maxParticipants", "emptyTimeout", "metadata"}
    if unknown:
        raise ApiError(400, "invalid_field", f"config has unknown fields: {sorted(unknown)}")
    metadata = config.get("metadata", "")
    if not isinstance(metadata, str) or len(metadata.encode()) > MAX_METADATA_BYTES:
        raise ApiError(
            400,
            "invalid_field",
            f"config.metadata must be a string of at most {MAX_METADATA_BYTES} bytes",
        )
    max_participants = optional_int(config, "maxParticipants", 0, MAX_PARTICIPANTS, "config.")
    empty_timeout = optional_int(config, "emptyTimeout", 0, MAX_EMPTY_TIMEOUT_S, "config.")
    return RoomConfig(
        max_participants=max_participants or 0,
        empty_timeout_s=empty_timeout or 0,
        metadata=metadata,
    )


def parse_permissions(permissions: Mapping[str, Any] | None) -> Permissions:
    """The grants asked for: exactly those set to true; all three when none are given.

    A user who sends ``{"canSubscribe": true}`` gets a listen-only token, not
    the defaults for the fields left out: a token never grants more than
    what was asked.
    """
    if permissions is None:
        return Permissions()
    for key, value in permissions.items():
        if key not in PERMISSION_FIELDS:
            raise ApiError(
                403,
                "grant_not_allowed",
                f"permission {key!r} cannot be granted to users; "
                f"only {', '.join(PERMISSION_FIELDS)}",
            )
        if not isinstance(value, bool):
            raise ApiError(400, "invalid_field", f"permissions.{key} must be a boolean")
    return Permissions(
        **{field: permissions.get(key) is True for key, field in PERMISSION_FIELDS.items()}
    )


def room_name_field(body: Mapping[str, Any]) -> str:
    """The ``roomName`` field, checked against the room-name alphabet."""
    name = required_text(body, "roomName")
    if not ROOM_NAME.fullmatch(name):
        raise ApiError(
            400, "invalid_room_name", "roomName is 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


def bearer_user(request: web.Request, secret: str) -> Identity:
    """The user behind the request's ``Authorization: Bearer <voicemode token>``."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise ApiError(401, "missing_token", "send Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "invalid_token", "the Authorization header must be Bearer <token>")
    try:
        return verify_user_token(secret, token.strip())
    except TokenError as error:
        raise ApiError(401, error.code, error.message) from error


def token_body(token: ParticipantToken) -> dict[str, str]:
    """``{token, expiresAt}`` with the expiry in RFC 3339 UTC."""
    return {
        "token": token.token,
        "expiresAt": token.expires_at.isoformat().replace("+00:00", "Z"),
    }


@dataclass
class LiveKitHttpApi:
    """The handlers, with what they share: settings, the rooms client and the core."""

    service: VoiceService
    livekit: LiveKitSettings | None
    secret: str
    record_webhook: RecordWebhook
    agent_rooms: Callable[[], Collection[str]] = frozenset
    """The rooms an agent is attached to right now (serve's attached agents)."""

    def __post_init__(self) -> None:
        self.rooms: LiveKitRooms | None = None
        self.core = self._core()
        self.verifier = WebhookVerifier(self.livekit) if self.livekit is not None else None

    def _core(self) -> VoiceCore:
        """The use cases, managing rooms through LiveKit once its client exists."""
        from actors.usecases import VoiceCore  # noqa: PLC0415
        from adapters.shells.frames import CLIENT_FRAMES  # noqa: PLC0415

        return VoiceCore(
            self.service, CLIENT_FRAMES, moderator=self.rooms, agent_rooms=self.agent_rooms
        )

    async def rooms_client(self, _: web.Application) -> AsyncIterator[None]:
        """Own the LiveKit API client for the app's lifetime (its session needs the loop)."""
        if self.livekit is not None:
            self.rooms = LiveKitRooms(self.livekit)
            self.core = self._core()
        yield
        if self.rooms is not None:
            await self.rooms.aclose()

    def configured(self) -> LiveKitSettings:
        """The LiveKit settings, or 503 when the service runs without LiveKit."""
        if self.livekit is None:
            raise ApiError(
                503,
                "livekit_not_configured",
                "this server runs without LiveKit (set LIVEKIT_URL, LIVEKIT_API_KEY, "
                "LIVEKIT_API_SECRET)",
            )
        return self.livekit

    def authenticate(self, request: web.Request) -> Identity:
        """The user behind the request's bearer token."""
        return bearer_user(request, self.secret)

    async def belongs(self, identity: Identity, room_name: str) -> bool:
        """Whether the user owns the room or is a member of it (refused: it was closed)."""
        room = await self.core.management.room(room_name, identity)
        if isinstance(room, Refused):
            return False
        if room.closed_by is not None:
            raise ApiError(409, "room_closed", f"room {room_name} was closed")
        user_id = identity.user_id
        return room.owner == user_id or any(p.user_id == user_id for p in room.participants)

    async def health(self, _: web.Request) -> web.Response:
        """``GET /healthz``: alive, and how far the event log has come."""
        return json_response({"status": "ok", "position": await self.core.position()})

    async def openapi(self, request: web.Request) -> web.Response:
        """``GET /openapi.json``: the routes this app serves (the web client's if it has them)."""
        served = {resource.canonical for resource in request.app.router.resources()}
        return json_response(openapi_document(served))

    async def create_room(self, request: web.Request) -> web.Response:
        """``POST /api/voice/livekit/rooms``: create a LiveKit room and join it as its creator."""
        identity = self.authenticate(request)
        settings = self.configured()
        body = await read_json_object(request)
        if required_text(body, "userId") != identity.user_id:
            raise ApiError(403, "user_mismatch", "userId must be the authenticated user")
        config = parse_room_config(optional_object(body, "config"))
        assistant = optional_flag(body, "assistant")
        record = optional_flag(body, "record")
        if record and self.service.recording is None:
            raise ApiError(409, "recording_unavailable", "this server runs without --record")
        name = new_room_name()
        assert self.rooms is not None  # made by rooms_client whenever LiveKit is configured
        try:
            await self.rooms.create(name, config)
        except LiveKitUnavailableError as error:
            raise ApiError(502, "livekit_unavailable", str(error)) from error
        opened = await self.core.management.open(name, identity.user_id)
        if isinstance(opened, Refused):
            raise ApiError(500, "internal_error", f"the room was not recorded: {opened.message}")
        if assistant:
            await self._turn_assistant_on(name, identity.user_id)
        if record:
            await self._start_recording(name, identity.user_id)
        token = mint_participant_token(
            settings, name, identity.user_id, identity.name, Permissions(), DEFAULT_TTL_S
        )
        return json_response({"roomName": name, "wsUrl": settings.url, **token_body(token)}, 201)

    async def _turn_assistant_on(self, room_name: str, user_id: str) -> None:
        """Record that the new room has its shared assistant on (the room opens with it)."""
        outcome = await self.core.set_assistant(room_name, user_id, enabled=True)
        if isinstance(outcome, Refused):
            raise ApiError(
                500, "internal_error", f"the assistant was not turned on: {outcome.message}"
            )

    async def _start_recording(self, room_name: str, user_id: str) -> None:
        """Record the new room's audio from its creation."""
        from actors.usecases.recording import Recordings  # noqa: PLC0415

        outcome = await Recordings(self.core).set_on_creation(room_name, user_id, enabled=True)
        if isinstance(outcome, Refused):
            raise ApiError(
                500, "internal_error", f"the recording was not started: {outcome.message}"
            )

    async def issue_token(self, request: web.Request) -> web.Response:
        """``POST /api/voice/livekit/token``: a token for a room the user belongs to."""
        identity = self.authenticate(request)
        settings = self.configured()
        body = await read_json_object(request)
        room = room_name_field(body)
        if required_text(body, "participantId") != identity.user_id:
            raise ApiError(403, "user_mismatch", "participantId must be the authenticated user")
        permissions = parse_permissions(optional_object(body, "permissions"))
        ttl = optional_int(body, "ttlSeconds", MIN_TTL_S, MAX_TTL_S) or DEFAULT_TTL_S
        if not await self.belongs(identity, room):
            raise ApiError(403, "not_a_member", f"{identity.user_id} is not a member of {room}")
        token = mint_participant_token(
            settings, room, identity.user_id, identity.name, permissions, ttl
        )
        return json_response(token_body(token))

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /api/voice/livekit/webhook``: verify, record, and undo a join the room forbids.

        Refused webhooks leave no trace.
        """
        self.configured()
        assert self.verifier is not None  # made with the settings
        body = await read_body(request, MAX_WEBHOOK_BYTES)
        try:
            text = body.decode()
        except UnicodeDecodeError as error:
            raise ApiError(400, "malformed_json", "a webhook body is UTF-8 JSON") from error
        try:
            hook = self.verifier.verify(text, request.headers.get("Authorization"))
        except WebhookRejectedError as error:
            status = 400 if error.code == "malformed_json" else 401
            raise ApiError(status, error.code, error.message) from error
        await self.record_webhook(hook)
        await self.core.management.keep_out(hook)
        return json_response({"status": "recorded"})


def build_http_app(
    service: VoiceService,
    livekit: LiveKitSettings | None,
    secret: str,
    record_webhook: RecordWebhook,
    agent_rooms: Callable[[], Collection[str]] = frozenset,
    *,
    metrics: CollectorRegistry | None = None,
) -> web.Application:
    """The aiohttp application of ``--http-port``.

    Args:
        service: the running system, reached through its use cases.
        livekit: the LiveKit server and key pair, or None to serve without
            LiveKit (its routes then answer 503 ``livekit_not_configured``).
        secret: ``VOICEMODE_SECRET``, which signs the users' bearer tokens.
        record_webhook: records a verified webhook as an event.
        agent_rooms: the rooms an agent is attached to right now.
        metrics: the registry ``GET /metrics`` renders; with it, rooms' media
            metrics are served too (None: neither route).
    """
    from adapters.shells.http_rooms import add_room_management  # noqa: PLC0415

    handlers = LiveKitHttpApi(service, livekit, secret, record_webhook, agent_rooms)
    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_WEBHOOK_BYTES)
    app.cleanup_ctx.append(handlers.rooms_client)
    app.router.add_get("/healthz", handlers.health)
    app.router.add_get("/openapi.json", handlers.openapi)
    if metrics is not None:
        from adapters.shells.http_media import add_media_metrics  # noqa: PLC0415 (imports us)

        app.router.add_get(METRICS_PATH, exposition_handler(metrics))
        add_media_metrics(app, handlers)
    app.router.add_post(ROOMS_PATH, handlers.create_room)
    app.router.add_post(TOKEN_PATH, handlers.issue_token)
    app.router.add_post(WEBHOOK_PATH, handlers.webhook)
    add_room_management(app, handlers)
    from adapters.shells.http_recording import add_recording_routes  # noqa: PLC0415

    add_recording_routes(app, handlers.core, secret)
    return app
