// The app shell: sign-in, the hash router, the header (team, live-connection state, navigation),
// and the low-balance banner shown on every screen, live from creditBalanceUpdated.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { closeSocket, gql, onResync, useConnectionState, useSubscription } from "./api.js";
import { AppContext } from "./context.js";
import { html } from "./html.js";
import { credential, signIn, signOut } from "./session.js";
import { ErrorNote, Loading, money } from "./ui.js";

// Each screen is its own module, loaded when first opened (a small first load).
const SCREENS = {
  jobs: () => import("./screens/jobs.js"),
  job: () => import("./screens/job.js"),
  new: () => import("./screens/new.js"),
  drive: () => import("./screens/drive.js"),
  billing: () => import("./screens/billing.js"),
};

/** "#/jobs/abc?x=1" → { screen: "job", params: ["abc"], query: URLSearchParams }. */
export function parseRoute(hash = location.hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  const [head = "jobs", ...rest] = parts;
  if (head === "jobs" && rest.length) return { screen: "job", params: rest, query };
  if (head in SCREENS) return { screen: head, params: rest, query };
  return { screen: "jobs", params: [], query };
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const update = () => setRoute(parseRoute());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

const VIEWER = `query Viewer { viewer { userId teamId teamName role isAdmin scopes apiKeyId } }`;
const BALANCE_FIELDS = `teamId balanceCents availableCents heldCents lowBalanceThresholdCents lowBalance lowBalanceCrossed`;
const BALANCE_UPDATES = `subscription Balance { creditBalanceUpdated { ${BALANCE_FIELDS} } }`;

function SignIn({ onSignedIn }) {
  const [secret, setSecret] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [devSignIn, setDevSignIn] = useState(false);

  useEffect(() => {
    fetch("/app/config.json")
      .then((r) => r.json())
      .then((config) => setDevSignIn(Boolean(config.devSignIn)))
      .catch(() => setDevSignIn(false));
  }, []);

  async function tryCredential(value) {
    setBusy(true);
    setError(null);
    signIn(value);
    try {
      const data = await gql(VIEWER);
      onSignedIn(data.viewer);
    } catch (e) {
      signOut();
      setError(e.status === 401 || e.code === "UNAUTHENTICATED" ? new Error("That key or token was not accepted.") : e);
    } finally {
      setBusy(false);
    }
  }

  async function demo() {
    setBusy(true);
    setError(null);
    try {
      const response = await fetch("/app/dev-session", { method: "POST" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.message || "The demo sign-in is not available.");
      await tryCredential(body.credential);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return html`<main id="main" class="signin">
    <h1>Creative Hub</h1>
    <p>Sign in with a team API key (<code>chk_…</code>) or a token. It is kept for this tab only.</p>
    <form onSubmit=${(e) => { e.preventDefault(); tryCredential(secret); }}>
      <div class="field">
        <label for="credential">API key or token</label>
        <input id="credential" name="credential" type="password" autocomplete="off" required
          value=${secret} onInput=${(e) => setSecret(e.currentTarget.value)} />
      </div>
      <button type="submit" class="primary" disabled=${busy || !secret.trim()}>Sign in</button>
    </form>
    ${devSignIn && html`<div class="dev-signin">
      <p>Development server on this machine:</p>
      <button type="button" onClick=${demo} disabled=${busy}>Sign in as the demo team</button>
    </div>`}
    <${ErrorNote} error=${error} />
  </main>`;
}

function ConnectionBadge({ state }) {
  const text = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", down: "Offline", offline: "Offline" }[state];
  return html`<span class=${`conn conn-${state}`} role="status" aria-live="polite" title="Live updates">${text}</span>`;
}

/** While the connection is down: what the screens show is what was loaded, and it catches up by itself. */
function OfflineBanner({ state }) {
  if (state !== "down") return null;
  return html`<div class="banner banner-offline" data-testid="offline-banner">
    <strong>Offline</strong> — showing what was loaded; it will update when the connection is back.
  </div>`;
}

function LowBalanceBanner({ balance }) {
  if (!balance?.lowBalance) return null;
  return html`<div class="banner banner-warn" role="alert" data-testid="low-balance-banner">
    Credits are low: ${money(balance.availableCents)} available, below your alert threshold of
    ${" "}${money(balance.lowBalanceThresholdCents)}. <a href="#/billing">Top up or change the threshold</a>.
  </div>`;
}

const NAV = [
  ["jobs", "Jobs"],
  ["new", "New generation"],
  ["drive", "Drive"],
  ["billing", "Billing"],
];

function Shell({ viewer, onSignOut }) {
  const route = useRoute();
  const [balance, setBalance] = useState(null);
  const [screen, setScreen] = useState(null); // { name, Component }: the loaded screen module
  const [loadError, setLoadError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const connectionState = useConnectionState();

  useSubscription(BALANCE_UPDATES, {}, (data) => setBalance(data.creditBalanceUpdated), []);

  useEffect(() => {
    let current = true;
    setLoadError(null);
    SCREENS[route.screen]().then(
      (module) => current && setScreen({ name: route.screen, Component: module.default }),
      () => current && setLoadError(new Error("This screen could not be loaded: the service cannot be reached. Check your connection; it opens by itself when the connection is back.")),
    );
    return () => {
      current = false;
    };
  }, [route.screen, attempt]);

  // A screen that failed to load (offline) is tried again once the network or the websocket is back.
  useEffect(() => {
    if (!loadError) return undefined;
    const retry = () => setAttempt((n) => n + 1);
    window.addEventListener("online", retry);
    const off = onResync(retry);
    return () => {
      window.removeEventListener("online", retry);
      off();
    };
  }, [loadError]);

  const active = route.screen === "job" ? "jobs" : route.screen;
  // Only the screen of this route: another one mounted under this route would read the wrong params.
  const Screen = screen?.name === route.screen ? screen.Component : null;
  return html`<${AppContext.Provider} value=${{ viewer, balance }}>
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand">Creative Hub</span>
      <nav aria-label="Main">
        ${NAV.map(([key, text]) => html`<a href=${`#/${key}`} aria-current=${active === key ? "page" : null}>${text}</a>`)}
        <a href="/graphql" title="The API explorer, signed in as you">GraphiQL</a>
      </nav>
      <span class="team">${viewer.teamName}</span>
      <span class="balance" title="Available credits">${balance ? money(balance.availableCents) : "…"}</span>
      <${ConnectionBadge} state=${connectionState} />
      <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
    </header>
    <${OfflineBanner} state=${connectionState} />
    <${LowBalanceBanner} balance=${balance} />
    <main id="main" tabindex="-1">
      ${loadError
        ? html`<${ErrorNote} error=${loadError} /><button type="button" onClick=${() => setAttempt((n) => n + 1)}>Try again</button>`
        : Screen ? html`<${Screen} key=${route.screen} route=${route} />` : html`<${Loading} />`}
    </main>
  <//>`;
}

function App() {
  const [viewer, setViewer] = useState(null);
  const [checking, setChecking] = useState(Boolean(credential()));

  useEffect(() => {
    const out = () => {
      closeSocket();
      setViewer(null);
    };
    window.addEventListener("creative-hub:signed-out", out);
    if (credential()) {
      gql(VIEWER).then(
        (data) => setViewer(data.viewer),
        () => signOut(),
      ).finally(() => setChecking(false));
    }
    return () => window.removeEventListener("creative-hub:signed-out", out);
  }, []);

  if (checking) return html`<${Loading} what="Signing in" />`;
  if (!viewer) return html`<${SignIn} onSignedIn=${setViewer} />`;
  return html`<${Shell} viewer=${viewer} onSignOut=${() => { signOut(); closeSocket(); setViewer(null); }} />`;
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading" placeholder (Preact 11 renders beside existing children)
render(html`<${App} />`, root);
