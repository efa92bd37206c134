import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` serves the page on :5173 and forwards the HTTP API to a
// running `voicemode serve --http-port 8766` (the WebSocket URL comes from
// /api/config, so it needs no proxy).
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8766",
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // livekit-client (~570 kB) is its own chunk, loaded on the first voice session.
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
