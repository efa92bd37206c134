"""``serve``'s Prometheus metrics: gauges, counters and stage histograms of the running service.

:class:`ServeMetrics` is the :class:`~actors.telemetry.Telemetry` the service
reports commits, deliveries and recognition waits to, and owns the registry
``GET /metrics`` renders. Counts and presence come from the event log
(:class:`~actors.projections.operations.OperationsProjection`), read at scrape
time by :class:`ServeCollector`; durations carried by events are observed as
the projection reads them, the rest as the core reports them.

Every metric is named ``voicemode_*`` with its unit, and its labels are
bounded (engines, channels, languages, codes, reasons, stages): never a room
code, a user id or free text. The README's "Metrics" section lists them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, TypeVar

from eventsourcing.domain import DomainEvent
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actors.projections.fanout import PROJECTION_NAME as FANOUT
from actors.projections.operations import OperationsProjection, OperationsTally, end_of_speech_of
from actors.projections.room_follower import FOLLOWER_KEY_PREFIX
from actors.telemetry import DELIVERY, STAGES, STORE_COMMIT
from adapters.shells.exposition import LATENCY_BUCKETS

if TYPE_CHECKING:
    from actors.service import VoiceService

LabelValues = TypeVar("LabelValues", bound=tuple[str, ...])
BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Up to the writer's largest batch (``MAX_BATCH_EVENTS``)."""


class ServeMetrics:
    """The metrics of one ``serve`` process, and the telemetry its core reports to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._stages = Histogram(
            "voicemode_stage_duration_seconds",
            "Time taken by one stage of an utterance's way to its listeners, by stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        for stage in STAGES:
            self._stages.labels(stage)
        self._end_to_end = Histogram(
            "voicemode_end_of_speech_to_delivery_seconds",
            "From the end of an utterance to its transcript or translation queued for a listener",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._batches = Histogram(
            "voicemode_store_commit_batch_events",
            "Events committed together in one group-commit transaction",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._projection: OperationsProjection | None = None

    def follow(self, service: VoiceService) -> None:
        """Start reading the log and expose the service's figures (blocking: off the loop)."""
        self._projection = OperationsProjection(service.store, self)
        self._projection.start()
        self.registry.register(ServeCollector(self._projection.tally, service))

    def stop(self) -> None:
        """Stop reading the log."""
        if self._projection is not None:
            self._projection.stop()

    def stage(self, stage: str, seconds: float) -> None:
        """Observe one stage's duration."""
        self._stages.labels(stage).observe(max(seconds, 0.0))

    def committed(self, seconds: float, events: int) -> None:
        """Observe one group commit."""
        self._stages.labels(STORE_COMMIT).observe(seconds)
        self._batches.observe(events)

    def delivered(self, event: DomainEvent) -> None:
        """Observe an event's way to one listener's connection, and its utterance's if speech."""
        now = datetime.now(UTC)
        self._stages.labels(DELIVERY).observe(max((now - event.timestamp).total_seconds(), 0.0))
        if self._projection is None:
            return
        ended = end_of_speech_of(event, self._projection.tally)
        if ended is not None:
            self._end_to_end.observe(max((now - ended).total_seconds(), 0.0))


class ServeCollector(Collector):
    """Reads the tally, the delivery router and the store's positions when scraped."""

    def __init__(self, tally: OperationsTally, service: VoiceService) -> None:
        self.tally = tally
        self.service = service

    def collect(self) -> Iterator[Metric]:
        """The gauges and counters of this moment."""
        heads = self.tally.headcount()
        yield _gauge(
            "voicemode_rooms_open", "Rooms with at least one member present", heads.rooms_open
        )
        members = GaugeMetricFamily(
            "voicemode_members", "Room members, present or away (disconnected)", labels=["state"]
        )
        members.add_metric(["present"], heads.present)
        members.add_metric(["away"], heads.away)
        yield members
        yield _gauge(
            "voicemode_voice_sessions", "Members in a LiveKit voice session", heads.voice_sessions
        )
        yield _gauge(
            "voicemode_agents_attached",
            "LiveKit agents attached to a room",
            self.service.router.count(FOLLOWER_KEY_PREFIX),
        )
        yield from self._counters()
        yield self._lag()

    def _counters(self) -> Iterator[Metric]:
        counts = self.tally.snapshot()
        yield _counter(
            "voicemode_transcripts", "Final transcripts of people's utterances", counts.transcripts
        )
        yield _counter(
            "voicemode_client_errors",
            "Errors clients reported about themselves",
            counts.client_errors,
        )
        yield _labelled(
            "voicemode_translations",
            "Translations recorded",
            ["engine", "source", "target"],
            counts.translations,
        )
        yield _labelled(
            "voicemode_syntheses",
            "Speech syntheses recorded",
            ["engine", "channel"],
            counts.syntheses,
        )
        yield _labelled(
            "voicemode_fallbacks",
            "Engines that failed and were replaced by the next",
            ["engine", "code"],
            counts.fallbacks,
        )
        yield _labelled(
            "voicemode_errors",
            "Translations and syntheses no engine could do, by error code",
            ["code"],
            {(code,): count for code, count in counts.errors.items()},
        )
        yield _labelled(
            "voicemode_dropped_clients",
            "Members whose connection ended without leaving, by reason",
            ["reason"],
            {(reason,): count for reason, count in counts.dropped.items()},
        )

    def _lag(self) -> Metric:
        store = self.service.store
        newest = store.position()
        lag = GaugeMetricFamily(
            "voicemode_projection_lag_positions",
            "Log positions between the newest event and the last one a projection handled",
            labels=["projection"],
        )
        positions = {
            "delivery": self.service.router.position,
            "translation_fanout": store.tracked(FANOUT),
            "operations": self.tally.position,
        }
        for name, position in positions.items():
            lag.add_metric([name], max(newest - position, 0))
        return lag


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(
    name: str, documentation: str, labels: list[str], values: Mapping[LabelValues, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
