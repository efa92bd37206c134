"""A ``serve`` or ``agent`` that cannot start says why in one line, exits, and shows no secret.

Each test starts the real ``runtime.py`` the way a user would, with one
thing wrong, and checks what the user sees: a non-zero exit within seconds,
exactly one line on standard error (no traceback) naming the cause and the
fix, nothing on standard output (no secret, no "listening" line). The last
tests fill and free a real disk under a running server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from events.writer import RefusalLog
from tests.support.disks import fill, remount, tmpfs
from tests.support.service import ROOT, Client, ServedInstance, free_port, stop_process

__all__ = ["tmpfs"]  # the fixture, imported to be found by pytest

PATIENCE_S = 30
"""A failed start exits well within this (most in about a second)."""


def base_env(**extra: str) -> dict[str, str]:
    """The environment without LiveKit or voicemode settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "VOICEMODE_"))}
    return {**env, "VOICEMODE_SPEECH": "off", **extra}


def strong() -> str:
    return secrets.token_hex(32)


def voicemode(
    *args: str, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``runtime.py`` to completion; fails the test if it is still running after PATIENCE_S."""
    return subprocess.run(
        [sys.executable, str(ROOT / "runtime.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )


def assert_refused(
    result: subprocess.CompletedProcess[str], code: int, *needles: str, program: str = "voicemode"
) -> str:
    """Exit ``code``, one line ``<program>: ...`` holding every needle, nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"{program}: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    assert result.stdout == "", f"nothing (no secret, no address) is printed: {result.stdout}"
    return line


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port another process (here: this one) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def serve_args(db: Path | str, port: int | None = None, *extra: str) -> list[str]:
    return ["serve", "--port", str(port or free_port()), "--db", str(db), *extra]


# --- ports -------------------------------------------------------------------------------


def test_a_taken_websocket_port_is_one_line_and_the_process_exits(tmp_path: Path) -> None:
    with taken_port() as port:
        started = time.monotonic()
        result = voicemode(
            *serve_args(tmp_path / "v.db", port, "--dev"),
            env=base_env(),
            cwd=tmp_path,
        )
    assert time.monotonic() - started < 10
    assert_refused(
        result,
        1,
        f"port {port} on 127.0.0.1 is already in use",
        "Stop it or pick another with --port.",
    )
    assert not list(tmp_path.glob("*.dev-secrets")), "no secret is kept for a server that never ran"


def test_a_taken_http_port_names_the_http_flag(tmp_path: Path) -> None:
    with taken_port() as port:
        result = voicemode(
            *serve_args(tmp_path / "v.db", None, "--http-port", str(port)),
            env=base_env(VOICEMODE_SECRET=strong()),
        )
    assert_refused(result, 1, f"port {port}", "--http-port")


def test_the_same_port_twice_is_a_configuration_error(tmp_path: Path) -> None:
    port = free_port()
    result = voicemode(
        *serve_args(tmp_path / "v.db", port, "--http-port", str(port)),
        env=base_env(VOICEMODE_SECRET=strong()),
    )
    assert_refused(result, 2, "--port and --http-port name the same port")


# --- the store ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "code", "needle"),
    [
        (lambda p: p.mkdir() or p, 2, "is a directory"),
        (lambda p: p / "missing" / "v.db", 2, "does not exist"),
        (lambda p: p.write_bytes(os.urandom(20_000)) and p, 1, "is not a voicemode store"),
        (lambda p: "postgresql://u@127.0.0.1:1/voicemode", 1, "cannot use the PostgreSQL store"),
        (lambda p: "postgresql://u@host/db?sslmode=x", 2, "parameters are not supported"),
    ],
    ids=["directory", "missing-directory", "corrupt-file", "postgres-unreachable", "bad-url"],
)
def test_an_unusable_store_is_refused_at_start(
    tmp_path: Path, make: object, code: int, needle: str
) -> None:
    db = make(tmp_path / "store")  # type: ignore[operator]
    result = voicemode(*serve_args(db), env=base_env(VOICEMODE_SECRET=strong()))
    assert_refused(result, code, needle, "--db")


def test_a_read_only_store_is_refused_at_start(tmpfs: Path) -> None:
    db = tmpfs / "v.db"
    served = ServedInstance(db=str(db))
    served.start()
    served.stop()
    served.log_path.unlink()  # type: ignore[union-attr]
    remount(tmpfs, "ro")
    result = voicemode(*serve_args(db), env=base_env(VOICEMODE_SECRET=strong()))
    assert_refused(result, 1, "read-only", "writable")


