/**
 * Speaking over the WebSocket: the microphone through MediaRecorder as
 * `audio/webm;codecs=opus`, in ~100 ms timeslices sent in order as binary
 * frames, the first one holding the container header.
 */

export const SPEECH_MIME = "audio/webm;codecs=opus";
export const TIMESLICE_MS = 100;
/** Opus always runs at 48 kHz, whatever the microphone's rate. */
export const OPUS_SAMPLE_RATE = 48000;

export function canRecordOpus(): boolean {
  return typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported(SPEECH_MIME);
}

export class OpusRecorder {
  private recorder: MediaRecorder | null = null;
  private stream: MediaStream | null = null;
  private chain: Promise<void> = Promise.resolve();

  /** Open the microphone (asks permission). Resolves once recording can start. */
  async open(): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  }

  /** Start recording; each timeslice goes to `send`, strictly in order. */
  start(send: (chunk: ArrayBuffer) => void): void {
    if (this.stream === null) throw new Error("microphone not open");
    const recorder = new MediaRecorder(this.stream, { mimeType: SPEECH_MIME });
    recorder.ondataavailable = (event) => {
      if (event.data.size === 0) return;
      const bytes = event.data.arrayBuffer();
      this.chain = this.chain.then(async () => send(await bytes));
    };
    recorder.start(TIMESLICE_MS);
    this.recorder = recorder;
  }

  /** Stop: resolves after the last timeslice was sent. */
  async stop(): Promise<void> {
    const recorder = this.recorder;
    this.recorder = null;
    if (recorder && recorder.state !== "inactive") {
      const stopped = new Promise<void>((resolve) => recorder.addEventListener("stop", () => resolve(), { once: true }));
      recorder.stop();
      await stopped;
    }
    await this.chain;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }
}
