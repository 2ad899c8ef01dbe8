// The credential of this tab: an API key or a token, kept in sessionStorage only (gone with the tab,
// never written to localStorage or a cookie). GraphiQL (/graphql) reads the same key.
const KEY = "creative-hub.credential";

export function credential() {
  return sessionStorage.getItem(KEY);
}

export function signIn(secret) {
  sessionStorage.setItem(KEY, secret.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

export function authHeader() {
  const secret = credential();
  return secret ? { Authorization: `Bearer ${secret}` } : {};
}
