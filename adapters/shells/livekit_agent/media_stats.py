"""A room's audio tracks' quality, read from the agent's WebRTC statistics.

``rtc.Room.get_rtc_stats()`` gives the standard WebRTC stats of the agent's
peer connections: people's microphones it receives (``inbound-rtp``, with
loss, jitter and audio level as the agent measured them) and its
``tts-<lang>`` tracks (``outbound-rtp``, and the listeners' side as LiveKit
reports it back in ``remote-inbound-rtp`` with loss, jitter and round-trip
time). Which connection carries which varies (LiveKit 1.13 may carry both
directions on one), so both lists are read as one. Reading them is pure, so it is tested without a
network; :class:`~adapters.shells.livekit_agent.media_watch.MediaWatch` polls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from livekit.rtc._proto import stats_pb2

from actors.agent_messages import INBOUND, OUTBOUND, TrackQuality

AUDIO: Final = "audio"


def _of_kind(stats: Iterable[stats_pb2.RtcStats], kind: str) -> list[stats_pb2.RtcStats]:
    return [stat for stat in stats if stat.WhichOneof("stats") == kind]


def round_trip(stats: Iterable[stats_pb2.RtcStats]) -> float | None:
    """The current round trip of the connection's nominated candidate pair, if measured."""
    for stat in _of_kind(stats, "candidate_pair"):
        pair = stat.candidate_pair.candidate_pair
        if pair.nominated and pair.current_round_trip_time > 0:
            return float(pair.current_round_trip_time)
    return None


def inbound_track(
    stats: Iterable[stats_pb2.RtcStats], participant_id: str, track_sid: str, rtt_s: float | None
) -> TrackQuality | None:
    """A person's audio track as the agent receives it, from that track's own stats.

    The room's statistics carry no receivers here (LiveKit 1.13 with the
    Rust SDK), so each subscribed track is asked for its own; ``rtt_s`` is
    the agent's connection's round trip (see :func:`round_trip`).
    """
    for stat in _of_kind(stats, "inbound_rtp"):
        rtp = stat.inbound_rtp
        if rtp.stream.kind != AUDIO:
            continue
        return TrackQuality(
            participant_id=participant_id,
            track_sid=track_sid,
            direction=INBOUND,
            packets=max(rtp.received.packets_received, 0),
            packets_lost=max(rtp.received.packets_lost, 0),
            bytes=max(rtp.inbound.bytes_received, 0),
            jitter_s=max(rtp.received.jitter, 0.0),
            rtt_s=rtt_s,
            audio_level=min(max(rtp.inbound.audio_level, 0.0), 1.0),
        )
    return None


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
    fallback_rtt = round_trip(stats)
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
