/**
 * The conversation page's state, and the one pure function that applies a
 * server frame to it. Pure so the rules that matter (a resumed frame is never
 * shown twice, captions give way to their final text, an answer streams in
 * by its id, a closed room or a removal ends the page's membership for good)
 * are unit-tested without a socket.
 */
import type { FrameOf, Lang, ServerFrame, ServerFrames } from "./protocol";

export interface Participant {
  userId: string;
  name: string;
  /** The language they hear, when known (the room's roster or a voice session). */
  language?: Lang;
  voice: boolean;
  away: boolean;
  /** Who muted their microphone on LiveKit (absent: not muted by anyone). */
  mutedBy?: string;
}

export interface Message {
  id: string;
  pos?: number;
  kind: "own" | "translated" | "solo";
  speakerName: string;
  fromUserId?: string;
  originalText: string;
  translatedText?: string;
  sourceLang: Lang;
  targetLang?: Lang;
  errorCode?: string;
  answerId?: string;
  /** When the page received it (frames carry no time). */
  receivedAt: number;
}

export interface Caption {
  id: string;
  speakerName: string;
  text: string;
  sourceLang: Lang;
  receivedAt: number;
}

export interface Answer {
  answerId: string;
  userId: string;
  language: Lang;
  /** The streamed pieces so far, joined (in the answer's language). */
  streamed: string;
  /** Its sentences as this listener got them (translated-message / solo-translated), in their language. */
  sentences: string[];
  question?: string;
  answer?: string;
  delivered?: string;
  interruptedAt?: number | null;
  errorCode?: string;
  done: boolean;
}

export interface Notice {
  key: string;
  text: string;
  receivedAt: number;
}

export interface ErrorNote {
  code: string;
  message: string;
  receivedAt: number;
}

/** Why this page is out of its room for good: no reconnect may bring it back. */
export interface OutOfRoom {
  kind: "closed" | "removed";
  /** Who did it (a user id); null when only a refused join said so. */
  by: string | null;
  /** Removed: when they may join again (RFC 3339); null: at once, or not known. */
  until: string | null;
  /** The server's words, when a refused join said so. */
  message?: string;
}

export interface VoiceSession {
  url: string;
  token: string;
  language: Lang;
  expiresAt: string;
}

export interface RoomView {
  myName: string;
  me?: { userId: string; language: Lang; roomId: string };
  /** The last stored-event position seen: frames at or before it are duplicates. */
  lastPos: number;
  /** Members the frames told about (joined, left, voice): the frames know better than the roster. */
  heardOf: string[];
  participants: Participant[];
  messages: Message[];
  captions: Caption[];
  answers: Answer[];
  notices: Notice[];
  errors: ErrorNote[];
  voice: VoiceSession | null;
  /** Who owns the room (from joined-room); null: nobody does, or not known yet. */
  owner: string | null;
  /** The room's audio is being recorded now. */
  recording: boolean;
  /** Why the recording last stopped when no person stopped it (`store_failed`); null otherwise. */
  recordingFailure: string | null;
  /** What was done to the room and its members (recording, mutes, removals), newest last. */
  activity: Notice[];
  /** Set once the room was closed or this member removed: the page stops and says why. */
  out: OutOfRoom | null;
}

export type Action =
  | { type: "frame"; frame: ServerFrame; now: number }
  | { type: "expire-captions"; now: number }
  | { type: "disconnected" }
  | { type: "roster"; members: RosterEntry[] }
  | { type: "local-error"; code: string; message: string; now: number }
  | { type: "dismiss-error"; index: number };

/** A member as the room's event log says (GET .../events): see `rosterFrom`. */
export interface RosterEntry {
  userId: string;
  name: string;
  language: Lang;
  voice: boolean;
  away: boolean;
}

const MEMBERSHIP = new Set(["joined-room", "user-joined", "user-left", "user-started-voice", "user-stopped-voice"]);

/** A caption not updated for this long is dropped (its speaker stopped or left). */
export const CAPTION_TTL_MS = 4000;
const KEPT_ERRORS = 5;
const KEPT_NOTICES = 20;
const KEPT_ANSWERS = 10;
const KEPT_ACTIVITY = 20;

export function initialRoomView(myName: string): RoomView {
  return {
    myName,
    lastPos: 0,
    heardOf: [],
    participants: [],
    messages: [],
    captions: [],
    answers: [],
    notices: [],
    errors: [],
    voice: null,
    owner: null,
    recording: false,
    recordingFailure: null,
    activity: [],
    out: null,
  };
}

