"""Room management and recording on the web page, in a real Chromium against a real serve.

``voicemode serve --dev --record`` serves the built page; people join from
their own pages (fresh browser contexts) as a person would. The room's
owner (whoever opened it) gets its controls, everyone else sees what was
done: the Recording badge, who removed whom, a closed room. Screenshots at
desktop and phone size go to ``tests/artifacts/``. Muting needs a LiveKit
voice session; the page's side of it is covered by the reducer's tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import aiohttp
import pytest
from playwright.async_api import Locator, Page, expect

from adapters.shells.auth import issue_token
from tests.support.browser import Chromium, Screenshots, chromium, screenshots
from tests.support.service import Client, ServedInstance
from tests.support.web_page import join, status
from tests.test_web_client import base_url, opened

__all__ = ["chromium", "screenshots"]  # fixtures, imported to be found by pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    """``serve --dev --record`` (no speech engines: this is about the room, not the voice)."""
    folder = tmp_path_factory.mktemp("web-rooms")
    instance = ServedInstance(
        db=str(folder / "voicemode.db"),
        args=("--dev", "--record", "--record-dir", str(folder / "recordings")),
    )
    instance.start()
    yield instance
    instance.stop()


def people(page: Page) -> Locator:
    return page.get_by_role("list", name="Participants")


def badge(page: Page) -> Locator:
    return page.get_by_role("status", name="This room is being recorded")


def test_config_and_joined_room_tell_the_page_who_owns_the_room_and_that_it_records(
    chromium: Chromium, served: ServedInstance
) -> None:
    async def scenario() -> None:
        owner = await Client.connect(served.url, served.token("rita"))
        answer = await owner.request("join-room", {"roomCode": "told-at-join"})
        assert (answer["data"]["owner"], answer["data"]["recording"]) == ("rita", False)
        assert (await owner.request("set-recording", {"enabled": True}))["event"] == "ack"
        late = await Client.connect(served.url, served.token("lars"))
        answer = await late.request("join-room", {"roomCode": "told-at-join"})
        assert (answer["data"]["owner"], answer["data"]["recording"]) == ("rita", True)
        for client in (owner, late):
            await client.close()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url(served)}/api/config") as config,
        ):
            assert (await config.json())["record"] is True

    chromium.run(scenario())


def test_the_owner_records_removes_and_closes_and_everyone_sees_it(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-managed"
    base = base_url(served)

    async def scenario() -> None:
        owner = await opened(chromium)
        guest = await opened(chromium)
        late = await opened(chromium, size="phone")
        await join(owner, base, room, "Olga", "en")
        await join(guest, base, room, "Gus", "es")
        await expect(people(owner)).to_contain_text("Gus")
        # Only the owner gets the controls.
        await expect(guest.get_by_role("button", name="Close room")).to_have_count(0)
        await expect(guest.get_by_role("button", name="Remove Olga")).to_have_count(0)
        await expect(owner.get_by_role("button", name="Remove Gus")).to_be_visible()
        await expect(owner.get_by_text("You own this room.")).to_be_visible()

        await owner.get_by_role("button", name="Start recording").click()
        await expect(badge(guest)).to_have_text("● Recording")
        await expect(owner.get_by_role("button", name="Stop recording")).to_be_visible()
        await expect(guest.get_by_role("list", name="Room activity")).to_contain_text(
            "Olga started recording"
        )
        await screenshots.both_sizes(owner, "owner-recording")
        await screenshots.both_sizes(guest, "guest-sees-recording")
        # Someone who joins now sees it at once (joined-room says so).
        await join(late, base, room, "Lea", "fr")
        await expect(badge(late)).to_be_visible()

        await owner.get_by_role("button", name="Remove Gus").click()
        await expect(guest.get_by_role("alert")).to_have_text(
            "You were removed from the room by Olga"
        )
        await expect(guest.get_by_text("You may join it again after")).to_be_visible()
        await expect(status(guest)).to_have_attribute("data-state", "out")
        await expect(people(owner)).not_to_contain_text("Gus")
        await expect(late.get_by_role("list", name="Room activity")).to_contain_text(
            "Gus was removed by Olga"
        )
        await screenshots.both_sizes(guest, "guest-removed")
        # No reconnect loop: still out a while later, and a reload is refused, not retried.
        await guest.wait_for_timeout(1500)
        await expect(status(guest)).to_have_attribute("data-state", "out")
        await guest.reload()
        await expect(guest.get_by_role("alert")).to_have_text("You were removed from this room")
        await expect(guest.get_by_text("removed_from_room")).to_be_visible()

        await owner.get_by_role("button", name="Stop recording").click()
        await expect(badge(late)).to_have_count(0)

        await owner.get_by_role("button", name="Close room").click()
        confirm = owner.get_by_role("group", name="Confirm closing the room")
        await expect(confirm).to_be_visible()
        await screenshots.take(owner, "owner-confirms-closing-desktop")
        await confirm.get_by_role("button", name="Yes, close the room").click()
        await expect(late.get_by_role("alert")).to_have_text("The room was closed by Olga")
        await expect(owner.get_by_role("alert")).to_have_text("The room was closed by you")
        for page in (owner, late):
            await expect(status(page)).to_have_attribute("data-state", "out")
        await screenshots.both_sizes(late, "closed-room")
        await late.reload()
        await expect(late.get_by_role("alert")).to_have_text("This room was closed")
        for page in (owner, guest, late):
            await page.context.close()

    chromium.run(scenario())
    kinds = served.replay(room, "--json").splitlines()
    recorded = [json.loads(line)["event"] for line in kinds]
    for kind in ("RecordingStarted", "ParticipantRemoved", "RecordingStopped", "RoomClosed"):
        assert kind in recorded, (kind, recorded)


def test_an_operator_manages_a_room_they_do_not_own(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-operated"
    base = base_url(served)
    operator_token = issue_token(served.secret, "ops", "Ops", "en", 3600, role="admin")
    session = json.dumps({"token": operator_token, "name": "Ops", "language": "en"})

    async def scenario() -> None:
        member = await opened(chromium)
        await join(member, base, room, "Mia", "en")
        operator = await opened(chromium)
        await operator.add_init_script(
            f"sessionStorage.setItem('voicemode.session', {json.dumps(session)})"
        )
        await operator.goto(f"{base}/room/{room}")
        await expect(status(operator)).to_have_attribute("data-state", "connected")
        await expect(operator.get_by_text("You manage this room as an operator.")).to_be_visible()
        await screenshots.both_sizes(operator, "operator")
        await operator.get_by_role("button", name="Remove Mia").click()
        await expect(member.get_by_role("alert")).to_have_text(
            "You were removed from the room by Ops"
        )
        for page in (member, operator):
            await page.context.close()

    chromium.run(scenario())
