import { describe, expect, it } from "vitest";
import { backoffDelay, BACKOFF_MAX_MS } from "./backoff";
import type { TimelineEvent } from "./protocol";
import { filterEvents, parseTime, rosterFrom, utterances } from "./timeline";

const event = (position: number, time: string, type: string, data: Record<string, unknown>): TimelineEvent => ({
  position,
  time,
  type,
  who: String(data.speaker_id ?? data.user_id ?? ""),
  line: `${type} line`,
  data,
});

describe("parseTime", () => {
  it("reads microseconds and zones", () => {
    expect(parseTime("2026-01-01T00:00:01.250999+00:00")).toBe(Date.UTC(2026, 0, 1, 0, 0, 1, 250));
    expect(parseTime("2026-01-01T00:00:01Z")).toBe(Date.UTC(2026, 0, 1, 0, 0, 1));
    expect(parseTime("2026-01-01T00:00:01.5")).toBe(Date.UTC(2026, 0, 1, 0, 0, 1, 500));
  });
});

describe("utterances", () => {
  const events = [
    event(7, "2026-01-01T00:00:10.000000+00:00", "TranscriptRecognized", {
      transcript_id: "t1",
      speaker_id: "alice",
      speaker_name: "Alice",
      text: "The house is big.",
      source_language: "en",
      duration_ms: 2800,
      decode_ms: 271,
    }),
    event(8, "2026-01-01T00:00:10.050000+00:00", "TranslationProduced", {
      transcript_id: "t1",
      target_language: "es",
      latency_ms: 12,
    }),
    event(9, "2026-01-01T00:00:10.900000+00:00", "SpeechSynthesized", {
      transcript_id: "t1",
      language: "es",
      first_chunk_ms: 80,
      audio_ms: 1500,
      channel: "websocket",
    }),
    event(10, "2026-01-01T00:00:11.000000+00:00", "SpeechSynthesized", { transcript_id: "other", language: "es", first_chunk_ms: 1 }),
  ];

  it("lays each stage out from the end of speech", () => {
    const [u] = utterances(events);
    expect(u).toMatchObject({ transcriptId: "t1", position: 7, speaker: "Alice", durationMs: 2800 });
    expect(u.bars).toEqual([
      { stage: "decode", label: "decode 271 ms", start: 0, end: 271 },
      { stage: "translation", label: "translation es 12 ms", start: 309, end: 321 },
      { stage: "synthesis", label: "synthesis es 80 ms", start: 321, end: 401 },
      { stage: "delivery", label: "delivery es websocket 770 ms", start: 401, end: 1171 },
    ]);
    expect(u.totalMs).toBe(1171);
  });

  it("ignores events of transcripts it has not seen", () => {
    expect(utterances(events)).toHaveLength(1);
  });
});

describe("rosterFrom and filterEvents", () => {
  const log = [
    event(1, "2026-01-01T00:00:00Z", "ParticipantJoined", { user_id: "alice", name: "Alice", language: "en" }),
    event(2, "2026-01-01T00:00:01Z", "ParticipantJoined", { user_id: "bob", name: "Bob", language: "es" }),
    event(3, "2026-01-01T00:00:02Z", "LanguageChanged", { user_id: "bob", language: "fr" }),
    event(4, "2026-01-01T00:00:03Z", "VoiceSessionStarted", { user_id: "bob", language: "fr" }),
    event(5, "2026-01-01T00:00:04Z", "ParticipantJoined", { user_id: "carol", name: "Carol", language: "ca" }),
    event(6, "2026-01-01T00:00:05Z", "ParticipantLeft", { user_id: "alice", reason: "disconnected" }),
    event(7, "2026-01-01T00:00:06Z", "ParticipantLeft", { user_id: "carol", reason: "left" }),
  ];

  it("follows joins, language changes, voice sessions and leaves", () => {
    expect([...rosterFrom(log).values()]).toEqual([
      { userId: "alice", name: "Alice", language: "en", voice: false, away: true },
      { userId: "bob", name: "Bob", language: "fr", voice: true, away: false },
    ]);
  });

  it("forgets a removed member, so a roster poll never brings them back", () => {
    const removed = event(8, "2026-01-01T00:00:07Z", "ParticipantRemoved", { user_id: "bob", by: "alice" });
    expect([...rosterFrom([...log, removed]).keys()]).toEqual(["alice"]);
  });

  it("filters by type and by text", () => {
    expect(filterEvents(log, "LanguageChanged", "").map((e) => e.position)).toEqual([3]);
    expect(filterEvents(log, "", "BOB").map((e) => e.position)).toEqual([2, 3, 4]);
  });
});

describe("backoffDelay", () => {
  it("grows exponentially with jitter up to a ceiling", () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(50, () => 1)).toBe(BACKOFF_MAX_MS);
  });
});