export function reduce(state: RoomView, action: Action): RoomView {
  switch (action.type) {
    case "frame":
      return applyFrame(state, action.frame, action.now);
    case "expire-captions": {
      const captions = state.captions.filter((c) => action.now - c.receivedAt < CAPTION_TTL_MS);
      return captions.length === state.captions.length ? state : { ...state, captions };
    }
    case "disconnected":
      // The server ends a voice session when its WebSocket drops, and partial
      // captions are not resumed: neither survives a reconnect.
      return { ...state, voice: null, captions: [], participants: setVoice(state, state.me?.userId, false) };
    case "roster": {
      const participants = mergeRoster(state.participants, action.members, new Set(state.heardOf));
      return participants === state.participants ? state : { ...state, participants };
    }
    case "local-error":
      return addError(state, { code: action.code, message: action.message, receivedAt: action.now });
    case "dismiss-error":
      return { ...state, errors: state.errors.filter((_, i) => i !== action.index) };
  }
}

/** Apply one server frame. A stored frame at or before `lastPos` was seen: ignored. */
export function applyFrame(state: RoomView, frame: ServerFrame, now: number): RoomView {
  if (frame.pos !== undefined) {
    if (frame.pos <= state.lastPos) return state;
    state = { ...state, lastPos: frame.pos };
  }
  const out = outOfRoom(frame);
  if (out !== null) return putOut(state, out);
  if (MEMBERSHIP.has(frame.event)) {
    const { userId } = frame.data as { userId: string };
    if (!state.heardOf.includes(userId)) state = { ...state, heardOf: [...state.heardOf, userId] };
  }
  switch (frame.event) {
    case "joined-room":
      return joined(state, frame.data);
    case "user-joined":
      return {
        ...state,
        participants: upsert(state.participants, frame.data.userId, (p) => ({
          ...p,
          name: frame.data.name,
          language: frame.data.language ?? p.language,
          away: false,
        })),
      };
    case "user-left":
      return userLeft(state, frame, now);
    case "user-started-voice":
      return {
        ...state,
        participants: upsert(state.participants, frame.data.userId, (p) => ({
          ...p,
          voice: true,
          language: p.language ?? frame.data.language,
        })),
      };
    case "user-stopped-voice":
      return { ...state, participants: setVoice(state, frame.data.userId, false) };
    case "track-muted":
      return trackMuted(state, frame, now);
    case "recording":
      return recordingChanged(state, frame, now);
    case "voice-session-ready": {
      const d = frame.data;
      return {
        ...state,
        voice: { url: d.liveKitUrl, token: d.liveKitToken, language: d.language, expiresAt: d.expiresAt },
        participants: setVoice(state, state.me?.userId, true),
      };
    }
    case "voice-session-ended":
      return { ...state, voice: null, participants: setVoice(state, state.me?.userId, false) };
    case "partial-speech":
      return partial(state, frame.data, now);
    case "recognized-speech":
      return addMessage(state, {
        id: frame.data.id,
        pos: frame.pos,
        kind: "own",
        speakerName: frame.data.speakerName,
        fromUserId: state.me?.userId,
        originalText: frame.data.text,
        sourceLang: frame.data.sourceLang,
        receivedAt: now,
      });
    case "translated-message":
    case "solo-translated": {
      const d = frame.data;
      const withAnswer = d.answerId === undefined ? state : answerSentence(state, d.answerId, d.translatedText, d.targetLang);
      return addMessage(withAnswer, {
        id: d.id,
        pos: frame.pos,
        kind: frame.event === "solo-translated" ? "solo" : "translated",
        speakerName: d.speakerName,
        fromUserId: "fromUserId" in frame.data ? frame.data.fromUserId : state.me?.userId,
        originalText: d.originalText,
        translatedText: d.translatedText,
        sourceLang: d.sourceLang,
        targetLang: d.targetLang,
        errorCode: d.errorCode,
        answerId: d.answerId,
        receivedAt: now,
      });
    }
    case "assistant-text":
      return {
        ...state,
        answers: upsertAnswer(state.answers, frame.data.answerId, frame.data.userId, frame.data.language, (a) => ({
          ...a,
          streamed: a.streamed + frame.data.text,
        })),
      };
    case "assistant-interrupted":
      return {
        ...state,
        answers: state.answers.map((a) =>
          a.answerId === frame.data.answerId ? { ...a, interruptedAt: frame.data.at } : a,
        ),
      };
    case "assistant-response": {
      const d = frame.data;
      return {
        ...state,
        answers: upsertAnswer(state.answers, d.answerId, d.userId, d.language, (a) => ({
          ...a,
          question: d.question,
          answer: d.answer,
          delivered: d.delivered,
          interruptedAt: d.interruptedAt,
          errorCode: d.errorCode,
          streamed: a.streamed || d.answer,
          done: true,
        })),
      };
    }
    case "command-recognized":
      return addNotice(state, `${frame.data.source} command: ${frame.data.intent}`, frame, now);
    case "context-cleared":
      return addNotice(state, "The assistant's context was cleared", frame, now);
    case "error":
      return addError(state, { code: frame.data.code, message: frame.data.message, receivedAt: now });
    default:
      return state;
  }
}

