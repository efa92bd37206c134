/**
 * Plays the WebSocket's synthesized speech: a `synthesized-speech` header,
 * binary 16-bit little-endian mono PCM frames, then `synthesized-speech-end`,
 * queued one after the other through WebAudio. An AnalyserNode measures
 * what is actually played; its RMS is added to the test hook's audioEnergy.
 */
import type { ServerFrames } from "../protocol";
import { testHook } from "../testHook";

const LEAD_S = 0.05;
const METER_INTERVAL_MS = 50;

export class SpeechPlayer {
  private context: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private current: { id: string; sampleRate: number } | null = null;
  private nextTime = 0;
  private readonly sources = new Map<string, AudioBufferSourceNode[]>();
  private meter: number | undefined;
  private samples: Float32Array<ArrayBuffer> | null = null;
  /** Incremented per chunk played; lets the page show "playing". */
  onActivity: ((playing: boolean) => void) | null = null;

  /** Create or resume the audio context; call from a user gesture when possible. */
  unlock(): void {
    const context = this.ensureContext();
    if (context.state === "suspended") void context.resume();
  }

  header(data: ServerFrames["synthesized-speech"]): void {
    this.current = { id: data.id, sampleRate: data.sampleRate };
  }

  chunk(bytes: ArrayBuffer): void {
    const current = this.current;
    if (current === null || bytes.byteLength < 2) return;
    const context = this.ensureContext();
    const pcm = new Int16Array(bytes, 0, bytes.byteLength >> 1);
    const buffer = context.createBuffer(1, pcm.length, current.sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser!);
    const start = Math.max(this.nextTime, context.currentTime + LEAD_S);
    source.start(start);
    this.nextTime = start + buffer.duration;
    const list = this.sources.get(current.id) ?? [];
    list.push(source);
    this.sources.set(current.id, list);
    source.onended = () => {
      const left = (this.sources.get(current.id) ?? []).filter((s) => s !== source);
      if (left.length) this.sources.set(current.id, left);
      else this.sources.delete(current.id);
    };
    this.startMeter();
  }

  end(_data: ServerFrames["synthesized-speech-end"]): void {
    this.current = null;
  }

  /** Stop the speech of these transcripts (an interrupted answer's sentences). */
  stop(ids: Iterable<string>): void {
    for (const id of ids) {
      for (const source of this.sources.get(id) ?? []) {
        try {
          source.stop();
        } catch {
          // not started yet or already stopped
        }
      }
      this.sources.delete(id);
    }
    if (this.sources.size === 0 && this.context) this.nextTime = this.context.currentTime;
  }

  close(): void {
    window.clearInterval(this.meter);
    this.meter = undefined;
    void this.context?.close();
    this.context = null;
    this.analyser = null;
    this.sources.clear();
  }

  private ensureContext(): AudioContext {
    if (this.context === null) {
      this.context = new AudioContext();
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 2048;
      this.analyser.connect(this.context.destination);
      this.nextTime = 0;
    }
    return this.context;
  }

  private startMeter(): void {
    if (this.meter !== undefined) return;
    this.onActivity?.(true);
    this.meter = window.setInterval(() => this.measure(), METER_INTERVAL_MS);
  }

  private measure(): void {
    const { context, analyser } = this;
    if (context === null || analyser === null) return;
    this.samples ??= new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const value of this.samples) sum += value * value;
    testHook.audioEnergy += Math.sqrt(sum / this.samples.length);
    if (context.currentTime > this.nextTime + 0.2) {
      window.clearInterval(this.meter);
      this.meter = undefined;
      this.onActivity?.(false);
    }
  }
}
