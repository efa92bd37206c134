/**
 * What the page reads out of a room's event log (GET /api/rooms/{code}/events):
 * each utterance's latency waterfall, from the timings the events carry, and
 * who hears which language (the WebSocket frames do not say). Pure functions.
 */
import type { Lang, TimelineEvent } from "./protocol";
import type { RosterEntry } from "./reducer";

/** Milliseconds since the epoch of an ISO time (microseconds allowed, no zone means UTC). */
export function parseTime(iso: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(iso);
  if (!match) return Date.parse(iso);
  const fraction = (match[2] ?? ".0").slice(0, 4).padEnd(4, "0");
  return Date.parse(`${match[1]}${fraction}${match[3] ?? "Z"}`);
}

/** One stage of an utterance's way to its listeners, in ms from the end of speech. */
export interface Bar {
  stage: "decode" | "translation" | "synthesis" | "delivery";
  /** The accessible name, e.g. "decode 271 ms", "translation es 12 ms". */
  label: string;
  start: number;
  end: number;
}

export interface Utterance {
  transcriptId: string;
  position: number;
  speaker: string;
  text: string;
  sourceLang: Lang;
  /** The utterance's own length (audio time; 0 when typed). */
  durationMs: number;
  bars: Bar[];
  /** From the end of speech to the end of the last stage. */
  totalMs: number;
}

const num = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const str = (value: unknown): string => (typeof value === "string" ? value : "");

/**
 * The waterfall of each utterance: the end of speech is the transcript's
 * time minus its `decode_ms` (the wait from the end of the utterance to its
 * final transcript, the voice detector's silence included); each translation
 * ends when it was recorded and took `latency_ms`; each synthesis starts when
 * its text was ready, gives its first audio after `first_chunk_ms`, and the
 * rest of its audio is delivered until it was recorded.
 */
export function utterances(events: TimelineEvent[]): Utterance[] {
  const byId = new Map<string, Utterance & { end: number; ready: Map<string, number> }>();
  const order: string[] = [];
  for (const event of events) {
    const data = event.data;
    const id = str(data.transcript_id);
    if (event.type === "TranscriptRecognized") {
      const recorded = parseTime(event.time);
      const decode = num(data.decode_ms);
      const speechEnd = recorded - decode;
      byId.set(id, {
        transcriptId: id,
        position: event.position,
        speaker: str(data.speaker_name) || str(data.speaker_id),
        text: str(data.text),
        sourceLang: str(data.source_language),
        durationMs: num(data.duration_ms),
        bars: [{ stage: "decode", label: `decode ${decode} ms`, start: 0, end: decode }],
        totalMs: decode,
        end: speechEnd,
        ready: new Map([[str(data.source_language), decode]]),
      });
      order.push(id);
      continue;
    }
    const utterance = byId.get(id);
    if (utterance === undefined) continue;
    const at = parseTime(event.time) - utterance.end;
    if (event.type === "TranslationProduced") {
      const latency = num(data.latency_ms);
      const language = str(data.target_language);
      utterance.bars.push({
        stage: "translation",
        label: `translation ${language} ${latency} ms`,
        start: Math.max(0, at - latency),
        end: at,
      });
      utterance.ready.set(language, at);
    } else if (event.type === "SpeechSynthesized") {
      const language = str(data.language);
      const channel = str(data.channel) || "websocket";
      const firstChunk = num(data.first_chunk_ms);
      const start = utterance.ready.get(language) ?? at - firstChunk;
      const firstAudio = start + firstChunk;
      utterance.bars.push({
        stage: "synthesis",
        label: `synthesis ${language} ${firstChunk} ms`,
        start,
        end: firstAudio,
      });
      const rest = Math.round(Math.max(0, at - firstAudio));
      utterance.bars.push({
        stage: "delivery",
        label: `delivery ${language} ${channel} ${rest} ms`,
        start: firstAudio,
        end: firstAudio + rest,
      });
    } else {
      continue;
    }
    utterance.totalMs = Math.max(...utterance.bars.map((bar) => bar.end));
  }
  return order.map((id) => {
    const { end: _end, ready: _ready, ...utterance } = byId.get(id)!;
    return utterance;
  });
}

/** The room's members as the log says: joins (name, language), language changes, voice sessions, leaves. */
export function rosterFrom(events: TimelineEvent[], roster: Map<string, RosterEntry> = new Map()): Map<string, RosterEntry> {
  for (const event of events) {
    const userId = str(event.data.user_id);
    const member = roster.get(userId);
    switch (event.type) {
      case "ParticipantJoined":
        roster.set(userId, {
          userId,
          name: str(event.data.name) || userId,
          language: str(event.data.language),
          voice: member?.voice ?? false,
          away: false,
        });
        break;
      case "LanguageChanged":
        if (member) member.language = str(event.data.language);
        break;
      case "VoiceSessionStarted":
      case "VoiceSessionEnded":
        if (member) member.voice = event.type === "VoiceSessionStarted";
        break;
      case "ParticipantLeft":
        if (str(event.data.reason) === "left") roster.delete(userId);
        else if (member) Object.assign(member, { away: true, voice: false });
        break;
      case "ParticipantRemoved":
        roster.delete(userId);
        break;
    }
  }
  return roster;
}

/** The event types present, sorted (the type filter's options). */
export function eventTypes(events: TimelineEvent[]): string[] {
  return [...new Set(events.map((e) => e.type))].sort();
}

/** Events matching a type ("" for all) and a case-insensitive text in any column. */
export function filterEvents(events: TimelineEvent[], type: string, text: string): TimelineEvent[] {
  const needle = text.trim().toLowerCase();
  return events.filter(
    (e) =>
      (type === "" || e.type === type) &&
      (needle === "" || `${e.position} ${e.type} ${e.who} ${e.line}`.toLowerCase().includes(needle)),
  );
}
