"""``voicemode token`` and the secret checks of ``voicemode serve``, as a user runs them."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.support.service import ROOT, Client, ServedInstance, free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedInstance]:
    """A served instance whose engine limit is generous enough for a loaded machine."""
    instance = ServedInstance(
        db=str(tmp_path / "voicemode.db"), env={"VOICEMODE_TRANSLATION_TIMEOUT_S": "30"}
    )
    instance.start()
    yield instance
    instance.stop()


def voicemode_command() -> list[str]:
    """The installed console script, or ``python runtime.py`` when it is missing."""
    script = Path(sys.executable).with_name("voicemode")
    if script.is_file():
        return [str(script)]
    return [sys.executable, str(ROOT / "runtime.py")]


def cli_env(secret: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "VOICEMODE_SECRET"}
    if secret is not None:
        env["VOICEMODE_SECRET"] = secret
    return env


def voicemode(*args: str, secret: str | None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*voicemode_command(), *args],
        env=cli_env(secret),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_from_the_cli_lets_a_user_into_a_served_room(served: ServedInstance) -> None:
    result = voicemode(
        "token",
        "--user",
        "alice",
        "--name",
        "Alice",
        "--lang",
        "es",
        "--ttl",
        "1h",
        secret=served.secret,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    token = result.stdout.strip()
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token), result.stdout

    claims = jwt.decode(token, served.secret, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["name"] == "Alice"
    assert claims["lang"] == "es"
    assert claims["kind"] == "user"
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60

    async def scenario() -> None:
        alice = await Client.connect(served.url, token)
        reply = await alice.request("join-room", {"roomCode": "r1"})
        assert reply["event"] == "joined-room", reply
        assert reply["data"]["userId"] == "alice"
        assert reply["data"]["language"] == "es", "the token's lang is the default language"

        bob = await Client.connect(served.url, served.token("bob", lang="en"))
        assert (await bob.request("join-room", {"roomCode": "r1"}))["event"] == "joined-room"
        await alice.expect("user-joined", userId="bob")
        await bob.send("speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"})
        heard = await alice.expect("translated-message")
        assert heard["data"]["targetLang"] == "es"
        assert "casa" in heard["data"]["translatedText"].lower()
        await alice.send("speech-transcript", {"transcript": "El perro.", "sourceLang": "es"})
        from_alice = await bob.expect("translated-message")
        assert from_alice["data"]["speakerName"] == "Alice", "the token's name is shown"
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_token_signed_with_another_secret_is_refused(served: ServedInstance) -> None:
    result = voicemode("token", "--user", "mallory", secret=secrets.token_hex(32))
    assert result.returncode == 0, result.stderr

    async def scenario() -> None:
        client = await Client.connect(served.url)
        await client.send("authenticate", {"token": result.stdout.strip()})
        error = await client.expect("error")
        assert error["data"]["code"] == "invalid_token"
        await client.wait_closed()

    asyncio.run(scenario())


def test_token_name_defaults_to_user_and_ttl_units_are_honoured() -> None:
    secret = secrets.token_hex(32)
    for ttl, seconds in [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800)]:
        result = voicemode("token", "--user", "dave", "--ttl", ttl, secret=secret)
        assert result.returncode == 0, result.stderr
        claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"])
        assert claims["exp"] - claims["iat"] == seconds, ttl
        assert claims["name"] == "dave"
        assert claims["lang"] == "en"
    bcp47 = voicemode("token", "--user", "eve", "--lang", "pt-BR", secret=secret)
    assert bcp47.returncode == 0, bcp47.stderr
    assert jwt.decode(bcp47.stdout.strip(), secret, algorithms=["HS256"])["lang"] == "pt"


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["--ttl", "9x"], "good", "invalid TTL '9x'"),
        (["--ttl", "0s"], "good", "TTL must be between"),
        (["--ttl", "8d"], "good", "TTL must be between"),
        (["--lang", "xx"], "good", "unknown language code 'xx'"),
        (["--lang", "english"], "good", "unknown language"),
        ([], None, "VOICEMODE_SECRET is not set"),
        ([], "", "VOICEMODE_SECRET is not set"),
        ([], "short-secret", "VOICEMODE_SECRET must be at least 32 bytes"),
        ([], "ab" * 32, "VOICEMODE_SECRET is too repetitive"),
    ],
    ids=[
        "bad-ttl",
        "zero-ttl",
        "ttl-over-7d",
        "unknown-lang",
        "lang-name",
        "missing-secret",
        "empty-secret",
        "short-secret",
        "repetitive-secret",
    ],
)
def test_token_refuses_bad_input_with_exit_2_and_a_message(
    args: list[str], secret: str | None, message: str
) -> None:
    if secret == "good":
        secret = secrets.token_hex(32)
    result = voicemode("token", "--user", "alice", *args, secret=secret)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", "no token is printed"
    assert result.stderr.startswith("voicemode token: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", [None, "too-short", "x" * 64], ids=["missing", "short", "same"])
def test_serve_refuses_to_start_without_a_strong_secret(tmp_path: Path, secret: str | None) -> None:
    port = free_port()
    result = voicemode(
        "serve", "--port", str(port), "--db", str(tmp_path / "v.db"), secret=secret, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "VOICEMODE_SECRET" in result.stderr
    assert "--dev" in result.stderr, "the message says how to get going"
    assert "Traceback" not in result.stderr
    assert "ws://" not in result.stdout, "it never claimed to listen"


def test_serve_dev_generates_a_secret_that_mints_working_tokens(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *voicemode_command(),
                "serve",
                "--dev",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "dev.db"),
            ],
            env=cli_env("weak"),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"ws://127.0.0.1:{port}/ws"
        deadline = time.monotonic() + 60
        while url not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        output = log_path.read_text()
        match = re.search(r"generated VOICEMODE_SECRET=(\S+)", output)
        assert match, output
        generated = match.group(1)
        assert generated != "weak"
        assert len(generated.encode()) >= 32
        assert output.index("VOICEMODE_SECRET=") < output.index(url)

        minted = voicemode("token", "--user", "alice", "--lang", "fr", secret=generated)
        assert minted.returncode == 0, minted.stderr

        async def scenario() -> None:
            alice = await Client.connect(url, minted.stdout.strip())
            reply = await alice.request("join-room", {"roomCode": "dev"})
            assert reply["event"] == "joined-room", reply
            assert reply["data"]["language"] == "fr"
            await alice.close()

        asyncio.run(scenario())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=20) == 0, "SIGTERM is a clean shutdown"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
