// The dashboard's only door to the controller: JSON requests to /api/v1
// with the optional bearer token, error decoding, and SSE streams read with
// fetch. URLs are relative ("api/v1/..."), so the dashboard also works
// behind a reverse proxy that mounts the controller under a path prefix.
import { createSSEParser } from './sse.js';

const TOKEN_KEY = 'devarch.token';
// REQUESTER names the dashboard in the approvals and cancellations it
// files (the API's X-Devarch-User header; without it they say "api").
const REQUESTER = 'dashboard';

/** ApiError is an API failure: HTTP status, the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** getToken returns the API token kept for this tab, or "" when none. */
export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

/** setToken keeps the API token for this tab only (sessionStorage). */
export function setToken(token) {
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* storage disabled: keep nothing */ }
  tokenListeners.forEach((fn) => fn(token));
}

/** forgetToken removes the stored token. */
export function forgetToken() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing stored */ }
  tokenListeners.forEach((fn) => fn(''));
}

const tokenListeners = new Set();

/** onTokenChange calls fn(token) whenever the stored token changes. */
export function onTokenChange(fn) { tokenListeners.add(fn); }

let askToken = null;
let pendingAsk = null;

/**
 * setTokenPrompt installs the function that asks the user for a token:
 * ask(errorMessage) resolves with the token entered. Concurrent requests
 * that need a token share one prompt.
 */
export function setTokenPrompt(ask) { askToken = ask; }

function waitForToken(message) {
  if (!pendingAsk) {
    pendingAsk = askToken(message).then((token) => {
      pendingAsk = null;
      setToken(token);
      return token;
    });
  }
  return pendingAsk;
}

/**
 * request sends one request and returns the Response. A 401 asks for a
 * token (once, shared by concurrent requests) and retries with it. POST
 * bodies are JSON with Content-Type: application/json, which the API
 * requires for state-changing requests; POSTs also name the dashboard as
 * the requester. headers adds request headers (such as If-Match).
 */
export async function request(path, { method = 'GET', body, signal, accept = 'application/json', headers: extra = {} } = {}) {
  for (;;) {
    const token = getToken();
    const headers = { ...extra, Accept: accept };
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, signal, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET') headers['X-Devarch-User'] = REQUESTER;
    const res = await fetchRetrying(path, init, signal);
    if (res.status !== 401 || !askToken) return res;
    await res.body?.cancel();
    if (token && getToken() === token) forgetToken();
    if (getToken() && getToken() !== token) continue; // another request already got a new token
    await waitForToken(token ? 'The token was not accepted. Check it and enter it again.' : '');
  }
}

// GET requests and dry runs (?dry_run=true: a preview, which changes
// nothing) are retried after a network failure (a dropped connection, a
// changed network): twice, after 300 ms and 1 s. Other requests never are:
// a POST may have been carried out before its answer was lost.
const RETRY_DELAYS_MS = [300, 1000];
const DRY_RUN = /[?&]dry_run=true(&|$)/;

async function fetchRetrying(path, init, signal) {
  const retryable = init.method === 'GET' || DRY_RUN.test(path);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fetch(path, init);
    } catch (err) {
      if (signal?.aborted) throw err;
      if (!retryable || attempt >= RETRY_DELAYS_MS.length) {
        throw new ApiError(0, 'network', 'Cannot reach the controller. Check that it is running, then try again.');
      }
    }
    await new Promise((resolve) => { setTimeout(resolve, RETRY_DELAYS_MS[attempt]); });
  }
}

/** errorFrom decodes {"error":{"code","message"}} from a failed response. */
export async function errorFrom(res) {
  let code = `http_${res.status}`;
  let message = `The controller answered ${res.status} ${res.statusText || ''}`.trim() + '.';
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
    if (body?.error?.code) code = body.error.code;
  } catch { /* not JSON: keep the generic message */ }
  return new ApiError(res.status, code, message);
}

/** getJSON GETs path and decodes the JSON body; failures throw ApiError. */
export async function getJSON(path, { signal } = {}) {
  const res = await request(path, { signal });
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

/** postJSON POSTs body as JSON and decodes the JSON answer. */
export async function postJSON(path, body, { signal } = {}) {
  const res = await request(path, { method: 'POST', body, signal });
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

/**
 * streamEvents reads an SSE stream until it closes, calling onEvent for
 * every event. It throws ApiError when the stream cannot be opened.
 */
export async function streamEvents(path, { signal, onEvent }) {
  const res = await request(path, { signal, accept: 'text/event-stream' });
  if (!res.ok) throw await errorFrom(res);
  if (!res.body || !(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    await res.body?.cancel();
    throw new ApiError(res.status, 'not_a_stream', 'The controller did not answer with an event stream.');
  }
  const parser = createSSEParser(onEvent);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    parser.end();
  } finally {
    reader.releaseLock();
  }
}

/** path builds an API path with escaped segments: path('stacks', name). */
export function apiPath(...segments) {
  return `api/v1/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}
