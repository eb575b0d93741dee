// The stack page's lifecycle actions: Disable / Enable, and Delete with a
// typed-name confirmation (a modal dialog whose Delete button is enabled
// only once the stack's exact name is typed). Each only changes the
// desired state; the engine changes when the stack's next plan is applied
// on the Deploy tab, where a successful change sends the user.
import { ApiError, apiPath, errorFrom, request } from './api.js';
import { h, replace } from './dom.js';
import { stackHref } from './stacks.js';

export class LifecycleBar {
  constructor(name) {
    this.name = name;
    this.stack = null;
    this.toggling = false;
    this.note = h('p', { class: 'notice lifecycle-note', role: 'status', hidden: true });
    // The buttons show from the start (disabled until the stack's status
    // arrives), so that the page below them does not move under a click.
    this.toggleButton = h('button', { type: 'button', class: 'btn btn-small', id: 'toggle-enabled', disabled: true, text: 'Disable', on: { click: () => this.toggle() } });
    this.deleteButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', id: 'delete-stack', disabled: true, text: 'Delete stack…', on: { click: () => this.openDialog() } });
    this.message = h('p', { class: 'lifecycle-message', role: 'status', 'aria-live': 'polite' });
    this.dialog = this.buildDialog();
    this.el = h('div', { class: 'lifecycle' }, this.note, h('div', { class: 'lifecycle-actions' }, this.toggleButton, this.deleteButton), this.message, this.dialog);
  }

  buildDialog() {
    const title = `delete-title-${this.name}`;
    this.confirmInput = h('input', {
      id: 'delete-confirm-name', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
      'aria-describedby': 'delete-confirm-help', on: { input: () => this.syncConfirm() },
    });
    this.volumesBox = h('input', { id: 'delete-volumes', type: 'checkbox' });
    this.dialogError = h('p', { class: 'notice notice-error', id: 'delete-error', role: 'alert', hidden: true });
    this.confirmButton = h('button', { type: 'submit', class: 'btn btn-danger', id: 'delete-confirm', disabled: true, text: 'Delete stack' });
    const form = h('form', { method: 'dialog', class: 'delete-form', on: { submit: (e) => { e.preventDefault(); this.confirmDelete(); } } },
      h('h2', { id: title, text: `Delete stack ${this.name}?` }),
      h('p', {}, 'The stack is deleted from the desired state. Its containers (with their anonymous volumes) and the networks it created are removed only when you apply its ',
        h('strong', { text: 'removal plan' }), ' on the Deploy tab. Named volumes are kept unless you tick the box below.'),
      h('label', { for: 'delete-confirm-name' }, 'Type the stack’s name, ', h('code', { text: this.name }), ', to confirm'),
      this.confirmInput,
      h('p', { id: 'delete-confirm-help', class: 'muted', text: 'The Delete button is enabled once the name matches exactly.' }),
      h('label', { class: 'checkbox' }, this.volumesBox, ' Also remove its named volumes (their data is lost)'),
      this.dialogError,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn', id: 'delete-cancel', text: 'Cancel', on: { click: () => this.dialog.close() } }),
        this.confirmButton));
    return h('dialog', { id: 'delete-dialog', class: 'dialog', 'aria-labelledby': title }, form);
  }

  /** onStatus takes the stack's entry of GET /api/v1/stacks. */
  onStatus(s) {
    this.stack = s;
    const lifecycle = s.lifecycle || (s.enabled ? 'active' : 'disabled');
    const deleting = lifecycle === 'deleting';
    this.deleteButton.hidden = deleting;
    this.toggleButton.hidden = deleting;
    this.deleteButton.disabled = false;
    if (!this.toggling) this.toggleButton.disabled = false;
    this.toggleButton.textContent = lifecycle === 'disabled' ? 'Enable' : 'Disable';
    this.note.hidden = lifecycle === 'active';
    this.note.className = `notice lifecycle-note ${deleting ? 'notice-error' : 'notice-warn'}`;
    if (deleting) {
      replace(this.note, h('strong', { text: 'Deleting. ' }), 'The stack is deleted from the desired state. Apply its removal plan on the ',
        h('a', { href: stackHref(this.name, 'deploy'), text: 'Deploy tab' }), ' to remove its containers and networks; it then disappears.');
    } else if (lifecycle === 'disabled') {
      replace(this.note, h('strong', { text: 'Disabled. ' }), 'Its desired state is kept; its plan removes its containers. Enable it to bring them back.');
    }
  }

  openDialog() {
    this.confirmInput.value = '';
    this.volumesBox.checked = false;
    this.dialogError.hidden = true;
    this.syncConfirm();
    this.dialog.showModal();
    this.confirmInput.focus();
  }

  syncConfirm() {
    this.confirmButton.disabled = this.confirmInput.value !== this.name;
  }

  async confirmDelete() {
    if (this.confirmInput.value !== this.name) return;
    this.confirmButton.disabled = true;
    this.confirmButton.textContent = 'Deleting…';
    try {
      const query = this.volumesBox.checked ? '?volumes=true' : '';
      const res = await request(apiPath('stacks', this.name) + query, { method: 'DELETE' });
      if (!res.ok) throw await errorFrom(res);
      const body = await res.json();
      this.dialog.close();
      this.message.textContent = body.message || '';
      location.hash = stackHref(this.name, 'deploy');
    } catch (err) {
      this.dialogError.hidden = false;
      this.dialogError.textContent = err instanceof ApiError ? err.message : String(err);
      this.confirmButton.textContent = 'Delete stack';
      this.syncConfirm();
    }
  }

  async toggle() {
    const enable = this.toggleButton.textContent === 'Enable';
    this.toggling = true;
    this.toggleButton.disabled = true;
    try {
      const res = await request(apiPath('stacks', this.name, enable ? 'enable' : 'disable'), { method: 'POST', body: {} });
      if (!res.ok) throw await errorFrom(res);
      const body = await res.json();
      this.message.textContent = `${body.message || ''} Review it on the Deploy tab.`;
    } catch (err) {
      this.message.textContent = err instanceof ApiError ? err.message : String(err);
    } finally {
      this.toggling = false;
      this.toggleButton.disabled = false;
    }
  }
}
