/**
 * What the page shows of a room's management: the recording badge everyone
 * sees, the controls its owner or an operator gets (mute, remove, close,
 * recording), what was done to the room, and the page that replaces the
 * conversation once the room is closed or this member removed. The server
 * decides who may do what; these only send the frames and show the answers.
 */
import { useState } from "react";
import type { ClientFrames, ServerFrame } from "../protocol";
import { displayName, type Participant, type RoomView } from "../reducer";

/** Sends a management frame; resolves null when it was refused (the refusal is shown with the room's errors). */
export type Send = <E extends keyof ClientFrames>(event: E, data: ClientFrames[E]) => Promise<ServerFrame | null>;

/** A management frame in flight: its controls are disabled until it is answered. */
function useSending(send: Send, after: () => void = () => {}) {
  const [busy, setBusy] = useState(false);
  const run = async <E extends keyof ClientFrames>(event: E, data: ClientFrames[E]) => {
    setBusy(true);
    try {
      await send(event, data);
    } finally {
      setBusy(false);
      after();
    }
  };
  return { busy, run };
}

/** "● Recording" while the room's audio is recorded: text, not colour alone. */
export function RecordingBadge({ recording }: { recording: boolean }) {
  if (!recording) return null;
  return (
    <p className="badge-recording" role="status" aria-label="This room is being recorded" data-recording="true">
      <span aria-hidden="true">● </span>Recording
    </p>
  );
}

/** Why recording stopped when nobody stopped it (the server could not store the audio). */
export function RecordingFailure({ failure }: { failure: string | null }) {
  if (failure === null) return null;
  return (
    <p className="banner banner-error" role="alert">
      Recording stopped: the server could not store the audio (<code>{failure}</code>). The conversation goes on;
      the room's owner may turn recording on again.
    </p>
  );
}

/** A participant's Mute/Unmute (only in a voice session) and Remove buttons, for a manager. */
export function ParticipantActions({ participant, send }: { participant: Participant; send: Send }) {
  const { busy, run } = useSending(send);
  const { userId, name } = participant;
  const muted = participant.mutedBy !== undefined;
  return (
    <span className="member-actions">
      {participant.voice && (
        <button
          type="button"
          className="small-button"
          disabled={busy}
          aria-label={`${muted ? "Unmute" : "Mute"} ${name}`}
          onClick={() => void run("mute-participant", { userId, muted: !muted })}
        >
          {muted ? "Unmute" : "Mute"}
        </button>
      )}
      <button
        type="button"
        className="small-button danger"
        disabled={busy}
        aria-label={`Remove ${name}`}
        onClick={() => void run("remove-participant", { userId })}
      >
        Remove
      </button>
    </span>
  );
}

/** The room's own controls for a manager: recording (on a server that records) and closing, confirmed. */
export function ManageRoom({ state, record, send }: { state: RoomView; record: boolean; send: Send }) {
  const [confirming, setConfirming] = useState(false);
  const { busy, run } = useSending(send, () => setConfirming(false));
  return (
    <section className="card manage-card" aria-labelledby="manage-title">
      <h2 id="manage-title">Manage room</h2>
      <p className="muted small">
        {state.owner === state.me?.userId ? "You own this room." : "You manage this room as an operator."}
      </p>
      <div className="row">
        {record && (
          <button
            type="button"
            aria-pressed={state.recording}
            className={state.recording ? "recording" : undefined}
            disabled={busy}
            onClick={() => void run("set-recording", { enabled: !state.recording })}
          >
            {state.recording ? "Stop recording" : "Start recording"}
          </button>
        )}
        {!confirming && (
          <button type="button" className="danger" disabled={busy} onClick={() => setConfirming(true)}>
            Close room
          </button>
        )}
      </div>
      {confirming && (
        <div className="confirm" role="group" aria-label="Confirm closing the room">
          <p>Close the room for everyone? Everybody is put out and nobody can join it again.</p>
          <div className="row">
            <button type="button" className="danger" disabled={busy} onClick={() => void run("close-room", {})}>
              Yes, close the room
            </button>
            <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

/** What was done to the room and its members, newest last (recording, mutes, removals). */
export function RoomActivity({ state }: { state: RoomView }) {
  if (state.activity.length === 0) return null;
  return (
    <ul className="activity" aria-label="Room activity" aria-live="polite">
      {state.activity.slice(-5).map((a) => (
        <li key={a.key}>{a.text}</li>
      ))}
    </ul>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Why this page is no longer in the room; it does not rejoin by itself. */
export function OutOfRoomView({ state, onBack }: { state: RoomView; onBack(): void }) {
  const out = state.out;
  if (out === null) return null;
  const by = out.by === null ? null : displayName(state, out.by);
  let headline: string;
  let detail: string;
  if (out.kind === "closed") {
    headline = by === null ? "This room was closed" : `The room was closed by ${by}`;
    detail = "Nobody can join it again. Its history stays readable on the timeline.";
  } else {
    headline = by === null ? "You were removed from this room" : `You were removed from the room by ${by}`;
    detail =
      out.until !== null
        ? `You may join it again after ${dateTime.format(new Date(out.until))}.`
        : out.message !== undefined
          ? "You cannot join it again yet."
          : "You may join it again.";
  }
  return (
    <section className="card out-of-room" aria-labelledby="out-title">
      <h2 id="out-title" role="alert">
        {headline}
      </h2>
      <p>{detail}</p>
      {out.message !== undefined && (
        <p className="muted small">
          The server said: {out.message} (<code>{out.kind === "closed" ? "room_closed" : "removed_from_room"}</code>)
        </p>
      )}
      <div className="row">
        <button type="button" className="primary" onClick={onBack}>
          Back to the start
        </button>
      </div>
    </section>
  );
}
