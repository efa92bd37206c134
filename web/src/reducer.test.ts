import { describe, expect, it } from "vitest";
import type { ServerFrame } from "./protocol";
import {
  CAPTION_TTL_MS,
  displayName,
  initialRoomView,
  mayManage,
  outOfRoom,
  reduce,
  type RoomView,
} from "./reducer";
import { readableRefusal } from "./refusals";

const NOW = 1_700_000_000_000;

function apply(state: RoomView, ...frames: ServerFrame[]): RoomView {
  return frames.reduce((s, frame) => reduce(s, { type: "frame", frame, now: NOW }), state);
}

const joined: ServerFrame = {
  event: "joined-room",
  data: { roomId: "r1", userId: "bob", language: "es", position: 10 },
};

function translated(id: string, pos: number, extra: Record<string, string> = {}): ServerFrame {
  return {
    event: "translated-message",
    pos,
    data: {
      id,
      originalText: `hello ${id}`,
      translatedText: `hola ${id}`,
      sourceLang: "en",
      targetLang: "es",
      fromUserId: "alice",
      toUserId: "bob",
      speakerName: "Alice",
      ...extra,
    },
  };
}

describe("reduce", () => {
  it("joins: I am a participant with my name and language", () => {
    const state = apply(initialRoomView("Bob"), joined);
    expect(state.me).toEqual({ userId: "bob", language: "es", roomId: "r1" });
    expect(state.participants).toEqual([{ userId: "bob", name: "Bob", language: "es", voice: false, away: false }]);
  });

  it("ignores a stored frame at or before the last position seen", () => {
    let state = apply(initialRoomView("Bob"), joined, translated("t1", 11), translated("t2", 12));
    state = apply(state, translated("t1", 11), translated("t2", 12));
    expect(state.messages.map((m) => m.id)).toEqual(["t1", "t2"]);
    expect(state.lastPos).toBe(12);
    // a frame at an old position is a duplicate even with another id
    state = apply(state, translated("t0", 5));
    expect(state.messages.map((m) => m.id)).toEqual(["t1", "t2"]);
  });

  it("resume after a reconnect shows what was missed once, in order", () => {
    let state = apply(initialRoomView("Bob"), joined, translated("t1", 11));
    state = reduce(state, { type: "disconnected" });
    // the server replays from since=11: t1 is not resent, t2 and t3 are; a live frame follows
    const replay = [translated("t2", 12), translated("t3", 14)];
    state = apply(state, { ...joined, data: { ...joined.data, position: 14 } }, ...replay, translated("t4", 15));
    // the overlap of a second resume is dropped
    state = apply(state, ...replay);
    expect(state.messages.map((m) => [m.id, m.pos])).toEqual([
      ["t1", 11],
      ["t2", 12],
      ["t3", 14],
      ["t4", 15],
    ]);
  });

  it("frames without a position (live only) are always applied", () => {
    let state = apply(initialRoomView("Bob"), joined, translated("t1", 20));
    state = apply(state, { event: "partial-speech", data: { id: "u9", text: "one", sourceLang: "en", speakerName: "Alice" } });
    expect(state.captions).toHaveLength(1);
    expect(state.lastPos).toBe(20);
  });

  it("captions update in place and give way to the final text with the same id", () => {
    const partial = (text: string): ServerFrame => ({
      event: "partial-speech",
      data: { id: "t1", text, sourceLang: "en", speakerName: "Alice" },
    });
    let state = apply(initialRoomView("Bob"), joined, partial("hel"), partial("hello"));
    expect(state.captions.map((c) => c.text)).toEqual(["hello"]);
    state = apply(state, translated("t1", 11));
    expect(state.captions).toEqual([]);
    // a late partial of an utterance already final is not shown again
    state = apply(state, partial("hello"));
    expect(state.captions).toEqual([]);
  });

  it("captions expire when their speaker stops updating them", () => {
    let state = apply(initialRoomView("Bob"), joined, {
      event: "partial-speech",
      data: { id: "u1", text: "hi", sourceLang: "en", speakerName: "Alice" },
    });
    state = reduce(state, { type: "expire-captions", now: NOW + CAPTION_TTL_MS - 1 });
    expect(state.captions).toHaveLength(1);
    state = reduce(state, { type: "expire-captions", now: NOW + CAPTION_TTL_MS });
    expect(state.captions).toHaveLength(0);
  });

  it("keeps a failed translation with its error code", () => {
    const state = apply(
      initialRoomView("Bob"),
      joined,
      translated("t1", 11, { translatedText: "hello t1", errorCode: "unsupported_language_pair" }),
    );
    expect(state.messages[0]).toMatchObject({
      id: "t1",
      translatedText: "hello t1",
      errorCode: "unsupported_language_pair",
      speakerName: "Alice",
    });
  });

  it("own speech and solo translations are messages too", () => {
    const state = apply(
      initialRoomView("Bob"),
      joined,
      { event: "recognized-speech", pos: 11, data: { id: "a", text: "hola", sourceLang: "es", speakerName: "Bob" } },
      {
        event: "solo-translated",
        pos: 12,
        data: { id: "b", originalText: "hola", translatedText: "hello", sourceLang: "es", targetLang: "en", speakerName: "Bob" },
      },
    );
    expect(state.messages.map((m) => [m.kind, m.fromUserId])).toEqual([
      ["own", "bob"],
      ["solo", "bob"],
    ]);
  });

  it("streams the assistant's answer by answerId and closes it with the response", () => {
    const piece = (answerId: string, text: string): ServerFrame => ({
      event: "assistant-text",
      data: { answerId, userId: "bob", text, language: "es" },
    });
    let state = apply(initialRoomView("Bob"), joined, piece("A", "Hola, "), piece("B", "Otra"), piece("A", "soy yo."));
    expect(state.answers.map((a) => [a.answerId, a.streamed, a.done])).toEqual([
      ["A", "Hola, soy yo.", false],
      ["B", "Otra", false],
    ]);
    state = apply(state, { event: "assistant-interrupted", data: { answerId: "A", at: 5 } });
    state = apply(state, {
      event: "assistant-response",
      pos: 30,
      data: {
        answerId: "A",
        userId: "bob",
        question: "¿Quién eres?",
        answer: "Hola, soy yo.",
        delivered: "Hola,",
        language: "es",
        engine: "fake",
        model: "m",
        firstTokenMs: 300,
        totalMs: 900,
        interruptedAt: 5,
      },
    });
    expect(state.answers[0]).toMatchObject({ done: true, delivered: "Hola,", interruptedAt: 5, streamed: "Hola, soy yo." });
  });

  it("a resumed response with no streamed text shows the answer", () => {
    const state = apply(initialRoomView("Bob"), joined, {
      event: "assistant-response",
      pos: 11,
      data: {
        answerId: "A",
        userId: "bob",
        question: "q",
        answer: "the answer",
        delivered: "the answer",
        language: "en",
        engine: "fake",
        model: "m",
        firstTokenMs: 1,
        totalMs: 2,
        interruptedAt: null,
      },
    });
    expect(state.answers[0].streamed).toBe("the answer");
  });

  it("tracks participants: joined, voice, away and left", () => {
    let state = apply(
      initialRoomView("Bob"),
      joined,
      { event: "user-joined", pos: 11, data: { userId: "alice", name: "Alice" } },
      { event: "user-started-voice", pos: 12, data: { userId: "alice", language: "en" } },
    );
    expect(state.participants[1]).toEqual({ userId: "alice", name: "Alice", language: "en", voice: true, away: false });
    state = apply(state, { event: "user-left", pos: 13, data: { userId: "alice", reason: "disconnected" } });
    expect(state.participants[1]).toMatchObject({ away: true, voice: false });
    state = apply(state, { event: "user-joined", pos: 14, data: { userId: "alice", name: "Alice" } });
    expect(state.participants[1].away).toBe(false);
    state = apply(state, { event: "user-left", pos: 15, data: { userId: "alice", reason: "left" } });
    expect(state.participants.map((p) => p.userId)).toEqual(["bob"]);
  });

  it("my voice session starts with voice-session-ready and ends with the connection", () => {
    let state = apply(initialRoomView("Bob"), joined, {
      event: "voice-session-ready",
      ref: 3,
      data: { roomId: "r1", liveKitToken: "tok", liveKitUrl: "ws://lk", expiresAt: "x", language: "es", position: 12 },
    });
    expect(state.voice?.token).toBe("tok");
    expect(state.participants[0].voice).toBe(true);
    state = reduce(state, { type: "disconnected" });
    expect(state.voice).toBeNull();
    expect(state.participants[0].voice).toBe(false);
  });

  it("the roster adds who was here before me and fills in languages", () => {
    const roster = (userId: string, language: string, away = false) => ({ userId, name: userId.toUpperCase(), language, voice: false, away });
    let state = apply(
      initialRoomView("Bob"),
      joined,
      { event: "user-joined", pos: 11, data: { userId: "alice", name: "Alice" } },
      { event: "user-joined", pos: 12, data: { userId: "dave", name: "Dave" } },
      { event: "user-left", pos: 13, data: { userId: "dave", reason: "left" } },
    );
    expect(state.participants[1].language).toBeUndefined();
    // a roster polled before dave left must not bring him back
    state = reduce(state, { type: "roster", members: [roster("alice", "fr"), roster("carol", "de", true), roster("dave", "en")] });
    expect(state.participants.map((p) => [p.userId, p.name, p.language, p.away])).toEqual([
      ["bob", "Bob", "es", false],
      ["alice", "Alice", "fr", false],
      ["carol", "CAROL", "de", true],
    ]);
  });

  it("keeps the last errors", () => {
    let state = initialRoomView("Bob");
    for (let i = 0; i < 8; i++) state = apply(state, { event: "error", data: { code: `e${i}`, message: "m" } });
    expect(state.errors.map((e) => e.code)).toEqual(["e3", "e4", "e5", "e6", "e7"]);
  });
});

