"""The web client's server side, on a real ``voicemode serve``: the page, its config, dev tokens,
a room's history for its members.

The page is a fixture build (``VOICEMODE_WEB_DIR``), so these tests need no Node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support.service import Client, ServedInstance

INDEX = b'<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js"></script>'
SCRIPT = b"console.log('voicemode');\n"
SECRET_TEXT = b"not for the web"
LONG_CACHE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built page, beside a file that must never be served and links that point at it."""
    root = tmp_path_factory.mktemp("web")
    (root / "secret.txt").write_bytes(SECRET_TEXT)
    built = root / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_bytes(INDEX)
    (built / "assets" / "app-1a2b3c.js").write_bytes(SCRIPT)
    (built / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (built / "assets" / "leak.txt").symlink_to(root / "secret.txt")
    (built / "leak.txt").symlink_to(root / "secret.txt")
    return built


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[ServedInstance]:
    """``serve --dev`` with the built page."""
    served = ServedInstance(
        db=str(tmp_path_factory.mktemp("dev") / "voicemode.db"),
        env={
            "VOICEMODE_WEB_DIR": str(dist),
            "VOICEMODE_TRANSLATION_TIMEOUT_S": "30",
            "VOICEMODE_ASSISTANT": "off",
        },
        args=("--dev",),
    )
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    """``serve`` without ``--dev`` whose page was never built."""
    folder = tmp_path_factory.mktemp("plain")
    served = ServedInstance(
        db=str(folder / "voicemode.db"), env={"VOICEMODE_WEB_DIR": str(folder / "web" / "dist")}
    )
    served.start()
    yield served
    served.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str:
        code: str = self.json()["error"]["code"]
        return code


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def fetch(
    served: ServedInstance,
    path: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            f"http://127.0.0.1:{served.http_port}{path}",
            data=None if body is None else orjson.dumps(body),
            headers=sent,
        ) as response,
    ):
        return Answer(response.status, dict(response.headers), await response.read())


