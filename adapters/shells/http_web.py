"""The web client's side of the HTTP port: its configuration, dev tokens, room history, the page.

The page, its assets and these routes share one origin (the HTTP port), so
the page calls them without CORS and none is offered: no
``Access-Control-*`` header is ever sent, and a browser keeps other sites'
pages from reading the answers. The WebSocket stays on its own port; the
page learns its URL from ``GET /api/config`` (WebSockets are not subject to
CORS; the token is what lets a client in).

The page never holds the server's secret. Under ``serve --dev`` it may mint
its own token (``POST /api/dev/token``); otherwise a user brings one minted
by the operator (``voicemode token`` or their backend with the secret).
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from yarl import URL

from actors.messages import Refused
from adapters.errors import http_status
from adapters.languages import UnknownLanguageError, normalize_language
from adapters.shells.auth import issue_token
from adapters.shells.http_api import (
    ApiError,
    bearer_user,
    json_response,
    read_json_object,
    required_text,
)
from adapters.shells.http_openapi import (
    CONFIG_PATH,
    DEFAULT_EVENTS,
    DEV_TOKEN_PATH,
    DEV_TOKEN_TTL_S,
    MAX_EVENTS,
    MAX_NAME_CHARS,
    ROOM_EVENTS_PATH,
    ROOM_STATE_PATH,
)
from adapters.shells.http_page import PAGE_ROUTE, WebPage
from adapters.shells.livekit_api import ROOM_NAME

if TYPE_CHECKING:
    from actors.usecases import Offered, VoiceCore
    from events.timeline import TimelineEntry

Answer = TypeVar("Answer")
MAX_POSITION = 2**63 - 1
USER_ID_STEM_CHARS = 40


@dataclass(frozen=True)
class WebClientSettings:
    """What the web client's routes need to know of ``serve``."""

    dev: bool
    """``--dev``: ``POST /api/dev/token`` mints tokens (else ``dev_only``)."""
    ws_port: int
    """``--port``, where the page opens its WebSocket."""
    livekit: bool
    """LiveKit is configured: voice sessions are offered."""
    record: bool
    """``--record``: rooms may record their audio (the page offers owners the toggle)."""
    secret: str
    """``VOICEMODE_SECRET``, which signs dev tokens and checks bearer tokens."""
    dist: Path
    """The built page (``VOICEMODE_WEB_DIR``)."""


class WebClientApi:
    """The handlers of the web client's routes, translating HTTP into calls on the core."""

    def __init__(self, core: VoiceCore, settings: WebClientSettings) -> None:
        self.core = core
        self.settings = settings
        self.offered: Offered | None = None
        """The engines and languages, asked once: they are fixed while serve runs (and
        finding the languages takes tens of milliseconds)."""

    async def config(self, request: web.Request) -> web.Response:
        """``GET /api/config``: the WebSocket's URL, the modes and what may be chosen."""
        if self.offered is None:
            self.offered = await self.core.offered()
        offered = self.offered
        return json_response(
            {
                "wsUrl": str(self.ws_url(request)),
                "dev": self.settings.dev,
                "livekit": self.settings.livekit,
                "record": self.settings.record,
                "speech": offered.speech,
                "assistant": offered.assistant,
                "languages": list(offered.languages),
                "engines": engines_body(offered),
            }
        )

    def ws_url(self, request: web.Request) -> URL:
        """The WebSocket on the host the page was loaded from, so it works from elsewhere too."""
        return URL.build(
            scheme="wss" if request.secure else "ws",
            host=request.url.host or "127.0.0.1",
            port=self.settings.ws_port,
            path="/ws",
        )

    async def dev_token(self, request: web.Request) -> web.Response:
        """``POST /api/dev/token {name, language}``: a 12-hour user token, under ``--dev`` only."""
        if not self.settings.dev:
            raise ApiError(403, "dev_only", "tokens are minted here only by `serve --dev`")
        body = await read_json_object(request)
        name = display_name(body)
        language = language_field(body)
        user_id = user_id_for(name)
        expires = int(time.time()) + DEV_TOKEN_TTL_S
        token = issue_token(self.settings.secret, user_id, name, language, DEV_TOKEN_TTL_S)
        return json_response(
            {
                "token": token,
                "userId": user_id,
                "name": name,
                "language": language,
                "expiresAt": rfc3339(expires),
            },
            201,
        )

    async def room_events(self, request: web.Request) -> web.Response:
        """``GET /api/rooms/{code}/events?after&limit``: a page of the room's timeline."""
        user = bearer_user(request, self.settings.secret)
        code = room_code(request)
        after = query_int(request, "after", 0, MAX_POSITION) or 0
        limit = query_int(request, "limit", 1, MAX_EVENTS) or DEFAULT_EVENTS
        page = answered(await self.core.room_events(code, user.user_id, after, limit))
        return json_response(
            {"events": [event_body(entry) for entry in page.entries], "last": page.last}
        )

    async def room_state(self, request: web.Request) -> web.Response:
        """``GET /api/rooms/{code}/state?at``: the room as it was at a position."""
        user = bearer_user(request, self.settings.secret)
        code = room_code(request)
        at = query_int(request, "at", 0, MAX_POSITION)
        state = answered(await self.core.room_state(code, user.user_id, at))
        return json_response({"position": state.position, "lines": list(state.lines)})


