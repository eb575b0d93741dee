// The Deploy tab: generate a plan, review its cards, apply it with the
// plan's staleness token, follow the apply live, and show the outcome. A
// stale plan offers "Regenerate plan"; a held lock says another session is
// applying. An apply already running when the tab opens is followed too.
import { ApiError, apiPath, getJSON, postJSON } from './api.js';
import { watchApproval } from './approval.js';
import { h, replace } from './dom.js';
import { durationText, mismatchList, plural } from './format.js';
import { isEmptyPlan, removedResources, renderPlan } from './plan-view.js';
import { ProgressView } from './progress-view.js';

const LOCKED = 'Stack is being applied by another session.';
const STALE = 'Plan is stale: the stack changed since the plan was generated. Generate a new plan.';

export class DeployPanel {
  constructor(name, { poller }) {
    this.name = name;
    this.poller = poller;
    this.plan = null;
    this.busy = false;
    this.life = new AbortController();
    this.generateButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'generate-plan', text: 'Generate Plan', on: { click: () => this.generate() } });
    this.applyButton = h('button', { type: 'button', class: 'btn btn-apply', id: 'apply-plan', hidden: true, on: { click: () => this.apply() } });
    this.planBox = h('div', { class: 'plan-box' });
    this.staleHint = h('div', { class: 'notice notice-warn stale-hint', hidden: true });
    this.progressBox = h('div', { class: 'progress-box' });
    this.resultBox = h('div', { class: 'result-box', role: 'status', 'aria-live': 'polite' });
    this.el = h('div', { class: 'deploy' },
      h('div', { class: 'deploy-intro' },
        h('p', { class: 'muted', text: 'Generate a plan to see what apply would change. Nothing changes until you apply it.' }),
        this.generateButton),
      this.planBox, this.staleHint, h('div', { class: 'deploy-actions' }, this.applyButton), this.progressBox, this.resultBox);
    this.followRunning();
  }

  dispose() { this.life.abort(); }

  setBusy(busy) {
    this.busy = busy;
    this.generateButton.disabled = busy;
    this.applyButton.disabled = busy;
  }

  async generate() {
    if (this.busy) return;
    this.setBusy(true);
    this.generateButton.textContent = 'Generating…';
    replace(this.resultBox);
    replace(this.progressBox);
    this.staleHint.hidden = true;
    try {
      this.plan = await getJSON(apiPath('stacks', this.name, 'plan'), { signal: this.life.signal });
      const view = renderPlan(this.plan);
      replace(this.planBox, view);
      const empty = isEmptyPlan(this.plan);
      this.applyButton.hidden = empty;
      this.applyButton.textContent = empty ? '' : `Apply ${plural(this.plan.changes.length + removedResources(this.plan), 'change')}`;
      const focus = view.querySelector('.plan-summary, .plan-empty');
      focus.tabIndex = -1;
      focus.focus();
    } catch (err) {
      if (this.life.signal.aborted) return;
      this.plan = null;
      this.applyButton.hidden = true;
      replace(this.planBox);
      this.showError('Could not generate a plan', err);
    } finally {
      this.generateButton.textContent = 'Generate Plan';
      this.setBusy(false);
    }
  }

  async apply() {
    if (this.busy || !this.plan) return;
    this.setBusy(true);
    this.staleHint.hidden = true;
    replace(this.resultBox);
    let approval;
    try {
      const body = await postJSON(apiPath('stacks', this.name, 'apply'), { token: this.plan.token }, { signal: this.life.signal });
      approval = body.approval;
    } catch (err) {
      if (this.life.signal.aborted) return;
      this.setBusy(false);
      if (err instanceof ApiError && err.code === 'plan_stale') this.showStale(err.message);
      else if (err instanceof ApiError && err.code === 'stack_locked') this.showLocked(err.message);
      else this.showError('Could not request the apply', err);
      return;
    }
    this.applyButton.hidden = true;
    this.poller.refresh();
    await this.follow(approval);
  }

  /** followRunning follows an apply of this stack that is already running. */
  async followRunning() {
    try {
      const body = await getJSON(`${apiPath('approvals')}?stack=${encodeURIComponent(this.name)}`, { signal: this.life.signal });
      const running = (body.approvals || []).find((a) => a.status === 'pending' || a.status === 'applying');
      if (running && !this.busy) {
        this.setBusy(true);
        replace(this.planBox, h('p', { class: 'notice notice-info' },
          `An apply of this stack is in progress (approval #${running.id}${running.requested_by ? `, requested by ${running.requested_by}` : ''}).`));
        await this.follow(running);
      }
    } catch {
      // History is best effort here: the tab works without it.
    }
  }

  async follow(approval) {
    this.setBusy(true);
    const view = new ProgressView(approval);
    replace(this.progressBox, view.el);
    let final;
    try {
      final = await watchApproval(approval.id, {
        signal: this.life.signal,
        onProgress: (ev) => view.add(ev),
        onStatus: (a) => view.setStatus(a),
        onFallback: () => view.fallback(),
      });
    } catch {
      return; // the tab was closed
    } finally {
      this.setBusy(false);
    }
    this.poller.refresh();
    this.showOutcome(final);
  }

  showOutcome(a) {
    const result = parseJSON(a.result) || {};
    switch (a.status) {
      case 'succeeded': {
        const took = a.started_at && a.finished_at
          ? `Took ${durationText(new Date(a.finished_at) - new Date(a.started_at))}.` : null;
        const differences = mismatchList(result.mismatches);
        if (differences) {
          this.result('warn', '!', 'Applied with differences', a.message, took, differences);
        } else {
          this.result('ok', '✓', 'Apply succeeded', a.message, took);
        }
        break;
      }
      case 'failed':
        this.result('error', '✕', 'Apply failed', a.message || 'The apply failed.',
          result.compose_output ? [h('h4', { text: 'Compose output' }), h('pre', { class: 'compose-output', text: result.compose_output })] : null);
        break;
      case 'stale':
        this.showStale(a.message || STALE);
        break;
      case 'conflict':
        this.showLocked(a.message);
        break;
      default:
        this.result('warn', '!', `Apply ${a.status}`, a.message || 'The apply did not run.', this.regenerateButton());
    }
  }

  showStale(message) {
    this.applyButton.hidden = true;
    this.result('warn', '≠', 'Plan is stale', message || STALE, this.regenerateButton());
  }

  showLocked(message) {
    this.result('warn', '⊘', LOCKED, message && message !== LOCKED ? message : 'Wait for that apply to finish, then generate a new plan.',
      this.regenerateButton());
  }

  showError(title, err) {
    this.result('error', '✕', title, err.message);
  }

  regenerateButton() {
    return h('p', {}, h('button', { type: 'button', class: 'btn', 'data-action': 'regenerate', text: 'Regenerate plan', on: { click: () => this.generate() } }));
  }

  result(tone, glyph, title, message, ...extra) {
    replace(this.resultBox, h('div', { class: `notice notice-${tone} result result-${tone}` },
      h('h3', { class: 'result-title' }, h('span', { class: 'glyph', 'aria-hidden': 'true', text: glyph }), title),
      message ? h('p', { class: 'result-message', text: message }) : null, extra));
  }

  /**
   * onStatus gets the stack from the stacks poller. When the controller has
   * reconciled the stack since the plan was generated and found another
   * token, the plan shown is stale: say so before the user applies it.
   */
  onStatus(stack) {
    const st = stack.status;
    const p = this.plan;
    const stale = !!(p && !this.busy && !this.applyButton.hidden && st?.token && st.condition !== 'Applying'
      && st.token !== p.token && new Date(st.last_reconcile) > new Date(p.generated_at));
    if (stale === !this.staleHint.hidden) return;
    this.staleHint.hidden = !stale;
    if (stale) {
      replace(this.staleHint, h('p', {}, h('span', { class: 'glyph', 'aria-hidden': 'true', text: '≠ ' }),
        'The stack has changed since this plan was generated; applying it would be refused.'), this.regenerateButton());
    }
  }
}

function parseJSON(v) {
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v); } catch { return null; }
}
