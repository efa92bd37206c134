/**
 * `window.__voicemode`: what the browser tests read of the page (frames
 * received, energy of the speech it played). Always present, cheap to update.
 */
export interface VoicemodeTestHook {
  /** Server text frames received. */
  frames: number;
  /** Summed RMS of WebSocket synthesized speech played through WebAudio. */
  audioEnergy: number;
  /** totalAudioEnergy (getStats inbound-rtp) of the subscribed LiveKit tts track. */
  livekitAudioEnergy: number;
}

declare global {
  interface Window {
    __voicemode: VoicemodeTestHook;
  }
}

window.__voicemode ??= { frames: 0, audioEnergy: 0, livekitAudioEnergy: 0 };

export const testHook: VoicemodeTestHook = window.__voicemode;
