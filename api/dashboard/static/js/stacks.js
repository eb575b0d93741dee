// The stacks page: the stacks with their condition, change counts and last
// reconcile time, kept current by the stacks poller, PAGE_SIZE at a time
// (GET /api/v1/stacks?limit=&cursor=: one page is polled, whatever the
// number of stacks). Rows are updated in place (keyed by stack id) so focus
// and scroll survive every poll.
import { h, replace } from './dom.js';
import { conditionBadge, countsView, plural, timeAgo } from './format.js';

/** PAGE_SIZE is the number of stacks the stacks page shows at a time. */
export const PAGE_SIZE = 100;

function pagePath(cursor) {
  return `api/v1/stacks?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
}

export function stackHref(name, tab) {
  return `#/stacks/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;
}

export class StacksView {
  constructor(poller) {
    this.rows = new Map(); // stack id → {tr, cells, keys}
    this.heading = h('h1', { tabindex: '-1', text: 'Stacks' });
    this.summary = h('p', { class: 'page-summary muted', 'aria-live': 'polite' });
    this.error = h('p', { class: 'notice notice-error', role: 'alert', hidden: true });
    this.empty = h('div', { class: 'empty', hidden: true },
      h('p', { text: 'No stacks yet.' }),
      h('p', { class: 'muted' }, 'Import one with ', h('code', { text: 'devarch-controller stack import FILE' }), '.'));
    this.tbody = h('tbody');
    this.table = h('table', { class: 'stacks', hidden: true },
      h('caption', { class: 'sr-only', text: 'Stacks, their status and pending changes' }),
      h('thead', {}, h('tr', {}, ['Stack', 'Status', 'Changes', 'Instances', 'Engine', 'Last reconcile']
        .map((t) => h('th', { scope: 'col', text: t })))),
      this.tbody);
    this.el = h('section', { class: 'page page-stacks', 'aria-labelledby': 'stacks-title' },
      h('div', { class: 'page-head' }, this.heading, this.summary), this.error, this.empty, this.table);
    this.heading.id = 'stacks-title';
    // cursors[i] is the cursor of page i (the first page has none).
    this.cursors = [''];
    this.next = null;
    this.prev = h('button', { type: 'button', class: 'btn btn-small pager-prev', text: '← Previous' });
    this.nextButton = h('button', { type: 'button', class: 'btn btn-small pager-next', text: 'Next →' });
    this.pageInfo = h('span', { class: 'pager-info', 'aria-live': 'polite' });
    this.pager = h('nav', { class: 'pager', 'aria-label': 'Stack pages', hidden: true }, this.prev, this.pageInfo, this.nextButton);
    this.prev.addEventListener('click', () => this.goto(this.cursors.length - 2));
    this.nextButton.addEventListener('click', () => {
      if (this.next) this.goto(this.cursors.length, this.next);
    });
    this.el.append(this.pager);
    this.poller = poller;
    poller.setPath(pagePath(''));
    this.unsubscribe = poller.subscribe((s) => this.render(s));
    document.title = 'Stacks · devarch-controller';
  }

  focusTarget() { return this.heading; }

  dispose() {
    this.unsubscribe();
    this.poller.setPath(this.poller.defaultPath);
  }

  /** goto shows page i (0 is the first); cursor is page i's cursor when i is a new page. */
  goto(i, cursor) {
    if (i < 0) return;
    if (i < this.cursors.length) this.cursors.length = i + 1;
    else this.cursors.push(cursor);
    this.next = null;
    this.prev.disabled = true;
    this.nextButton.disabled = true;
    this.poller.setPath(pagePath(this.cursors[i]));
  }

