/**
 * The replay debugger in the browser: a room's event log with filters, a
 * scrubber showing the room's state at any position (GET .../state), and a
 * latency waterfall per utterance. A live room updates every second.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { ApiError, getEvents, getState, saveSession, tokenClaims, type Session } from "../api";
import type { RoomState, TimelineEvent } from "../protocol";
import { roomPath } from "../router";
import { eventTypes, filterEvents, parseTime, utterances, type Utterance } from "../timeline";

const POLL_MS = 1000;
const PAGE = 2000;
const SHOWN_ROWS = 1000;
const SHOWN_UTTERANCES = 50;

interface Props {
  code: string;
  session: Session | null;
  navigate(path: string): void;
  onSession(session: Session): void;
}

function TokenForm({ onToken }: { onToken(token: string): void }) {
  const [token, setToken] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onToken(token.trim());
  };
  return (
    <form className="card form" onSubmit={submit}>
      <p>The timeline is open to the room's members. Join the room first, or paste a member's token.</p>
      <label>
        Token
        <textarea aria-label="Token" value={token} onChange={(e) => setToken(e.target.value)} rows={3} required spellCheck={false} />
      </label>
      <button type="submit" className="primary">
        Open timeline
      </button>
    </form>
  );
}

/** The room's events, fetched in pages and then polled for new ones. */
function useEvents(code: string, token: string | null, live: boolean) {
  const [events, setEvents] = useState<TimelineEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const after = useRef(0);
  useEffect(() => {
    after.current = 0;
    setEvents([]);
    setError(null);
  }, [code, token]);
  useEffect(() => {
    if (!token) return;
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        for (;;) {
          const page = await getEvents(code, token, after.current, PAGE);
          if (stopped) return;
          const fresh = page.events.filter((e) => e.position > after.current);
          after.current = Math.max(after.current, page.last, ...fresh.map((e) => e.position));
          if (fresh.length) setEvents((old) => [...old, ...fresh]);
          setError(null);
          if (page.events.length < PAGE) break;
        }
      } catch (caught) {
        if (!stopped) setError(caught instanceof ApiError ? `${caught.code}: ${caught.message}` : String(caught));
      }
      if (!stopped && live) timer = window.setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [code, token, live]);
  return { events, error };
}

/** The shortest time axis: a few milliseconds of typed text do not fill the width. */
const MIN_SCALE_MS = 500;

function Waterfall({ utterance, scale }: { utterance: Utterance; scale: number }) {
  return (
    <figure aria-label="Latency waterfall" className="waterfall">
      {utterance.bars.map((bar, i) => (
        <div className="wf-row" key={i}>
          <span className="wf-label" aria-hidden="true">
            {bar.label}
          </span>
          <div className="wf-track">
            <div
              role="img"
              aria-label={bar.label}
              className={`wf-bar wf-${bar.stage}`}
              style={{
                left: `${(100 * bar.start) / scale}%`,
                width: `max(2px, ${(100 * (bar.end - bar.start)) / scale}%)`,
              }}
            />
          </div>
        </div>
      ))}
      <figcaption className="muted small">
        From the end of speech: {Math.round(utterance.totalMs)} ms to the last stage
        {utterance.durationMs > 0 && ` · utterance ${(utterance.durationMs / 1000).toFixed(1)} s`}
      </figcaption>
    </figure>
  );
}

const time = (iso: string) => new Date(parseTime(iso)).toISOString().slice(11, 23);

