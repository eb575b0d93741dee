// The Compose tab: the stack as the compose file the controller applies
// (GET /api/v1/stacks/NAME/export?format=compose), or as a devarch.yml
// stack file that stack import reads back. Secret values are never in
// either: the file references them, and the panel names the references.
// The file can be downloaded as shown.
import { apiPath, getJSON } from './api.js';
import { h, replace } from './dom.js';

const FORMATS = [
  { id: 'compose', label: 'Compose file', hint: 'docker compose config reads it; secret values are ${VARIABLE} references.' },
  { id: 'devarch', label: 'Stack file (devarch.yml)', hint: 'stack import reads it back to the same desired state; secrets are ${SECRET:NAME} references.' },
];

export class ComposePanel {
  constructor(name) {
    this.name = name;
    this.format = 'compose';
    this.abort = null;
    this.url = null;
    this.buttons = FORMATS.map((f) => h('button', {
      type: 'button', class: 'btn btn-small', 'data-format': f.id, 'aria-pressed': String(f.id === this.format), text: f.label,
      on: { click: () => this.choose(f.id) },
    }));
    this.hint = h('p', { class: 'muted export-hint' });
    this.download = h('a', { class: 'btn btn-small', hidden: true, text: 'Download' });
    this.body = h('div', { class: 'export-body' }, h('p', { class: 'loading', text: 'Loading…' }));
    this.el = h('div', { class: 'export' },
      h('div', { class: 'export-head', role: 'group', 'aria-label': 'Export format' }, this.buttons, this.download),
      this.hint, this.body);
  }

  show() { this.load(); }

  choose(format) {
    if (format === this.format) return;
    this.format = format;
    for (const b of this.buttons) b.setAttribute('aria-pressed', String(b.dataset.format === format));
    this.load();
  }

  async load() {
    this.abort?.abort();
    this.abort = new AbortController();
    const f = FORMATS.find((x) => x.id === this.format);
    this.hint.textContent = f.hint;
    try {
      const body = await getJSON(`${apiPath('stacks', this.name, 'export')}?format=${this.format}`, { signal: this.abort.signal });
      this.render(body);
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.download.hidden = true;
      replace(this.body, h('p', { class: 'notice notice-error', role: 'alert', text: err.message }));
    }
  }

  render(body) {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(new Blob([body.content], { type: 'application/yaml' }));
    this.download.href = this.url;
    this.download.setAttribute('download', body.filename);
    this.download.hidden = false;
    const secrets = body.secrets || [];
    replace(this.body,
      secrets.length ? h('p', { class: 'notice notice-info export-secrets' }, 'The file references secrets it does not hold: ',
        secrets.map((s, i) => [i ? ', ' : '', h('code', { text: s })]),
        this.format === 'compose' ? '. Give them in a .env file next to it.' : '. Give them on import with the secrets file.') : null,
      (body.warnings || []).map((w) => h('p', { class: 'notice notice-warn', text: w })),
      (body.notes || []).length ? h('ul', { class: 'export-notes muted' }, body.notes.map((n) => h('li', { text: n }))) : null,
      h('pre', { class: 'file-content export-content', tabindex: '0', 'aria-label': `${body.filename} content`, text: body.content }));
  }

  dispose() {
    this.abort?.abort();
    if (this.url) URL.revokeObjectURL(this.url);
  }
}
