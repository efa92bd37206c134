"""Every few seconds, an agent measures its room's media and reports it.

The report goes to voicemode over the control plane (served as the room's
``LiveKitMetrics`` JSON) and into the worker's Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from livekit import rtc

from actors.agent_messages import INBOUND, ControlPlane, MediaQuality
from adapters.shells.livekit_agent.agent import SPEAKING_KINDS
from adapters.shells.livekit_agent.media_stats import inbound_track, outbound_tracks, round_trip
from adapters.shells.livekit_agent.metrics import AgentMetrics
from adapters.shells.livekit_agent.room_cpu import CpuLedger

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S: Final = 5.0


class MediaWatch:
    """Measures one room's media on the room's own loop (so its CPU clock is the job's)."""

    def __init__(
        self,
        room: rtc.Room,
        room_code: str,
        control: ControlPlane,
        metrics: AgentMetrics,
        ledger: CpuLedger,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.room = room
        self.room_code = room_code
        self.control = control
        self.metrics = metrics
        self.ledger = ledger
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._last = (time.monotonic(), 0, 0.0)
        """(when, bytes so far, CPU seconds so far) at the last measurement."""

    def start(self) -> None:
        """Start measuring (on the room's loop)."""
        self.ledger.open(self.room_code)
        self._task = asyncio.create_task(self._run(), name="agent-media-watch")

    async def aclose(self) -> None:
        """Stop measuring and forget the room."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.ledger.close(self.room_code)
        self.metrics.forget(self.room_code)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                report = await self.measure()
                await self.control.media_quality(report)
            except Exception as error:  # a room reconnecting, a channel closing
                log.debug("%s: media not measured: %s", self.room_code, error)

    async def measure(self) -> MediaQuality:
        """The room's media now, also observed in the worker's metrics."""
        stats = await self.room.get_rtc_stats()
        every = [*stats.publisher_stats, *stats.subscriber_stats]
        rtt = round_trip(every)
        people = [p for p in self.room.remote_participants.values() if p.kind in SPEAKING_KINDS]
        heard = [
            (person.identity, publication.sid, publication.track)
            for person in people
            for publication in person.track_publications.values()
            if publication.kind == rtc.TrackKind.KIND_AUDIO and publication.track is not None
        ]
        inbound = [
            inbound_track(await track.get_stats(), identity, sid, rtt)
            for identity, sid, track in heard
        ]
        tracks = (
            *(track for track in inbound if track is not None),
            *outbound_tracks(every, self.room.local_participant.identity),
        )
        self.ledger.heard(self.room_code, sum(t.packets for t in tracks if t.direction == INBOUND))
        now, sent = time.monotonic(), sum(track.bytes for track in tracks)
        cpu = self.ledger.cpu_seconds(self.room_code)
        then, sent_before, cpu_before = self._last
        self._last = (now, sent, cpu)
        elapsed = max(now - then, 1e-3)
        report = MediaQuality(
            room_code=self.room_code,
            participant_count=len(people),
            data_rate_bps=max(sent - sent_before, 0) * 8 / elapsed,
            cpu_share=max(cpu - cpu_before, 0.0) / elapsed,
            tracks=tracks,
        )
        self.metrics.measured(report)
        return report
