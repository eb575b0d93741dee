// Live progress of one approval: its status, one row per container with the
// latest action, and the full event log.
import { disclosure, h, replace } from './dom.js';
import { approvalBadge, isFinal, plural, timeAgo } from './format.js';

const eventGlyphs = {
  working: { glyph: '↻', cls: 'info spin', label: 'working' },
  done: { glyph: '✓', cls: 'ok', label: 'done' },
  warning: { glyph: '!', cls: 'warn', label: 'warning' },
  error: { glyph: '✕', cls: 'error', label: 'error' },
  // A row still working when the apply ended (compose stops reporting on
  // the other containers when one fails): no event will finish it.
  unfinished: { glyph: '–', cls: 'none', label: 'unfinished' },
};

function eventBadge(status) {
  const g = eventGlyphs[status] || { glyph: '·', cls: 'none', label: status || '' };
  return h('span', { class: `badge badge-event tone-${g.cls}` }, h('span', { class: 'glyph', 'aria-hidden': 'true', text: g.glyph }), g.label);
}

export class ProgressView {
  constructor(approval) {
    this.rows = new Map(); // container → row element
    this.count = 0;
    this.header = h('div', { class: 'progress-head' });
    this.note = h('p', { class: 'muted progress-note', hidden: true });
    this.waiting = h('p', { class: 'muted progress-waiting', text: 'Waiting for the controller to start the apply…' });
    this.list = h('ul', { class: 'progress-list', 'aria-label': 'Progress per container' });
    this.log = h('ol', { class: 'event-log' });
    const [button, region, refresh] = disclosure((open) => `${open ? 'Hide' : 'Show'} event log (${plural(this.count, 'event')})`, h('div', {}, this.log));
    this.refreshLog = refresh;
    this.el = h('section', { class: 'progress', 'aria-label': 'Apply progress', 'aria-live': 'polite' },
      h('h3', { text: 'Apply progress' }), this.header, this.note, this.waiting, this.list, button, region);
    this.setStatus(approval);
  }

  setStatus(a) {
    this.approval = a;
    this.el.dataset.status = a.status;
    replace(this.header, approvalBadge(a.status), h('span', { class: 'approval-id', text: `Approval #${a.id}` }),
      a.requested_by ? h('span', { class: 'muted', text: `requested by ${a.requested_by}` }) : null,
      h('span', { class: 'muted' }, 'created ', timeAgo(a.created_at)));
    if (a.status !== 'pending') this.waiting.hidden = true;
    if (isFinal(a.status)) this.settle();
  }

  /** settle stops the rows still working once the apply has ended. */
  settle() {
    for (const row of this.rows.values()) {
      if (row.dataset.status !== 'working') continue;
      row.dataset.status = 'unfinished';
      row.firstChild.replaceWith(eventBadge('unfinished'));
    }
  }

  fallback() {
    this.note.hidden = false;
    this.note.textContent = 'Live progress is unavailable; checking the approval every second.';
  }

  add(ev) {
    this.waiting.hidden = true;
    // Events flow only while the apply runs: the stream's status arrives at the end.
    if (this.approval.status === 'pending') this.setStatus({ ...this.approval, status: 'applying' });
    this.count += 1;
    const key = ev.container || '(stack)';
    let row = this.rows.get(key);
    if (!row) {
      row = h('li', { class: 'progress-row', 'data-container': key });
      this.rows.set(key, row);
      this.list.append(row);
    }
    row.dataset.status = ev.status || '';
    replace(row,
      eventBadge(ev.status),
      h('code', { class: 'progress-container', text: key }),
      h('span', { class: 'progress-action', text: ev.action || '' }),
      ev.message ? h('span', { class: 'progress-message muted', text: ev.message }) : null);
    this.log.append(h('li', {},
      h('span', { class: 'muted' }, timeAgo(ev.at, '')), ' ', h('code', { text: key }), ` ${ev.action || ''} ${ev.status || ''}`,
      ev.message ? ` — ${ev.message}` : ''));
    this.refreshLog();
  }
}
