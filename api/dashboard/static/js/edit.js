// The instance editor of the Instances tab: an instance's image and
// environment overrides in a small form. "Preview changes" sends the edit
// as a dry run (PATCH ?dry_run=true) and shows the change to the desired
// state in the plan's format; "Save changes" stores it with If-Match (the
// stack's revision, read when the form opened), then shows the stack's
// new plan, which is applied from the Deploy tab as any other. A change
// made meanwhile by someone else answers 412: the form says so and offers
// to reload. Secret values are never shown: they appear as "(sensitive)",
// which the API keeps as stored.
import { ApiError, apiPath, errorFrom, getJSON, request } from './api.js';
import { disclosure, h, replace, uid } from './dom.js';
import { renderPlan } from './plan-view.js';

const SENSITIVE = '(sensitive)';

/**
 * instanceEditor returns [button, region]: a disclosure holding the form.
 * onSaved runs after a save; onReload when the user asks to reload the
 * instance after a conflict.
 */
export function instanceEditor(stack, inst, { onSaved, onReload } = {}) {
  const editor = new InstanceEditor(stack, inst, onSaved, onReload);
  const [button, region] = disclosure((open) => (open ? 'Close editor' : 'Edit overrides'), editor.el);
  button.classList.add('edit-toggle');
  button.addEventListener('click', () => { if (button.getAttribute('aria-expanded') === 'true') editor.open(); });
  return [button, region];
}

class InstanceEditor {
  constructor(stack, inst, onSaved, onReload) {
    this.stack = stack;
    this.inst = inst;
    this.onSaved = onSaved;
    this.onReload = onReload;
    this.etag = '';
    const e = inst.effective || {};
    this.initialImage = e.image?.value || '';
    this.imageFromUser = e.image?.source === 'user';
    this.initialEnv = (e.env || []).filter((v) => v.source === 'user')
      .map((v) => `${v.key}=${v.secret || v.value === SENSITIVE ? SENSITIVE : v.value}`).join('\n');
    const imageId = uid('edit-image');
    const envId = uid('edit-env');
    const envHelp = uid('edit-env-help');
    this.image = h('input', { id: imageId, name: 'image', type: 'text', class: 'edit-image', spellcheck: 'false', autocapitalize: 'off', value: this.initialImage });
    this.env = h('textarea', { id: envId, name: 'env', class: 'edit-env', rows: '5', spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': envHelp });
    this.env.value = this.initialEnv;
    this.previewButton = h('button', { type: 'submit', class: 'btn edit-preview', text: 'Preview changes' });
    this.saveButton = h('button', { type: 'button', class: 'btn btn-primary edit-save', text: 'Save changes', disabled: true, on: { click: () => this.save() } });
    this.out = h('div', { class: 'edit-result', role: 'status', 'aria-live': 'polite' });
    this.form = h('form', { class: 'edit-form', 'aria-label': `Edit the overrides of ${inst.name}`, on: { submit: (ev) => { ev.preventDefault(); this.preview(); }, input: () => this.changed() } },
      h('label', { for: imageId, text: 'Image' }), this.image,
      h('label', { for: envId, text: 'Environment overrides' }), this.env,
      h('p', { id: envHelp, class: 'muted edit-help', text: `One KEY=value per line. ${SENSITIVE} keeps a secret's stored value; remove a line to use the template's value again.` }),
      h('div', { class: 'edit-actions' }, this.previewButton, this.saveButton));
    this.el = h('div', { class: 'instance-editor' }, this.form, this.out);
  }

  /** open reads the stack's revision (ETag) that a save must still match. */
  async open() {
    try {
      const res = await request(apiPath('stacks', this.stack));
      if (!res.ok) throw await errorFrom(res);
      this.etag = res.headers.get('ETag') || '';
      await res.body?.cancel();
    } catch (err) {
      this.fail(err);
    }
  }

  changed() {
    this.saveButton.disabled = true;
    this.previewed = null;
  }

  /** patch is the merge patch of the form: only the fields that changed. */
  patch() {
    const body = {};
    const image = this.image.value.trim();
    if (image !== this.initialImage) body.image = image === '' && this.imageFromUser ? null : image;
    if (this.env.value.trim() !== this.initialEnv.trim()) {
      const env = [];
      for (const [i, line] of this.env.value.split('\n').entries()) {
        if (line.trim() === '') continue;
        const eq = line.indexOf('=');
        if (eq <= 0) throw new ApiError(400, 'invalid_form', `Line ${i + 1} of the environment is not KEY=value. Fix it and preview again.`);
        env.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1) });
      }
      body.env = env.length ? env : null;
    }
    return body;
  }

  async send(dryRun) {
    const body = this.patch();
    if (!Object.keys(body).length) throw new ApiError(400, 'no_change', 'Nothing changed in the form: edit the image or the environment first.');
    const path = apiPath('stacks', this.stack, 'instances', this.inst.name) + (dryRun ? '?dry_run=true' : '');
    const headers = this.etag ? { 'If-Match': this.etag } : {};
    const res = await request(path, { method: 'PATCH', body, headers });
    if (!res.ok) throw await errorFrom(res);
    return res.json();
  }

  async preview() {
    this.previewButton.disabled = true;
    this.saveButton.disabled = true;
    try {
      const r = await this.send(true);
      const empty = !r.preview.changes.length;
      replace(this.out, h('h4', { class: 'edit-heading', text: empty ? 'No change to the desired state' : 'Preview: change to the desired state (nothing saved yet)' }),
        renderPlan(r.preview, { meta: false, expand: true }));
      this.saveButton.disabled = empty;
    } catch (err) {
      this.fail(err);
    } finally {
      this.previewButton.disabled = false;
    }
  }

  async save() {
    this.saveButton.disabled = true;
    this.previewButton.disabled = true;
    try {
      const r = await this.send(false);
      this.etag = `"${r.revision}"`;
      const plan = await getJSON(apiPath('stacks', this.stack, 'plan'));
      replace(this.out,
        h('p', { class: 'notice notice-ok edit-saved' }, h('span', { class: 'glyph', 'aria-hidden': 'true', text: '✓' }),
          `Saved as revision ${r.revision}. Nothing runs differently until the plan is applied: `,
          h('a', { href: `#/stacks/${encodeURIComponent(this.stack)}/deploy`, text: 'review and apply it on the Deploy tab' }), '.'),
        h('h4', { class: 'edit-heading', text: 'The stack\'s plan now' }), renderPlan(plan, { meta: false }));
      this.onSaved?.();
    } catch (err) {
      this.fail(err);
    } finally {
      this.previewButton.disabled = false;
    }
  }

  fail(err) {
    if (err.name === 'AbortError') return;
    const stale = err.code === 'revision_mismatch';
    replace(this.out, h('div', { class: 'notice notice-error edit-error', role: 'alert' }, err.message,
      stale ? h('p', {}, h('button', { type: 'button', class: 'btn edit-reload', text: 'Reload the instance', on: { click: () => this.onReload?.() } })) : null));
  }
}