/**
 * A sentence of an answer. Answers to commands (help, repeat) come only as
 * sentences, whole at once; a model's answer streams first and is over with
 * its assistant-response.
 */
function answerSentence(state: RoomView, answerId: string, text: string, language: Lang): RoomView {
  const userId = state.me?.userId ?? "";
  return {
    ...state,
    answers: upsertAnswer(state.answers, answerId, userId, language, (a) => ({
      ...a,
      sentences: [...a.sentences, text],
      done: a.done || a.streamed === "",
    })),
  };
}

function joined(state: RoomView, d: ServerFrames["joined-room"]): RoomView {
  return {
    ...state,
    me: { userId: d.userId, language: d.language, roomId: d.roomId },
    owner: d.owner ?? null,
    recording: d.recording ?? false,
    participants: upsert(state.participants, d.userId, (p) => ({
      ...p,
      name: state.myName,
      language: d.language,
      away: false,
    })),
  };
}

function userLeft(state: RoomView, frame: FrameOf<"user-left">, now: number): RoomView {
  const d = frame.data;
  if (d.reason === "removed") {
    const text = `${displayName(state, d.userId)} was removed${d.by ? ` by ${displayName(state, d.by)}` : ""}`;
    const rest = { ...state, participants: state.participants.filter((p) => p.userId !== d.userId) };
    return addActivity(rest, text, frame, now);
  }
  if (d.reason === "left") {
    return { ...state, participants: state.participants.filter((p) => p.userId !== d.userId) };
  }
  // A dropped connection keeps them a member, away, until they come back.
  return {
    ...state,
    participants: upsert(state.participants, d.userId, (p) => ({ ...p, away: true, voice: false })),
  };
}

function partial(state: RoomView, d: ServerFrames["partial-speech"], now: number): RoomView {
  if (state.messages.some((m) => m.id === d.id)) return state; // its final text is here already
  const caption: Caption = { id: d.id, speakerName: d.speakerName, text: d.text, sourceLang: d.sourceLang, receivedAt: now };
  const index = state.captions.findIndex((c) => c.id === d.id);
  const captions =
    index < 0 ? [...state.captions, caption] : state.captions.map((c, i) => (i === index ? caption : c));
  return { ...state, captions };
}

