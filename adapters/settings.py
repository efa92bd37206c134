"""What ``serve`` and ``agent`` read from their flags and the environment, checked.

Every ``VOICEMODE_*`` and ``LIVEKIT_*`` variable a start reads is read here,
before anything expensive starts; one that cannot work is a
:class:`~adapters.startup.StartupError` naming it. ``serve --dev`` fills in
missing or weak secrets (:class:`DevSecrets`).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.shells.auth import (
    AGENT_SECRET,
    USER_SECRET,
    WeakSecretError,
    check_agent_secret,
    check_secret,
    generate_secret,
)
from adapters.startup import (
    EXIT_CONFIG,
    DevSecret,
    StartupError,
    announce_dev_secrets,
    dev_secret,
    dev_secrets_path,
)

REPOSITORY = Path(__file__).resolve().parent.parent
"""Where the web client is built (``make setup``), next to ``runtime.py``."""

if TYPE_CHECKING:
    from actors.assistant.conversation import AssistantSettings
    from adapters.shells.gateway import GatewaySettings
    from adapters.shells.livekit_api import LiveKitSettings


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``serve`` reads from its flags and the environment."""

    host: str
    port: int
    http_port: int | None
    db: str
    gateway: GatewaySettings
    translation_engines: tuple[str, ...]
    translation_timeout_s: float
    away_grace: timedelta
    speech: bool
    stt_engines: tuple[str, ...]
    tts_engines: tuple[str, ...]
    livekit: LiveKitSettings | None
    agent_secret: str | None
    """``VOICEMODE_AGENT_SECRET``, which agents' tokens are signed with (None: no agents)."""
    assistant: AssistantConfig | None = None
    """The assistant's engines and rules (None: ``VOICEMODE_ASSISTANT=off``)."""
    dev: bool = False
    """``--dev``: besides filling in secrets, the web client may mint its own tokens."""
    web_dir: Path = Path("web/dist")
    """The built web client (``VOICEMODE_WEB_DIR``, default ``<repository>/web/dist``)."""
    record: RecordConfig | None = None
    """``--record``: where rooms' audio is kept and for how long (None: rooms cannot record)."""


@dataclass(frozen=True)
class RecordConfig:
    """``serve --record``: the recordings directory and their retention (None: kept forever)."""

    directory: Path
    retention: timedelta | None


@dataclass(frozen=True)
class AssistantConfig:
    """The assistant's language models, in order of preference, and how it answers."""

    llm_engines: tuple[str, ...]
    llm_timeout_s: float
    settings: AssistantSettings


@dataclass(frozen=True)
class WorkerSettings:
    """What ``agent`` reads from its flags and the environment, besides its plain flags."""

    livekit: LiveKitSettings
    secret: str
    """``VOICEMODE_AGENT_SECRET``, the one ``serve`` has."""
    control: str
    """The ``ws://`` or ``wss://`` URL of serve's agent channel."""
    worker_id: str
    stt_engines: tuple[str, ...]
    tts_engines: tuple[str, ...]


def serve_settings(args: argparse.Namespace, dev: DevSecrets | None) -> ServeSettings:
    """Read and check ``serve``'s configuration: LiveKit, then the secrets, then the rest."""
    from adapters.shells.gateway import GatewaySettings  # noqa: PLC0415

    livekit = livekit_settings()
    return ServeSettings(
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        db=args.db,
        gateway=GatewaySettings(
            secret=resolve_secret(dev),
            outbox_frames=int(os.environ.get("VOICEMODE_OUTBOX_FRAMES", "2048")),
            frames_per_s=float(os.environ.get("VOICEMODE_RATE_FRAMES_PER_S", "50")),
            frame_burst=int(os.environ.get("VOICEMODE_RATE_BURST", "100")),
        ),
        translation_engines=engine_names("VOICEMODE_TRANSLATION_ENGINES", "apertium"),
        translation_timeout_s=float(os.environ.get("VOICEMODE_TRANSLATION_TIMEOUT_S", "3")),
        away_grace=timedelta(seconds=float(os.environ.get("VOICEMODE_AWAY_GRACE_S", "900"))),
        speech=os.environ.get("VOICEMODE_SPEECH", "on") != "off",
        stt_engines=engine_names("VOICEMODE_STT_ENGINES", "faster-whisper"),
        tts_engines=engine_names("VOICEMODE_TTS_ENGINES", "espeak-ng"),
        livekit=livekit,
        agent_secret=resolve_agent_secret(dev, livekit),
        assistant=assistant_config(),
        dev=dev is not None,
        web_dir=Path(os.environ.get("VOICEMODE_WEB_DIR") or REPOSITORY / "web" / "dist"),
        record=record_config(args),
    )


