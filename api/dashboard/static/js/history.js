// The History tab: the stack's desired-state revisions (revisions.js), then
// its approvals, newest first: who asked, when, the outcome, how long the
// apply took, and the plan that was approved (expandable, drawn by the same
// renderer as the Deploy tab).
import { apiPath, getJSON } from './api.js';
import { h, replace } from './dom.js';
import { approvalBadge, durationText, mismatchList, plural, timeAgo } from './format.js';
import { renderPlan } from './plan-view.js';
import { loadRevisions, renderRevisions } from './revisions.js';

export class HistoryPanel {
  constructor(name) {
    this.name = name;
    this.abort = null;
    this.key = '';
    this.list = h('ol', { class: 'history-list', 'aria-label': 'Approvals, newest first' });
    this.el = h('div', { class: 'history' }, h('p', { class: 'loading', text: 'Loading history…' }));
  }

  async show() {
    this.abort?.abort();
    this.abort = new AbortController();
    try {
      const [body, revisions] = await Promise.all([
        getJSON(`${apiPath('approvals')}?stack=${encodeURIComponent(this.name)}`, { signal: this.abort.signal }),
        loadRevisions(this.name, { signal: this.abort.signal }).catch((err) => {
          if (err.name === 'AbortError') throw err;
          return err; // the approvals still show; the revisions say why they are missing
        })]);
      const approvals = body.approvals || [];
      const key = JSON.stringify([approvals.map((a) => [a.id, a.status, a.updated_at]), revisions instanceof Error ? revisions.message : revisions.map((r) => r.number)]);
      if (key === this.key) return;
      this.key = key;
      replace(this.list, approvals.map((a) => h('li', {}, renderApproval(a))));
      replace(this.el,
        h('h2', { class: 'history-heading', text: 'Revisions of the desired state' }), renderRevisions(revisions),
        h('h2', { class: 'history-heading', text: 'Approvals' }),
        approvals.length ? this.list : h('p', { class: 'empty', text: 'No approvals yet. Generate a plan and apply it on the Deploy tab.' }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(this.el, h('p', { class: 'notice notice-error', role: 'alert', text: err.message }));
    }
  }

  /** onStatus refreshes the list while it is shown and the stack's status moved. */
  onStatus(stack) {
    const key = JSON.stringify([stack.status?.condition, stack.status?.last_reconcile]);
    if (key === this.statusKey) return;
    this.statusKey = key;
    if (this.el.isConnected && !this.el.closest('[hidden]')) this.show();
  }

  dispose() { this.abort?.abort(); }
}

function renderApproval(a) {
  const plan = parse(a.plan);
  const result = parse(a.result) || {};
  const changes = plan?.changes?.length || 0;
  const started = a.started_at && a.finished_at ? new Date(a.finished_at) - new Date(a.started_at) : null;
  const details = h('details', { class: 'approval-plan' },
    h('summary', { text: `Approved plan (${plural(changes, 'change')})` }),
    plan ? renderPlan(plan, { meta: true }) : h('p', { class: 'muted', text: 'The plan was not recorded.' }));
  return h('article', { class: `approval approval-${a.status}`, 'data-approval': String(a.id), 'data-status': a.status },
    h('header', { class: 'approval-head' },
      approvalBadge(a.status),
      h('span', { class: 'approval-id', text: `#${a.id}` }),
      h('span', { class: 'approval-who' }, 'by ', h('strong', { text: a.requested_by || 'unknown' })),
      h('span', { class: 'approval-when' }, timeAgo(a.created_at)),
      h('span', { class: 'approval-duration muted', text: started === null ? '' : `took ${durationText(started)}` })),
    a.message ? h('p', { class: 'approval-message', text: a.message }) : null,
    mismatchList(result.mismatches),
    result.compose_output ? h('details', { class: 'approval-output' }, h('summary', { text: 'Compose output' }),
      h('pre', { class: 'compose-output', text: result.compose_output })) : null,
    details);
}

function parse(v) {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v); } catch { return null; }
}
