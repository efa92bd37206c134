"""The README's first client is ``examples/client.py``, and it runs as written."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

from tests.support.service import ROOT, Client, ServedInstance

EXAMPLE = ROOT / "examples" / "client.py"


def readme_example() -> str:
    """The Python block of the README's "A first client" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### A first client") :]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_readme_shows_the_example_file_verbatim() -> None:
    assert readme_example() == EXAMPLE.read_text()
    assert len(EXAMPLE.read_text().splitlines()) <= 30, "a first client stays short"


def voicemode(*args: str, env: dict[str, str]) -> str:
    """The installed command, as the README tells a first-time user to run it."""
    script = os.path.join(os.path.dirname(sys.executable), "voicemode")
    result = subprocess.run(
        [script, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    return result.stdout.strip()


def test_the_example_runs_against_a_real_serve(served: ServedInstance) -> None:
    env = {**os.environ, "VOICEMODE_SECRET": served.secret}
    token = voicemode("token", "--user", "alice", "--name", "Alice", env=env)

    async def scenario() -> tuple[list[str], str]:
        bob = await Client.connect(served.url, served.token("bob", lang="es"))
        assert (await bob.request("join-room", {"roomCode": "lobby"}))["event"] == "joined-room"
        run = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLE),
            "lobby",
            env={**env, "VOICEMODE_URL": served.url, "VOICEMODE_TOKEN": token},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(run.communicate(), 60)
        assert run.returncode == 0, err.decode()
        heard = await bob.expect("translated-message", originalText="The house is big.")
        await bob.close()
        return out.decode().splitlines(), heard["data"]["translatedText"]

    lines, heard = asyncio.run(scenario())
    events = [line.split()[0] for line in lines]
    assert events[0] == "joined-room"
    assert sorted(events[1:]) == ["ack", "recognized-speech"], "in either order"
    assert '"text": "The house is big."' in lines[events.index("recognized-speech")]
    assert heard == "La casa es grande."