def add_web_client(app: web.Application, core: VoiceCore, settings: WebClientSettings) -> None:
    """Add the web client's API routes and, last since it takes every other path, its page."""
    api = WebClientApi(core, settings)
    app.router.add_get(CONFIG_PATH, api.config)
    app.router.add_post(DEV_TOKEN_PATH, api.dev_token)
    app.router.add_get(ROOM_EVENTS_PATH, api.room_events)
    app.router.add_get(ROOM_STATE_PATH, api.room_state)
    app.router.add_get(PAGE_ROUTE, WebPage(settings.dist).serve)


def answered(outcome: Answer | Refused) -> Answer:
    """The core's answer, or its refusal as the HTTP error of the same code."""
    if isinstance(outcome, Refused):
        raise ApiError(http_status(outcome.code), outcome.code, outcome.message)
    return outcome


def engines_body(offered: Offered) -> dict[str, Any]:
    """``engines`` of ``/api/config``: names of each kind in fallback order, and the voices."""
    return {
        "stt": list(offered.stt),
        "translation": list(offered.translation),
        "tts": list(offered.tts),
        "voices": [
            {"id": voice.id, "language": voice.language, "name": voice.name}
            for voice in offered.voices
        ],
        "llm": list(offered.llm),
    }


def event_body(entry: TimelineEntry) -> dict[str, Any]:
    """One event as the timeline page shows it; ``data`` as ``replay --json`` has it."""
    return {
        "position": entry.position,
        "time": entry.time,
        "type": entry.event,
        "who": entry.who,
        "line": entry.summary,
        "data": entry.fields,
    }


def display_name(body: dict[str, Any]) -> str:
    """``name``: 1-64 printable characters once trimmed."""
    name = required_text(body, "name").strip()
    printable = all(unicodedata.category(char)[0] != "C" for char in name)
    if not 1 <= len(name) <= MAX_NAME_CHARS or not printable:
        raise ApiError(
            400, "invalid_field", f"name must be 1-{MAX_NAME_CHARS} printable characters"
        )
    return name


def language_field(body: dict[str, Any]) -> str:
    """``language``: a BCP 47 tag whose language is ISO 639-1, as its two-letter code."""
    try:
        return normalize_language(required_text(body, "language"))
    except UnknownLanguageError as error:
        raise ApiError(400, "unknown_language", str(error)) from error


def user_id_for(name: str) -> str:
    """A user id made from a display name: ``José Luis`` becomes ``jose-luis-3fa9c1``.

    The random suffix keeps two people who chose the same name apart.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9_-]+", "-", ascii_name.lower()).strip("-")[:USER_ID_STEM_CHARS]
    return f"{stem or 'user'}-{secrets.token_hex(3)}"


def room_code(request: web.Request) -> str:
    """The room code of the path; one no room can have is an unknown room."""
    code = request.match_info["code"]
    if not ROOM_NAME.fullmatch(code):
        raise ApiError(404, "unknown_room", f"there is no room {code[:64]!r}")
    return code


def query_int(request: web.Request, key: str, low: int, high: int) -> int | None:
    """An integer query parameter within ``[low, high]``, or None when absent."""
    raw = request.query.get(key)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_field", f"{key} must be an integer {low}-{high}")
    return int(raw)


def rfc3339(epoch_s: int) -> str:
    """A UTC time as RFC 3339 with a ``Z``, as the LiveKit routes give ``expiresAt``."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")
