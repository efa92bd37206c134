/**
 * The voicemode wire protocol, as the page speaks it: every WebSocket frame
 * (client → server and server → client), the LiveKit data packets of the
 * seed's hook, and the HTTP API's shapes. The source of truth is the server
 * (adapters/shells/frames.py and protocol.py, the README's "WebSocket
 * protocol"); this module only names it, so the rest of the page is typed.
 */

/** A command's correlation id, echoed by its one answer. */
export type Ref = string | number;

/** ISO 639-1 language code ("en", "es", ...). */
export type Lang = string;

export type Encoding = "LINEAR16" | "WEBM_OPUS" | "OGG_OPUS";

// ---------------------------------------------------------------------------
// Client → server

export interface ClientFrames {
  authenticate: { token: string };
  "join-room": { roomCode: string; language?: Lang; since?: number };
  "leave-room": Record<string, never>;
  "set-language": { language: Lang };
  "start-speech": {
    languageCode: Lang;
    soloMode?: boolean;
    soloTargetLang?: Lang;
    assistant?: boolean;
    encoding?: Encoding;
    sampleRateHertz?: number;
  };
  "stop-speech": Record<string, never>;
  "speech-transcript": {
    transcript: string;
    sourceLang: Lang;
    soloMode?: boolean;
    soloTargetLang?: Lang;
  };
  "start-voice-session": {
    roomId?: string;
    languageCode?: Lang;
    soloMode?: boolean;
    soloTargetLang?: Lang;
    assistant?: boolean;
  };
  "stop-voice-session": Record<string, never>;
  "set-preferences": {
    speech?: boolean;
    voice?: string;
    ttsEngine?: string;
    sttEngine?: string;
    translationEngine?: string;
  };
  "client-error": { code: string; message: string; details?: unknown };
  "ask-assistant": { text: string };
  "assistant-command": { text: string };
  "set-assistant": { enabled: boolean };
  /** Room management, for the room's owner or an operator. */
  "close-room": { roomId?: string };
  "remove-participant": { userId: string; roomId?: string; barSeconds?: number };
  "mute-participant": { userId: string; muted: boolean; roomId?: string };
  /** Start or stop recording the room's audio (its owner or an operator; serve --record). */
  "set-recording": { enabled: boolean };
  resume: { since: number };
}

export type ClientEvent = keyof ClientFrames;

export interface ClientFrame<E extends ClientEvent = ClientEvent> {
  event: E;
  data: ClientFrames[E];
  ref?: Ref;
}

// ---------------------------------------------------------------------------
// Server → client

export interface TranslationData {
  id: string;
  originalText: string;
  translatedText: string;
  sourceLang: Lang;
  targetLang: Lang;
  speakerName: string;
  errorCode?: string;
  answerId?: string;
}

export interface ServerFrames {
  authenticated: { userId: string };
  /**
   * `owner`: who may manage the room besides operators (null: a room opened
   * before rooms had owners); `recording`: the room's audio is recorded now.
   * Both absent from servers older than issue 14.
   */
  "joined-room": {
    roomId: string;
    userId: string;
    language: Lang;
    position: number;
    owner?: string | null;
    recording?: boolean;
  };
  "left-room": { roomId: string };
  /** `language` is not sent by servers of this version; read when present. */
  "user-joined": { userId: string; name: string; language?: Lang };
  /** `by` when `reason` is `removed`: who removed them. */
  "user-left": { userId: string; reason: string; by?: string };
  /** The room was closed by `by`; this client is out of it. */
  "room-closed": { roomId: string; by: string };
  /** This client was removed by `by` and may not rejoin before `until` (RFC 3339). */
  removed: { roomId: string; by: string; until: string | null };
  "track-muted": { roomId: string; userId: string; trackSid: string; muted: boolean; by: string };
  "participant-muted": {
    roomId: string;
    userId: string;
    trackSids: string[];
    muted: boolean;
    position: number;
  };
  "voice-session-ready": {
    roomId: string;
    liveKitToken: string;
    liveKitUrl: string;
    expiresAt: string;
    language: Lang;
    position: number;
  };
  "voice-session-ended": { roomId: string; position: number };
  /** Whether the room's LiveKit agent hears its voice sessions (not stored). */
  "agent-listening": { roomId: string; listening: boolean };
  /** The room's audio is (no longer) recorded; reason when it stops: stopped or store_failed. */
  recording: { roomId: string; recording: boolean; by: string; reason?: string };
  "user-started-voice": { userId: string; language: Lang };
  "user-stopped-voice": { userId: string; reason: string };
  "partial-speech": { id: string; text: string; sourceLang: Lang; speakerName: string };
  "recognized-speech": { id: string; text: string; sourceLang: Lang; speakerName: string };
  "translated-message": TranslationData & { fromUserId: string; toUserId: string };
  "solo-translated": TranslationData;
  "synthesized-speech": {
    id: string;
    language: Lang;
    sampleRate: number;
    encoding: "LINEAR16";
    voice: string | null;
    engine: string;
  };
  "synthesized-speech-end": { id: string; language: Lang; durationMs: number; errorCode?: string };
  "assistant-text": { answerId: string; userId: string; text: string; language: Lang };
  "assistant-interrupted": { answerId: string; at: number };
  "assistant-response": {
    answerId: string;
    userId: string;
    question: string;
    answer: string;
    delivered: string;
    language: Lang;
    engine: string;
    model: string;
    firstTokenMs: number;
    totalMs: number;
    interruptedAt: number | null;
    errorCode?: string;
  };
  "command-recognized": {
    userId: string;
    intent: string;
    entities: Record<string, string>;
    confidence: number;
    source: "typed" | "data" | "spoken";
    text: string;
  };
  "context-cleared": { userId: string; source: string };
  ack: { event: string; position: number };
  error: { code: string; message: string };
}

