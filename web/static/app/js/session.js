// The credential of this tab: an API key or a token, kept in sessionStorage only (gone with the tab,
// never written to localStorage or a cookie). GraphiQL (/graphql) reads the same key.
const KEY = "creative-hub.credential";

export function credential() {
  return sessionStorage.getItem(KEY);
}

export function signIn(secret) {
  sessionStorage.setItem(KEY, secret.trim());
}

// What the app keeps in memory for the signed-in team (the Jobs panel's kept lists): forgotten at
// sign-out, so the next team signing in on this tab never sees any of it.
const forgetters = new Set();

/** Calls `forget` at every sign-out (the user's, or a credential the API no longer accepts). */
export function onSignOut(forget) {
  forgetters.add(forget);
  return () => forgetters.delete(forget);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  for (const forget of forgetters) forget();
}

export function authHeader() {
  const secret = credential();
  return secret ? { Authorization: `Bearer ${secret}` } : {};
}