def default_record_dir(db: str) -> Path:
    """``recordings`` beside the SQLite file, or in the working directory for PostgreSQL."""
    if "://" in db:
        return Path("recordings")
    return Path(db).resolve().parent / "recordings"


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d`` (or plain seconds) as a duration over zero.

    Raises:
        ValueError: not such a duration.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration {text!r}; use e.g. 90s, 15m, 12h, 30d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * unit)


def record_config(args: argparse.Namespace) -> RecordConfig | None:
    """``--record``, ``--record-dir`` and ``--record-retention``, checked.

    Raises:
        StartupError: a retention that is not a duration.
    """
    if not getattr(args, "record", False):
        return None
    directory = Path(args.record_dir) if args.record_dir else default_record_dir(args.db)
    try:
        retention = parse_duration(args.record_retention) if args.record_retention else None
    except ValueError as error:
        raise StartupError(str(error), "Fix --record-retention.", EXIT_CONFIG) from error
    return RecordConfig(directory, retention)


def assistant_config() -> AssistantConfig | None:
    """The assistant, from ``VOICEMODE_ASSISTANT``, ``VOICEMODE_LLM_*``, ``VOICEMODE_ASSISTANT_*``.

    Raises:
        StartupError: a number that is not one, or out of range.
    """
    from actors.assistant.context import ContextBudget  # noqa: PLC0415
    from actors.assistant.conversation import AssistantSettings  # noqa: PLC0415

    if os.environ.get("VOICEMODE_ASSISTANT", "on") == "off":
        return None
    prompt = os.environ.get("VOICEMODE_ASSISTANT_SYSTEM_PROMPT")
    budget = ContextBudget(
        **({"system_prompt": prompt} if prompt else {}),
        max_turns=int(_number("VOICEMODE_ASSISTANT_MAX_TURNS", 12, 0)),
        max_tokens=int(_number("VOICEMODE_ASSISTANT_MAX_TOKENS", 2000, 1)),
    )
    settings = AssistantSettings(
        budget=budget,
        max_answer_tokens=int(_number("VOICEMODE_ASSISTANT_ANSWER_TOKENS", 300, 1)),
        workers=int(_number("VOICEMODE_ASSISTANT_WORKERS", 4, 1)),
        stream_speech=os.environ.get("VOICEMODE_ASSISTANT_STREAM_SPEECH", "on") != "off",
    )
    return AssistantConfig(
        llm_engines=engine_names("VOICEMODE_LLM_ENGINES", "smollm2"),
        llm_timeout_s=_number("VOICEMODE_LLM_TIMEOUT_S", 10, 0.1),
        settings=settings,
    )


def _number(variable: str, default: float, low: float) -> float:
    """A number from the environment, at least ``low``; a bad one stops the start."""
    raw = os.environ.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise StartupError(
            f"{variable} must be a number of at least {low:g}, not {raw!r}",
            f"Fix {variable} or unset it (default {default:g}).",
            EXIT_CONFIG,
        )
    return value