export type ServerEvent = keyof ServerFrames;

/** One server text frame; `pos` on frames from stored events, `ref` on answers. */
export type ServerFrame = {
  [E in ServerEvent]: { event: E; data: ServerFrames[E]; pos?: number; ref?: Ref };
}[ServerEvent];

/** The server frame named `E`. */
export type FrameOf<E extends ServerEvent> = Extract<ServerFrame, { event: E }>;

/** Parse a text frame; anything that is not an `{event, data}` object is null. */
export function parseServerFrame(text: string): ServerFrame | null {
  try {
    const value: unknown = JSON.parse(text);
    if (
      typeof value === "object" &&
      value !== null &&
      typeof (value as { event?: unknown }).event === "string"
    ) {
      const frame = value as ServerFrame;
      return { ...frame, data: frame.data ?? {} } as ServerFrame;
    }
  } catch {
    // not JSON: ignored like any frame the page does not understand
  }
  return null;
}

/** Close code of a failed authentication (the reason starts with the error code). */
export const CLOSE_AUTH_FAILED = 4401;

// ---------------------------------------------------------------------------
// LiveKit data packets (the seed's `useLiveKitVoice` protocol, reliable, JSON)

export interface CommandPacket {
  type: "command";
  text: string;
  timestamp: number;
}

export interface TranscriptionPacket {
  type: "transcription";
  text: string;
  language: Lang;
  participantIdentity: string;
  final: boolean;
  timestamp: number;
}

export interface AssistantResponsePacket {
  type: "assistant_response";
  transcript: string;
  response: string;
  timestamp: number;
  language: Lang;
  interrupted: boolean;
  participantIdentity: string;
  errorCode?: string;
}

export interface ErrorPacket {
  type: "error";
  code: string;
  message: string;
  timestamp: number;
}

export type AgentPacket = TranscriptionPacket | AssistantResponsePacket | ErrorPacket;

/** The name of the agent's track carrying speech in `language`. */
export function ttsTrackName(language: Lang): string {
  return `tts-${language}`;
}

// ---------------------------------------------------------------------------
// HTTP API (served on the HTTP port, same origin as the page)

export interface Voice {
  id: string;
  language: Lang;
  name: string;
}

export interface ServerConfig {
  wsUrl: string;
  dev: boolean;
  livekit: boolean;
  /** `serve --record`: rooms may record their audio (owners and operators turn it on). */
  record: boolean;
  speech: boolean;
  assistant: boolean;
  languages: Lang[];
  engines: {
    stt: string[];
    translation: string[];
    tts: string[];
    voices: Voice[];
    llm: string[];
  };
}

export interface DevToken {
  token: string;
  userId: string;
  name: string;
  language: Lang;
  expiresAt: string;
}

export interface TimelineEvent {
  position: number;
  time: string;
  type: string;
  who: string;
  line: string;
  data: Record<string, unknown>;
}

export interface EventsPage {
  events: TimelineEvent[];
  last: number;
}

export interface RoomState {
  position: number;
  lines: string[];
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}
