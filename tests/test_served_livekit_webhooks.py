"""`voicemode serve` with LiveKit configured records the real server's webhooks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.service import ServedInstance

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def served_with_livekit(tmp_path: Path, livekit_server: LiveKitServer) -> Iterator[ServedInstance]:
    instance = ServedInstance(
        db=str(tmp_path / "livekit.db"),
        http_port=livekit_server.webhook_port,
        env={
            "LIVEKIT_URL": livekit_server.url,
            "LIVEKIT_API_KEY": livekit_server.api_key,
            "LIVEKIT_API_SECRET": livekit_server.api_secret,
        },
    )
    instance.start()
    yield instance
    instance.stop()


def test_room_created_through_the_api_shows_its_webhooks_in_the_log(
    served_with_livekit: ServedInstance,
) -> None:
    served = served_with_livekit
    request = urllib.request.Request(
        f"http://127.0.0.1:{served.http_port}/api/voice/livekit/rooms",
        data=json.dumps({"userId": "alice", "config": {}}).encode(),
        headers={
            "Authorization": f"Bearer {served.token('alice')}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        room_name = json.loads(response.read())["roomName"]
    deadline = time.monotonic() + 15
    timeline = ""
    while time.monotonic() < deadline and "room_started" not in timeline:
        time.sleep(0.3)
        timeline = served.replay(room_name)
    assert "LiveKitWebhookReceived" in timeline
    assert f"livekit room_started in {room_name}" in timeline

    forged = urllib.request.Request(
        f"http://127.0.0.1:{served.http_port}/api/voice/livekit/webhook",
        data=b'{"event": "room_started", "room": {"name": "x"}}',
        headers={"Authorization": "forged", "Content-Type": "application/webhook+json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)
    assert refused.value.code == 401
    assert "room_started in x" not in served.replay()
