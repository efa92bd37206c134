/**
 * The conversation page: the room as one member sees it, and everything they
 * can do in it (speak over the WebSocket or in a LiveKit voice session, hear
 * translations, change language, solo mode, preferences, the assistant, and
 * for its owner or an operator, manage it).
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { getEvents, saveSession, tokenClaims, type Session } from "../api";
import { OPUS_SAMPLE_RATE, OpusRecorder, canRecordOpus } from "../audio/recorder";
import { SpeechPlayer } from "../audio/player";
import { languageName } from "../languages";
import type { ClientFrames, ServerConfig, ServerFrame } from "../protocol";
import { displayName, mayManage, type Action, type RoomView, type RosterEntry } from "../reducer";
import { readableRefusal } from "../refusals";
import { roomPath, timelinePath } from "../router";
import { rosterFrom } from "../timeline";
import { useLiveKitVoice } from "../useLiveKitVoice";
import { CommandError, useVoicemode } from "../useVoicemode";
import {
  ManageRoom,
  OutOfRoomView,
  ParticipantActions,
  RecordingBadge,
  RecordingFailure,
  RoomActivity,
} from "./RoomManagement";
import { AssistantAnswers, Captions, Messages, Participants, StatusPill } from "./RoomParts";

const ROSTER_POLL_MS = 3000;

interface Props {
  config: ServerConfig;
  session: Session;
  code: string;
  navigate(path: string): void;
  onSignOut(): void;
}

type Speaking = "idle" | "starting" | "speaking" | "stopping";

function LanguageOptions({ languages }: { languages: string[] }) {
  return (
    <>
      {languages.map((code) => (
        <option key={code} value={code}>
          {languageName(code)} ({code})
        </option>
      ))}
    </>
  );
}

function EngineOptions({ engines }: { engines: string[] }) {
  return (
    <>
      <option value="">Server default</option>
      {engines.map((name) => (
        <option key={name} value={name}>
          {name}
        </option>
      ))}
    </>
  );
}

/**
 * The room's members from its event log: who was here before this page
 * joined, and everyone's language (the frames carry neither).
 */
