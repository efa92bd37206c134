/**
 * A tiny path router: three pages, no library. `/` and `/room/<code>` (join,
 * then the conversation), `/timeline/<code>`.
 */
import { useCallback, useEffect, useState } from "react";

export type Route =
  | { page: "join"; code: string }
  | { page: "room"; code: string }
  | { page: "timeline"; code: string };

export function parseRoute(pathname: string): Route {
  const match = /^\/(room|timeline)\/([^/]+)\/?$/.exec(pathname);
  if (!match) return { page: "join", code: "" };
  const code = decodeURIComponent(match[2]);
  return match[1] === "timeline" ? { page: "timeline", code } : { page: "room", code };
}

export function roomPath(code: string): string {
  return `/room/${encodeURIComponent(code)}`;
}

export function timelinePath(code: string): string {
  return `/timeline/${encodeURIComponent(code)}`;
}

/** The current route and a navigate function (history.pushState; back/forward work). */
export function useRoute(): [Route, (path: string) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((path: string) => {
    if (path !== window.location.pathname) window.history.pushState(null, "", path);
    setRoute(parseRoute(path));
  }, []);
  return [route, navigate];
}
