/**
 * The seed's `useLiveKitVoice` hook contract (isConnected, isRecording,
 * transcript, startRecording, stopRecording, sendCommand) over
 * livekit-client, for a voicemode voice session: connect with the URL and
 * token of `voice-session-ready`, publish the microphone, play the agent's
 * `tts-<language>` track (and only it), and speak the seed's data packets:
 * `{type: "command", text, timestamp}` out (reliable), `transcription`,
 * `assistant_response` and `error` in.
 *
 * livekit-client is loaded on the first voice session only (it is most of
 * the page's weight otherwise).
 */
import type { LocalAudioTrack, RemoteTrack, RemoteTrackPublication, Room } from "livekit-client";
import { useCallback, useEffect, useRef, useState } from "react";
import { ttsTrackName, type AgentPacket, type AssistantResponsePacket, type CommandPacket, type Lang } from "./protocol";
import { testHook } from "./testHook";

const STATS_INTERVAL_MS = 1000;

type LiveKit = typeof import("livekit-client");

export interface LiveKitVoice {
  isConnected: boolean;
  isRecording: boolean;
  /** The speaker's last final transcript (`transcription` packet). */
  transcript: string;
  startRecording(): Promise<void>;
  stopRecording(): Promise<void>;
  sendCommand(command: string): Promise<void>;
  /** The last answer the agent reported (`assistant_response`). */
  lastResponse: AssistantResponsePacket | null;
  /** The last refusal or failure (an `error` packet, or a connection failure). */
  error: string | null;
}

/** Subscribe to `tts-<language>` from the agent, and to nothing else it publishes. */
function followTts(room: Room, language: Lang): void {
  const wanted = ttsTrackName(language);
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.trackPublications.values()) {
      if (!publication.trackName.startsWith("tts-")) continue;
      const want = publication.trackName === wanted;
      if (publication.isSubscribed !== want) publication.setSubscribed(want);
    }
  }
}

/** Sum of inbound-rtp totalAudioEnergy over the tts tracks received (the test hook's figure). */
async function measureEnergy(lk: LiveKit, room: Room, totals: Map<string, number>): Promise<void> {
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.trackPublications.values()) {
      const track = publication.track;
      if (!(track instanceof lk.RemoteAudioTrack) || !publication.trackName.startsWith("tts-")) continue;
      const report = await track.getRTCStatsReport();
      report?.forEach((stat: { type?: string; kind?: string; totalAudioEnergy?: number }) => {
        if (stat.type === "inbound-rtp" && stat.kind === "audio" && typeof stat.totalAudioEnergy === "number") {
          totals.set(publication.trackSid, stat.totalAudioEnergy);
        }
      });
    }
  }
  let sum = 0;
  for (const value of totals.values()) sum += value;
  testHook.livekitAudioEnergy = sum;
}

export function useLiveKitVoice(roomUrl: string, token: string, language: Lang = "en"): LiveKitVoice {
  const [room, setRoom] = useState<Room | null>(null);
  const [isConnected, setIsConnected] = useState(false);
  const [isRecording, setIsRecording] = useState(false);
  const [transcript, setTranscript] = useState("");
  const [lastResponse, setLastResponse] = useState<AssistantResponsePacket | null>(null);
  const [error, setError] = useState<string | null>(null);
  const microphone = useRef<LocalAudioTrack | null>(null);
  const library = useRef<LiveKit | null>(null);
  const languageRef = useRef(language);
  languageRef.current = language;

  useEffect(() => {
    if (!roomUrl || !token) return;
    let live = true;
    let lkRoom: Room | null = null;
    let stats: number | undefined;
    const join = async () => {
      const lk = await import("livekit-client");
      if (!live) return;
      library.current = lk;
      const joining = new lk.Room({ adaptiveStream: false, dynacast: false });
      lkRoom = joining;
      const totals = new Map<string, number>();
      const follow = () => followTts(joining, languageRef.current);
      joining
        .on(lk.RoomEvent.Connected, () => setIsConnected(true))
        .on(lk.RoomEvent.Disconnected, () => {
          setIsConnected(false);
          setIsRecording(false);
        })
        .on(lk.RoomEvent.TrackPublished, follow)
        .on(lk.RoomEvent.ParticipantConnected, follow)
        .on(lk.RoomEvent.TrackSubscribed, (track: RemoteTrack, publication: RemoteTrackPublication) => {
          if (track.kind !== lk.Track.Kind.Audio || !publication.trackName.startsWith("tts-")) return;
          const element = track.attach();
          element.dataset.track = publication.trackName;
          element.hidden = true;
          document.body.append(element);
        })
        .on(lk.RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => {
          track.detach().forEach((element) => element.remove());
        })
        .on(lk.RoomEvent.DataReceived, (payload: Uint8Array) => {
          let packet: AgentPacket;
          try {
            packet = JSON.parse(new TextDecoder().decode(payload)) as AgentPacket;
          } catch {
            return; // not ours
          }
          if (packet.type === "transcription") setTranscript(packet.text);
          else if (packet.type === "assistant_response") setLastResponse(packet);
          else if (packet.type === "error") setError(`${packet.code}: ${packet.message}`);
        });
      stats = window.setInterval(
        () => void measureEnergy(lk, joining, totals).catch(() => undefined),
        STATS_INTERVAL_MS,
      );
      await joining.connect(roomUrl, token, { autoSubscribe: false });
      if (!live) return;
      follow();
      setRoom(joining);
    };
    join().catch((reason: unknown) => live && setError(`livekit: ${String(reason)}`));
    return () => {
      live = false;
      window.clearInterval(stats);
      microphone.current?.stop();
      microphone.current = null;
      setRoom(null);
      setIsConnected(false);
      setIsRecording(false);
      void lkRoom?.disconnect();
    };
  }, [roomUrl, token]);

  useEffect(() => {
    if (room) followTts(room, language);
  }, [room, language]);

  const startRecording = useCallback(async () => {
    const lk = library.current;
    if (!room || !lk || microphone.current) return;
    await room.startAudio();
    const track = await lk.createLocalAudioTrack({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });
    await room.localParticipant.publishTrack(track);
    microphone.current = track;
    setIsRecording(true);
  }, [room]);

  const stopRecording = useCallback(async () => {
    const track = microphone.current;
    if (!track) return;
    microphone.current = null;
    await room?.localParticipant.unpublishTrack(track);
    track.stop();
    setIsRecording(false);
  }, [room]);

  const sendCommand = useCallback(
    async (command: string) => {
      if (!room) return;
      const packet: CommandPacket = { type: "command", text: command, timestamp: Date.now() };
      await room.localParticipant.publishData(new TextEncoder().encode(JSON.stringify(packet)), { reliable: true });
    },
    [room],
  );

  return { isConnected, isRecording, transcript, startRecording, stopRecording, sendCommand, lastResponse, error };
}
