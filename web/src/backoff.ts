/**
 * Reconnect delays: exponential with jitter (half of each wait random), so a server restart is not
 * met by every page at the same instant.
 */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 15000;

/** The wait before reconnect attempt `attempt` (0 = the first retry). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
