// The Instances tab: each instance's effective spec, every value with a
// badge saying where it comes from (template or user). Secret env values
// are masked here too, whatever the API sent.
import { apiPath, getJSON } from './api.js';
import { disclosure, h, replace } from './dom.js';
import { plural, sourceBadge } from './format.js';
import { instanceEditor } from './edit.js';

export class InstancesPanel {
  constructor(name) {
    this.name = name;
    this.el = h('div', { class: 'instances' }, h('p', { class: 'loading', text: 'Loading instances…' }));
    this.abort = null;
  }

  async show() {
    this.abort?.abort();
    this.abort = new AbortController();
    try {
      const view = await getJSON(apiPath('stacks', this.name), { signal: this.abort.signal });
      const key = JSON.stringify(view.instances);
      if (key === this.key && !this.reload) return;
      this.reload = false; // unchanged: keep the DOM (and open details) as is
      this.key = key;
      const instances = view.instances || [];
      replace(this.el, instances.length
        ? h('ul', { class: 'instance-list' }, instances.map((i) => h('li', {}, renderInstance(i, this.editor(i)))))
        : h('p', { class: 'empty', text: 'This stack has no instances.' }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(this.el, h('p', { class: 'notice notice-error', role: 'alert', text: err.message }));
    }
  }

  /** editor returns the instance's edit button and form (edit.js). */
  editor(inst) {
    return instanceEditor(this.name, inst, {
      onSaved: () => { this.key = ''; }, // the next show() redraws the saved values
      onReload: () => { this.reload = true; this.show(); },
    });
  }

  dispose() { this.abort?.abort(); }
}

function renderInstance(inst, [editButton, editRegion] = []) {
  const e = inst.effective || {};
  const rows = [
    scalar('image', e.image),
    scalar('command', e.command, joinArgs),
    scalar('entrypoint', e.entrypoint, joinArgs),
    scalar('working_dir', e.working_dir),
    scalar('user', e.user),
    e.privileged?.value ? scalar('privileged', e.privileged, () => 'true') : null,
    scalar('cap_add', e.cap_add, (v) => v.join(', ')),
    scalar('restart', e.restart),
    scalar('ports', e.ports, (v) => v.map(portText).join(', ')),
    scalar('volumes', e.volumes, (v) => v.map(volumeText).join(', ')),
    scalar('healthcheck', e.healthcheck, healthText),
    scalar('depends_on', e.depends_on, (v) => v.map((d) => (d.condition ? `${d.name} (${d.condition})` : d.name)).join(', ')),
  ].filter(Boolean);
  const env = e.env || [];
  const labels = e.labels || [];
  const files = e.config_files || [];
  const options = e.options || [];
  const domains = inst.domains || [];
  return h('article', { class: `instance${inst.enabled ? '' : ' instance-disabled'}`, 'data-instance': inst.name },
    h('header', { class: 'instance-head' },
      h('h3', { text: inst.name }),
      inst.template ? h('span', { class: 'tag', title: 'Catalog template', text: `template ${inst.template}` }) : h('span', { class: 'tag', text: 'no template' }),
      inst.enabled ? null : h('span', { class: 'tag tag-warn', text: 'disabled' }),
      h('code', { class: 'instance-container', title: 'Container name', text: inst.container }),
      editButton),
    editRegion,
    h('dl', { class: 'spec' }, rows),
    env.length ? section(`Environment (${env.length})`, h('dl', { class: 'spec spec-keyed' }, env.map(envRow))) : null,
    options.length ? section(`Container options (${options.length})`, h('dl', { class: 'spec spec-keyed spec-options' },
      options.map((o) => row(o.path, o.secret ? masked() : h('code', { class: 'value', text: o.value }), o.source)))) : null,
    labels.length ? section(`Labels (${labels.length})`, h('dl', { class: 'spec spec-keyed' },
      labels.map((l) => row(l.key, h('code', { class: 'value', text: l.value }), l.source)))) : null,
    files.length ? section(`Config files (${files.length})`, h('div', { class: 'config-files' }, files.map(configFile))) : null,
    domains.length ? section(`Domains (${domains.length})`, h('ul', { class: 'plain' },
      domains.map((d) => h('li', {}, h('code', { text: d.domain }), d.proxy_port ? ` → port ${d.proxy_port}` : '')))) : null);
}

function section(title, body) {
  return h('section', { class: 'spec-section' }, h('h4', { text: title }), body);
}

function row(key, valueNode, source) {
  return h('div', { class: 'spec-row', 'data-key': key }, h('dt', {}, h('code', { text: key })), h('dd', {}, valueNode, ' ', sourceBadge(source)));
}

function scalar(key, v, fmt = (x) => String(x)) {
  if (!v || v.value === null || v.value === undefined || v.value === '' || (Array.isArray(v.value) && v.value.length === 0)) return null;
  return row(key, h('code', { class: 'value', text: fmt(v.value) }), v.source);
}

function envRow(v) {
  const secret = v.secret || v.value === '(sensitive)';
  return row(v.key, secret ? masked() : h('code', { class: 'value', text: v.value }), v.source);
}

function masked() {
  return h('span', { class: 'masked', title: 'Secret values are never shown' }, h('span', { 'aria-hidden': 'true', text: '••••••' }), ' ', h('span', { class: 'secret-tag', text: 'secret' }));
}

function configFile(c) {
  const mode = (c.mode || 0o644).toString(8).padStart(4, '0');
  const content = h('pre', { class: 'file-content', text: c.content || '' });
  const [button, region] = disclosure((open) => `${open ? 'Hide' : 'Show'} content (${plural((c.content || '').length, 'byte')})`, h('div', {}, content));
  return h('div', { class: 'config-file', 'data-path': c.path },
    h('p', {}, h('code', { text: c.path }), h('span', { 'aria-hidden': 'true', text: ' → ' }), h('code', { text: c.target }),
      ` mode ${mode} `, sourceBadge(c.source)),
    button, region);
}

function joinArgs(args) {
  return args.map((a) => (/[\s"']/.test(a) || a === '' ? JSON.stringify(a) : a)).join(' ');
}

function portText(p) {
  const c = `${p.container_port}/${p.protocol || 'tcp'}`;
  if (!p.host_port && !p.host_ip) return c;
  return `${p.host_ip ? `${p.host_ip}:` : ''}${p.host_port || ''}->${c}`;
}

function volumeText(v) {
  return `${v.source ? `${v.source}:` : ''}${v.target}${v.read_only ? ':ro' : ''}${v.type === 'tmpfs' ? ' (tmpfs)' : ''}`;
}

function healthText(hc) {
  if (hc.disable) return 'disabled';
  const parts = [joinArgs(hc.test || [])];
  if (hc.interval) parts.push(`every ${hc.interval}`);
  if (hc.timeout) parts.push(`timeout ${hc.timeout}`);
  if (hc.retries) parts.push(`${hc.retries} retries`);
  if (hc.start_period) parts.push(`start period ${hc.start_period}`);
  return parts.join(', ');
}
