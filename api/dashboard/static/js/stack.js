// The stack page: a header with the stack's status (from the stacks poller)
// and a tablist (Instances, Deploy, History, Compose). Tabs follow the WAI-ARIA tabs
// pattern: one tab stop, arrow keys / Home / End move and activate, each
// tab is also a route (#/stacks/NAME/TAB). Panels are built on first use
// and kept, so a plan or an apply in progress survives switching tabs.
import { h, replace } from './dom.js';
import { conditionBadge, countsView, timeAgo } from './format.js';
import { ComposePanel } from './compose.js';
import { DeployPanel } from './deploy.js';
import { HistoryPanel } from './history.js';
import { InstancesPanel } from './instances.js';
import { LifecycleBar } from './lifecycle.js';
import { stackHref } from './stacks.js';

export const TABS = [
  { id: 'instances', label: 'Instances', Panel: InstancesPanel },
  { id: 'deploy', label: 'Deploy', Panel: DeployPanel },
  { id: 'history', label: 'History', Panel: HistoryPanel },
  { id: 'compose', label: 'Compose', Panel: ComposePanel },
];

export class StackView {
  constructor(name, tab, poller) {
    this.name = name;
    this.poller = poller;
    this.panels = new Map(); // tab id → panel object
    this.heading = h('h1', { tabindex: '-1', class: 'stack-name', text: name });
    this.headKey = '';
    this.status = h('div', { class: 'stack-status' });
    this.facts = h('dl', { class: 'facts' });
    this.missing = h('p', { class: 'notice notice-error stack-missing', role: 'alert', hidden: true });
    this.lifecycle = new LifecycleBar(name);
    this.tabs = new Map();
    const tablist = h('div', { role: 'tablist', class: 'tabs', 'aria-label': `Stack ${name}` });
    const panelBox = h('div', { class: 'tab-panels' });
    for (const t of TABS) {
      const button = h('button', {
        type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': `panel-${t.id}`, 'aria-selected': 'false',
        tabindex: '-1', class: 'tab', text: t.label, on: { click: () => this.go(t.id) },
      });
      const panel = h('div', { role: 'tabpanel', id: `panel-${t.id}`, 'aria-labelledby': `tab-${t.id}`, tabindex: '0', class: 'tab-panel', hidden: true });
      tablist.append(button);
      panelBox.append(panel);
      this.tabs.set(t.id, { ...t, button, panel });
    }
    tablist.addEventListener('keydown', (e) => this.onKey(e));
    this.el = h('section', { class: 'page page-stack' },
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/stacks', text: 'Stacks' }), h('span', { 'aria-hidden': 'true', text: ' / ' }),
        h('span', { 'aria-current': 'page', text: name })),
      h('div', { class: 'stack-head' }, this.heading, this.status), this.facts, this.lifecycle.el, this.missing, tablist, panelBox);
    this.unsubscribe = poller.subscribe((s) => this.onStacks(s));
    this.select(tab);
  }

  focusTarget() { return this.heading; }

  /** update handles a route change within this stack (another tab). */
  update(route) { this.select(route.tab); }

  go(tab) {
    this.select(tab); // at once: the hashchange that follows is asynchronous
    location.hash = stackHref(this.name, tab);
  }

  select(tabId) {
    const id = this.tabs.has(tabId) ? tabId : 'instances';
    if (id === this.current) return;
    for (const [tid, t] of this.tabs) {
      const on = tid === id;
      t.button.setAttribute('aria-selected', String(on));
      t.button.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    }
    const t = this.tabs.get(id);
    let panel = this.panels.get(id);
    if (!panel) {
      panel = new t.Panel(this.name, { poller: this.poller });
      this.panels.set(id, panel);
      t.panel.append(panel.el);
    }
    panel.show?.();
    this.current = id;
    document.title = `${this.name} · ${t.label} · devarch-controller`;
  }

  onKey(e) {
    const ids = TABS.map((t) => t.id);
    const i = ids.indexOf(this.current);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: ids.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const id = ids[(next + ids.length) % ids.length];
    this.tabs.get(id).button.focus();
    this.go(id);
  }

  onStacks({ stacks }) {
    if (!stacks) return;
    const s = stacks.find((x) => x.name === this.name);
    this.missing.hidden = !!s;
    this.lifecycle.el.hidden = !s;
    if (!s) {
      replace(this.missing, `Stack "${this.name}" does not exist (or was deleted). `, h('a', { href: '#/stacks', text: 'Back to all stacks' }));
      return;
    }
    this.lifecycle.onStatus(s);
    const st = s.status;
    const key = JSON.stringify([st?.condition, st?.counts, st?.message, st?.last_reconcile, s.network, s.enabled, s.instances, s.engine]);
    if (key !== this.headKey) {
      this.headKey = key;
      replace(this.status, conditionBadge(st), countsView(st?.counts),
        st?.condition === 'Error' && st.message ? h('span', { class: 'status-message', text: st.message }) : null);
      replace(this.facts,
        fact('Last reconcile', timeAgo(st?.last_reconcile)),
        fact('Network', h('code', { text: s.network })),
        fact('Engine', h('code', { text: s.engine || '' })),
        fact('Instances', String(s.instances ?? 0)),
        fact('Enabled', s.enabled ? 'yes' : 'no — apply removes its containers'));
    }
    for (const p of this.panels.values()) p.onStatus?.(s);
  }

  dispose() {
    this.unsubscribe();
    for (const p of this.panels.values()) p.dispose?.();
  }
}

function fact(term, value) {
  return h('div', { class: 'fact' }, h('dt', { text: term }), h('dd', {}, value));
}
