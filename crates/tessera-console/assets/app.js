/**
 * The console's entry point: restores the session (or shows the login form), routes the
 * location hash to a view, keeps the header in step with the session, and sends the user back
 * to the login form, saying why, when the server ends the session (idle expiry, logout
 * elsewhere).
 */

import { identity, logout, onSessionLost, restoreSession } from './api.js';
import { h, replace } from './dom.js';
import { parseHash } from './routes.js';
import { mountTransfers } from './transfers.js';
import { uploads } from './upload.js';
import { renderBuckets } from './view-buckets.js';
import { renderIam } from './view-iam.js';
import { renderLogin } from './view-login.js';
import { renderObject } from './view-object.js';
import { renderObjects } from './view-objects.js';
import { renderPolicy } from './view-policy.js';
import { renderUploads } from './view-uploads.js';

const main = document.getElementById('main');
let cleanup = null;
let firstRender = true;

/** Picks the view of a parsed route: [render, navKey] or null. */
function route({ path }) {
  if (path.length === 0 || (path[0] === 'buckets' && path.length === 1)) return [renderBuckets, 'buckets'];
  if (path[0] === 'buckets' && path.length === 2) return [renderObjects, 'buckets'];
  if (path[0] === 'buckets' && path.length === 3) {
    const sub = { object: renderObject, uploads: renderUploads, policy: renderPolicy }[path[2]];
    if (sub) return [sub, 'buckets'];
  }
  if (path[0] === 'iam' && path.length === 1) return [renderIam, 'iam'];
  return null;
}

function showHeader(signedIn) {
  const who = identity();
  document.getElementById('main-nav').hidden = !signedIn;
  document.getElementById('who').hidden = !signedIn;
  if (signedIn && who) {
    const name = who.userName || 'root';
    document.getElementById('who-name').textContent = `${name} · account ${who.accountId}`;
    document.getElementById('who-name').title = who.arn || '';
  }
}

function markNav(key) {
  for (const a of document.querySelectorAll('#main-nav a')) {
    if (a.dataset.nav === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** A fresh container for a view (an older view still loading writes into its own, detached one). */
function freshView() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view's cleanup must not block the next one */
    }
    cleanup = null;
  }
  const view = h('div', { class: 'view' });
  replace(main, view);
  return view;
}

function focusHeading(view) {
  if (firstRender) {
    firstRender = false;
    return;
  }
  window.requestAnimationFrame(() => {
    const heading = view.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
  });
}

/** Renders the login form; `message` says why (session ended ...). */
function showLogin(message) {
  showHeader(false);
  markNav(null);
  const view = freshView();
  document.title = 'Sign in – Tessera console';
  renderLogin(view, message, () => {
    showHeader(true);
    render();
  });
  focusHeading(view);
}

/** Renders the view of the current hash. */
function render() {
  if (!identity()) {
    showLogin();
    return;
  }
  const parsed = parseHash(window.location.hash);
  const found = route(parsed);
  const view = freshView();
  if (!found) {
    document.title = 'Not found – Tessera console';
    replace(view, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/buckets' }, 'Go to the buckets')));
    markNav(null);
    focusHeading(view);
    return;
  }
  const [renderView, navKey] = found;
  markNav(navKey);
  const result = renderView(view, parsed);
  Promise.resolve(result).then((fn) => {
    if (typeof fn === 'function') {
      if (view.isConnected) cleanup = fn;
      else fn();
    }
  });
  focusHeading(view);
}

onSessionLost((message) => {
  uploads.cancelAll();
  showLogin(`Your session has ended${message ? ` (${message.replace(/\.$/, '')})` : ''}. Please sign in again.`);
});

document.getElementById('logout').addEventListener('click', async () => {
  await uploads.cancelAll();
  try {
    await logout();
  } catch {
    /* signed out in the page either way */
  }
  showLogin('You have signed out.');
});

document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault(); // the hash is the router's: move focus instead of navigating
  main.focus();
});

window.addEventListener('hashchange', () => {
  if (identity()) render();
});

mountTransfers(document.getElementById('transfers'));

restoreSession().then((who) => {
  if (who) {
    showHeader(true);
    render();
  } else {
    showLogin();
  }
});
