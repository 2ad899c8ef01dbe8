// The app's only way to the API: GraphQL over HTTP (gql) and graphql-transport-ws subscriptions
// (subscribe), both with this tab's credential. The websocket reconnects by itself after a drop
// (retrying forever, with backoff); every reconnection after the first connect calls the
// onResync listeners so screens refetch what they may have missed while the socket was down.
import { createClient } from "graphql-ws";
import { useEffect, useRef, useState } from "preact/hooks";
import { authHeader, credential, signOut } from "./session.js";

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, path = null, field = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
    this.field = field; // a query's refusal: the argument field it is about (as a userError's field)
  }
}

/** POST one operation; resolves to `data`, rejects with an ApiError in words a person understands. */
export async function gql(query, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeader() },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The service cannot be reached. Check your connection; the page retries when it is back.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status} without a readable body.`, { status: response.status });
  }
  if (response.status === 401 || body?.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
    signOut();
    window.dispatchEvent(new Event("creative-hub:signed-out"));
    throw new ApiError("Your sign-in is no longer valid. Sign in again.", { status: 401, code: "UNAUTHENTICATED" });
  }
  if (body?.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, { status: response.status, code: first.extensions?.code, path: first.path, field: first.extensions?.field || null });
  }
  return body.data;
}

/** A mutation's payload: throws its first userError as an ApiError (the field path on .path, not
 *  in the words: people read the message; the API's sentences start lowercase, shown capitalized). */
export function payload(result) {
  const errors = result?.userErrors || [];
  if (errors.length) {
    const e = errors[0];
    const text = String(e.message || "The request was not accepted.");
    throw new ApiError(text.charAt(0).toUpperCase() + text.slice(1), { code: e.code, path: e.field });
  }
  return result;
}

// ---- the websocket -------------------------------------------------------------------------
const connection = { state: "connecting", listeners: new Set(), resync: new Set(), connectedOnce: false };

function setState(state) {
  connection.state = state;
  for (const listener of connection.listeners) listener(state);
}

let client = null;
let pongTimer = null;
const PONG_TIMEOUT_MS = 4000;

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}

function makeClient() {
  let activeSocket = null;
  return createClient({
    url: wsUrl(),
    lazy: false,
    keepAlive: 8000, // a ping every 8 s; no pong within PONG_TIMEOUT_MS closes the socket (a dead network)
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      const wait = Math.min(1000 * 2 ** retries, 15000) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, wait));
    },
    connectionParams: () => authHeader(),
    on: {
      // Once the connection is known to be down, each retry leaves the badge at "Offline" until one works.
      connecting: () => {
        if (connection.state !== "down") setState(connection.connectedOnce ? "reconnecting" : "connecting");
      },
      opened: (socket) => {
        activeSocket = socket;
      },
      connected: () => {
        const again = connection.connectedOnce;
        connection.connectedOnce = true;
        setState("live");
        if (again) for (const listener of connection.resync) listener();
      },
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (activeSocket?.readyState === WebSocket.OPEN) activeSocket.close(4408, "Pong timeout");
        }, PONG_TIMEOUT_MS);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
      closed: (event) => {
        activeSocket = null;
        clearTimeout(pongTimer);
        if (event?.code === 4403) {
          signOut();
          window.dispatchEvent(new Event("creative-hub:signed-out"));
        }
        // The first close of a live socket may be a blip ("Reconnecting…"); with the browser offline,
        // or a retry that could not connect, the connection is down: the badge says "Offline".
        const wasLive = connection.state === "live";
        if (!credential()) setState("offline");
        else setState(wasLive && navigator.onLine !== false ? "reconnecting" : "down");
      },
    },
  });
}

/** The shared websocket client, opened on first use after sign-in. */
export function wsClient() {
  if (!client) client = makeClient();
  return client;
}

/** Close the websocket (sign-out): the next subscription opens a new one with the new credential. */
export function closeSocket() {
  if (client) client.dispose();
  client = null;
  connection.connectedOnce = false;
  setState("offline");
}

// The browser knows when the network is back: retry at once instead of waiting out the backoff.
window.addEventListener("online", () => {
  if (client && connection.state !== "live") {
    setState("reconnecting");
    client.terminate();
  }
});
window.addEventListener("offline", () => {
  if (client) setState("down");
});

/** Subscribe; returns the unsubscribe function. onNext(data) for each event, onError(ApiError). */
export function subscribe(query, variables, onNext, onError = () => {}) {
  return wsClient().subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) onError(new ApiError(result.errors[0].message, { code: result.errors[0].extensions?.code }));
        else onNext(result.data);
      },
      error: (error) => {
        const message = Array.isArray(error) ? error[0]?.message : error?.reason || error?.message;
        onError(new ApiError(message || "The live connection failed."));
      },
      complete: () => {},
    },
  );
}

/** Call listener after every reconnection (not the first connect); returns the remover. */
export function onResync(listener) {
  connection.resync.add(listener);
  return () => connection.resync.delete(listener);
}

// ---- hooks ---------------------------------------------------------------------------------
/** The websocket's state: "connecting", "live", "reconnecting", "down" (the network or the service
 *  cannot be reached: what is on screen is what was loaded) or "offline" (signed out). */
export function useConnectionState() {
  const [state, setLocal] = useState(connection.state);
  useEffect(() => {
    connection.listeners.add(setLocal);
    return () => connection.listeners.delete(setLocal);
  }, []);
  return state;
}

/** Run a query, refetched whenever `deps` change and after every reconnection. */
export function useQuery(query, variables, deps = []) {
  const [state, setLocal] = useState({ data: null, error: null, loading: true });
  const generation = useRef(0);
  const run = () => {
    const mine = ++generation.current;
    setLocal((s) => ({ ...s, loading: true }));
    gql(query, variables).then(
      (data) => mine === generation.current && setLocal({ data, error: null, loading: false }),
      (error) => mine === generation.current && setLocal((s) => ({ data: s.data, error, loading: false })),
    );
  };
  useEffect(() => {
    run();
    return onResync(run);
  }, deps);
  return { ...state, refetch: run };
}

/** Subscribe while mounted (and while `deps` stay the same); onNext gets each event's data. */
export function useSubscription(query, variables, onNext, deps = []) {
  const handler = useRef(onNext);
  handler.current = onNext;
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    return subscribe(query, variables, (data) => handler.current(data), setError);
  }, deps);
  return error;
}
