// The API key and the one way the page calls the API with it.

// The key lives in sessionStorage (gone when the tab closes) unless "Remember me" was
// ticked, which keeps it in localStorage. The page runs no inline or foreign script (its
// Content-Security-Policy forbids both), which is what keeps either store out of reach.
const KEY = "mediaq.apiKey";
export const key = () => sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
export function storeKey(value, remember) {
  forgetKey();
  (remember ? localStorage : sessionStorage).setItem(KEY, value);
}
export function forgetKey() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

let onSignedOut = () => {};
/** What to do when the API says the key is no good (show the sign-in form). */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

/** A JSON call with the key; throws the problem's detail on an error answer. */
export async function api(method, path, body, headers = {}) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${key()}`, ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) {
    forgetKey();
    onSignedOut();
  }
  if (!res.ok) throw new Error(data.detail || data.title || `HTTP ${res.status}`);
  return data;
}
