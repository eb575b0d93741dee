// DOM helpers. Every piece of data reaches the page through textContent or
// setAttribute: nothing here (or anywhere in the dashboard) assigns HTML.

/**
 * h builds an element. attrs: "class", "text" (textContent), "on" (event
 * name → listener), "hidden"/boolean attributes (true/false), anything
 * else via setAttribute. Children: nodes, strings (text nodes), arrays;
 * null, undefined and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings, nested arrays) to el. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** replace swaps el's children for the given ones. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** srOnly is text read by screen readers but not shown. */
export function srOnly(text) {
  return h('span', { class: 'sr-only', text });
}

let idCounter = 0;

/** uid returns a document-unique id with the given prefix. */
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * disclosure returns [button, region, refresh]: the button toggles the
 * region and keeps aria-expanded in step; labels(expanded) gives the
 * button's text, and refresh() recomputes it.
 */
export function disclosure(labels, region, expanded = false) {
  region.id = region.id || uid('region');
  const button = h('button', {
    type: 'button', class: 'disclosure', 'aria-controls': region.id, 'aria-expanded': String(expanded),
  });
  const set = (open) => {
    button.setAttribute('aria-expanded', String(open));
    region.hidden = !open;
    replace(button, h('span', { class: 'disclosure-mark', 'aria-hidden': 'true', text: open ? '▾' : '▸' }), labels(open));
  };
  const isOpen = () => button.getAttribute('aria-expanded') === 'true';
  button.addEventListener('click', () => set(!isOpen()));
  set(expanded);
  return [button, region, () => set(isOpen())];
}

/** sleep resolves after ms, or rejects when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
