// Formatting: relative times, durations, counts, and the status badges that
// pair a glyph with a text label (status is never shown by colour alone).
import { h, srOnly } from './dom.js';

/** parseTime returns a Date, or null for a missing or zero time. */
export function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2000) return null;
  return d;
}

/** relativeText says how long ago d was: "just now", "12 s ago", "3 min ago". */
export function relativeText(d, now = Date.now()) {
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return s > -5 ? 'just now' : `in ${durationText(-s * 1000)}`;
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** absoluteText is the full local date and time with its zone. */
export function absoluteText(d) {
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });
}

/**
 * timeAgo renders a <time class="rel"> showing the relative time with the
 * absolute time in its title; refreshTimes keeps the text current.
 */
export function timeAgo(iso, never = 'never') {
  const d = parseTime(iso);
  if (!d) return h('span', { class: 'muted', text: never });
  return h('time', { class: 'rel', datetime: d.toISOString(), title: absoluteText(d), text: relativeText(d) });
}

/** refreshTimes updates every relative time under root. */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.rel')) {
    const text = relativeText(new Date(el.getAttribute('datetime')), now);
    if (el.textContent !== text) el.textContent = text;
  }
}

/** durationText renders milliseconds: "850 ms", "12.3 s", "2 min 5 s". */
export function durationText(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60000);
  const s = Math.round((ms % 60000) / 1000);
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** plural: plural(1, 'change') = "1 change", plural(3, 'change') = "3 changes". */
export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

/** summaryText: "3 changes: 1 to add, 1 to modify, 1 to remove". */
export function summaryText(s) {
  const add = s?.add || 0;
  const modify = s?.modify || 0;
  const remove = s?.remove || 0;
  return `${plural(add + modify + remove, 'change')}: ${add} to add, ${modify} to modify, ${remove} to remove`;
}

const conditions = {
  InSync: { glyph: '✓', label: 'In sync', cls: 'ok' },
  Drifted: { glyph: '≠', label: 'Drifted', cls: 'warn' },
  Applying: { glyph: '↻', label: 'Applying', cls: 'info spin' },
  Error: { glyph: '✕', label: 'Error', cls: 'error' },
};

/** conditionBadge renders a stack's condition (null: not reconciled yet). */
export function conditionBadge(status) {
  const c = conditions[status?.condition] || { glyph: '○', label: status ? status.condition : 'Not reconciled yet', cls: 'none' };
  return badge(c, 'condition');
}

const approvalStatuses = {
  pending: { glyph: '⋯', label: 'Pending', cls: 'info' },
  applying: { glyph: '↻', label: 'Applying', cls: 'info spin' },
  succeeded: { glyph: '✓', label: 'Succeeded', cls: 'ok' },
  failed: { glyph: '✕', label: 'Failed', cls: 'error' },
  stale: { glyph: '≠', label: 'Stale', cls: 'warn' },
  conflict: { glyph: '⊘', label: 'Conflict', cls: 'warn' },
  interrupted: { glyph: '!', label: 'Interrupted', cls: 'error' },
  expired: { glyph: '○', label: 'Expired', cls: 'none' },
  cancelled: { glyph: '○', label: 'Cancelled', cls: 'none' },
};

/** approvalBadge renders an approval's status. */
export function approvalBadge(status) {
  return badge(approvalStatuses[status] || { glyph: '?', label: status, cls: 'none' }, 'approval');
}

/** isFinal reports whether an approval status is final. */
export function isFinal(status) {
  return status !== 'pending' && status !== 'applying';
}

function badge(c, kind) {
  return h('span', { class: `badge badge-${kind} tone-${c.cls}`, 'data-label': c.label },
    h('span', { class: 'glyph', 'aria-hidden': 'true', text: c.glyph }), c.label);
}

/** countsView renders change counts "+1 ~2 -0" with words for screen readers. */
export function countsView(counts) {
  const add = counts?.add || 0;
  const modify = counts?.modify || 0;
  const remove = counts?.remove || 0;
  if (add + modify + remove === 0) return h('span', { class: 'counts muted', text: 'No changes' });
  const part = (n, glyph, cls, word) => h('span', { class: `count count-${cls}${n ? '' : ' zero'}`, title: `${n} to ${word}` },
    h('span', { 'aria-hidden': 'true', text: glyph }), String(n), srOnly(` to ${word}`));
  return h('span', { class: 'counts' }, part(add, '+', 'add', 'add'), ' ', part(modify, '~', 'modify', 'modify'), ' ',
    part(remove, '−', 'remove', 'remove'));
}

/** sourceBadge says where a value comes from: user, template, runtime, wire. */
export function sourceBadge(source) {
  const s = source || 'template';
  return h('span', { class: `source source-${s.replace(/[^a-z]/g, '')}`, title: sourceTitles[s] || s, text: s });
}

const sourceTitles = {
  user: 'Set by the instance (user override)',
  template: 'Inherited from the catalog template',
  runtime: 'The running container differs; the desired state did not change',
  wire: 'Injected by a wire between instances',
};

/**
 * mismatchList lists the differences the controller found between what an
 * apply's plan predicted and the engine after it (result.mismatches), or
 * returns null when there are none.
 */
export function mismatchList(mismatches) {
  if (!Array.isArray(mismatches) || mismatches.length === 0) return null;
  return h('div', { class: 'mismatches' },
    h('h4', { text: `Applied with differences (${mismatches.length})` }),
    h('ul', { class: 'mismatch-list' }, mismatches.map((m) =>
      h('li', { class: `mismatch mismatch-${m.kind}`, 'data-kind': m.kind, 'data-field': m.field },
        h('strong', { text: m.instance }), ` ${m.field}: ${m.detail}`))));
}
