"""A room's audio tracks' quality, read from the agent's WebRTC statistics.

``rtc.Room.get_rtc_stats()`` gives the standard WebRTC stats of the agent's
two peer connections: the subscriber's (people's microphones it receives:
``inbound-rtp`` with loss, jitter and audio level as the agent measured them)
and the publisher's (its ``tts-<lang>`` tracks: ``outbound-rtp``, and the
listeners' side as LiveKit reports it back in ``remote-inbound-rtp`` with loss,
jitter and round-trip time). Reading them is pure, so it is tested without a
network; :class:`~adapters.shells.livekit_agent.media_watch.MediaWatch` polls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from livekit.rtc._proto import stats_pb2

from actors.agent_messages import INBOUND, OUTBOUND, TrackQuality

AUDIO: Final = "audio"


def _of_kind(stats: Iterable[stats_pb2.RtcStats], kind: str) -> list[stats_pb2.RtcStats]:
    return [stat for stat in stats if stat.WhichOneof("stats") == kind]


def _round_trip(stats: Iterable[stats_pb2.RtcStats]) -> float | None:
    """The current round trip of the connection's nominated candidate pair, if measured."""
    for stat in _of_kind(stats, "candidate_pair"):
        pair = stat.candidate_pair.candidate_pair
        if pair.nominated and pair.current_round_trip_time > 0:
            return float(pair.current_round_trip_time)
    return None


def inbound_tracks(
    stats: Iterable[stats_pb2.RtcStats], owners: Mapping[str, str]
) -> list[TrackQuality]:
    """The people's audio tracks the agent receives (``owners``: track sid → identity)."""
    stats = list(stats)
    rtt = _round_trip(stats)
    tracks = []
    for stat in _of_kind(stats, "inbound_rtp"):
        rtp = stat.inbound_rtp
        owner = owners.get(rtp.inbound.track_identifier)
        if rtp.stream.kind != AUDIO or owner is None:
            continue
        tracks.append(
            TrackQuality(
                participant_id=owner,
                track_sid=rtp.inbound.track_identifier,
                direction=INBOUND,
                packets=max(rtp.received.packets_received, 0),
                packets_lost=max(rtp.received.packets_lost, 0),
                bytes=max(rtp.inbound.bytes_received, 0),
                jitter_s=max(rtp.received.jitter, 0.0),
                rtt_s=rtt,
                audio_level=min(max(rtp.inbound.audio_level, 0.0), 1.0),
            )
        )
    return tracks


def outbound_tracks(stats: Iterable[stats_pb2.RtcStats], agent_id: str) -> list[TrackQuality]:
    """The agent's own audio tracks, with what their receivers reported back."""
    stats = list(stats)
    remote = {
        stat.remote_inbound_rtp.remote_inbound.local_id: stat.remote_inbound_rtp
        for stat in _of_kind(stats, "remote_inbound_rtp")
    }
    sources = {
        stat.media_source.rtc.id: stat.media_source for stat in _of_kind(stats, "media_source")
    }
    fallback_rtt = _round_trip(stats)
    tracks = []
    for stat in _of_kind(stats, "outbound_rtp"):
        rtp = stat.outbound_rtp
        if rtp.stream.kind != AUDIO:
            continue
        back = remote.get(rtp.rtc.id)
        source = sources.get(rtp.outbound.media_source_id)
        rtt = back.remote_inbound.round_trip_time if back is not None else 0.0
        tracks.append(
            TrackQuality(
                participant_id=agent_id,
                track_sid=source.source.track_identifier if source is not None else rtp.rtc.id,
                direction=OUTBOUND,
                packets=max(rtp.sent.packets_sent, 0),
                packets_lost=max(back.received.packets_lost, 0) if back is not None else 0,
                bytes=max(rtp.sent.bytes_sent, 0),
                jitter_s=max(back.received.jitter, 0.0) if back is not None else 0.0,
                rtt_s=float(rtt) if rtt > 0 else fallback_rtt,
                audio_level=(
                    min(max(source.audio.audio_level, 0.0), 1.0) if source is not None else None
                ),
            )
        )
    return tracks
