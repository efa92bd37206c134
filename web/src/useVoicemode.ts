/**
 * The one hook for voicemode's WebSocket protocol: connects with the token,
 * joins the room, and after any drop reconnects (exponential backoff with
 * jitter, at once when the browser comes back online) and resumes from the
 * last stored position it saw, so nothing is missed and, with the reducer's
 * dedupe by `pos`, nothing is shown twice. Commands go out with refs and
 * resolve with their one answer (reply, ack or error). Once the room is
 * closed or this member removed (`outOfRoom`), it disconnects for good: a
 * rejoin would only be refused again.
 */
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { backoffDelay } from "./backoff";
import {
  CLOSE_AUTH_FAILED,
  parseServerFrame,
  type ClientEvent,
  type ClientFrames,
  type Lang,
  type ServerFrame,
  type ServerFrames,
} from "./protocol";
import { initialRoomView, outOfRoom, reduce, type Action, type RoomView } from "./reducer";
import { testHook } from "./testHook";

/** `out`: the room was closed or this member removed; the page does not reconnect. */
export type ConnectionStatus = "connected" | "reconnecting" | "offline" | "out";

/** Where the speech frames go (the WebAudio player). */
export interface SpeechSink {
  header(data: ServerFrames["synthesized-speech"]): void;
  chunk(bytes: ArrayBuffer): void;
  end(data: ServerFrames["synthesized-speech-end"]): void;
}

export interface VoicemodeOptions {
  wsUrl: string | null;
  token: string;
  roomCode: string;
  language: Lang;
  myName: string;
  speech?: SpeechSink;
  /** Every frame, after the reducer saw it (for effects such as stopping an answer's audio). */
  onFrame?: (frame: ServerFrame) => void;
}

/** A command refused by the server (its `error` frame) or lost with the connection. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: CommandError) => void;
}

const CAPTION_SWEEP_MS = 1000;

export interface Voicemode {
  state: RoomView;
  status: ConnectionStatus;
  /** The connection failed for good (a refused token): why. */
  fatal: string | null;
  /** Send a command with a ref; resolves with its answer, rejects with its error. */
  request<E extends ClientEvent>(event: E, data: ClientFrames[E]): Promise<ServerFrame>;
  /** Send binary speech data (between start-speech and stop-speech). */
  sendBinary(bytes: ArrayBuffer): void;
  dispatch(action: Action): void;
}

