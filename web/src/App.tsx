/**
 * The page: loads the server's config, then shows the join page, the
 * conversation or the timeline by path.
 */
import { useEffect, useState } from "react";
import { getConfig, loadSession, saveSession, type Session } from "./api";
import type { ServerConfig } from "./protocol";
import { ConversationPage } from "./pages/Conversation";
import { JoinPage } from "./pages/Join";
import { TimelinePage } from "./pages/Timeline";
import { roomPath, useRoute } from "./router";

export function App() {
  const [route, navigate] = useRoute();
  const [config, setConfig] = useState<ServerConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(loadSession);

  useEffect(() => {
    getConfig()
      .then(setConfig)
      .catch((caught: unknown) => setConfigError(String(caught)));
  }, []);

  if (configError) {
    return (
      <main className="page join">
        <h1>voicemode</h1>
        <p className="banner banner-error" role="alert">
          The server's configuration could not be loaded ({configError}). Is <code>voicemode serve</code> running with{" "}
          <code>--http-port</code>?
        </p>
      </main>
    );
  }
  if (config === null) {
    return (
      <main className="page join">
        <h1>voicemode</h1>
        <p className="muted">Loading…</p>
      </main>
    );
  }

  const signOut = () => {
    saveSession(null);
    setSession(null);
  };

  if (route.page === "timeline") {
    return <TimelinePage code={route.code} session={session} navigate={navigate} onSession={setSession} />;
  }
  if (route.page === "room" && session !== null) {
    return (
      <ConversationPage
        key={`${route.code}/${session.token}`}
        config={config}
        session={session}
        code={route.code}
        navigate={navigate}
        onSignOut={signOut}
      />
    );
  }
  return (
    <JoinPage
      config={config}
      initialRoom={route.code}
      stored={session}
      onJoin={(next, room) => {
        saveSession(next);
        setSession(next);
        navigate(roomPath(room));
      }}
    />
  );
}