def test_a_recordings_directory_that_cannot_be_written_is_refused_at_start(
    tmp_path: Path,
) -> None:
    in_the_way = tmp_path / "recordings"
    in_the_way.write_text("a file where the directory should be")
    args = serve_args(tmp_path / "v.db", None, "--record", "--record-dir", str(in_the_way))
    result = voicemode(*args, env=base_env(VOICEMODE_SECRET=strong()))
    assert_refused(result, 1, "recordings directory", "--record-dir")
    assert not (tmp_path / "v.db").exists(), "nothing was started"


def test_a_full_recordings_disk_is_refused_at_start(tmp_path: Path, tmpfs: Path) -> None:
    fill(tmpfs)
    args = serve_args(tmp_path / "v.db", None, "--record", "--record-dir", str(tmpfs / "rec"))
    result = voicemode(*args, env=base_env(VOICEMODE_SECRET=strong()))
    assert_refused(result, 1, "recordings directory", "space", "--record-dir")


def test_a_second_dev_server_on_a_store_in_use_shows_no_secret(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    first = ServedInstance(db=str(db))
    first.start()
    try:
        result = voicemode(*serve_args(db, None, "--dev"), env=base_env(), cwd=tmp_path)
    finally:
        first.stop()
    assert_refused(result, 1, f"another voicemode serve is using {db}")
    assert not Path(f"{db}.dev-secrets").exists()


# --- engines and settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"VOICEMODE_TRANSLATION_ENGINES": "nosuch"}, ["VOICEMODE_TRANSLATION_ENGINES", "nosuch"]),
        ({"VOICEMODE_TRANSLATION_ENGINES": "google"}, ["VOICEMODE_GOOGLE_API_KEY"]),
        ({"VOICEMODE_TRANSLATION_ENGINES": " , "}, ["VOICEMODE_TRANSLATION_ENGINES names no"]),
        (
            {"VOICEMODE_SPEECH": "on", "VOICEMODE_STT_MODEL": "/nonexistent"},
            ["VOICEMODE_STT_ENGINES", "VOICEMODE_STT_MODEL=/nonexistent"],
        ),
        (
            {"VOICEMODE_SPEECH": "on", "VOICEMODE_TTS_ENGINES": "nosuch"},
            ["VOICEMODE_TTS_ENGINES", "nosuch"],
        ),
        ({"LIVEKIT_URL": "ws://127.0.0.1:7880"}, ["LiveKit is half configured"]),
    ],
    ids=["unknown-engine", "hosted-without-key", "no-engine", "stt-model", "tts", "livekit"],
)
def test_a_bad_engine_or_setting_names_its_variable(
    tmp_path: Path, env: dict[str, str], needles: list[str]
) -> None:
    result = voicemode(
        *serve_args(tmp_path / "v.db", None, "--dev"), env=base_env(**env), cwd=tmp_path
    )
    assert_refused(result, 2, *needles)
    assert not list(tmp_path.glob("*.dev-secrets"))


# --- --dev secrets -----------------------------------------------------------------------


def start_dev(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"dev-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "runtime.py"),
                *serve_args(tmp_path / "d.db", port, "--dev"),
            ],
            env=base_env(),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "WebSocket control plane" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return process, log


def test_dev_secrets_are_kept_beside_the_store_and_reused(tmp_path: Path) -> None:
    port = free_port()
    process, log = start_dev(tmp_path, port)
    stop_process(process)
    first = log.read_text()
    generated = re.search(r"generated VOICEMODE_SECRET=(\S+)", first)
    assert generated, first
    kept = tmp_path / "d.db.dev-secrets"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert f"VOICEMODE_SECRET={generated.group(1)}" in kept.read_text()
    assert first.index("VOICEMODE_SECRET=") < first.index("ws://"), "shown with the address"

    process, log = start_dev(tmp_path, port)
    try:
        again = log.read_text()
        assert "generated" not in again, "the second start reuses the secret"
        assert f"VOICEMODE_SECRET from {kept}" in again

        async def user_token_still_works() -> None:
            from adapters.shells.auth import issue_token  # noqa: PLC0415

            token = issue_token(generated.group(1), "alice", "Alice", "en", 60)
            alice = await Client.connect(f"ws://127.0.0.1:{port}/ws", token)
            assert (await alice.request("join-room", {"roomCode": "r"}))["event"] == "joined-room"
            await alice.close()

        asyncio.run(user_token_still_works())
    finally:
        stop_process(process)