async def raw_get(served: ServedInstance, target: str) -> Answer:
    """A GET whose request target goes out byte for byte, unnormalised by any client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.http_port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return Answer(status, {}, body)


def test_the_page_answers_every_client_route_and_is_revalidated(dev: ServedInstance) -> None:
    async def scenario() -> None:
        for path in ("/", "/index.html", "/room/r1", "/timeline/r1", "/room/r1/extra?x=1"):
            answer = await fetch(dev, path)
            assert answer.status == 200, path
            assert answer.body == INDEX, path
            assert answer.headers["Content-Type"].startswith("text/html"), path
            assert answer.headers["Cache-Control"] == "no-cache", path
            assert "Access-Control-Allow-Origin" not in answer.headers
        again = await fetch(dev, "/", headers={"If-None-Match": answer.headers["Etag"]})
        assert again.status == 304

    run(scenario())


def test_assets_are_cached_for_a_year_and_a_missing_one_is_not_the_page(
    dev: ServedInstance,
) -> None:
    async def scenario() -> None:
        asset = await fetch(dev, "/assets/app-1a2b3c.js")
        assert (asset.status, asset.body) == (200, SCRIPT)
        assert "javascript" in asset.headers["Content-Type"]
        assert asset.headers["Cache-Control"] == LONG_CACHE
        icon = await fetch(dev, "/favicon.svg")
        assert icon.status == 200
        assert icon.headers["Content-Type"] == "image/svg+xml"
        assert icon.headers["Cache-Control"] == "no-cache"
        missing = await fetch(dev, "/assets/app-000000.js")
        assert (missing.status, missing.code) == (404, "not_found")

    run(scenario())


def test_api_paths_are_never_the_page(dev: ServedInstance) -> None:
    async def scenario() -> None:
        for method, path in (
            ("GET", "/api/nothing"),
            ("GET", "/api"),
            ("POST", "/api/voice/livekit/nothing"),
        ):
            answer = await fetch(dev, path, method, body={} if method == "POST" else None)
            assert (answer.status, answer.code) == (404, "not_found"), path
        health = await fetch(dev, "/healthz")
        assert health.json()["status"] == "ok"
        document = (await fetch(dev, "/openapi.json")).json()
        assert {
            "/api/config",
            "/api/dev/token",
            "/api/rooms/{code}/events",
            "/api/rooms/{code}/state",
        } <= set(document["paths"])

    run(scenario())


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/leak.txt",
        "/assets/leak.txt",
        "/assets/%00",
    ],
)
def test_nothing_outside_the_build_is_served(dev: ServedInstance, target: str) -> None:
    answer = run(raw_get(dev, target))
    assert SECRET_TEXT not in answer.body
    assert b"root:" not in answer.body
    assert answer.status in {200, 400, 404}, answer
    if answer.status == 200:
        assert answer.body == INDEX, "a client route at most"


def test_an_unbuilt_page_says_how_to_build_it(plain: ServedInstance) -> None:
    async def scenario() -> None:
        for path in ("/", "/room/r1", "/timeline/r1"):
            answer = await fetch(plain, path)
            assert answer.status == 503, path
            assert answer.headers["Content-Type"].startswith("text/html")
            text = answer.body.decode()
            assert "was not built" in text
            assert "make setup" in text
            assert "npm ci &amp;&amp; npm run build" in text
            assert "<script" not in text
        asset = await fetch(plain, "/assets/app-1a2b3c.js")
        assert (asset.status, asset.code) == (404, "not_found")
        assert (await fetch(plain, "/healthz")).status == 200

    run(scenario())


def test_config_gives_the_websocket_on_the_pages_host_and_what_may_be_chosen(
    dev: ServedInstance, plain: ServedInstance
) -> None:
    async def scenario() -> None:
        config = (await fetch(dev, "/api/config")).json()
        assert config["wsUrl"] == f"ws://127.0.0.1:{dev.port}/ws"
        assert config["dev"] is True
        assert (config["livekit"], config["speech"], config["assistant"]) == (False,) * 3
        languages = config["languages"]
        assert {"en", "es", "ca", "fr"} <= set(languages)
        assert languages == sorted(languages)
        assert config["engines"] == {
            "stt": [],
            "translation": ["apertium"],
            "tts": [],
            "voices": [],
            "llm": [],
        }
        elsewhere = await fetch(dev, "/api/config", headers={"Host": "voice.example:8766"})
        assert elsewhere.json()["wsUrl"] == f"ws://voice.example:{dev.port}/ws"
        other = (await fetch(plain, "/api/config")).json()
        assert other["dev"] is False
        assert other["assistant"] is True
        assert other["engines"]["llm"] == ["smollm2"]

    run(scenario())


def test_dev_tokens_are_minted_under_dev_only_and_work_on_the_websocket(
    dev: ServedInstance, plain: ServedInstance
) -> None:
    async def scenario() -> None:
        refused = await fetch(plain, "/api/dev/token", "POST", {"name": "Eve", "language": "en"})
        assert (refused.status, refused.code) == (403, "dev_only")

        minted = await fetch(
            dev, "/api/dev/token", "POST", {"name": " José Luis ", "language": "es-ES"}
        )
        assert minted.status == 201, minted
        body = minted.json()
        assert body["name"] == "José Luis"
        assert body["language"] == "es"
        assert body["userId"].startswith("jose-luis-")
        expires = datetime.fromisoformat(body["expiresAt"]).timestamp()
        assert abs(expires - (time.time() + 12 * 3600)) < 60
        twin = await fetch(dev, "/api/dev/token", "POST", {"name": "José Luis", "language": "es"})
        assert twin.json()["userId"] != body["userId"], "the same name, two people"
        unnamed = await fetch(dev, "/api/dev/token", "POST", {"name": "李", "language": "zh"})
        assert unnamed.json()["userId"].startswith("user-")

        client = await Client.connect(dev.url, body["token"])
        joined = await client.request("join-room", {"roomCode": "dev-room"})
        assert joined["event"] == "joined-room", joined
        assert (joined["data"]["userId"], joined["data"]["language"]) == (body["userId"], "es")
        await client.close()
        events = await fetch(dev, "/api/rooms/dev-room/events", token=body["token"])
        assert events.status == 200, events
        assert [e["type"] for e in events.json()["events"]][:2] == [
            "RoomOpened",
            "ParticipantJoined",
        ]

    run(scenario())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"language": "en"}, "missing_field"),
        ({"name": "", "language": "en"}, "invalid_field"),
        ({"name": "   ", "language": "en"}, "invalid_field"),
        ({"name": "x" * 65, "language": "en"}, "invalid_field"),
        ({"name": "bell\x07", "language": "en"}, "invalid_field"),
        ({"name": 7, "language": "en"}, "invalid_field"),
        ({"name": "Ann"}, "missing_field"),
        ({"name": "Ann", "language": "xx"}, "unknown_language"),
        ({"name": "Ann", "language": "en US"}, "unknown_language"),
        (["Ann", "en"], "invalid_body"),
    ],
)
def test_dev_token_requests_are_checked(dev: ServedInstance, body: Any, code: str) -> None:
    answer = run(fetch(dev, "/api/dev/token", "POST", body))
    assert (answer.status, answer.code) == (400, code)
    assert answer.json()["error"]["message"]


@dataclass
class Recorded:
    """A room recorded by the test on the dev instance, and where things happened."""

    room: str
    at: dict[str, int]


async def joined(served: ServedInstance, user: str, lang: str, room: str) -> Client:
    client = await Client.connect(served.url, served.token(user, lang=lang))
    reply = await client.request("join-room", {"roomCode": room})
    assert reply["event"] == "joined-room", reply
    return client


async def record_room(served: ServedInstance) -> Recorded:
    at: dict[str, int] = {}
    alice = await joined(served, "alice", "en", "web1")
    bob = await joined(served, "bob", "es", "web1")
    at["bob joined"] = (await bob.expect("joined-room"))["data"]["position"]
    carol = await joined(served, "carol", "fr", "web2")
    reply = await alice.request(
        "speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"}
    )
    assert reply["event"] == "ack", reply
    at["house"] = reply["data"]["position"]
    await bob.expect("translated-message", originalText="The house is big.")
    left = await bob.request("leave-room")
    assert left["event"] == "left-room", left
    for client in (alice, bob, carol):
        await client.close()
    await asyncio.sleep(0.3)
    return Recorded("web1", at)


@pytest.fixture(scope="module")
def recorded(dev: ServedInstance) -> Recorded:
    result: Recorded = run(record_room(dev))
    return result


def test_a_member_reads_the_rooms_events_as_replay_explains_them(
    dev: ServedInstance, recorded: Recorded
) -> None:
    answer = run(fetch(dev, "/api/rooms/web1/events", token=dev.token("alice")))
    assert answer.status == 200, answer
    page = answer.json()
    events = page["events"]
    replayed = [orjson.loads(line) for line in dev.replay("web1", "--json").splitlines()]
    assert [(e["position"], e["type"], e["who"], e["line"]) for e in events] == [
        (r["pos"], r["event"], r["who"], r["summary"]) for r in replayed
    ]
    assert events[0]["type"] == "RoomOpened"
    transcript = next(e for e in events if e["type"] == "TranscriptRecognized")
    assert transcript["position"] == recorded.at["house"]
    assert transcript["line"].startswith('"The house is big." [en -> es]')
    assert transcript["data"]["text"] == "The house is big."
    assert datetime.fromisoformat(transcript["time"]).year >= 2024
    translation = next(e for e in events if e["type"] == "TranslationProduced")
    assert translation["data"]["target_language"] == "es"
    assert page["last"] >= events[-1]["position"]
    assert all(e["data"]["room_id"] == events[0]["data"]["room_id"] for e in events)


def test_events_come_in_pages_after_a_position(dev: ServedInstance, recorded: Recorded) -> None:
    async def scenario() -> None:
        token = dev.token("bob", lang="es")  # bob left: he still sees what was said
        whole = (await fetch(dev, "/api/rooms/web1/events", token=token)).json()
        pages, after = [], 0
        while True:
            page = (
                await fetch(dev, f"/api/rooms/web1/events?after={after}&limit=2", token=token)
            ).json()
            assert len(page["events"]) <= 2
            if not page["events"]:
                break
            pages += page["events"]
            after = page["last"]
        assert pages == whole["events"]
        assert after == whole["last"]
        tail = await fetch(
            dev, f"/api/rooms/web1/events?after={recorded.at['bob joined']}", token=token
        )
        assert [e["position"] for e in tail.json()["events"]] == [
            e["position"] for e in whole["events"] if e["position"] > recorded.at["bob joined"]
        ]
        beyond = (await fetch(dev, f"/api/rooms/web1/events?after={10**12}", token=token)).json()
        assert beyond["events"] == []
        for query in ("limit=0", "limit=2001", "limit=x", "after=-1", f"after={10**20}"):
            bad = await fetch(dev, f"/api/rooms/web1/events?{query}", token=token)
            assert (bad.status, bad.code) == (400, "invalid_field"), query
        most = await fetch(dev, "/api/rooms/web1/events?limit=2000", token=token)
        assert most.status == 200

    run(scenario())


def test_only_members_read_a_room_and_an_unknown_room_is_404(
    dev: ServedInstance, recorded: Recorded
) -> None:
    async def scenario() -> None:
        for route in ("events", "state"):
            stranger = await fetch(dev, f"/api/rooms/web1/{route}", token=dev.token("carol"))
            assert (stranger.status, stranger.code) == (403, "not_a_member")
            unknown = await fetch(dev, f"/api/rooms/nowhere/{route}", token=dev.token("alice"))
            assert (unknown.status, unknown.code) == (404, "unknown_room")
            odd = await fetch(dev, f"/api/rooms/a%20b/{route}", token=dev.token("alice"))
            assert (odd.status, odd.code) == (404, "unknown_room")
            anonymous = await fetch(dev, f"/api/rooms/web1/{route}")
            assert (anonymous.status, anonymous.code) == (401, "missing_token")
            forged = await fetch(dev, f"/api/rooms/web1/{route}", token="x.y.z")
            assert (forged.status, forged.code) == (401, "invalid_token")

    run(scenario())


def test_the_state_at_a_position_is_what_replay_prints(
    dev: ServedInstance, recorded: Recorded
) -> None:
    async def scenario() -> None:
        token = dev.token("alice")
        position = recorded.at["bob joined"]
        state = (await fetch(dev, f"/api/rooms/web1/state?at={position}", token=token)).json()
        assert state["position"] == position
        assert state["lines"] == dev.replay("web1", "--state-at", str(position)).splitlines()
        assert state["lines"][0].startswith(f"room web1 at position {position}: 2 participant")
        now = (await fetch(dev, "/api/rooms/web1/state", token=token)).json()
        health = (await fetch(dev, "/healthz")).json()
        assert now["position"] == health["position"]
        assert (await fetch(dev, f"/api/rooms/web1/state?at={10**12}", token=token)).json()[
            "position"
        ] == health["position"]
        before = (await fetch(dev, "/api/rooms/web1/state?at=0", token=token)).json()
        assert before == {"position": 0, "lines": ["room web1 did not exist yet at position 0"]}
        bad = await fetch(dev, "/api/rooms/web1/state?at=soon", token=token)
        assert (bad.status, bad.code) == (400, "invalid_field")

    run(scenario())


def test_a_newcomer_learns_who_owns_the_room_and_that_it_does_not_record(
    dev: ServedInstance, plain: ServedInstance
) -> None:
    async def scenario() -> None:
        for served in (dev, plain):
            config = (await fetch(served, "/api/config")).json()
            assert config["record"] is False, "neither serve runs with --record"
        opener = await joined(dev, "olga", "en", "owned-room")
        guest = await joined(dev, "gus", "es", "owned-room")
        for client, user in ((opener, "olga"), (guest, "gus")):
            data = (await client.expect("joined-room"))["data"]
            assert (data["userId"], data["owner"], data["recording"]) == (user, "olga", False)
            await client.close()

    run(scenario())