export function TimelinePage({ code, session, navigate, onSession }: Props) {
  const [live, setLive] = useState(true);
  const token = session?.token ?? null;
  const { events, error } = useEvents(code, token, live);
  const [filter, setFilter] = useState("");
  const [type, setType] = useState("");
  const [position, setPosition] = useState<number | null>(null);
  const [state, setState] = useState<RoomState | null>(null);
  const [stateError, setStateError] = useState<string | null>(null);

  const first = events[0]?.position ?? 0;
  const last = events.at(-1)?.position ?? 0;
  const at = position ?? last;
  const types = useMemo(() => eventTypes(events), [events]);
  const shown = useMemo(() => filterEvents(events, type, filter), [events, type, filter]);
  const spoken = useMemo(() => utterances(events).reverse().slice(0, SHOWN_UTTERANCES), [events]);
  // one axis for all, so utterances compare at a glance
  const scale = Math.max(MIN_SCALE_MS, ...spoken.map((u) => u.totalMs));

  useEffect(() => {
    if (!token || at <= 0) return;
    const timer = window.setTimeout(() => {
      getState(code, token, at)
        .then((s) => {
          setState(s);
          setStateError(null);
        })
        .catch((caught: unknown) => setStateError(caught instanceof ApiError ? `${caught.code}: ${caught.message}` : String(caught)));
    }, 150);
    return () => window.clearTimeout(timer);
  }, [code, token, at]);

  const openWithToken = (value: string) => {
    const claims = tokenClaims(value);
    onSession({ token: value, name: claims.name ?? "", language: claims.lang ?? "en", userId: claims.sub });
    saveSession({ token: value, name: claims.name ?? "", language: claims.lang ?? "en", userId: claims.sub });
  };

  return (
    <div className="page timeline">
      <header className="room-header">
        <div className="title">
          <span className="eyebrow">Timeline</span>
          <h1>{code}</h1>
        </div>
        <nav className="header-actions" aria-label="Timeline">
          <label className="check">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
            Live
          </label>
          <a
            href={roomPath(code)}
            onClick={(e) => {
              e.preventDefault();
              navigate(roomPath(code));
            }}
          >
            Back to the room
          </a>
        </nav>
      </header>
      {!token ? (
        <TokenForm onToken={openWithToken} />
      ) : (
        <>
          {error && (
            <p className="banner banner-error" role="alert">
              {error}
            </p>
          )}
          <section className="card scrubber">
            <h2 id="scrub-title">Room at a position</h2>
            <label className="slider">
              Position
              <input aria-label="Position"
                type="range"
                min={first}
                max={Math.max(last, first)}
                step={1}
                value={at}
                disabled={events.length === 0}
                onChange={(e) => setPosition(Number(e.target.value))}
                aria-valuetext={`position ${at}`}
              />
              <output>{at}</output>
            </label>
            {position !== null && (
              <button type="button" className="link" onClick={() => setPosition(null)}>
                Follow the newest
              </button>
            )}
            <section role="region" aria-label="State at position" className="state">
              {stateError ? (
                <p className="error">{stateError}</p>
              ) : (
                <pre>{state?.lines.join("\n") ?? "…"}</pre>
              )}
            </section>
          </section>

          <div className="timeline-grid">
            <section className="card">
              <h2 id="events-title">Events</h2>
              <div className="filters">
                <label>
                  Filter
                  <input aria-label="Filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="text, who, type…" />
                </label>
                <label>
                  Event type
                  <select aria-label="Event type" value={type} onChange={(e) => setType(e.target.value)}>
                    <option value="">All types</option>
                    {types.map((t) => (
                      <option key={t}>{t}</option>
                    ))}
                  </select>
                </label>
              </div>
              <p className="muted small">
                {shown.length} of {events.length} events
                {shown.length > SHOWN_ROWS && ` (the last ${SHOWN_ROWS} shown)`}
              </p>
              <div className="table-wrap">
                <table aria-label="Events" className="events">
                  <thead>
                    <tr>
                      <th scope="col">Position</th>
                      <th scope="col">Time</th>
                      <th scope="col">Type</th>
                      <th scope="col">Who</th>
                      <th scope="col">Line</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.slice(-SHOWN_ROWS).map((e) => (
                      <tr key={e.position} className={e.position === at ? "current" : undefined}>
                        <td className="pos">
                          <button type="button" className="link" onClick={() => setPosition(e.position)} aria-label={`Show the room at position ${e.position}`}>
                            {e.position}
                          </button>
                        </td>
                        <td className="time">
                          <time dateTime={e.time}>{time(e.time)}</time>
                        </td>
                        <td className="type">{e.type}</td>
                        <td className="who">{e.who}</td>
                        <td className="line">{e.line}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>

            <section className="card">
              <h2 id="utterances-title">Where the time went</h2>
              <p className="legend small">
                <span className="key wf-decode" /> decode <span className="key wf-translation" /> translation{" "}
                <span className="key wf-synthesis" /> synthesis <span className="key wf-delivery" /> delivery
              </p>
              <p className="muted small">
                Per utterance, from the end of speech: decode (the voice detector's silence and the final
                transcript), translation per language, synthesis to the first audio, and the rest of the audio
                delivered.
              </p>
              <ol aria-label="Utterances" className="utterances">
                {spoken.map((u) => (
                  <li key={u.transcriptId} data-id={u.transcriptId} data-pos={u.position}>
                    <p>
                      <strong>{u.speaker}</strong> <span className="lang-tag">{u.sourceLang}</span> “{u.text}”{" "}
                      <span className="muted small">#{u.position}</span>
                    </p>
                    <Waterfall utterance={u} scale={scale} />
                  </li>
                ))}
              </ol>
              {spoken.length === 0 && <p className="muted">No utterance yet.</p>}
            </section>
          </div>
        </>
      )}
    </div>
  );
}
