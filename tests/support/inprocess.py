"""The service wired in this process, for tests that inject failures into it."""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field

from actors.service import ServiceSettings, VoiceService
from adapters.engines.translation.apertium import ApertiumTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.shells.auth import issue_token
from adapters.shells.gateway import Gateway, GatewaySettings
from events.store import EventStore
from tests.support.service import free_port


@dataclass
class InProcessService:
    """Store, actors and gateway on a private event loop thread."""

    db: str
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.service = VoiceService(
            EventStore.open(self.db),
            TranslationRegistry([ApertiumTranslator()], timeout_s=5),
            ServiceSettings(),
        )
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start() -> None:
            self.server = await Gateway(self.service, GatewaySettings(secret=self.secret)).serve(
                "127.0.0.1", self.port
            )
            ready.set()

        self.thread = threading.Thread(
            target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()),
            daemon=True,
        )
        self.thread.start()
        ready.wait(30)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(self, user: str, lang: str = "en") -> str:
        return issue_token(self.secret, user, user.capitalize(), lang, 3600)

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.service.close()
