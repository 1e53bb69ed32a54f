/**
 * The object browser: a bucket's objects under a prefix with its "folders" (ListObjectsV2 with
 * delimiter "/"), a breadcrumb, more pages by continuation token, new folders, uploads into
 * the current folder, download, delete and links to each object's details.
 */

import { kid, kids, query, s3, s3Path, s3Xml, text } from './api.js';
import { button, confirmDialog, field, formatBytes, formatDate, h, messageSlot, replace, table } from './dom.js';
import { bucketsHref, bucketTabs, objectHref, objectsHref } from './routes.js';
import { uploads } from './upload.js';

const PAGE_SIZE = 200;

/** The last path segment of a key ("a/b/c.txt" -> "c.txt", "a/b/" -> "b/"). */
export function baseName(key) {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const name = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return key.endsWith('/') ? `${name}/` : name;
}

/** A same-origin link that downloads `key` (S3 sets Content-Disposition from the query). */
export function downloadHref(bucket, key, versionId) {
  const name = baseName(key) || 'download';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const disposition = `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
  return s3Path(bucket, key) + query({ versionId, 'response-content-disposition': disposition });
}

/** The breadcrumb of a prefix: bucket / a / b. */
function breadcrumb(bucket, prefix) {
  const parts = prefix.split('/').filter(Boolean);
  const items = [h('li', {}, h('a', { href: bucketsHref() }, 'Buckets'))];
  const last = parts.length === 0;
  items.push(h('li', {}, last ? h('span', { 'aria-current': 'page' }, bucket) : h('a', { href: objectsHref(bucket) }, bucket)));
  let acc = '';
  parts.forEach((p, i) => {
    acc += `${p}/`;
    items.push(
      h('li', {}, i === parts.length - 1 ? h('span', { 'aria-current': 'page' }, p) : h('a', { href: objectsHref(bucket, acc) }, p)),
    );
  });
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('ol', {}, items));
}

/** Renders the browser of `bucket` at `params.prefix`; returns its cleanup. */
export function renderObjects(view, { path, params }) {
  const bucket = path[1];
  const prefix = params.prefix || '';
  document.title = `${bucket}/${prefix} – Tessera console`;
  const msg = messageSlot();
  const listSlot = h('div', { class: 'listing', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading objects…'));
  const more = h('div', { class: 'more' });

  // Upload: files into this folder.
  const files = field('Files to upload', { type: 'file', multiple: true, name: 'files' },
    `Uploaded into ${prefix ? `“${prefix}”` : 'the bucket’s top level'}; files above 8 MiB go in 8 MiB parts, 4 at a time.`);
  const uploadBtn = h('button', { type: 'submit' }, 'Upload');
  const uploadForm = h('form', { class: 'inline-form', 'aria-label': 'Upload files' }, files.wrap, h('div', { class: 'actions' }, uploadBtn));
  uploadForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const chosen = Array.from(files.input.files || []);
    if (!chosen.length) {
      msg.show(new Error('Choose one or more files first.'));
      files.input.focus();
      return;
    }
    msg.clear();
    for (const f of chosen) uploads.start(bucket, prefix + f.name, f);
    files.input.value = '';
  });

  // New folder: an empty object named "<prefix><name>/", as S3 consoles make them.
  const folder = field('New folder', { name: 'folder', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
  const folderBtn = h('button', { type: 'submit', class: 'secondary' }, 'Create folder');
  const folderForm = h('form', { class: 'inline-form', 'aria-label': 'Create a folder' }, folder.wrap, h('div', { class: 'actions' }, folderBtn));
  folderForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = folder.input.value.trim().replace(/^\/+|\/+$/g, '');
    if (!name) return;
    folderBtn.disabled = true;
    try {
      await s3('PUT', bucket, `${prefix}${name}/`, { body: '' });
      folder.input.value = '';
      msg.ok(`Folder ${name}/ created.`);
      await load();
    } catch (err) {
      msg.show(err);
    } finally {
      folderBtn.disabled = false;
    }
  });

  const refresh = button('Refresh', () => load(), { class: 'secondary' });
  replace(
    view,
    h('h1', {}, bucket),
    bucketTabs(bucket, 'objects'),
    breadcrumb(bucket, prefix),
    h('section', { class: 'card toolbar', 'aria-label': 'Upload and folders' }, uploadForm, folderForm),
    msg.el,
    h('div', { class: 'list-head' }, h('h2', {}, prefix ? `Folder ${prefix}` : 'Objects'), refresh),
    listSlot,
    more,
  );

  let rows = [];
  let generation = 0;

  function columns() {
    return [
      {
        label: 'Name',
        cell: (r) =>
          r.folder
            ? h('a', { href: objectsHref(bucket, r.key), class: 'folder' }, h('img', { class: 'icon', src: '/assets/folder.svg', alt: '', width: '16', height: '16' }), baseName(r.key))
            : h('a', { href: objectHref(bucket, r.key), class: 'file' }, baseName(r.key)),
      },
      { label: 'Size', class: 'num', cell: (r) => (r.folder ? '' : formatBytes(r.size)) },
      { label: 'Last modified', cell: (r) => (r.folder ? '' : formatDate(r.modified)) },
      { label: 'Storage class', cell: (r) => r.storageClass || '' },
      {
        label: 'Actions',
        class: 'actions-cell',
        cell: (r) =>
          r.folder
            ? ''
            : [
                h('a', { href: downloadHref(bucket, r.key), download: baseName(r.key), class: 'button small secondary', 'aria-label': `Download ${r.key}` }, 'Download'),
                button('Delete', () => remove(r.key), { class: 'small danger', 'aria-label': `Delete ${r.key}` }),
              ],
      },
    ];
  }

  function draw() {
    replace(listSlot, table(columns(), rows, { label: `Objects in ${bucket}/${prefix}`, empty: 'This folder is empty.' }));
  }

  async function loadPage(token) {
    const root = await s3Xml('GET', bucket, '', {
      query: { 'list-type': '2', delimiter: '/', prefix, 'max-keys': PAGE_SIZE, 'continuation-token': token || undefined },
    });
    const page = [];
    for (const p of kids(root, 'CommonPrefixes')) page.push({ folder: true, key: text(p, 'Prefix') });
    for (const c of kids(root, 'Contents')) {
      const key = text(c, 'Key');
      if (key === prefix) continue; // the folder's own marker object
      page.push({ key, size: text(c, 'Size'), modified: text(c, 'LastModified'), storageClass: text(c, 'StorageClass') });
    }
    const next = text(root, 'IsTruncated') === 'true' ? text(root, 'NextContinuationToken') : '';
    return { page, next, keyCount: kid(root, 'KeyCount') ? text(root, 'KeyCount') : '' };
  }

  async function load() {
    const mine = ++generation;
    listSlot.setAttribute('aria-busy', 'true');
    try {
      const { page, next } = await loadPage('');
      if (mine !== generation) return;
      rows = page;
      draw();
      showMore(next);
    } catch (err) {
      if (mine !== generation) return;
      replace(listSlot, h('p', {}, 'The objects could not be listed.'));
      msg.show(err);
    } finally {
      listSlot.removeAttribute('aria-busy');
    }
  }

  function showMore(token) {
    if (!token) {
      replace(more);
      return;
    }
    replace(
      more,
      button('Load more', async () => {
        try {
          const { page, next } = await loadPage(token);
          rows = rows.concat(page);
          draw();
          showMore(next);
        } catch (err) {
          msg.show(err);
        }
      }, { class: 'secondary' }),
    );
  }

  async function remove(key) {
    if (!(await confirmDialog(`Delete ${key}?`))) return;
    try {
      await s3('DELETE', bucket, key);
      msg.ok(`${key} deleted.`);
      await load();
    } catch (err) {
      msg.show(err);
    }
  }

  // A finished upload into this folder shows up in the list.
  let pending = null;
  const onChange = (ev) => {
    const up = ev.detail;
    if (!up || up.state !== 'done' || up.bucket !== bucket || !up.key.startsWith(prefix)) return;
    window.clearTimeout(pending);
    pending = window.setTimeout(load, 200);
  };
  uploads.addEventListener('change', onChange);

  load();
  return () => {
    window.clearTimeout(pending);
    uploads.removeEventListener('change', onChange);
  };
}
