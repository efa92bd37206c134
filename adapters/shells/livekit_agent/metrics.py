"""The agent worker's Prometheus metrics, served on its health port's ``/metrics``.

Media quality per track is observed into histograms labelled by direction
only (``inbound``: people's microphones the agent receives; ``outbound``: its
``tts-<lang>`` tracks), so the label set stays bounded however many rooms
and people there are; each room's detail, per participant, is the
``LiveKitMetrics`` JSON ``serve`` answers for the room. Each room's share of
the process's CPU is observed in a histogram too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from eventsourcing.domain import DomainEvent
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actors.agent_messages import INBOUND, OUTBOUND, MediaQuality
from actors.telemetry import VAD_WAIT
from adapters.shells.exposition import LATENCY_BUCKETS

DIRECTIONS = (INBOUND, OUTBOUND)
RATIO_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""Packet loss, audio level and CPU share (cores): small fractions matter."""


class AgentMetrics(Collector):
    """One worker process's metrics; also the telemetry its speech pipelines report to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._lock = threading.Lock()
        self._latest: dict[str, MediaQuality] = {}
        self._stages = Histogram(
            "voicemode_stage_duration_seconds",
            "Time taken by one stage of an utterance (in the agent: vad_wait)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._stages.labels(VAD_WAIT)

        def by_direction(name: str, documentation: str, buckets: tuple[float, ...]) -> Histogram:
            histogram = Histogram(
                name, documentation, ["direction"], buckets=buckets, registry=self.registry
            )
            for direction in DIRECTIONS:
                histogram.labels(direction)
            return histogram

        self._loss = by_direction(
            "voicemode_agent_track_packet_loss_ratio",
            "Lost packets of an audio track since it started, per measurement",
            RATIO_BUCKETS,
        )
        self._jitter = by_direction(
            "voicemode_agent_track_jitter_seconds",
            "Jitter of an audio track as its receiver measured it",
            LATENCY_BUCKETS,
        )
        self._rtt = by_direction(
            "voicemode_agent_track_round_trip_seconds",
            "Round trip of the connection carrying an audio track",
            LATENCY_BUCKETS,
        )
        self._level = by_direction(
            "voicemode_agent_track_audio_level",
            "Audio level (0-1) of an audio track",
            RATIO_BUCKETS,
        )
        self._cpu = Histogram(
            "voicemode_agent_room_cpu_cores",
            "A room's share of the agent process's CPU over one measurement interval, in cores",
            buckets=RATIO_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)

    def stage(self, stage: str, seconds: float) -> None:
        """Observe one stage's duration."""
        self._stages.labels(stage).observe(max(seconds, 0.0))

    def committed(self, seconds: float, events: int) -> None:
        """The agent commits nothing."""

    def delivered(self, event: DomainEvent) -> None:
        """The agent delivers no events."""

    def measured(self, report: MediaQuality) -> None:
        """Observe a room's measurement."""
        with self._lock:
            self._latest[report.room_code] = report
        self._cpu.observe(report.cpu_share)
        for track in report.tracks:
            total = track.packets + track.packets_lost
            self._loss.labels(track.direction).observe(track.packets_lost / total if total else 0)
            self._jitter.labels(track.direction).observe(track.jitter_s)
            if track.rtt_s is not None:
                self._rtt.labels(track.direction).observe(track.rtt_s)
            if track.audio_level is not None:
                self._level.labels(track.direction).observe(track.audio_level)

    def forget(self, room_code: str) -> None:
        """The room's job ended."""
        with self._lock:
            self._latest.pop(room_code, None)

    def collect(self) -> Iterator[Metric]:
        """Rooms measured and their tracks, from each room's latest measurement."""
        with self._lock:
            reports = list(self._latest.values())
        yield GaugeMetricFamily(
            "voicemode_agent_rooms", "Rooms this worker measures", value=len(reports)
        )
        tracks = GaugeMetricFamily(
            "voicemode_agent_tracks", "Audio tracks in this worker's rooms", labels=["direction"]
        )
        for direction in DIRECTIONS:
            count = sum(t.direction == direction for r in reports for t in r.tracks)
            tracks.add_metric([direction], count)
        yield tracks
        yield GaugeMetricFamily(
            "voicemode_agent_participants",
            "People in this worker's rooms, as LiveKit sees them",
            value=sum(report.participant_count for report in reports),
        )