export function useVoicemode(options: VoicemodeOptions): Voicemode {
  const { wsUrl, token, roomCode } = options;
  const [state, dispatch] = useReducer(reduce, options.myName, initialRoomView);
  const [status, setStatus] = useState<ConnectionStatus>(navigator.onLine ? "reconnecting" : "offline");
  const [fatal, setFatal] = useState<string | null>(null);
  const socket = useRef<WebSocket | null>(null);
  const pending = useRef(new Map<number, Pending>());
  const nextRef = useRef(1);
  const lastPos = useRef(0);
  const latest = useRef(options);
  latest.current = options;

  const seen = useCallback((frame: ServerFrame) => {
    if (frame.pos !== undefined && frame.pos > lastPos.current) lastPos.current = frame.pos;
  }, []);

  const request = useCallback(<E extends ClientEvent>(event: E, data: ClientFrames[E]) => {
    const ws = socket.current;
    if (ws === null || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new CommandError("offline", "not connected"));
    }
    const ref = nextRef.current++;
    return new Promise<ServerFrame>((resolve, reject) => {
      pending.current.set(ref, { resolve, reject });
      ws.send(JSON.stringify({ event, data, ref }));
    });
  }, []);

  const sendBinary = useCallback((bytes: ArrayBuffer) => {
    const ws = socket.current;
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(bytes);
  }, []);

  useEffect(() => {
    if (wsUrl === null) return;
    let stopped = false;
    let attempt = 0;
    let timer: number | undefined;

    const failPending = () => {
      for (const { reject } of pending.current.values()) reject(new CommandError("offline", "connection lost"));
      pending.current.clear();
    };

    const receive = (ws: WebSocket, event: MessageEvent) => {
      if (event.data instanceof ArrayBuffer) {
        latest.current.speech?.chunk(event.data);
        return;
      }
      const frame = parseServerFrame(String(event.data));
      if (frame === null) return;
      testHook.frames += 1;
      if (frame.event === "synthesized-speech") latest.current.speech?.header(frame.data);
      else if (frame.event === "synthesized-speech-end") latest.current.speech?.end(frame.data);
      if (frame.event === "joined-room" && socket.current === ws) {
        attempt = 0;
        // Nothing before the first join is ours: resume from there at least.
        if (lastPos.current === 0) lastPos.current = frame.data.position;
        setStatus("connected");
      }
      dispatch({ type: "frame", frame, now: Date.now() });
      seen(frame);
      if (typeof frame.ref === "number") {
        const waiter = pending.current.get(frame.ref);
        if (waiter) {
          pending.current.delete(frame.ref);
          if (frame.event === "error") waiter.reject(new CommandError(frame.data.code, frame.data.message));
          else waiter.resolve(frame);
        }
      }
      latest.current.onFrame?.(frame);
      if (outOfRoom(frame) !== null && socket.current === ws) leaveForGood(ws);
    };

    const leaveForGood = (ws: WebSocket) => {
      stopped = true;
      socket.current = null;
      failPending();
      setStatus("out");
      ws.close(1000, "out of the room");
    };

    const connect = () => {
      timer = undefined;
      if (stopped) return;
      if (!navigator.onLine) {
        setStatus("offline");
        return;
      }
      setStatus("reconnecting");
      const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
      ws.binaryType = "arraybuffer";
      socket.current = ws;
      ws.onopen = () => {
        // The first join starts from now; a rejoin resumes in the same frame
        // from the last position seen (a history replayed from 0 could
        // overflow the server's outbox in a long room).
        const { language } = latest.current;
        const since = lastPos.current > 0 ? { since: lastPos.current } : {};
        ws.send(JSON.stringify({ event: "join-room", data: { roomCode, language, ...since } }));
      };
      ws.onmessage = (event) => receive(ws, event);
      ws.onclose = (event) => {
        if (socket.current !== ws) return;
        socket.current = null;
        failPending();
        dispatch({ type: "disconnected" });
        if (stopped) return;
        if (event.code === CLOSE_AUTH_FAILED) {
          setFatal(event.reason || "the token was refused");
          setStatus("offline");
          return;
        }
        scheduleReconnect();
      };
    };

    const scheduleReconnect = () => {
      if (stopped || timer !== undefined) return;
      if (!navigator.onLine) {
        setStatus("offline");
        return;
      }
      setStatus("reconnecting");
      timer = window.setTimeout(connect, backoffDelay(attempt++));
    };

    const goOffline = () => {
      setStatus("offline");
      window.clearTimeout(timer);
      timer = undefined;
      const ws = socket.current;
      if (ws !== null) {
        socket.current = null;
        failPending();
        dispatch({ type: "disconnected" });
        ws.close(1000, "offline");
      }
    };

    const goOnline = () => {
      if (socket.current === null) {
        window.clearTimeout(timer);
        attempt = 0;
        connect();
      }
    };

    const sweep = window.setInterval(() => dispatch({ type: "expire-captions", now: Date.now() }), CAPTION_SWEEP_MS);
    window.addEventListener("offline", goOffline);
    window.addEventListener("online", goOnline);
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      window.clearInterval(sweep);
      window.removeEventListener("offline", goOffline);
      window.removeEventListener("online", goOnline);
      const ws = socket.current;
      socket.current = null;
      failPending();
      // Closing is not leaving: the member stays, away, and can come back (leave-room ends it).
      ws?.close(1000, "page closed");
    };
  }, [wsUrl, token, roomCode, seen]);

  return { state, status, fatal, request, sendBinary, dispatch };
}
