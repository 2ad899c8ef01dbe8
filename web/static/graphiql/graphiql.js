// GraphiQL for Creative Hub (served at GET /graphql in development): the packages' own browser
// builds from ./vendor (nothing fetched from another host), signed in as the app's tab is. The
// credential is the app's: sessionStorage "creative-hub.credential" (web/static/app/js/session.js),
// put in the Authorization header of the headers editor, which GraphiQL sends with every request
// and, for subscriptions, in the websocket's connection_init. The credential stays in this tab's
// session only: GraphiQL keeps its tabs and history in localStorage, through `storage` below, which
// leaves every "headers" out (the history would keep them even with shouldPersistHeaders off).
(function () {
  "use strict";
  var KEY = "creative-hub.credential";
  var credential = sessionStorage.getItem(KEY);
  var headers = credential ? JSON.stringify({ Authorization: "Bearer " + credential }, null, 2) : "{}";
  var wsUrl = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/graphql";

  var DEFAULT_QUERY = [
    "# Creative Hub's GraphQL API.",
    "# Run: Ctrl-Enter, or the play button.",
    "# Headers (below): this tab's sign-in.",
    "# Docs: the book icon on the left.",
    "",
    "{",
    "  viewer {",
    "    teamName",
    "    role",
    "  }",
    "  creditBalance {",
    "    availableCents",
    "  }",
    "}",
    "",
  ].join("\n");

  // GraphiQL's storage: localStorage, with no headers (and nothing naming the credential) written.
  function withoutHeaders(value) {
    if (Array.isArray(value)) return value.map(withoutHeaders);
    if (value && typeof value === "object") {
      var out = {};
      for (var key in value) if (key !== "headers") out[key] = withoutHeaders(value[key]);
      return out;
    }
    return value;
  }
  var storage = {
    getItem: function (key) { return localStorage.getItem(key); },
    removeItem: function (key) { localStorage.removeItem(key); },
    clear: function () { localStorage.clear(); },
    get length() { return localStorage.length; },
    setItem: function (key, value) {
      var kept = value;
      try {
        kept = JSON.stringify(withoutHeaders(JSON.parse(value)));
      } catch (e) { /* not JSON: a query's text, kept as it is */ }
      if (credential && kept.indexOf(credential) !== -1) return;
      localStorage.setItem(key, kept);
    },
  };

  function setSignedIn(secret) {
    sessionStorage.setItem(KEY, secret.trim());
    location.reload();
  }

  function post(query) {
    return fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: "Bearer " + credential },
      body: JSON.stringify({ query: query }),
    }).then(function (r) { return r.json(); });
  }

  function showWho() {
    var who = document.getElementById("ch-who");
    if (!credential) {
      who.textContent = "Not signed in";
      return;
    }
    post("{ viewer { teamName } }").then(
      function (body) {
        if (body.data && body.data.viewer) {
          who.textContent = "Signed in as " + body.data.viewer.teamName;
        } else {
          who.textContent = "This tab's sign-in is no longer accepted: sign in again in the app.";
        }
      },
      function () { who.textContent = "The service cannot be reached."; },
    );
  }

  function showSignIn() {
    var section = document.getElementById("ch-signin");
    var error = document.getElementById("ch-signin-error");
    section.hidden = false;
    document.getElementById("ch-signin-form").addEventListener("submit", function (event) {
      event.preventDefault();
      setSignedIn(document.getElementById("ch-credential").value);
    });
    var demo = document.getElementById("ch-demo");
    fetch("/app/config.json").then(function (r) { return r.json(); }).then(function (config) {
      demo.hidden = !config.devSignIn;
    }, function () {});
    demo.addEventListener("click", function () {
      fetch("/app/dev-session", { method: "POST" }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message || "The demo sign-in is not available.");
          setSignedIn(body.credential);
        });
      }).catch(function (e) { error.textContent = e.message; });
    });
  }

  showWho();
  if (!credential) showSignIn();

  var fetcher = GraphiQL.createFetcher({ url: "/graphql", subscriptionUrl: wsUrl });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      defaultQuery: DEFAULT_QUERY,
      headers: headers,
      defaultHeaders: headers,
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
      inputValueDeprecation: true,
    }),
  );
})();
