/**
 * The bucket list: create and delete buckets, each bucket's versioning state (with a toggle)
 * and lifecycle state (rules count or "none"), links to its objects, uploads and policy.
 */

import { kid, kids, s3, s3Xml, text } from './api.js';
import { button, confirmDialog, field, formatDate, h, messageSlot, replace, table } from './dom.js';
import { objectsHref, policyHref, uploadsHref } from './routes.js';

/** All buckets the caller owns (ListBuckets, following continuation tokens). */
async function listBuckets() {
  const buckets = [];
  let token = '';
  for (let page = 0; page < 100; page += 1) {
    const root = await s3Xml('GET', '', '', { query: token ? { 'continuation-token': token } : {} });
    for (const b of kids(kid(root, 'Buckets'), 'Bucket')) {
      buckets.push({ name: text(b, 'Name'), created: text(b, 'CreationDate') });
    }
    token = text(root, 'ContinuationToken');
    if (!token) break;
  }
  return buckets;
}

/** "Enabled", "Suspended" or "Off" (never enabled). */
export async function versioningState(bucket) {
  const root = await s3Xml('GET', bucket, '', { query: { versioning: null } });
  return text(root, 'Status') || 'Off';
}

/** The number of lifecycle rules, 0 when the bucket has no configuration. */
export async function lifecycleRules(bucket) {
  try {
    const root = await s3Xml('GET', bucket, '', { query: { lifecycle: null } });
    return kids(root, 'Rule').length;
  } catch (e) {
    if (e.code === 'NoSuchLifecycleConfiguration') return 0;
    throw e;
  }
}

/** Sets the versioning status ("Enabled" or "Suspended"). */
export async function setVersioning(bucket, status) {
  await s3('PUT', bucket, '', {
    query: { versioning: null },
    headers: { 'Content-Type': 'application/xml' },
    body: `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${status}</Status></VersioningConfiguration>`,
  });
}

/** Renders the bucket list into `view`. */
export async function renderBuckets(view) {
  document.title = 'Buckets – Tessera console';
  const msg = messageSlot();
  const listSlot = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading buckets…'));

  const name = field('Bucket name', { name: 'bucket', required: true, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', maxlength: '63' },
    '3 to 63 characters: lowercase letters, digits, dots and hyphens.');
  const createBtn = h('button', { type: 'submit' }, 'Create bucket');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Create a bucket' }, name.wrap, h('div', { class: 'actions' }, createBtn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const bucket = name.input.value.trim();
    if (!bucket) return;
    createBtn.disabled = true;
    try {
      await s3('PUT', bucket);
      name.input.value = '';
      msg.ok(`Bucket ${bucket} created.`);
      await load();
    } catch (err) {
      msg.show(err);
    } finally {
      createBtn.disabled = false;
    }
  });

  replace(view, h('h1', {}, 'Buckets'), h('section', { class: 'card', 'aria-label': 'New bucket' }, form), msg.el, listSlot);

  async function load() {
    listSlot.setAttribute('aria-busy', 'true');
    let buckets;
    try {
      buckets = await listBuckets();
    } catch (err) {
      replace(listSlot, h('p', {}, 'The buckets could not be listed.'));
      msg.show(err);
      listSlot.removeAttribute('aria-busy');
      return;
    }
    const rows = buckets.map((b) => ({ ...b, versioning: h('span', { class: 'muted' }, '…'), lifecycle: h('span', { class: 'muted' }, '…'), toggle: h('span') }));
    replace(
      listSlot,
      table(
        [
          { label: 'Name', cell: (b) => h('a', { href: objectsHref(b.name), class: 'strong' }, b.name) },
          { label: 'Created', cell: (b) => formatDate(b.created) },
          { label: 'Versioning', cell: (b) => h('span', {}, b.versioning, ' ', b.toggle) },
          { label: 'Lifecycle', cell: (b) => b.lifecycle },
          {
            label: 'Actions',
            class: 'actions-cell',
            cell: (b) => [
              h('a', { href: uploadsHref(b.name), class: 'button small secondary' }, 'Uploads'),
              h('a', { href: policyHref(b.name), class: 'button small secondary' }, 'Policy'),
              button('Delete', () => remove(b.name), { class: 'small danger', 'aria-label': `Delete bucket ${b.name}` }),
            ],
          },
        ],
        rows,
        { label: 'Buckets', empty: 'No buckets yet: create one above.' },
      ),
    );
    listSlot.removeAttribute('aria-busy');
    rows.forEach((b) => fillState(b));
  }

  async function fillState(b) {
    try {
      const state = await versioningState(b.name);
      b.versioning.textContent = state;
      b.versioning.className = `badge ${state.toLowerCase()}`;
      const next = state === 'Enabled' ? 'Suspended' : 'Enabled';
      const label = state === 'Enabled' ? 'Suspend' : 'Enable';
      replace(
        b.toggle,
        button(label, async () => {
          try {
            await setVersioning(b.name, next);
            msg.ok(`Versioning of ${b.name}: ${next}.`);
            await fillState(b);
          } catch (err) {
            msg.show(err);
          }
        }, { class: 'small secondary', 'aria-label': `${label} versioning of ${b.name}` }),
      );
    } catch (err) {
      b.versioning.textContent = err.code || 'error';
      b.versioning.title = err.message;
    }
    try {
      const n = await lifecycleRules(b.name);
      b.lifecycle.textContent = n === 0 ? 'none' : `${n} rule${n === 1 ? '' : 's'}`;
      b.lifecycle.className = '';
    } catch (err) {
      b.lifecycle.textContent = err.code || 'error';
      b.lifecycle.title = err.message;
    }
  }

  async function remove(bucket) {
    if (!(await confirmDialog(`Delete the bucket ${bucket}? It must be empty.`))) return;
    try {
      await s3('DELETE', bucket);
      msg.ok(`Bucket ${bucket} deleted.`);
      await load();
    } catch (err) {
      msg.show(err);
    }
  }

  await load();
}
