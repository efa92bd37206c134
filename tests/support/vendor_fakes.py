"""Local stand-ins for hosted vendors, speaking their documented wire formats.

No vendor is reachable from the test machines, so the hosted adapters are
tested with their real clients (the official SDK, or plain HTTP) against these
servers. Each fake runs ``http.server`` on a free loopback port in a thread and
implements what the vendor documents: paths, authentication, request bodies,
response bodies and error bodies. Implemented:

* :class:`FakeOpenAI`, also standing in for xAI and self-hosted
  OpenAI-compatible servers: ``POST /v1/chat/completions`` (streamed as
  ``data:`` chunks ending in ``data: [DONE]`` when asked),
  ``POST /v1/audio/transcriptions`` (multipart) and ``POST /v1/audio/speech``;
  ``Authorization: Bearer <key>``.
* :class:`FakeAnthropic`: the Messages API ``POST /v1/messages`` streamed as
  server-sent events (``message_start``, ``content_block_start``, ``ping``,
  ``content_block_delta``, ``content_block_stop``, ``message_delta``,
  ``message_stop``, and ``error``); ``x-api-key`` or a bearer key, and
  ``anthropic-version``.
* :class:`FakeGoogle`: Cloud Translation v2 ``POST /language/translate/v2``
  and Speech-to-Text v1 ``POST /v1/speech:recognize``; the key as the ``key``
  query parameter or the ``X-Goog-Api-Key`` header, as Google accepts both.

Per test, a fake can be scripted: ``script()`` queues replies that the next
requests get instead of the normal answer (:class:`VendorError` in the vendor's
error format, :class:`Hang` to trigger timeouts, :class:`RawReply` for
malformed bodies, :class:`Trickle` for slowly arriving bodies,
:class:`Paced` for streamed answers whose text is slow or breaks); the
``*_replies`` dictionaries and the ``transcribe``, ``synthesize`` and
``recognize`` callables decide the normal answers. Every
request is recorded, so a test can check where the API key travelled
(:meth:`FakeVendorServer.key_locations`).

A handler that crashes (a bug in the fake) makes :meth:`FakeVendorServer.stop`
raise, so it cannot pass for a vendor outage.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import json
import math
import re
import struct
import threading
import time
import traceback
import wave
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.support.service import free_port

#: Sample rate of OpenAI's ``pcm`` speech output (16-bit signed little-endian mono).
OPENAI_PCM_RATE = 24000

_JSON = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received, kept for assertions."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)

    def key_locations(self, key: str) -> set[str]:
        """Name every place ``key`` occurs: ``header:<name>``, ``query:<name>``, ``path``, ``body``.

        Bearer tokens are found inside their header too (``header:authorization``).
        """
        places = {f"header:{name}" for name, value in self.headers.items() if key in value}
        places |= {
            f"query:{name}" for name, values in self.query.items() if any(key in v for v in values)
        }
        if key in self.path:
            places.add("path")
        if key.encode() in self.body:
            places.add("body")
        return places


@dataclass(frozen=True)
class VendorError:
    """Scripted reply: an error in the vendor's documented error format.

    Args:
        status: HTTP status (401, 429, 500, ...).
        message: the error message; by default the vendor's usual text.
        retry_after: seconds for a ``Retry-After`` header, if any.

    """

    status: int
    message: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class Hang:
    """Scripted reply: wait before answering normally, to trigger client timeouts.

    ``seconds=None`` waits until the fake stops, then drops the connection.
    """

    seconds: float | None = None


@dataclass(frozen=True)
class RawReply:
    """Scripted reply: exactly these bytes, to test malformed answers."""

    body: bytes
    status: int = 200
    content_type: str = _JSON


@dataclass(frozen=True)
class Trickle:
    """Scripted reply: the normal answer, its body written in ``pieces`` parts ``interval_s`` apart.

    Shows whether a client uses a body as it arrives (streamed speech) or
    waits for all of it; the headers, with the full length, go first.
    """

    pieces: int
    interval_s: float


@dataclass(frozen=True)
class Paced:
    """Scripted reply: the normal streamed answer, its text events paced, or broken mid-stream.

    Args:
        first_text_s: pause before the first event that carries text (the
            events before it, e.g. ``message_start``, go at once).
        interval_s: pause before each later text event.
        fail_after: send this many text events, then the vendor's in-stream
            error event instead of the rest.

    """

    first_text_s: float = 0.0
    interval_s: float = 0.0
    fail_after: int | None = None


Scripted = VendorError | Hang | RawReply | Trickle | Paced


@dataclass(frozen=True)
class Sse:
    """One server-sent event of a streamed answer; ``text`` if it carries generated text."""

    data: str
    event: str | None = None
    text: bool = False

    def encode(self) -> bytes:
        """The event on the wire: ``event:`` (if named) and ``data:`` lines, a blank line."""
        name = f"event: {self.event}\n" if self.event else ""
        return f"{name}data: {self.data}\n\n".encode()

    @classmethod
    def of_json(cls, payload: object, event: str | None = None, *, text: bool = False) -> Sse:
        """Build an event whose data is ``payload`` as JSON."""
        return cls(json.dumps(payload), event, text)


def words(text: str) -> list[str]:
    """Split an answer into the pieces the fakes stream: each word with its trailing space."""
    return re.findall(r"\s*\S+\s*", text) or [text]


@dataclass(frozen=True)
class Response:
    """What a fake writes back."""

    status: int
    body: bytes
    content_type: str = _JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    events: tuple[Sse, ...] | None = None
    """A streamed answer, written event by event (chunked) instead of ``body``."""
    stream_error: Sse | None = None
    """The vendor's in-stream error event, for :class:`Paced` ``fail_after``."""

    @classmethod
    def streamed(cls, events: list[Sse], stream_error: Sse) -> Response:
        """Build a ``text/event-stream`` answer."""
        return cls(200, b"", "text/event-stream", {}, tuple(events), stream_error)

    @classmethod
    def of_json(
        cls, status: int, payload: object, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Build a JSON response."""
        return cls(status, json.dumps(payload).encode(), _JSON, dict(headers or {}))


class _Server(ThreadingHTTPServer):
    """The HTTP server, knowing the fake it serves."""

    daemon_threads = True

    def __init__(self, fake: FakeVendorServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the fake; HTTP/1.1 with keep-alive, like the vendors."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.fake.serve(self)

    def do_POST(self) -> None:
        self.server.fake.serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: requests are recorded, not printed."""


class FakeVendorServer:
    """A vendor's HTTP API on a loopback port: recording, scripting, start and stop.

    Subclasses implement :meth:`handle` (authentication and routes) and
    :meth:`error` (the vendor's error format).

    Args:
        api_key: the only key the fake accepts.

    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._script: deque[Scripted] = deque()
        self._crashes: list[str] = []

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, the vendor's scheme and host."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def key_locations(self, key: str) -> set[str]:
        """Where ``key`` occurred across every request received (see RecordedRequest)."""
        return set().union(*(request.key_locations(key) for request in self.requests))

    def script(self, *replies: Scripted) -> None:
        """Queue replies: each of the next requests gets one instead of the normal answer."""
        with self._lock:
            self._script.extend(replies)

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging requests, and fail if a handler crashed.

        Raises:
            AssertionError: a handler raised, i.e. the fake has a bug.

        """
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if self._crashes:
            raise AssertionError(f"{type(self).__name__} crashed:\n" + "\n".join(self._crashes))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Record the request, then answer it: the scripted reply if any, else normally."""
        try:
            url = urlsplit(handler.path)
            length = int(handler.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=handler.command,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in handler.headers.items()},
                body=handler.rfile.read(length),
            )
            with self._lock:
                self._requests.append(request)
                scripted = self._script.popleft() if self._script else None
            response = self._answer(request, scripted)
        except Exception:
            self._crashes.append(traceback.format_exc())
            raise
        if response is None:
            handler.close_connection = True
            return
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        if response.events is not None:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if response.events is not None:
            self._stream(handler, response, scripted if isinstance(scripted, Paced) else Paced())
        elif isinstance(scripted, Trickle):
            self._trickle(handler, response.body, scripted)
        else:
            handler.wfile.write(response.body)

    def _trickle(self, handler: BaseHTTPRequestHandler, body: bytes, trickle: Trickle) -> None:
        """Write ``body`` in parts, pausing between them.

        Stops early, dropping the connection, if the fake stops or the client
        goes away (as a client that has heard enough may).
        """
        size = max(1, -(-len(body) // max(1, trickle.pieces)))
        try:
            for start in range(0, len(body), size):
                if start and self._stopped.wait(trickle.interval_s):
                    handler.close_connection = True
                    return
                handler.wfile.write(body[start : start + size])
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _stream(self, handler: BaseHTTPRequestHandler, response: Response, pace: Paced) -> None:
        """Write a streamed answer event by event, each as one HTTP chunk, paced as scripted.

        Stops early, dropping the connection, if the fake stops or the client
        goes away (as a client closing an answer it no longer wants does).
        """
        assert response.events is not None
        texts = 0
        try:
            for sse in response.events:
                if sse.text:
                    pause = pace.interval_s if texts else pace.first_text_s
                    if pause and self._stopped.wait(pause):
                        handler.close_connection = True
                        return
                    if pace.fail_after is not None and texts >= pace.fail_after:
                        assert response.stream_error is not None
                        self._write_chunk(handler, response.stream_error.encode())
                        break
                    texts += 1
                self._write_chunk(handler, sse.encode())
            self._write_chunk(handler, b"")
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    @staticmethod
    def _write_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        """Write one chunk of a chunked body (empty: the last chunk) and flush it."""
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    def _answer(self, request: RecordedRequest, scripted: Scripted | None) -> Response | None:
        """Apply a scripted reply, or answer normally; None drops the connection."""
        if isinstance(scripted, Hang):
            if self._stopped.wait(scripted.seconds):
                return None
        elif isinstance(scripted, VendorError):
            return self.error(scripted.status, scripted.message, scripted.retry_after)
        elif isinstance(scripted, RawReply):
            return Response(scripted.status, scripted.body, scripted.content_type)
        return self.handle(request)

    def handle(self, request: RecordedRequest) -> Response:
        """Authenticate and route a request the vendor's way."""
        raise NotImplementedError

    def error(self, status: int, message: str | None, retry_after: int | None = None) -> Response:
        """Build an error in the vendor's format (default message if ``message`` is None)."""
        raise NotImplementedError


def _retry_after(retry_after: int | None) -> dict[str, str]:
    """Return the ``Retry-After`` header, if any."""
    return {} if retry_after is None else {"Retry-After": str(retry_after)}


def marked_upper(text: str) -> str:
    """The fakes' default "translation": recognisably transformed, deterministic."""
    return f"[fake] {text.upper()}"


def tone_pcm(text: str, rate: int = OPENAI_PCM_RATE) -> bytes:
    """The default "speech": a 440 Hz tone, 60 ms per character (at most 10 s), 16-bit PCM."""
    samples = min(round(0.06 * len(text) * rate), 10 * rate)
    return b"".join(
        struct.pack("<h", round(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(samples)
    )


def pcm_to_wav(pcm: bytes, rate: int) -> bytes:
    """Wrap 16-bit mono PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


# --------------------------------------------------------------------------- OpenAI

_OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_OPENAI_TRANSCRIPTION_FORMATS = frozenset({"json", "text", "verbose_json"})
_OPENAI_SPEECH_FORMATS = frozenset({"pcm", "wav"})
_OPENAI_ERRORS: Mapping[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", None, "Not found."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM). Please try again in 20s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class FakeOpenAI(FakeVendorServer):
    """OpenAI's REST API (and xAI's, and self-hosted servers'): chat, transcription, speech.

    Normal answers:

    * chat: ``chat_replies[last user message]`` if present, else
      :func:`marked_upper` of it;
    * transcription: ``transcribe(audio bytes, filename)``;
    * speech: ``synthesize(input, voice)``, 16-bit PCM at 24 kHz, sent as
      ``pcm`` or ``wav`` (other formats get a 400: the fake cannot encode them).

    Args:
        api_key: the only key accepted.
        models: if given, other model names get OpenAI's 404 ``model_not_found``.

    """

    def __init__(self, api_key: str, models: Collection[str] | None = None) -> None:
        super().__init__(api_key)
        self.models = None if models is None else frozenset(models)
        self.chat_replies: dict[str, str] = {}
        self.transcribe: Callable[[bytes, str], str] = lambda audio, _name: (
            f"fake transcript of {len(audio)} bytes"
        )
        self.synthesize: Callable[[str, str], bytes] = lambda text, _voice: tone_pcm(text)
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What clients use as base URL, as they would ``https://api.openai.com/v1``."""
        return f"{self.origin}/v1"

    def error(self, status: int, message: str | None, retry_after: int | None = None) -> Response:
        """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
        kind, code, default = _OPENAI_ERRORS.get(status, ("server_error", None, "Error."))
        body = {"error": {"message": message or default, "type": kind, "param": None, "code": code}}
        return Response.of_json(status, body, _retry_after(retry_after))

    def handle(self, request: RecordedRequest) -> Response:
        """Check the bearer key, then route."""
        authorization = request.headers.get("authorization")
        if authorization is None:
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if authorization != f"Bearer {self.api_key}":
            sent = authorization.removeprefix("Bearer ")
            return self.error(401, f"Incorrect API key provided: {sent[:3]}***{sent[-4:]}.")
        routes: Mapping[tuple[str, str], Callable[[RecordedRequest], Response]] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/audio/transcriptions"): self._transcription,
            ("POST", "/v1/audio/speech"): self._speech,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            return self.error(404, f"Invalid URL ({request.method} {request.path})")
        return route(request)

    def _invalid(self, message: str, param: str | None = None) -> Response:
        """OpenAI's 400 for a request that breaks the documented schema."""
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        }
        return Response.of_json(400, body)

    def _model_error(self, model: object) -> Response | None:
        """A 400 for a missing model, a 404 for an unknown one, else None."""
        if not isinstance(model, str) or not model:
            return self._invalid("you must provide a model parameter", "model")
        if self.models is not None and model not in self.models:
            body = {
                "error": {
                    "message": f"The model `{model}` does not exist or you do not have access "
                    "to it.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            }
            return Response.of_json(404, body)
        return None

    def _json_body(self, request: RecordedRequest) -> dict[str, Any] | Response:
        """The request's JSON object, or OpenAI's 400 if it is not one."""
        try:
            payload = request.json()
        except ValueError:
            return self._invalid("We could not parse the JSON body of your request.")
        if not isinstance(payload, dict):
            return self._invalid("The request body must be a JSON object.")
        return payload

    def _chat(self, request: RecordedRequest) -> Response:
        """``POST /v1/chat/completions`` (non-streaming)."""
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        model = payload.get("model")
        problem = self._model_error(model)
        if problem is not None:
            return problem
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._invalid("'messages' must be a non-empty array", "messages")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in _OPENAI_ROLES:
                return self._invalid("each message needs a valid 'role'", "messages")
            if not isinstance(message.get("content"), str | list):
                return self._invalid("each message needs 'content'", "messages")
        user_text = next((str(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
        reply = self.chat_replies.get(user_text, marked_upper(user_text))
        prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
        completion_tokens = len(reply.split())
        if payload.get("stream"):
            options = payload.get("stream_options") or {}
            usage = (prompt_tokens, completion_tokens) if options.get("include_usage") else None
            return self._chat_stream(str(model), reply, usage)
        body = {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }
        return Response.of_json(200, body, {"x-request-id": f"req_fake{next(self._ids)}"})

    def _chat_stream(self, model: str, reply: str, usage: tuple[int, int] | None) -> Response:
        """The streamed chat completion: one ``chat.completion.chunk`` per word, then ``[DONE]``.

        The first chunk carries the role, each next one a ``delta.content``,
        the last one the ``finish_reason``; with ``include_usage``, a chunk
        with no choices and the ``usage`` follows (every other has
        ``usage: null``), as OpenAI documents.
        """
        base = {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, str], finish: str | None = None, *, text: bool = False) -> Sse:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            extra = {"usage": None} if usage is not None else {}
            return Sse.of_json({**base, "choices": [choice], **extra}, text=text)

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": word}, text=True) for word in words(reply)]
        events.append(chunk({}, "stop"))
        if usage is not None:
            prompt, completion = usage
            totals = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            events.append(Sse.of_json({**base, "choices": [], "usage": totals}))
        events.append(Sse("[DONE]"))
        error = {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        return Response.streamed(events, Sse.of_json({"error": error}))

    def _transcription(self, request: RecordedRequest) -> Response:
        """``POST /v1/audio/transcriptions``: multipart ``file`` and ``model``."""
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return self._invalid("expected multipart/form-data")
        form = _multipart(content_type, request.body)
        upload = form.get("file")
        if upload is None or upload.get_filename() is None:
            return self._invalid("you must provide a file", "file")
        model = _part_text(form.get("model"))
        problem = self._model_error(model)
        if problem is not None:
            return problem
        response_format = _part_text(form.get("response_format")) or "json"
        if response_format not in _OPENAI_TRANSCRIPTION_FORMATS:
            return self._invalid(f"the fake does not do {response_format!r}", "response_format")
        audio = upload.get_payload(decode=True)
        assert isinstance(audio, bytes)
        text = self.transcribe(audio, str(upload.get_filename()))
        if response_format == "text":
            return Response(200, text.encode(), "text/plain; charset=utf-8")
        if response_format == "verbose_json":
            language = _part_text(form.get("language")) or "english"
            return Response.of_json(
                200, {"task": "transcribe", "language": language, "text": text, "segments": []}
            )
        return Response.of_json(200, {"text": text})

    def _speech(self, request: RecordedRequest) -> Response:
        """``POST /v1/audio/speech``: JSON ``model``, ``input``, ``voice``, ``response_format``."""
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        problem = self._model_error(payload.get("model"))
        if problem is not None:
            return problem
        text = payload.get("input")
        if not isinstance(text, str) or not text or len(text) > 4096:
            return self._invalid("'input' must be 1 to 4096 characters", "input")
        voice = payload.get("voice")
        if isinstance(voice, dict):
            voice = voice.get("id")
        if not isinstance(voice, str) or not voice:
            return self._invalid("you must provide a voice", "voice")
        response_format = payload.get("response_format", "mp3")
        if response_format not in _OPENAI_SPEECH_FORMATS:
            return self._invalid(f"the fake cannot encode {response_format!r}", "response_format")
        pcm = self.synthesize(text, voice)
        if response_format == "wav":
            return Response(200, pcm_to_wav(pcm, OPENAI_PCM_RATE), "audio/wav")
        return Response(200, pcm, "audio/pcm")


def _multipart(content_type: str, body: bytes) -> dict[str, Message]:
    """Parse a ``multipart/form-data`` body into its parts, by field name."""
    message = BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    parts: dict[str, Message] = {}
    for part in message.get_payload() if message.is_multipart() else []:
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part
    return parts


def _part_text(part: Message | None) -> str | None:
    """The text of a form field, if present."""
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


# --------------------------------------------------------------------------- Anthropic

#: Anthropic's error types by HTTP status, as its errors page documents them.
_ANTHROPIC_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


class FakeAnthropic(FakeVendorServer):
    """Anthropic's Messages API, streamed as server-sent events.

    The normal answer is ``replies[last user message]`` if present, else
    :func:`marked_upper` of it, one ``text_delta`` per word; tokens are
    counted in words. Requests must carry the key (``x-api-key``, or
    ``Authorization: Bearer`` as the SDK sends it) and
    ``anthropic-version``, and follow the documented body: ``model``,
    ``max_tokens`` ≥ 1, ``messages`` alternating from ``user`` (string or
    block content), an optional ``system``. The fake only streams.

    Args:
        api_key: the only key accepted.

    """

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.replies: dict[str, str] = {}
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What clients use as base URL, as they would ``https://api.anthropic.com``."""
        return self.origin

    def error(self, status: int, message: str | None, retry_after: int | None = None) -> Response:
        """Anthropic's error body: ``{"type": "error", "error": {"type", "message"}, ...}``."""
        kind, default = _ANTHROPIC_ERRORS.get(status, ("api_error", "Error."))
        body = {
            "type": "error",
            "error": {"type": kind, "message": message or default},
            "request_id": f"req_fake{next(self._ids)}",
        }
        return Response.of_json(status, body, _retry_after(retry_after))

    def handle(self, request: RecordedRequest) -> Response:
        """Check the key and ``anthropic-version``, then answer ``POST /v1/messages``."""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key not in {request.headers.get("x-api-key"), bearer}:
            return self.error(401, None)
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        if (request.method, request.path) != ("POST", "/v1/messages"):
            return self.error(404, f"Not found: {request.method} {request.path}")
        try:
            payload = request.json()
        except ValueError:
            return self.error(400, "There was an issue with the request body: not JSON")
        problem = self._problem(payload)
        if problem is not None:
            return self.error(400, problem)
        messages = payload["messages"]
        last = messages[-1]["content"]
        question = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
        reply = self.replies.get(question, marked_upper(question))
        system = payload.get("system") or ""
        tokens_in = len(str(system).split()) + sum(len(str(m["content"]).split()) for m in messages)
        return self._stream_reply(str(payload["model"]), reply, tokens_in)

    @staticmethod
    def _problem(payload: object) -> str | None:
        """What breaks the documented request body, if anything."""
        if not isinstance(payload, dict):
            return "the body must be an object"
        if not isinstance(payload.get("model"), str) or not payload["model"]:
            return "model: Field required"
        max_tokens = payload.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return "max_tokens: Field required (an integer >= 1)"
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for index, message in enumerate(messages):
            expected = "user" if index % 2 == 0 else "assistant"
            if not isinstance(message, dict) or message.get("role") != expected:
                return f"messages.{index}.role: roles must alternate, starting with user"
            if not isinstance(message.get("content"), str | list):
                return f"messages.{index}.content: Field required"
        if messages[-1]["role"] != "user":
            return "the last message must be the user's (the fake does not prefill)"
        if "system" in payload and not isinstance(payload["system"], str | list):
            return "system: Input should be a valid string or list"
        if payload.get("stream") is not True:
            return "the fake only streams"
        return None

    def _stream_reply(self, model: str, reply: str, tokens_in: int) -> Response:
        """The documented event sequence of a streamed message with one text block."""
        message: dict[str, Any] = {
            "id": f"msg_fake{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": 1},
        }
        pieces = words(reply)
        events = [
            Sse.of_json({"type": "message_start", "message": message}, "message_start"),
            Sse.of_json(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            ),
            Sse.of_json({"type": "ping"}, "ping"),
            *(
                Sse.of_json(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                    text=True,
                )
                for piece in pieces
            ),
            Sse.of_json({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            Sse.of_json(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(pieces)},
                },
                "message_delta",
            ),
            Sse.of_json({"type": "message_stop"}, "message_stop"),
        ]
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return Response.streamed(events, Sse.of_json(error, "error"))


# --------------------------------------------------------------------------- Google

_GOOGLE_STATUS: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_GOOGLE_MESSAGES: Mapping[int, str] = {
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    429: "Quota exceeded for quota metric 'v2 and v3 general model characters'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
_GOOGLE_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_GOOGLE_ENCODINGS = frozenset(
    {
        "ENCODING_UNSPECIFIED",
        "LINEAR16",
        "FLAC",
        "MULAW",
        "AMR",
        "AMR_WB",
        "OGG_OPUS",
        "SPEEX_WITH_HEADER_BYTE",
        "WEBM_OPUS",
        "MP3",
    }
)


def _google_html_escape(text: str) -> str:
    """Escape the way Translation v2 does for ``format: html`` (its default)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _default_recognition(audio: bytes, _config: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The default recognizer: one alternative for any non-empty audio, nothing for none."""
    return [(f"fake transcript of {len(audio)} bytes", 0.9)] if audio else []


class FakeGoogle(FakeVendorServer):
    """Google Cloud Translation v2 and Speech-to-Text v1, with API-key authentication.

    Normal answers:

    * translation: ``translation_replies[(q, target)]`` if present, else
      :func:`marked_upper` of ``q``; HTML-escaped unless ``format`` is
      ``text``, as Google does;
    * recognition: ``recognize(audio bytes, config)`` gives the alternatives
      (transcript, confidence); none gives Google's empty ``{}``.

    Args:
        api_key: the only key accepted (query ``key`` or ``X-Goog-Api-Key``).

    """

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.translation_replies: dict[tuple[str, str], str] = {}
        self.recognize: Callable[[bytes, Mapping[str, Any]], list[tuple[str, float]]] = (
            _default_recognition
        )

    @property
    def base_url(self) -> str:
        """What clients use instead of Google's ``https://<service>.googleapis.com``."""
        return self.origin

    def error(self, status: int, message: str | None, retry_after: int | None = None) -> Response:
        """Google's error body: ``{"error": {"code", "message", "errors", "status"}}``."""
        text = message or _GOOGLE_MESSAGES.get(status, "Error.")
        body = {
            "error": {
                "code": status,
                "message": text,
                "errors": [{"message": text, "domain": "global", "reason": "backendError"}],
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
        return Response.of_json(status, body, _retry_after(retry_after))

    def _invalid_key(self) -> Response:
        """Google's answer to a wrong API key: a 400 with reason ``API_KEY_INVALID``."""
        response = self.error(400, "API key not valid. Please pass a valid API key.")
        body = json.loads(response.body)
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "translate.googleapis.com"},
            }
        ]
        return Response.of_json(400, body)

    def handle(self, request: RecordedRequest) -> Response:
        """Check the API key (query ``key`` or ``X-Goog-Api-Key``), then route."""
        keys = [
            *request.query.get("key", []),
            *filter(None, [request.headers.get("x-goog-api-key")]),
        ]
        if not keys:
            return self.error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if any(key != self.api_key for key in keys):
            return self._invalid_key()
        if request.method != "POST":
            return self.error(404, f"Method not found: {request.method} {request.path}")
        if request.path == "/language/translate/v2":
            return self._translate(request)
        if request.path == "/v1/speech:recognize":
            return self._recognize(request)
        return self.error(404, f"Method not found: {request.path}")

    def _json_body(self, request: RecordedRequest) -> dict[str, Any] | Response:
        """The request's JSON object, or Google's 400 if it is not one."""
        try:
            payload = request.json()
        except ValueError:
            return self.error(400, "Invalid JSON payload received.")
        if not isinstance(payload, dict):
            return self.error(400, "Invalid JSON payload received. Expected an object.")
        return payload

    def _translate(self, request: RecordedRequest) -> Response:
        """``POST /language/translate/v2``, JSON ``q``, ``target``, ``source``, ``format``."""
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        texts = payload.get("q")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self.error(400, "Required Text")
        target = payload.get("target")
        if not isinstance(target, str):
            return self.error(400, "Missing required field target.")
        source = payload.get("source")
        for language in (target, source):
            if language is not None and (
                not isinstance(language, str) or not _GOOGLE_LANGUAGE.match(language)
            ):
                return self.error(400, "Invalid Value")
        text_format = payload.get("format", "html")
        if text_format not in {"html", "text"}:
            return self.error(400, "Invalid Value")
        translations = []
        for text in texts:
            translated = self.translation_replies.get((text, target), marked_upper(text))
            if text_format == "html":
                translated = _google_html_escape(translated)
            entry = {"translatedText": translated}
            if source is None:
                entry["detectedSourceLanguage"] = "en"
            translations.append(entry)
        return Response.of_json(200, {"data": {"translations": translations}})

    def _recognize(self, request: RecordedRequest) -> Response:
        """``POST /v1/speech:recognize``: ``config`` and base64 ``audio.content``."""
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        config = payload.get("config")
        audio = payload.get("audio")
        if not isinstance(config, dict) or not isinstance(audio, dict):
            return self.error(400, "RecognitionConfig and RecognitionAudio are required.")
        language = config.get("languageCode")
        if not isinstance(language, str) or not _GOOGLE_LANGUAGE.match(language):
            return self.error(400, "Invalid recognition 'config': bad language code.")
        encoding = config.get("encoding", "ENCODING_UNSPECIFIED")
        if encoding not in _GOOGLE_ENCODINGS:
            return self.error(400, f"Invalid value at 'config.encoding', {encoding!r}")
        rate = config.get("sampleRateHertz")
        if rate is not None and (not isinstance(rate, int) or not 8000 <= rate <= 48000):
            return self.error(400, "sample_rate_hertz must be between 8000 and 48000.")
        if encoding == "LINEAR16" and rate is None:
            return self.error(400, "Must specify sample_rate_hertz for LINEAR16.")
        content = audio.get("content")
        if not isinstance(content, str):
            return self.error(400, "RecognitionAudio not set (the fake has no 'uri' support).")
        try:
            pcm = base64.b64decode(content, validate=True)
        except binascii.Error:
            return self.error(
                400, "Invalid value at 'audio.content' (TYPE_BYTES), Base64 decoding failed"
            )
        alternatives = self.recognize(pcm, config)
        seconds = len(pcm) / 2 / rate if encoding == "LINEAR16" and rate else 0.0
        body: dict[str, Any] = {"totalBilledTime": f"{math.ceil(seconds)}s"}
        if alternatives:
            body["results"] = [
                {
                    "alternatives": [
                        {"transcript": transcript, "confidence": confidence}
                        for transcript, confidence in alternatives
                    ],
                    "resultEndTime": f"{seconds:.3f}s",
                    "languageCode": language.lower(),
                }
            ]
        return Response.of_json(200, body)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused), for outage tests."""
    return f"http://127.0.0.1:{free_port()}/v1"