describe("answers as sentences", () => {
  const sentence = (id: string, pos: number, text: string): ServerFrame => ({
    event: "translated-message",
    pos,
    data: {
      id,
      originalText: text,
      translatedText: text,
      sourceLang: "en",
      targetLang: "en",
      fromUserId: "assistant",
      toUserId: "bob",
      speakerName: "Assistant",
      answerId: "H",
    },
  });

  it("a command's answer (help) is whole when its sentence arrives", () => {
    const state = apply(initialRoomView("Bob"), joined, sentence("s1", 11, "You can say: help."));
    expect(state.answers).toMatchObject([{ answerId: "H", sentences: ["You can say: help."], done: true }]);
    expect(state.messages).toHaveLength(1);
  });

  it("a streamed answer's sentences do not end it before its response", () => {
    let state = apply(initialRoomView("Bob"), joined, {
      event: "assistant-text",
      data: { answerId: "H", userId: "bob", text: "Paris", language: "en" },
    });
    state = apply(state, sentence("s1", 11, "Paris."));
    expect(state.answers[0]).toMatchObject({ streamed: "Paris", sentences: ["Paris."], done: false });
  });
});

describe("room management and recording", () => {
  const owned: ServerFrame = {
    event: "joined-room",
    data: { roomId: "r1", userId: "bob", language: "es", position: 10, owner: "alice", recording: true },
  };
  const aliceJoined: ServerFrame = { event: "user-joined", data: { userId: "alice", name: "Alice", language: "en" } };
  const carolJoined: ServerFrame = { event: "user-joined", data: { userId: "carol", name: "Carol", language: "ca" } };
  const recording = (on: boolean, pos: number, reason?: string): ServerFrame => ({
    event: "recording",
    pos,
    data: { roomId: "r1", recording: on, by: "alice", ...(reason ? { reason } : {}) },
  });

  it("a newcomer learns the owner and that the room records from joined-room", () => {
    const state = apply(initialRoomView("Bob"), owned);
    expect(state.owner).toBe("alice");
    expect(state.recording).toBe(true);
    // an older server's joined-room says neither
    const old = apply(initialRoomView("Bob"), joined);
    expect([old.owner, old.recording]).toEqual([null, false]);
  });

  it("recording frames turn the badge on and off and say who; a failing store is named", () => {
    let state = apply(initialRoomView("Bob"), joined, aliceJoined, recording(true, 11));
    expect(state.recording).toBe(true);
    expect(state.activity.map((a) => a.text)).toEqual(["Alice started recording"]);
    state = apply(state, recording(false, 12, "store_failed"));
    expect([state.recording, state.recordingFailure]).toEqual([false, "store_failed"]);
    expect(state.activity.at(-1)?.text).toBe("Recording stopped: the server could not store the audio");
    state = apply(state, recording(true, 13), recording(false, 14, "stopped"));
    expect([state.recording, state.recordingFailure]).toEqual([false, null]);
    expect(state.activity.at(-1)?.text).toBe("Alice stopped recording");
    // a resumed recording frame is not applied twice
    expect(apply(state, recording(true, 13))).toBe(state);
    const mine = apply(state, { event: "recording", pos: 15, data: { roomId: "r1", recording: true, by: "bob" } });
    expect(mine.activity.at(-1)?.text).toBe("You started recording");
  });

  it("track-muted marks who muted a participant, unmute and a new voice session clear it", () => {
    const muted = (on: boolean, pos: number): ServerFrame => ({
      event: "track-muted",
      pos,
      data: { roomId: "r1", userId: "carol", trackSid: "TR_1", muted: on, by: "alice" },
    });
    const voice: ServerFrame = { event: "user-started-voice", data: { userId: "carol", language: "ca" } };
    let state = apply(initialRoomView("Bob"), joined, aliceJoined, carolJoined, voice, muted(true, 11));
    expect(state.participants.find((p) => p.userId === "carol")?.mutedBy).toBe("alice");
    expect(state.activity.at(-1)?.text).toBe("Alice muted Carol");
    state = apply(state, muted(false, 12));
    expect(state.participants.find((p) => p.userId === "carol")?.mutedBy).toBeUndefined();
    expect(state.activity.at(-1)?.text).toBe("Alice unmuted Carol");
    state = apply(state, muted(true, 13), { event: "user-stopped-voice", data: { userId: "carol", reason: "stopped" } });
    expect(state.participants.find((p) => p.userId === "carol")?.mutedBy).toBeUndefined();
  });

  it("someone removed leaves the list, and everyone reads who removed them", () => {
    const state = apply(initialRoomView("Bob"), joined, aliceJoined, carolJoined, {
      event: "user-left",
      pos: 11,
      data: { userId: "carol", reason: "removed", by: "alice" },
    });
    expect(state.participants.map((p) => p.userId)).toEqual(["bob", "alice"]);
    expect(state.activity.map((a) => a.text)).toEqual(["Carol was removed by Alice"]);
    // the roster poll does not bring them back: the frames told about them
    const polled = reduce(state, {
      type: "roster",
      members: [{ userId: "carol", name: "Carol", language: "ca", voice: false, away: false }],
    });
    expect(polled.participants.map((p) => p.userId)).toEqual(["bob", "alice"]);
  });

  it("being removed puts the page out of the room with who and until when", () => {
    let state = apply(initialRoomView("Bob"), owned, aliceJoined, {
      event: "voice-session-ready",
      data: { roomId: "r1", liveKitToken: "t", liveKitUrl: "ws://lk", expiresAt: "x", language: "es", position: 11 },
    });
    state = apply(state, { event: "removed", data: { roomId: "r1", by: "alice", until: "2026-01-01T00:05:00+00:00" } });
    expect(state.out).toEqual({ kind: "removed", by: "alice", until: "2026-01-01T00:05:00+00:00" });
    expect([state.voice, state.recording]).toEqual([null, false]);
    expect(displayName(state, "alice")).toBe("Alice");
    expect(mayManage(state, "admin")).toBe(false);
  });

  it("a closed room puts everyone out; the first reason told is kept", () => {
    const closed: ServerFrame = { event: "room-closed", pos: 12, data: { roomId: "r1", by: "alice" } };
    const state = apply(initialRoomView("Bob"), owned, closed, {
      event: "error",
      ref: 4,
      data: { code: "room_closed", message: "the room was closed" },
    });
    expect(state.out).toEqual({ kind: "closed", by: "alice", until: null });
    expect(state.errors).toEqual([]);
  });

  it("a join refused because the room closed or I was removed is out, not an error to retry", () => {
    const refused = (code: string): ServerFrame => ({ event: "error", data: { code, message: `refused ${code}` } });
    expect(outOfRoom(refused("room_closed"))).toEqual({
      kind: "closed",
      by: null,
      until: null,
      message: "refused room_closed",
    });
    expect(outOfRoom(refused("removed_from_room"))?.kind).toBe("removed");
    expect(outOfRoom(refused("not_room_owner"))).toBeNull();
    const state = apply(initialRoomView("Bob"), refused("removed_from_room"));
    expect(state.out?.kind).toBe("removed");
  });

  it("the owner or an operator may manage; others may not", () => {
    const bobOwns = apply(initialRoomView("Bob"), { ...owned, data: { ...owned.data, owner: "bob" } });
    expect(mayManage(bobOwns, undefined)).toBe(true);
    const aliceOwns = apply(initialRoomView("Bob"), owned);
    expect(mayManage(aliceOwns, undefined)).toBe(false);
    expect(mayManage(aliceOwns, "admin")).toBe(true);
    const ownerless = apply(initialRoomView("Bob"), joined);
    expect(mayManage(ownerless, "user")).toBe(false);
    expect(mayManage(initialRoomView("Bob"), "admin")).toBe(false); // not joined yet
  });

  it("refusals read as sentences, with the server's message for codes the page does not know", () => {
    expect(readableRefusal("not_room_owner", "x")).toBe("Only the room's owner or an operator can manage this room.");
    expect(readableRefusal("something_new", "the server says why")).toBe("the server says why");
  });
});