def worker_settings(args: argparse.Namespace) -> WorkerSettings:
    """Read and check ``agent``'s configuration: LiveKit, the agent secret, the control URL."""
    livekit = livekit_settings()
    if livekit is None:
        raise StartupError(
            "LiveKit is not configured (set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET)",
            "The agent serves LiveKit rooms: give it the values serve has.",
            EXIT_CONFIG,
        )
    try:
        secret = check_secret(os.environ.get(AGENT_SECRET), AGENT_SECRET)
    except WeakSecretError as error:
        raise StartupError(
            str(error), f"Use the {AGENT_SECRET} `voicemode serve` has.", EXIT_CONFIG
        ) from error
    if not re.match(r"^wss?://[^/\s]+", args.control):
        raise StartupError(
            f"--control must be a ws:// or wss:// URL, not {args.control!r}",
            "Point it (or VOICEMODE_AGENT_URL) at serve's /agent, e.g. ws://127.0.0.1:8765/agent.",
            EXIT_CONFIG,
        )
    return WorkerSettings(
        livekit=livekit,
        secret=secret,
        control=args.control,
        worker_id=args.worker_id or f"agent-{socket.gethostname()}-{os.getpid()}",
        stt_engines=engine_names("VOICEMODE_STT_ENGINES", "faster-whisper"),
        tts_engines=engine_names("VOICEMODE_TTS_ENGINES", "espeak-ng"),
    )


def livekit_settings() -> LiveKitSettings | None:
    """LiveKit from the environment, or None; a half or unsafe configuration stops serve."""
    from adapters.shells.livekit_api import LiveKitConfigError, LiveKitSettings  # noqa: PLC0415

    try:
        return LiveKitSettings.from_env()
    except LiveKitConfigError as error:
        raise StartupError(
            str(error), "Set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or none.", 2
        ) from error


def resolve_secret(dev: DevSecrets | None, variable: str = USER_SECRET) -> str:
    """A secret from the environment; in ``--dev`` mode, else a saved or generated one."""
    try:
        return check_secret(os.environ.get(variable), variable)
    except WeakSecretError as error:
        if dev is None:
            raise StartupError(
                str(error),
                f"Set a random {variable} "
                f"(e.g. `export {variable}=$(openssl rand -hex 32)`) or run with --dev",
                EXIT_CONFIG,
            ) from error
    return dev.resolve(variable)


class DevSecrets:
    """The secrets ``serve --dev`` chose, kept in a file beside the store across starts.

    Nothing is written or shown until :meth:`announce`, which ``serve`` calls
    once it listens: a server that did not start shows no secret.
    """

    def __init__(self, db: str) -> None:
        self.path: Path = dev_secrets_path(db)
        self.chosen: list[DevSecret] = []

    def resolve(self, variable: str) -> str:
        """The saved secret for ``variable``, or a fresh one; exported to this process."""
        secret = dev_secret(variable, self.path, generate_secret())
        self.chosen.append(secret)
        os.environ[variable] = secret.value
        return secret.value

    def announce(self) -> None:
        """Save fresh secrets (mode 0600) and show them."""
        announce_dev_secrets(self.path, self.chosen)


def resolve_agent_secret(dev: DevSecrets | None, livekit: LiveKitSettings | None) -> str | None:
    """The agents' secret: required with LiveKit (agents serve its rooms), else optional.

    It must differ from the users' secret, or a user token would be signed
    well enough to open the agent channel.
    """
    if livekit is None and dev is None and not os.environ.get(AGENT_SECRET):
        return None
    secret = resolve_secret(dev, AGENT_SECRET)
    try:
        return check_agent_secret(secret, os.environ.get(USER_SECRET, ""))
    except WeakSecretError as error:
        raise StartupError(
            str(error), f"Set {AGENT_SECRET} to another random value.", EXIT_CONFIG
        ) from error


def engine_names(variable: str, default: str) -> tuple[str, ...]:
    """A comma-separated list of engine names from the environment."""
    return tuple(
        name.strip() for name in os.environ.get(variable, default).split(",") if name.strip()
    )
