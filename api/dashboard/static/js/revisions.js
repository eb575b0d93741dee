// The revisions of the History tab: every change to the stack's desired
// state, newest first (number, kind, who, when), each with its change in
// the plan's format, secrets redacted, drawn by the Deploy tab's renderer.
import { apiPath, getJSON } from './api.js';
import { h } from './dom.js';
import { plural, timeAgo } from './format.js';
import { renderPlan } from './plan-view.js';

/** loadRevisions returns the stack's revisions (newest first). */
export async function loadRevisions(name, { signal } = {}) {
  const body = await getJSON(apiPath('stacks', name, 'revisions'), { signal });
  return body.revisions || [];
}

/**
 * renderRevisions returns the list of revisions, a note when none, or the
 * error that kept them from loading.
 */
export function renderRevisions(revisions) {
  if (revisions instanceof Error) return h('p', { class: 'notice notice-error', role: 'alert', text: `The revisions could not be loaded: ${revisions.message}` });
  if (!revisions.length) return h('p', { class: 'empty', text: 'No recorded change to the desired state yet.' });
  return h('ol', { class: 'revision-list', 'aria-label': 'Revisions, newest first' }, revisions.map((r) => h('li', {}, renderRevision(r))));
}

function renderRevision(r) {
  const changes = r.diff?.changes?.length || 0;
  const kind = r.reverted_to ? `${r.kind} to revision ${r.reverted_to}` : r.kind;
  return h('article', { class: 'revision', 'data-revision': String(r.number), 'data-kind': r.kind },
    h('header', { class: 'revision-head' },
      h('strong', { class: 'revision-number', text: `Revision ${r.number}` }),
      h('span', { class: 'tag', text: kind }),
      h('span', { class: 'revision-who' }, 'by ', h('strong', { text: r.author || 'unknown' })),
      h('span', { class: 'revision-when' }, timeAgo(r.created_at))),
    h('details', { class: 'revision-diff' },
      h('summary', { text: `Change to the desired state (${plural(changes, 'instance')})` }),
      renderPlan(r.diff, { meta: false })));
}
