// Following one approval to its end: the SSE stream of progress events
// (read with fetch so the bearer token can be sent), resumed after a
// dropped connection from the last event seen, and replaced by polling
// GET /api/v1/approvals/{id} every second when streaming does not work.
import { ApiError, apiPath, getJSON, streamEvents } from './api.js';
import { sleep } from './dom.js';
import { isFinal } from './format.js';

const POLL_MS = 1000;
const RECONNECTS = 3;

/**
 * watchApproval resolves with the approval once its status is final.
 * onProgress(event) gets every progress event once (replayed, then live);
 * onStatus(approval) every status seen; onFallback() is called once when
 * the watcher gives up on the stream and polls instead.
 */
export async function watchApproval(id, { signal, onProgress, onStatus, onFallback }) {
  let final = null;
  let last = 0;
  const onEvent = (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    if (ev.event === 'progress') {
      if (data.seq && data.seq <= last) return; // already shown before a reconnect
      last = data.seq || last;
      onProgress?.(data);
    } else if (ev.event === 'status') {
      onStatus?.(data);
      if (isFinal(data.status)) final = data;
    }
  };
  for (let attempt = 0; attempt <= RECONNECTS && !final; attempt += 1) {
    if (attempt > 0) await sleep(POLL_MS, signal);
    try {
      const resume = last ? `?last_event_id=${last}` : '';
      await streamEvents(apiPath('approvals', id, 'events') + resume, { signal, onEvent });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (err instanceof ApiError && err.status >= 400) break; // the server will not stream: poll
      // The connection dropped: resume from the last event.
    }
  }
  if (final) return final;
  onFallback?.();
  for (;;) {
    try {
      const body = await getJSON(apiPath('approvals', id), { signal });
      const a = body.approval || body;
      onStatus?.(a);
      if (isFinal(a.status)) return a;
    } catch (err) {
      if (signal?.aborted) throw err;
    }
    await sleep(POLL_MS, signal);
  }
}
