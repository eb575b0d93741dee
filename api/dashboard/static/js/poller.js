// The stacks poller: GET /api/v1/stacks every second while the tab is
// visible and someone listens, paused while the tab is hidden. One poller
// feeds the stacks page (one page of the list: setPath) and the stack page
// header (the whole list, its default path).
import { getJSON } from './api.js';

const INTERVAL_MS = 1000;

export class StacksPoller {
  constructor(path = 'api/v1/stacks') {
    this.defaultPath = path;
    this.path = path;
    this.generation = 0; // bumped by setPath: answers for an older path are dropped
    this.listeners = new Set();
    this.timer = null;
    this.inFlight = false;
    this.last = null; // {stacks, error, at}
    this.stateListeners = new Set();
    this.answerListeners = new Set();
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

  /**
   * onAnswer calls fn({firstPass}) after every poll the controller
   * answered, without keeping the poller running itself.
   */
  onAnswer(fn) { this.answerListeners.add(fn); }

  get active() {
    return this.listeners.size > 0 && document.visibilityState === 'visible';
  }

  /** setPath polls path from now on (a page of the list), at once. */
  setPath(path) {
    if (path === this.path) return;
    this.path = path;
    this.generation++;
    this.last = null;
    this.schedule(0);
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
    const generation = this.generation;
    let last;
    try {
      const body = await getJSON(this.path);
      last = { stacks: body.stacks || [], next: body.next_cursor || null, firstPass: !!body.first_pass_in_progress, error: null, at: Date.now() };
    } catch (error) {
      last = { stacks: this.last?.stacks || null, next: this.last?.next || null, error, at: Date.now() };
    } finally {
      this.inFlight = false;
    }
    if (generation !== this.generation) {
      // The path changed while this request ran: its answer is for the
      // previous page; ask again.
      this.schedule(0);
      return;
    }
    this.last = last;
    this.setState(last.error ? 'offline' : 'live');
    for (const fn of this.listeners) {
      try { fn(this.last); } catch (err) { console.error('stacks listener failed', err); }
    }
    if (!last.error) for (const fn of this.answerListeners) fn(last);
    this.schedule(INTERVAL_MS);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }
}
