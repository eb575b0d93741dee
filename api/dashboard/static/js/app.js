// Entry point: hash routing (#/stacks, #/stacks/NAME[/instances|deploy|history]),
// the token prompt, the live indicator and the relative-time ticker.
import { forgetToken, getToken, onTokenChange, setTokenPrompt } from './api.js';
import { h, replace } from './dom.js';
import { refreshTimes } from './format.js';
import { StacksPoller } from './poller.js';
import { StackView } from './stack.js';
import { StacksView } from './stacks.js';

const main = document.getElementById('main');
const poller = new StacksPoller();
let current = null; // {key, view}
let firstRoute = true;

/** parseRoute turns a location hash into a route. */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  if (parts.length === 0 || (parts[0] === 'stacks' && parts.length === 1)) return { page: 'stacks', key: 'stacks' };
  if (parts[0] === 'stacks' && parts.length <= 3) return { page: 'stack', stack: parts[1], tab: parts[2] || 'instances', key: `stack:${parts[1]}` };
  return { page: 'notfound', key: 'notfound' };
}

function route() {
  const r = parseRoute(location.hash);
  if (current && current.key === r.key && current.view.update) {
    current.view.update(r);
    return;
  }
  current?.view.dispose?.();
  let view;
  if (r.page === 'stacks') view = new StacksView(poller);
  else if (r.page === 'stack') view = new StackView(r.stack, r.tab, poller);
  else view = notFound();
  current = { key: r.key, view };
  replace(main, view.el);
  document.getElementById('nav-stacks').setAttribute('aria-current', r.page === 'stacks' ? 'page' : 'false');
  if (!firstRoute) view.focusTarget?.().focus();
  firstRoute = false;
}

function notFound() {
  const heading = h('h1', { tabindex: '-1', text: 'Page not found' });
  document.title = 'Not found · devarch-controller';
  return {
    el: h('section', { class: 'page' }, heading, h('p', {}, 'No page lives at this address. ', h('a', { href: '#/stacks', text: 'Show all stacks' }), '.')),
    focusTarget: () => heading,
  };
}

// The token prompt: shown when the API answers 401, resolved on submit.
function askToken(message) {
  const section = document.getElementById('auth');
  const form = document.getElementById('auth-form');
  const input = document.getElementById('auth-token');
  const error = document.getElementById('auth-error');
  error.hidden = !message;
  error.textContent = message || '';
  section.hidden = false;
  main.hidden = true;
  input.value = '';
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', function onSubmit(e) {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      form.removeEventListener('submit', onSubmit);
      input.value = '';
      section.hidden = true;
      main.hidden = false;
      resolve(token);
    });
  });
}

function liveIndicator() {
  const el = document.getElementById('live-indicator');
  const texts = { live: 'Live', offline: 'Reconnecting…', paused: 'Paused' };
  poller.onState((state) => {
    el.hidden = !texts[state];
    el.dataset.state = state;
    replace(el, h('span', { 'aria-hidden': 'true', text: '● ' }), texts[state] || '');
    el.title = state === 'live' ? 'Updated every second' : state === 'offline' ? 'The controller did not answer; retrying every second' : '';
  });
}

// The first-pass banner: until the controller has planned every stack
// since it started, the statuses shown may be an earlier process's.
function firstPassBanner() {
  const el = document.getElementById('first-pass');
  poller.onAnswer(({ firstPass }) => { el.hidden = !firstPass; });
}

function tokenButton() {
  const button = document.getElementById('forget-token');
  const sync = (token) => { button.hidden = !token; };
  onTokenChange(sync);
  sync(getToken());
  button.addEventListener('click', () => {
    forgetToken();
    poller.refresh(); // the next request is refused and asks for a token
  });
}

setTokenPrompt(askToken);
liveIndicator();
firstPassBanner();
tokenButton();
window.addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/stacks');
route();
setInterval(() => refreshTimes(), 1000);
document.documentElement.dataset.ready = 'true'; // read by boot.js and the end-to-end tests
