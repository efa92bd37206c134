/**
 * The page's HTTP calls to serve's API (same origin as the page, JSON), and
 * where the signed-in session is kept (sessionStorage: a token, never a secret).
 */
import type { ApiErrorBody, DevToken, EventsPage, Lang, RoomState, ServerConfig } from "./protocol";

/** An HTTP API error with the server's stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}, token?: string): Promise<T> {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  const response = await fetch(path, { ...init, headers });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as ApiErrorBody | null)?.error;
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? response.statusText);
  }
  return body as T;
}

export function getConfig(): Promise<ServerConfig> {
  return call<ServerConfig>("/api/config");
}

export function mintDevToken(name: string, language: Lang): Promise<DevToken> {
  return call<DevToken>("/api/dev/token", { method: "POST", body: JSON.stringify({ name, language }) });
}

export function getEvents(code: string, token: string, after: number, limit = 500): Promise<EventsPage> {
  const query = new URLSearchParams({ after: String(after), limit: String(limit) });
  return call<EventsPage>(`/api/rooms/${encodeURIComponent(code)}/events?${query}`, {}, token);
}

export function getState(code: string, token: string, at: number): Promise<RoomState> {
  return call<RoomState>(`/api/rooms/${encodeURIComponent(code)}/state?at=${at}`, {}, token);
}

/** Who the page is signed in as. */
export interface Session {
  token: string;
  name: string;
  language: Lang;
  userId?: string;
}

const SESSION_KEY = "voicemode.session";

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** The claims of a voicemode token, read without verifying it (`role: admin`: an operator). */
export interface TokenClaims {
  sub?: string;
  name?: string;
  lang?: string;
  role?: string;
}

/**
 * The claims of a voicemode token, read without verifying it: for display
 * only (the server checks every command), e.g. to offer an operator the
 * management controls.
 */
export function tokenClaims(token: string): TokenClaims {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as TokenClaims;
  } catch {
    return {};
  }
}
