/** Display names of language codes, from the browser (falls back to the code). */
const names = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(["en"], { type: "language" }) : null;

export function languageName(code: string): string {
  try {
    return names?.of(code) ?? code;
  } catch {
    return code;
  }
}

/** The server's languages, or a small default list before the config is known. */
export const FALLBACK_LANGUAGES = ["en", "es", "ca", "fr", "de", "it", "pt"];