function addMessage(state: RoomView, message: Message): RoomView {
  const captions = state.captions.filter((c) => c.id !== message.id);
  const index = state.messages.findIndex((m) => m.id === message.id);
  const messages =
    index < 0
      ? [...state.messages, message]
      : state.messages.map((m, i) => (i === index ? { ...m, ...defined(message), receivedAt: m.receivedAt } : m));
  return { ...state, messages, captions };
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function upsert(
  participants: Participant[],
  userId: string,
  change: (p: Participant) => Participant,
): Participant[] {
  const index = participants.findIndex((p) => p.userId === userId);
  if (index < 0) {
    return [...participants, change({ userId, name: userId, voice: false, away: false })];
  }
  return participants.map((p, i) => (i === index ? change(p) : p));
}

/** A voice session ended or began: a new session's microphone is a new track, not muted. */
function setVoice(state: RoomView, userId: string | undefined, voice: boolean): Participant[] {
  if (userId === undefined || !state.participants.some((p) => p.userId === userId)) return state.participants;
  return upsert(state.participants, userId, (p) => ({ ...p, voice, mutedBy: voice ? p.mutedBy : undefined }));
}

/**
 * The roster (the room's event log) says what the frames do not: who was
 * here before this member joined, and who hears which language. Members the
 * frames told about keep their state from the frames (fresher than a poll);
 * only their language comes from the roster.
 */
function mergeRoster(participants: Participant[], members: RosterEntry[], heardOf: Set<string>): Participant[] {
  let merged = participants;
  for (const m of members) {
    const known = merged.find((p) => p.userId === m.userId);
    if (known === undefined) {
      if (!heardOf.has(m.userId)) {
        merged = [...merged, { userId: m.userId, name: m.name, language: m.language, voice: m.voice, away: m.away }];
      }
    } else if (known.language !== m.language) {
      merged = upsert(merged, m.userId, (p) => ({ ...p, language: m.language }));
    }
  }
  return merged;
}

function upsertAnswer(
  answers: Answer[],
  answerId: string,
  userId: string,
  language: Lang,
  change: (a: Answer) => Answer,
): Answer[] {
  const index = answers.findIndex((a) => a.answerId === answerId);
  if (index < 0) {
    const fresh: Answer = { answerId, userId, language, streamed: "", sentences: [], done: false };
    return [...answers, change(fresh)].slice(-KEPT_ANSWERS);
  }
  return answers.map((a, i) => (i === index ? change(a) : a));
}

function addNotice(state: RoomView, text: string, frame: ServerFrame, now: number): RoomView {
  const notice = { key: `${frame.pos ?? now}-${state.notices.length}`, text, receivedAt: now };
  return { ...state, notices: [...state.notices, notice].slice(-KEPT_NOTICES) };
}

/** One line of room activity; it may start with a name or "you", so its first letter is raised. */
function addActivity(state: RoomView, text: string, frame: ServerFrame, now: number): RoomView {
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  const line = { key: `${frame.pos ?? now}-${state.activity.length}`, text: sentence, receivedAt: now };
  return { ...state, activity: [...state.activity, line].slice(-KEPT_ACTIVITY) };
}

/**
 * Whether a frame puts this page out of its room for good: the room was
 * closed, this member was removed, or a join (after a reload or a
 * reconnect) was refused for either reason. A reconnect loop into such a
 * room could never succeed, so the page stops instead.
 */
export function outOfRoom(frame: ServerFrame): OutOfRoom | null {
  switch (frame.event) {
    case "room-closed":
      return { kind: "closed", by: frame.data.by, until: null };
    case "removed":
      return { kind: "removed", by: frame.data.by, until: frame.data.until };
    case "error":
      if (frame.data.code === "room_closed") return { kind: "closed", by: null, until: null, message: frame.data.message };
      if (frame.data.code === "removed_from_room") {
        return { kind: "removed", by: null, until: null, message: frame.data.message };
      }
      return null;
    default:
      return null;
  }
}

/** Out of the room: no voice session, no captions; the first reason told is kept. */
function putOut(state: RoomView, out: OutOfRoom): RoomView {
  return {
    ...state,
    out: state.out ?? out,
    voice: null,
    captions: [],
    recording: false,
    participants: setVoice(state, state.me?.userId, false),
  };
}

function trackMuted(state: RoomView, frame: FrameOf<"track-muted">, now: number): RoomView {
  const d = frame.data;
  const participants = state.participants.map((p) =>
    p.userId === d.userId ? { ...p, mutedBy: d.muted ? d.by : undefined } : p,
  );
  const text = `${displayName(state, d.by)} ${d.muted ? "muted" : "unmuted"} ${displayName(state, d.userId)}`;
  return addActivity({ ...state, participants }, text, frame, now);
}

function recordingChanged(state: RoomView, frame: FrameOf<"recording">, now: number): RoomView {
  const d = frame.data;
  const failure = !d.recording && d.reason !== undefined && d.reason !== "stopped" ? d.reason : null;
  const text = d.recording
    ? `${displayName(state, d.by)} started recording`
    : failure === "store_failed"
      ? "Recording stopped: the server could not store the audio"
      : failure !== null
        ? `Recording stopped (${failure})`
        : `${displayName(state, d.by)} stopped recording`;
  return addActivity({ ...state, recording: d.recording, recordingFailure: failure }, text, frame, now);
}

/** A user's name as this page knows it: "you" for its own user, else the name in the room, else the id. */
export function displayName(state: RoomView, userId: string): string {
  if (userId === state.me?.userId) return "you";
  return state.participants.find((p) => p.userId === userId)?.name ?? userId;
}

/** Whether this page's user may manage the room: they own it, or hold an operator's token (role admin). */
export function mayManage(state: RoomView, role: string | undefined): boolean {
  if (state.me === undefined || state.out !== null) return false;
  return role === "admin" || (state.owner !== null && state.owner === state.me.userId);
}

function addError(state: RoomView, note: ErrorNote): RoomView {
  return { ...state, errors: [...state.errors, note].slice(-KEPT_ERRORS) };
}

/** Whether someone is speaking now: they have a live caption. */
export function isSpeaking(state: RoomView, participant: Participant): boolean {
  return state.captions.some((c) => c.speakerName === participant.name);
}
