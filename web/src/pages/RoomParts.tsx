/**
 * The conversation page's read-only parts: who is here, live captions, the
 * messages, and the assistant's answer. Presentational; the page owns state.
 */
import { useEffect, useRef, type ReactNode } from "react";
import { languageName } from "../languages";
import { displayName, isSpeaking, type Answer, type Message, type Notice, type Participant, type RoomView } from "../reducer";
import type { ConnectionStatus } from "../useVoicemode";

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  out: "Out of the room",
};

export function StatusPill({ status, everConnected }: { status: ConnectionStatus; everConnected: boolean }) {
  const text = status === "reconnecting" && !everConnected ? "Connecting…" : STATUS_TEXT[status];
  return (
    <p role="status" aria-live="polite" className={`status status-${status}`} data-state={status}>
      {text}
    </p>
  );
}

/**
 * Who is in the room; `actions` adds controls to each other member (a
 * manager's Mute and Remove), `children` what follows the list.
 */
export function Participants({
  state,
  mySpeaking,
  actions,
  children,
}: {
  state: RoomView;
  mySpeaking: boolean;
  actions?: (participant: Participant) => ReactNode;
  children?: ReactNode;
}) {
  return (
    <section className="card participants-card">
      <h2 id="participants-title">People</h2>
      <ul aria-label="Participants" className="participants">
        {state.participants.map((p) => {
          const me = p.userId === state.me?.userId;
          const speaking = (me && mySpeaking) || isSpeaking(state, p);
          return (
            <li key={p.userId} data-user-id={p.userId} className={p.away ? "away" : undefined}>
              <span className="who">
                {p.name}
                {me && <span className="muted"> (you)</span>}
              </span>{" "}
              <span className="lang" title={p.language ? languageName(p.language) : "language not known"}>
                {p.language ?? "?"}
              </span>{" "}
              <span className="tags">
                {speaking && <span className="tag tag-speaking">speaking</span>}{" "}
                {p.voice && <span className="tag tag-voice">voice</span>}{" "}
                {p.away && <span className="tag tag-away">away</span>}{" "}
                {p.mutedBy !== undefined && (
                  <span className="tag tag-muted">muted by {displayName(state, p.mutedBy)}</span>
                )}
              </span>
              {actions !== undefined && !me && actions(p)}
            </li>
          );
        })}
      </ul>
      {children}
    </section>
  );
}

export function Captions({ state }: { state: RoomView }) {
  return (
    <section className="captions" role="region" aria-label="Live captions" aria-live="polite">
      {state.captions.length === 0 ? (
        <p className="muted">Nobody is speaking.</p>
      ) : (
        state.captions.map((c) => (
          <p key={c.id} data-id={c.id} className="caption">
            <strong>{c.speakerName}:</strong> {c.text}
          </p>
        ))
      )}
    </section>
  );
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function MessageItem({ message, mine }: { message: Message; mine: boolean }) {
  const translated =
    message.translatedText !== undefined &&
    (message.errorCode !== undefined || message.translatedText !== message.originalText || message.kind === "solo");
  return (
    <li
      data-id={message.id}
      data-pos={message.pos}
      data-error-code={message.errorCode}
      className={`message ${mine ? "mine" : ""} ${message.fromUserId === "assistant" ? "from-assistant" : ""}`}
    >
      <div className="message-head">
        <span className="speaker">{message.speakerName}</span>
        {message.kind === "solo" && <span className="tag">solo</span>}
        <time dateTime={new Date(message.receivedAt).toISOString()}>{clock.format(message.receivedAt)}</time>
      </div>
      {translated && !message.errorCode ? (
        <>
          <p className="translation" lang={message.targetLang}>
            {message.translatedText}
          </p>
          <p className="original" lang={message.sourceLang}>
            <span className="lang-tag">{message.sourceLang}</span> {message.originalText}
          </p>
        </>
      ) : (
        <p className="translation" lang={message.sourceLang}>
          {message.originalText}
        </p>
      )}
      {message.errorCode && (
        <p className="failed" data-error-code={message.errorCode}>
          translation failed <code>{message.errorCode}</code>
        </p>
      )}
    </li>
  );
}

export function Messages({ state }: { state: RoomView }) {
  const list = useRef<HTMLOListElement>(null);
  const count = state.messages.length;
  // Follow new messages, unless the reader scrolled up to read older ones.
  useEffect(() => {
    const element = list.current;
    if (element && element.scrollHeight - element.scrollTop - element.clientHeight < 160) {
      element.scrollTop = element.scrollHeight;
    }
  }, [count]);
  return (
    <>
      {count === 0 && <p className="muted empty">No messages yet. Speak, or type below.</p>}
      <ol aria-label="Messages" className="messages" ref={list}>
        {state.messages.map((m) => (
          <MessageItem key={m.id} message={m} mine={m.kind === "own" || m.fromUserId === state.me?.userId} />
        ))}
      </ol>
    </>
  );
}

function AnswerView({ answer }: { answer: Answer }) {
  // Live: the model's pieces; once over: the sentences as this listener got them (their language).
  const text =
    answer.done || !answer.streamed
      ? answer.sentences.join(" ") || answer.delivered || answer.answer || answer.streamed
      : answer.streamed;
  return (
    <article className="answer" data-answer-id={answer.answerId} data-done={answer.done}>
      {answer.question && <p className="question">{answer.question}</p>}
      <p className="answer-text">
        {text}
        {!answer.done && <span className="cursor" aria-hidden="true" />}
      </p>
      <p className="meta">
        {answer.done ? "answered" : "answering…"}
        {answer.interruptedAt != null && ` · interrupted at ${answer.interruptedAt}`}
        {answer.errorCode && (
          <>
            {" · "}
            <code>{answer.errorCode}</code>
          </>
        )}
      </p>
    </article>
  );
}

export function AssistantAnswers({ answers, notices }: { answers: Answer[]; notices: Notice[] }) {
  const latest = answers.at(-1);
  return (
    <section role="region" aria-label="Assistant" aria-live="polite" className="assistant-region">
      {latest ? <AnswerView answer={latest} /> : <p className="muted">No answer yet.</p>}
      {notices.length > 0 && <p className="muted notice">{notices.at(-1)!.text}</p>}
    </section>
  );
}