# --- the agent ---------------------------------------------------------------------------


def agent_env(**extra: str) -> dict[str, str]:
    return base_env(
        LIVEKIT_URL="ws://127.0.0.1:7880",
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET=strong(),
        VOICEMODE_AGENT_SECRET=strong(),
        **extra,
    )


def test_agent_with_a_taken_health_port_exits_with_one_line() -> None:
    with taken_port() as port:
        result = voicemode("agent", "--health-port", str(port), env=agent_env())
    assert_refused(result, 1, f"port {port}", "--health-port", program="voicemode agent")


def test_agent_with_a_bad_control_url_exits_with_one_line() -> None:
    result = voicemode("agent", "--control", "http://x", env=agent_env())
    assert_refused(result, 2, "--control must be a ws://", program="voicemode agent")


@pytest.mark.parametrize("seconds", ["0", "-3", "soon"])
def test_agent_refuses_a_voice_sleep_that_is_not_a_positive_duration(seconds: str) -> None:
    result = voicemode("agent", "--voice-sleep", seconds, env=agent_env())
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"voicemode agent: error: argument --voice-sleep: {seconds!r} is not a number of "
        "seconds above 0"
    )


def test_agent_whose_model_does_not_load_exits_with_one_line() -> None:
    result = voicemode("agent", env=agent_env(VOICEMODE_STT_MODEL="/nonexistent"))
    assert_refused(result, 2, "VOICEMODE_STT_MODEL=/nonexistent", program="voicemode agent")


@pytest.mark.slow
def test_agent_with_a_secret_serve_refuses_exits_with_one_line(tmp_path: Path) -> None:
    served = ServedInstance(db=str(tmp_path / "v.db"))
    served.start()
    try:
        result = voicemode("agent", "--control", served.agent_url, env=agent_env())
    finally:
        served.stop()
    assert_refused(
        result,
        2,
        "refused this agent",
        "HTTP 401",
        "VOICEMODE_AGENT_SECRET",
        program="voicemode agent",
    )


# --- a store that refuses writes while serving -------------------------------------------


def test_refusals_are_one_line_per_condition(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    refusals = RefusalLog(interval_s=60, clock=lambda: now[0])
    full = OperationalError("database or disk is full")
    with caplog.at_level(logging.WARNING, logger="events.writer"):
        for _ in range(100):
            refusals.refused(full)
        now[0] = 61
        refusals.refused(full)
        refusals.refused(full)
        refusals.accepted()
        refusals.accepted()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "the event store refuses writes: database or disk is full; "
        "clients get store_error until disk space is freed",
        "the event store still refuses writes: database or disk is full "
        "(100 refused in the last 61 s)",
        "the event store takes writes again (102 refused: database or disk is full)",
    ]


@pytest.mark.slow
def test_a_full_disk_is_one_log_line_and_loses_nothing_acked(tmpfs: Path) -> None:
    served = ServedInstance(db=str(tmpfs / "v.db"))
    served.start()
    try:

        async def scenario() -> None:
            alice = await Client.connect(served.url, served.token("alice"))
            joined = await alice.request("join-room", {"roomCode": "full"})
            assert joined["event"] == "joined-room", joined
            acked = await alice.request("set-language", {"language": "fr"})
            assert acked["event"] == "ack", acked

            filler = fill(tmpfs)
            for language in ["es", "de", "it", "es", "de"]:
                refused = await alice.request("set-language", {"language": language})
                assert refused["event"] == "error", refused
                assert refused["data"]["code"] == "store_error", refused

            filler.unlink()
            recovered = await alice.request("set-language", {"language": "de"})
            assert recovered["event"] == "ack", recovered
            assert recovered["data"]["position"] == acked["data"]["position"] + 1

            bob = await Client.connect(served.url, served.token("bob"))
            assert (await bob.request("join-room", {"roomCode": "full"}))["event"] == "joined-room"
            await alice.close()
            await bob.close()

        asyncio.run(scenario())
        history = served.replay("full")
    finally:
        served.stop()
    log = served.output()
    assert "Traceback" not in log, log
    assert log.count("the event store refuses writes: database or disk is full") == 1, log
    assert log.count("takes writes again") == 1, log
    assert history.count("LanguageChanged") == 2, history
