// The stacks poller: GET /api/v1/stacks every second while the tab is
// visible and someone listens, paused while the tab is hidden. One poller
// feeds the stacks page and the stack page header.
import { getJSON } from './api.js';

const INTERVAL_MS = 1000;

export class StacksPoller {
  constructor(path = 'api/v1/stacks') {
    this.path = path;
    this.listeners = new Set();
    this.timer = null;
    this.inFlight = false;
    this.last = null; // {stacks, error, at}
    this.stateListeners = new Set();
    document.addEventListener('visibilitychange', () => this.schedule(0));
  }

  /** subscribe calls fn({stacks, error}) after every poll; returns unsubscribe. */
  subscribe(fn) {
    this.listeners.add(fn);
    if (this.last) fn(this.last);
    this.schedule(0);
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** onState calls fn(state) with "live", "paused", "offline" or "idle". */
  onState(fn) { this.stateListeners.add(fn); }

  get active() {
    return this.listeners.size > 0 && document.visibilityState === 'visible';
  }

  /** refresh polls now (for example right after an apply was requested). */
  refresh() { this.schedule(0); }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.active) {
      this.setState(this.listeners.size > 0 ? 'paused' : 'idle');
      return;
    }
    if (this.inFlight) return; // the running poll schedules the next one
    this.timer = setTimeout(() => this.poll(), delay);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.setState('idle');
  }

  async poll() {
    this.timer = null;
    this.inFlight = true;
    try {
      const body = await getJSON(this.path);
      this.last = { stacks: body.stacks || [], error: null, at: Date.now() };
      this.setState('live');
    } catch (error) {
      this.last = { stacks: this.last?.stacks || null, error, at: Date.now() };
      this.setState('offline');
    } finally {
      this.inFlight = false;
    }
    for (const fn of this.listeners) {
      try { fn(this.last); } catch (err) { console.error('stacks listener failed', err); }
    }
    this.schedule(INTERVAL_MS);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }
}
