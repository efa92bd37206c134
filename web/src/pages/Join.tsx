/**
 * The join page: a name, the language one hears and a room code. Under
 * `serve --dev` the page mints its own token (POST /api/dev/token); otherwise
 * it takes a token the operator minted (`voicemode token ...`).
 */
import { useState, type FormEvent } from "react";
import { ApiError, mintDevToken, tokenClaims, type Session } from "../api";
import { languageName } from "../languages";
import type { ServerConfig } from "../protocol";

const ROOM_CODE = /^[A-Za-z0-9._-]{1,64}$/;

/** The browser's language if the server offers it, else English, else the first offered. */
function defaultLanguage(offered: string[]): string {
  const wanted = [...navigator.languages.map((tag) => tag.split("-")[0].toLowerCase()), "en"];
  return wanted.find((code) => offered.includes(code)) ?? offered[0] ?? "en";
}

interface Props {
  config: ServerConfig;
  initialRoom: string;
  stored: Session | null;
  onJoin(session: Session, room: string): void;
}

export function JoinPage({ config, initialRoom, stored, onJoin }: Props) {
  const [name, setName] = useState(stored?.name ?? "");
  const [language, setLanguage] = useState(stored?.language ?? defaultLanguage(config.languages));
  const [room, setRoom] = useState(initialRoom);
  const [token, setToken] = useState(config.dev ? "" : (stored?.token ?? ""));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const code = room.trim();
    if (!ROOM_CODE.test(code)) {
      setError("A room code is 1 to 64 letters, digits, '.', '_' or '-'.");
      return;
    }
    setBusy(true);
    try {
      if (config.dev) {
        const minted = await mintDevToken(name.trim(), language);
        onJoin({ token: minted.token, name: minted.name, language, userId: minted.userId }, code);
      } else {
        const claims = tokenClaims(token.trim());
        onJoin({ token: token.trim(), name: name.trim() || claims.name || "", language, userId: claims.sub }, code);
      }
    } catch (caught) {
      setError(caught instanceof ApiError ? `${caught.code}: ${caught.message}` : String(caught));
      setBusy(false);
    }
  };

  return (
    <main className="page join">
      <h1>voicemode</h1>
      <p className="lede">Talk in your language; everyone hears theirs.</p>
      <form className="card form" onSubmit={submit}>
        <label>
          Your name
          <input aria-label="Your name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required={config.dev}
            maxLength={64}
            autoComplete="nickname"
            autoFocus
          />
        </label>
        <label>
          I hear
          <select aria-label="I hear" value={language} onChange={(e) => setLanguage(e.target.value)}>
            {config.languages.map((code) => (
              <option key={code} value={code}>
                {languageName(code)} ({code})
              </option>
            ))}
          </select>
        </label>
        <label>
          Room code
          <input aria-label="Room code"
            value={room}
            onChange={(e) => setRoom(e.target.value)}
            required
            maxLength={64}
            pattern="[A-Za-z0-9._\-]{1,64}"
            autoCapitalize="none"
            spellCheck={false}
          />
        </label>
        {!config.dev && (
          <label>
            Token
            <textarea aria-label="Token"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              required
              rows={3}
              spellCheck={false}
              aria-describedby="token-help"
            />
            <small id="token-help">
              Ask the operator for one: <code>voicemode token --user alice --name Alice --lang en</code>
            </small>
          </label>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Join
        </button>
      </form>
    </main>
  );
}