function useRoster(code: string, token: string, joined: boolean, dispatch: (action: Action) => void) {
  useEffect(() => {
    if (!joined) return; // before the join the room may not exist, or we may not be a member
    let after = 0;
    let stopped = false;
    const roster = new Map<string, RosterEntry>();
    const poll = async () => {
      if (!navigator.onLine) return;
      try {
        for (;;) {
          const page = await getEvents(code, token, after, 2000);
          if (stopped) return;
          rosterFrom(page.events, roster);
          after = Math.max(after, page.last);
          if (page.events.length < 2000) break;
        }
        dispatch({ type: "roster", members: [...roster.values()].map((m) => ({ ...m })) });
      } catch {
        // the roster only adds what the frames do not say; the room works without it
      }
    };
    void poll();
    const timer = window.setInterval(() => void poll(), ROSTER_POLL_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [code, token, joined, dispatch]);
}

export function ConversationPage({ config, session, code, navigate, onSignOut }: Props) {
  const [language, setLanguage] = useState(session.language);
  const [solo, setSolo] = useState(false);
  const [soloTarget, setSoloTarget] = useState(config.languages.find((l) => l !== session.language) ?? "en");
  const [assistantMode, setAssistantMode] = useState(false);
  const [sharedAssistant, setSharedAssistant] = useState(false);
  const [speech, setSpeech] = useState(true);
  const [voice, setVoice] = useState("");
  const [engines, setEngines] = useState({ translationEngine: "", ttsEngine: "", sttEngine: "" });
  const [speaking, setSpeaking] = useState<Speaking>("idle");
  const [voiceBusy, setVoiceBusy] = useState(false);
  const [question, setQuestion] = useState("");
  const [typed, setTyped] = useState("");
  const [everConnected, setEverConnected] = useState(false);
  const [copied, setCopied] = useState(false);
  const player = useRef<SpeechPlayer>(null as unknown as SpeechPlayer);
  player.current ??= new SpeechPlayer();
  const recorder = useRef<OpusRecorder | null>(null);
  const stateRef = useRef<RoomView | null>(null);

  const onFrame = useCallback((frame: ServerFrame) => {
    if (frame.event === "assistant-interrupted") {
      const ids = (stateRef.current?.messages ?? []).filter((m) => m.answerId === frame.data.answerId).map((m) => m.id);
      player.current.stop(ids);
    }
  }, []);

  const vm = useVoicemode({
    wsUrl: config.wsUrl,
    token: session.token,
    roomCode: code,
    language,
    myName: session.name,
    speech: player.current,
    onFrame,
  });
  const { state, status, request, dispatch } = vm;
  stateRef.current = state;
  useRoster(code, session.token, state.me !== undefined && state.out === null, dispatch);
  const manager = mayManage(state, tokenClaims(session.token).role);

  const voiceActive = state.voice !== null;
  const lk = useLiveKitVoice(state.voice?.url ?? "", state.voice?.token ?? "", language);
  const startingMic = useRef(false);

  useEffect(() => {
    if (status === "connected") setEverConnected(true);
  }, [status]);

  // Sound needs a user gesture: the Join click usually counts; any later one does too.
  useEffect(() => {
    const unlock = () => player.current.unlock();
    unlock();
    window.addEventListener("pointerdown", unlock);
    window.addEventListener("keydown", unlock);
    return () => {
      window.removeEventListener("pointerdown", unlock);
      window.removeEventListener("keydown", unlock);
      player.current.close();
    };
  }, []);

  const fail = useCallback(
    (caught: unknown) => {
      const code = caught instanceof CommandError ? caught.code : "client_error";
      const message = caught instanceof Error ? caught.message : String(caught);
      dispatch({ type: "local-error", code, message, now: Date.now() });
    },
    [dispatch],
  );

  /** Send a command; its error (if any) is shown with the room's errors. */
  const command = useCallback(
    async <E extends keyof ClientFrames>(event: E, data: ClientFrames[E]) => {
      try {
        return await request(event, data);
      } catch (caught) {
        if (!(caught instanceof CommandError && caught.code !== "offline")) fail(caught);
        return null; // the server's error frame is already in the state
      }
    },
    [request, fail],
  );

  // --- speaking over the WebSocket -----------------------------------------
  const stopSpeaking = useCallback(async () => {
    const active = recorder.current;
    if (active === null) return;
    recorder.current = null;
    setSpeaking("stopping");
    await active.stop();
    await command("stop-speech", {});
    setSpeaking("idle");
  }, [command]);

  const startSpeaking = useCallback(async () => {
    if (recorder.current !== null) return;
    setSpeaking("starting");
    const next = new OpusRecorder();
    try {
      await next.open();
      const data: ClientFrames["start-speech"] = {
        languageCode: language,
        encoding: "WEBM_OPUS",
        sampleRateHertz: OPUS_SAMPLE_RATE,
        ...(solo && !assistantMode ? { soloMode: true, soloTargetLang: soloTarget } : {}),
        ...(assistantMode ? { assistant: true } : {}),
      };
      if ((await command("start-speech", data)) === null) {
        await next.stop();
        setSpeaking("idle");
        return;
      }
      recorder.current = next;
      next.start(vm.sendBinary);
      setSpeaking("speaking");
    } catch (caught) {
      await next.stop();
      fail(caught);
      setSpeaking("idle");
    }
  }, [language, solo, soloTarget, assistantMode, command, fail, vm.sendBinary]);

  // A dropped connection ends the server's speech session: stop the microphone too.
  useEffect(() => {
    if (status !== "connected" && recorder.current !== null) {
      const active = recorder.current;
      recorder.current = null;
      void active.stop().then(() => setSpeaking("idle"));
    }
  }, [status]);

  // Out of the room (closed, or removed): the server ended the voice session
  // and LiveKit disconnected it; let go of the microphone too.
  const out = state.out !== null;
  useEffect(() => {
    if (!out) return;
    void stopSpeaking();
    void lk.stopRecording().catch(() => undefined);
  }, [out]); // once, when put out: the callbacks change every render

  // --- voice session over LiveKit ---------------------------------------------
  useEffect(() => {
    if (voiceActive && lk.isConnected && !lk.isRecording && !startingMic.current) {
      startingMic.current = true;
      lk.startRecording()
        .catch(fail)
        .finally(() => {
          startingMic.current = false;
        });
    }
  }, [voiceActive, lk, fail]);

  const toggleVoiceSession = async () => {
    setVoiceBusy(true);
    try {
      if (voiceActive) {
        await lk.stopRecording();
        await command("stop-voice-session", {});
      } else {
        player.current.unlock();
        await command("start-voice-session", {
          languageCode: language,
          ...(solo && !assistantMode ? { soloMode: true, soloTargetLang: soloTarget } : {}),
          ...(assistantMode ? { assistant: true } : {}),
        });
      }
    } finally {
      setVoiceBusy(false);
    }
  };

  // --- settings ------------------------------------------------------------
  const changeLanguage = async (next: string) => {
    setLanguage(next);
    saveSession({ ...session, language: next });
    await command("set-language", { language: next });
  };

  const setPreference = (data: ClientFrames["set-preferences"]) => void command("set-preferences", data);

  // --- assistant -----------------------------------------------------------
  /** Commands go over LiveKit as the seed's data packet in a voice session, else over the WebSocket. */
  const assistantCommand = async (text: string) => {
    if (voiceActive && lk.isConnected) await lk.sendCommand(text).catch(fail);
    else await command("assistant-command", { text });
  };

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    const text = question.trim();
    if (!text) return;
    if ((await command("ask-assistant", { text })) !== null) setQuestion("");
  };

  const send = async (event: FormEvent) => {
    event.preventDefault();
    const text = typed.trim();
    if (!text) return;
    const data: ClientFrames["speech-transcript"] = {
      transcript: text,
      sourceLang: language,
      ...(solo ? { soloMode: true, soloTargetLang: soloTarget } : {}),
    };
    if ((await command("speech-transcript", data)) !== null) {
      // Keep whatever was typed while this one waited for its ack.
      setTyped((current) => (current.trim() === text ? "" : current));
    }
  };

  const leave = async () => {
    await stopSpeaking();
    if (voiceActive) await lk.stopRecording();
    await command("leave-room", {});
    navigate("/");
  };

  const share = async () => {
    const link = `${window.location.origin}${roomPath(code)}`;
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      window.prompt("Share this link", link);
    }
  };

  const connected = status === "connected";
  const voices = config.engines.voices.filter((v) => v.language === language);
  const otherLanguages = config.languages.filter((l) => l !== language);
  // A voice session's open microphone is not speech: its captions say when (isSpeaking).
  const mySpeaking = speaking === "speaking";
  const myMute = state.participants.find((p) => p.userId === state.me?.userId)?.mutedBy;

  return (
    <div className="page room">
      <header className="room-header">
        <div className="title">
          <span className="eyebrow">Room</span>
          <h1>{code}</h1>
        </div>
        <StatusPill status={status} everConnected={everConnected} />
        <RecordingBadge recording={state.recording} />
        <nav className="header-actions" aria-label="Room">
          {!out && (
            <button type="button" onClick={share}>
              {copied ? "Link copied" : "Share link"}
            </button>
          )}
          <a
            href={timelinePath(code)}
            onClick={(e) => {
              e.preventDefault();
              navigate(timelinePath(code));
            }}
          >
            Timeline
          </a>
          {!out && (
            <button type="button" onClick={leave}>
              Leave
            </button>
          )}
          <button type="button" className="link" onClick={onSignOut}>
            Sign out
          </button>
        </nav>
      </header>

      {everConnected && !connected && !out && (
        <div className="banner" aria-hidden="true">
          {status === "offline"
            ? "You are offline. The page reconnects when the network is back; nothing is lost."
            : "Connection lost. Reconnecting… missed messages will be caught up."}
        </div>
      )}
      {vm.fatal && (
        <p className="banner banner-error" role="alert">
          The server refused the token ({vm.fatal}).{" "}
          <button type="button" className="link" onClick={onSignOut}>
            Sign in again
          </button>
        </p>
      )}

      <RecordingFailure failure={state.recordingFailure} />

      {out ? (
        <OutOfRoomView state={state} onBack={() => navigate("/")} />
      ) : (
        <div className="room-grid">
          <main className="conversation">
            <Captions state={state} />
            <Messages state={state} />
            <form className="compose" onSubmit={send}>
              <label className="grow">
                <span className="visually-hidden">Type a message</span>
                <input
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                  placeholder="Type a message"
                  maxLength={5000}
                  aria-label="Type a message"
                />
              </label>
              <button type="submit" disabled={!connected || !typed.trim()}>
                Send
              </button>
            </form>
            <div className="speak-bar">
              <button
                type="button"
                className={`primary big ${speaking === "speaking" ? "recording" : ""}`}
                aria-pressed={speaking === "speaking"}
                disabled={!connected || voiceActive || !canRecordOpus() || speaking === "starting" || speaking === "stopping"}
                onClick={speaking === "speaking" ? stopSpeaking : startSpeaking}
              >
                {speaking === "speaking" ? "Stop speaking" : "Start speaking"}
              </button>
              <button
                type="button"
                className={`big ${voiceActive ? "recording" : ""}`}
                aria-pressed={voiceActive}
                disabled={!connected || !config.livekit || voiceBusy || speaking !== "idle"}
                onClick={toggleVoiceSession}
                title={config.livekit ? undefined : "This server has no LiveKit"}
              >
                {voiceActive ? "End voice session" : "Start voice session"}
              </button>
              {voiceActive && (
                <span className="muted small">
                  LiveKit:{" "}
                  {lk.isConnected
                    ? lk.isRecording
                      ? myMute === undefined
                        ? "microphone on"
                        : `microphone muted by ${displayName(state, myMute)}`
                      : "connected"
                    : "connecting…"}
                  {lk.transcript && <> · last heard: “{lk.transcript}”</>}
                </span>
              )}
              {voiceActive && lk.error && (
                <span className="error small" role="alert">
                  {lk.error}
                </span>
              )}
            </div>
            {state.errors.length > 0 && (
              <ul className="errors" aria-label="Problems">
                {state.errors.map((e, i) => (
                  <li key={`${e.receivedAt}-${i}`}>
                    {readableRefusal(e.code, e.message)} <code>{e.code}</code>
                    <button type="button" className="link" onClick={() => dispatch({ type: "dismiss-error", index: i })}>
                      Dismiss
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </main>

          <aside className="side">
            <Participants
              state={state}
              mySpeaking={mySpeaking}
              actions={manager ? (p) => <ParticipantActions participant={p} send={command} /> : undefined}
            >
              <RoomActivity state={state} />
            </Participants>
            {manager && <ManageRoom state={state} record={config.record} send={command} />}

            <section className="card">
              <h2 id="settings-title">Language and speech</h2>
              <div className="form">
                <label>
                  I hear
                  <select aria-label="I hear" value={language} onChange={(e) => void changeLanguage(e.target.value)} disabled={!connected}>
                    <LanguageOptions languages={config.languages} />
                  </select>
                </label>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={solo}
                    disabled={assistantMode}
                    onChange={(e) => setSolo(e.target.checked)}
                  />
                  Solo mode
                </label>
                <label>
                  Translate my speech to
                  <select aria-label="Translate my speech to" value={soloTarget} onChange={(e) => setSoloTarget(e.target.value)} disabled={!solo}>
                    <LanguageOptions languages={otherLanguages} />
                  </select>
                </label>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={speech}
                    disabled={!connected}
                    onChange={(e) => {
                      setSpeech(e.target.checked);
                      setPreference({ speech: e.target.checked });
                    }}
                  />
                  Speech
                </label>
                <label>
                  Voice
                  <select aria-label="Voice"
                    value={voice}
                    disabled={!connected}
                    onChange={(e) => {
                      setVoice(e.target.value);
                      setPreference({ voice: e.target.value });
                    }}
                  >
                    <option value="">Server default</option>
                    {voices.map((v) => (
                      <option key={v.id} value={v.id}>
                        {v.name}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Translation engine
                  <select aria-label="Translation engine"
                    value={engines.translationEngine}
                    disabled={!connected}
                    onChange={(e) => {
                      setEngines({ ...engines, translationEngine: e.target.value });
                      setPreference({ translationEngine: e.target.value });
                    }}
                  >
                    <EngineOptions engines={config.engines.translation} />
                  </select>
                </label>
                <label>
                  Synthesis engine
                  <select aria-label="Synthesis engine"
                    value={engines.ttsEngine}
                    disabled={!connected}
                    onChange={(e) => {
                      setEngines({ ...engines, ttsEngine: e.target.value });
                      setPreference({ ttsEngine: e.target.value });
                    }}
                  >
                    <EngineOptions engines={config.engines.tts} />
                  </select>
                </label>
                <label>
                  Recognition engine
                  <select aria-label="Recognition engine"
                    value={engines.sttEngine}
                    disabled={!connected}
                    onChange={(e) => {
                      setEngines({ ...engines, sttEngine: e.target.value });
                      setPreference({ sttEngine: e.target.value });
                    }}
                  >
                    <EngineOptions engines={config.engines.stt} />
                  </select>
                </label>
              </div>
            </section>

            <section className="card">
              <h2 id="assistant-title">Assistant</h2>
              <div className="form">
                <label className="check">
                  <input
                    type="checkbox"
                    checked={assistantMode}
                    onChange={(e) => {
                      setAssistantMode(e.target.checked);
                      if (e.target.checked) setSolo(false);
                    }}
                  />
                  Assistant mode
                </label>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={sharedAssistant}
                    disabled={!connected}
                    onChange={(e) => {
                      setSharedAssistant(e.target.checked);
                      void command("set-assistant", { enabled: e.target.checked });
                    }}
                  />
                  Shared assistant in this room
                </label>
                <form className="compose" onSubmit={ask}>
                  <label className="grow">
                    <span className="visually-hidden">Ask the assistant</span>
                    <input
                      value={question}
                      onChange={(e) => setQuestion(e.target.value)}
                      placeholder="Ask the assistant"
                      aria-label="Ask the assistant"
                      maxLength={5000}
                    />
                  </label>
                  <button type="submit" disabled={!connected || !question.trim()}>
                    Ask
                  </button>
                </form>
                <div className="row">
                  <button type="button" disabled={!connected} onClick={() => void assistantCommand("help")}>
                    Help
                  </button>
                  <button type="button" disabled={!connected} onClick={() => void assistantCommand("clear")}>
                    Clear context
                  </button>
                </div>
              </div>
              <AssistantAnswers answers={state.answers} notices={state.notices} />
            </section>
          </aside>
        </div>
      )}
    </div>
  );
}
