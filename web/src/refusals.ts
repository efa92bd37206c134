/**
 * What a refused command means, in words a person reads: the server's error
 * codes are stable and precise, but "not_room_owner" is not a sentence. The
 * page shows this beside the code, so nothing is hidden from whoever reports it.
 */

const READABLE: Record<string, string> = {
  not_room_owner: "Only the room's owner or an operator can manage this room.",
  unknown_participant: "That person is no longer in the room.",
  unknown_room: "This room does not exist.",
  track_not_found: "That person has no microphone on in a voice session, so there is nothing to mute.",
  room_closed: "This room was closed.",
  removed_from_room: "You were removed from this room and cannot rejoin yet.",
  recording_unavailable: "This server was not started with recording (--record).",
  livekit_unavailable: "The voice server did not answer; nothing was changed. Try again.",
  livekit_not_configured: "This server has no voice server (LiveKit), so microphones cannot be muted.",
};

/** A refusal in words; the server's own message when the page has none of its own. */
export function readableRefusal(code: string, message: string): string {
  return READABLE[code] ?? message;
}
