"""``GET /api/rooms/{code}/media-metrics``: a room's LiveKit media, in seed 000's shape.

The shape is seed 000's ``LiveKitMetrics`` (``roomMetrics {participantCount,
trackCount, dataRate}``, ``qualityMetrics {packetLoss, jitter, rtt}``,
``audioMetrics {level, qualityScore}``), from the newest report of the room's
agent, plus ``measuredAt``, ``agentCpu`` and the per-participant detail the
summary is made of. Units: ``dataRate`` bits/s, ``packetLoss`` a fraction
(0-1), ``jitter`` and ``rtt`` milliseconds, ``level`` 0-1, ``qualityScore``
a mean opinion score (1-5) estimated from loss, jitter and round trip with
the ITU-T G.107 E-model's simplified form, ``agentCpu`` in cores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from statistics import fmean
from typing import Any

from aiohttp import web

from actors.agent_messages import TrackQuality
from actors.media_quality import MediaReading
from adapters.shells.http_api import LiveKitHttpApi, json_response
from adapters.shells.http_web import answered, room_code

MEDIA_METRICS_PATH = "/api/rooms/{code}/media-metrics"


def quality_score(packet_loss: float, jitter_ms: float, rtt_ms: float) -> float:
    """A mean opinion score (1-5) for speech with this loss, jitter and round trip.

    The E-model's rating R = 93.2 - delay impairment - loss impairment, with
    the one-way delay taken as half the round trip plus twice the jitter (a
    jitter buffer's cost), then the standard R to MOS mapping.
    """
    delay = rtt_ms / 2 + 2 * jitter_ms + 10
    delay_impairment = 0.024 * delay + (0.11 * (delay - 177.3) if delay > 177.3 else 0.0)
    loss_impairment = 95 * packet_loss / (packet_loss + 0.043) if packet_loss > 0 else 0.0
    rating = min(max(93.2 - delay_impairment - loss_impairment, 0.0), 100.0)
    return round(1 + 0.035 * rating + 7e-6 * rating * (rating - 60) * (100 - rating), 2)


def _quality(tracks: Sequence[TrackQuality]) -> dict[str, float]:
    packets = sum(track.packets + track.packets_lost for track in tracks)
    rtts = [track.rtt_s for track in tracks if track.rtt_s is not None]
    return {
        "packetLoss": sum(track.packets_lost for track in tracks) / packets if packets else 0.0,
        "jitter": fmean(track.jitter_s for track in tracks) * 1000 if tracks else 0.0,
        "rtt": fmean(rtts) * 1000 if rtts else 0.0,
    }


def _track_body(track: TrackQuality) -> dict[str, Any]:
    return {
        "trackSid": track.track_sid,
        "direction": track.direction,
        "packets": track.packets,
        "packetsLost": track.packets_lost,
        "bytes": track.bytes,
        **_quality([track]),
        "level": track.audio_level,
    }


def livekit_metrics_body(reading: MediaReading) -> dict[str, Any]:
    """The JSON answer for one reading (see the module's units)."""
    report = reading.report
    quality = _quality(report.tracks)
    levels = [track.audio_level for track in report.tracks if track.audio_level is not None]
    by_participant: dict[str, list[TrackQuality]] = defaultdict(list)
    for track in report.tracks:
        by_participant[track.participant_id].append(track)
    return {
        "roomCode": report.room_code,
        "measuredAt": datetime.fromtimestamp(reading.received_at, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "roomMetrics": {
            "participantCount": report.participant_count,
            "trackCount": report.track_count,
            "dataRate": round(report.data_rate_bps),
        },
        "qualityMetrics": quality,
        "audioMetrics": {
            "level": max(levels) if levels else 0.0,
            "qualityScore": quality_score(quality["packetLoss"], quality["jitter"], quality["rtt"]),
        },
        "agentCpu": report.cpu_share,
        "participants": [
            {"identity": identity, "tracks": [_track_body(track) for track in tracks]}
            for identity, tracks in sorted(by_participant.items())
        ],
    }


def add_media_metrics(app: web.Application, http: LiveKitHttpApi) -> None:
    """Serve a room's media metrics to whoever may see the room: members, its owner, operators."""

    async def media_metrics(request: web.Request) -> web.Response:
        user = http.authenticate(request)
        code = room_code(request)
        reading = answered(await http.core.media_quality(code, user))
        return json_response(livekit_metrics_body(reading))

    app.router.add_get(MEDIA_METRICS_PATH, media_metrics)