  render({ stacks, error, next }) {
    this.error.hidden = !error;
    if (error) this.error.textContent = error.message;
    if (!stacks) return;
    if (stacks.length === 0 && this.cursors.length > 1) {
      // Every stack of this page went away: show the one before.
      this.goto(this.cursors.length - 2);
      return;
    }
    this.next = next || null;
    const page = this.cursors.length - 1;
    const paged = page > 0 || Boolean(this.next);
    this.pager.hidden = !paged;
    this.prev.disabled = page === 0;
    this.nextButton.disabled = !this.next;
    const first = page * PAGE_SIZE + 1;
    this.pageInfo.textContent = stacks.length ? `Stacks ${first}–${first + stacks.length - 1}` : '';
    this.empty.hidden = stacks.length > 0;
    this.table.hidden = stacks.length === 0;
    const seen = new Set();
    stacks.forEach((s, i) => {
      seen.add(s.id);
      let row = this.rows.get(s.id);
      if (!row) {
        row = newRow();
        this.rows.set(s.id, row);
      }
      updateRow(row, s);
      if (this.tbody.children[i] !== row.tr) this.tbody.insertBefore(row.tr, this.tbody.children[i] || null);
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.summary.textContent = paged ? `${this.pageInfo.textContent} · ${summarize(stacks, 'on this page')}` : summarize(stacks);
  }
}

function summarize(stacks, scope) {
  const by = (c) => stacks.filter((s) => s.status?.condition === c).length;
  const parts = [plural(stacks.length, 'stack') + (scope ? ` ${scope}` : '')];
  if (by('Drifted')) parts.push(`${by('Drifted')} drifted`);
  if (by('Applying')) parts.push(`${by('Applying')} applying`);
  if (by('Error')) parts.push(`${by('Error')} with errors`);
  return parts.join(' · ');
}

function newRow() {
  const link = h('a', { class: 'stack-link' });
  const cells = {
    name: h('th', { scope: 'row', 'data-label': 'Stack' }, link),
    status: h('td', { class: 'cell-status', 'data-label': 'Status' }),
    changes: h('td', { class: 'cell-changes', 'data-label': 'Changes' }),
    instances: h('td', { class: 'cell-instances', 'data-label': 'Instances' }),
    engine: h('td', { class: 'cell-engine', 'data-label': 'Engine' }),
    reconciled: h('td', { class: 'cell-reconciled', 'data-label': 'Last reconcile' }),
  };
  const tr = h('tr', { class: 'stack-row' }, Object.values(cells));
  return { tr, link, cells, keys: {} };
}

// set replaces a cell's content only when its key changed.
function set(row, name, key, build) {
  if (row.keys[name] === key) return;
  row.keys[name] = key;
  replace(row.cells[name], build());
}

function updateRow(row, s) {
  const st = s.status;
  row.tr.dataset.stack = s.name;
  row.tr.dataset.condition = st?.condition || 'none';
  if (row.link.textContent !== s.name) row.link.textContent = s.name;
  row.link.href = stackHref(s.name);
  row.tr.dataset.lifecycle = s.lifecycle || '';
  set(row, 'status', JSON.stringify([st?.condition, st?.message, s.enabled, s.lifecycle]), () => [
    conditionBadge(st),
    s.lifecycle === 'deleting' ? h('span', { class: 'tag tag-deleting', text: 'deleting' }) : null,
    s.enabled || s.lifecycle === 'deleting' ? null : h('span', { class: 'tag', text: 'disabled' }),
    st?.condition === 'Error' && st.message ? h('span', { class: 'status-message', text: st.message }) : null,
  ]);
  const counts = st?.counts || {};
  set(row, 'changes', JSON.stringify([counts, s.name]), () => {
    const view = countsView(counts);
    const total = (counts.add || 0) + (counts.modify || 0) + (counts.remove || 0);
    return total ? h('a', { href: stackHref(s.name, 'deploy'), class: 'counts-link', title: 'Review the plan' }, view) : view;
  });
  set(row, 'instances', String(s.instances), () => String(s.instances ?? 0));
  set(row, 'engine', s.engine || '', () => h('code', { text: s.engine || '' }));
  set(row, 'reconciled', st?.last_reconcile || '', () => timeAgo(st?.last_reconcile));
}
