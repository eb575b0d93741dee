// The plan renderer shared by the Deploy tab and the History tab: a summary
// line, notices (things apply keeps as they are, such as a volume it did
// not create), warnings, and one card per change (green + add, yellow ~ modify,
// red − remove) with per-field "old → new" detail and source badges.
// Secret fields (field.sensitive) are only ever shown as "changed".
import { disclosure, h, srOnly } from './dom.js';
import { plural, sourceBadge, summaryText, timeAgo } from './format.js';

const actions = {
  add: { glyph: '+', label: 'add' },
  modify: { glyph: '~', label: 'modify' },
  remove: { glyph: '−', label: 'remove' },
};

/** isEmptyPlan reports whether a plan has no changes. */
export function isEmptyPlan(plan) {
  return (!plan?.changes || plan.changes.length === 0) && removedResources(plan) === 0 &&
    !(plan?.resources || []).some((r) => r.action === 'recreate');
}

// resourceActions are the glyphs and words of a resource line: a removal's
// networks and volumes, and the stack's network with a managed subnet.
const resourceActions = {
  remove: { glyph: '−', label: 'remove' },
  keep: { glyph: '=', label: 'keep' },
  create: { glyph: '+', label: 'create' },
  recreate: { glyph: '~', label: 'recreate' },
};

/** removedResources counts the networks and volumes a removal plan removes. */
export function removedResources(plan) {
  return (plan?.resources || []).filter((r) => r.action === 'remove').length;
}

/**
 * renderPlan returns an element showing the plan. Options: expand (open
 * every card's field list), meta (show generation time and token).
 */
export function renderPlan(plan, { expand = false, meta = true } = {}) {
  const root = h('div', { class: 'plan' });
  if (isEmptyPlan(plan)) {
    root.append(h('p', { class: 'notice notice-ok plan-empty' },
      h('span', { class: 'glyph', 'aria-hidden': 'true', text: '✓' }), 'Stack is up to date — no changes needed'));
  } else {
    root.append(h('h3', { class: 'plan-summary', text: summaryText(plan.summary) }));
  }
  if (meta) {
    root.append(h('p', { class: 'plan-meta muted' }, 'Generated ', timeAgo(plan.generated_at, 'at an unknown time'),
      plan.token ? [' · token ', h('code', { title: plan.token, text: `${plan.token.slice(0, 12)}…` })] : null));
  }
  const notices = plan?.notices || [];
  if (notices.length) {
    root.append(h('ul', { class: 'plan-notices', 'aria-label': 'Notices' },
      notices.map((n) => h('li', { class: 'notice notice-warn', title: n.message },
        h('span', { class: 'glyph', 'aria-hidden': 'true', text: '!' }), n.summary,
        n.message ? h('span', { class: 'muted' }, ' — ', n.message) : null))));
  }
  const warnings = plan?.warnings || [];
  if (warnings.length) {
    root.append(h('ul', { class: 'plan-warnings', 'aria-label': 'Warnings' },
      warnings.map((w) => h('li', { class: 'notice notice-warn' }, h('span', { class: 'glyph', 'aria-hidden': 'true', text: '!' }), w))));
  }
  if (plan?.changes?.length) {
    root.append(h('ol', { class: 'changes', 'aria-label': 'Changes' },
      plan.changes.map((c) => h('li', {}, renderChange(c, expand)))));
  }
  const resources = plan?.resources || [];
  if (resources.length) {
    root.append(h('ul', { class: 'plan-resources', 'aria-label': 'Networks and volumes' },
      resources.map((r) => h('li', { class: `resource resource-${r.action}`, 'data-kind': r.kind, 'data-name': r.name, 'data-action': r.action },
        h('span', { class: 'change-glyph', 'aria-hidden': 'true', text: (resourceActions[r.action] || resourceActions.keep).glyph }),
        h('span', { class: 'resource-kind', text: r.kind }), ' ', h('code', { text: r.name }), ' ',
        h('span', { class: 'change-action', text: (resourceActions[r.action] || resourceActions.keep).label }),
        r.subnet ? h('span', { class: 'resource-subnet' }, ' subnet ',
          r.previous_subnet ? [h('code', { text: r.previous_subnet }), ' → '] : null, h('code', { text: r.subnet })) : null,
        r.reason ? h('span', { class: 'muted' }, ' — ', r.reason) : null))));
  }
  return root;
}

/** renderChange renders one change card. */
export function renderChange(change, expand = false) {
  const a = actions[change.action] || { glyph: '?', label: change.action };
  const card = h('article', { class: `change change-${a.label}`, 'data-action': a.label, 'data-instance': change.instance });
  const title = h('h4', { class: 'change-title' },
    h('span', { class: 'change-glyph', 'aria-hidden': 'true', text: a.glyph }),
    h('span', { class: 'change-instance', text: change.instance }),
    change.template ? h('span', { class: 'change-template muted', text: change.template }) : null,
    h('span', { class: 'change-action', text: a.label }),
    change.action === 'modify' ? h('span', { class: 'change-kind', text: change.recreate ? 'recreate' : 'in place' }) : null);
  card.append(title);
  card.append(h('p', { class: 'change-reason' },
    change.container ? h('code', { class: 'change-container', text: change.container }) : null,
    change.container ? ': ' : null, change.reason || ''));
  const fields = change.fields || [];
  if (fields.length) {
    const list = h('dl', { class: 'fields' }, fields.map(renderField));
    const [button, region] = disclosure((open) => `${open ? 'Hide' : 'Show'} ${plural(fields.length, 'field change')}`,
      h('div', { class: 'fields-region' }, list), expand);
    card.append(button, region);
  }
  return card;
}

function renderField(f) {
  const value = h('dd', { class: 'field-change' });
  if (f.sensitive) {
    value.append(h('span', { class: 'secret-changed', text: 'changed' }), ' ',
      h('span', { class: 'secret-tag', title: 'Secret values are never shown', text: 'secret' }));
  } else {
    value.append(valueView(f.old, 'old', 'not set'), h('span', { class: 'arrow', 'aria-hidden': 'true', text: ' → ' }),
      srOnly(' becomes '), valueView(f.new, 'new', 'removed'));
  }
  value.append(' ', sourceBadge(f.source));
  if (f.reason) value.append(h('span', { class: 'field-reason muted', text: f.reason }));
  return h('div', { class: 'field', 'data-path': f.path, 'data-sensitive': f.sensitive ? 'true' : null },
    h('dt', {}, h('code', { text: f.path })), value);
}

function valueView(v, cls, missing) {
  if (v === null || v === undefined) return h('span', { class: `value value-${cls} value-none`, text: `(${missing})` });
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return h('code', { class: `value value-${cls}`, text });
}
