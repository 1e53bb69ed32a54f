/**
 * A bucket's in-progress multipart uploads (ListMultipartUploads): key, upload id, initiator,
 * age, and each upload's parts (ListParts: number, size, ETag, checksum), with Abort
 * (AbortMultipartUpload). Refreshed on demand or every 5 seconds when asked.
 */

import { kid, kids, s3, s3Xml, text } from './api.js';
import { button, confirmDialog, errorBox, facts, formatAge, formatBytes, formatDate, h, messageSlot, replace, table, uid, unquote } from './dom.js';
import { bucketTabs } from './routes.js';

const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
const MAX_UPLOAD_PAGES = 10;
const MAX_PART_PAGES = 10;

/** Every in-progress upload of `bucket` (up to MAX_UPLOAD_PAGES pages of 1000). */
async function listUploads(bucket) {
  const list = [];
  let keyMarker = '';
  let idMarker = '';
  for (let page = 0; page < MAX_UPLOAD_PAGES; page += 1) {
    const root = await s3Xml('GET', bucket, '', {
      query: { uploads: null, 'key-marker': keyMarker || undefined, 'upload-id-marker': idMarker || undefined },
    });
    for (const u of kids(root, 'Upload')) {
      const initiator = kid(u, 'Initiator');
      list.push({
        key: text(u, 'Key'),
        uploadId: text(u, 'UploadId'),
        initiator: text(initiator, 'DisplayName') || text(initiator, 'ID'),
        initiatorId: text(initiator, 'ID'),
        storageClass: text(u, 'StorageClass'),
        initiated: text(u, 'Initiated'),
        checksumAlgorithm: text(u, 'ChecksumAlgorithm'),
        checksumType: text(u, 'ChecksumType'),
      });
    }
    if (text(root, 'IsTruncated') !== 'true') break;
    keyMarker = text(root, 'NextKeyMarker');
    idMarker = text(root, 'NextUploadIdMarker');
  }
  return list;
}

/** The parts of one upload (ListParts, following part-number markers). */
async function listParts(bucket, key, uploadId) {
  const parts = [];
  let marker = '';
  let info = {};
  for (let page = 0; page < MAX_PART_PAGES; page += 1) {
    const root = await s3Xml('GET', bucket, key, { query: { uploadId, 'part-number-marker': marker || undefined } });
    info = { checksumAlgorithm: text(root, 'ChecksumAlgorithm'), checksumType: text(root, 'ChecksumType') };
    for (const p of kids(root, 'Part')) {
      parts.push({
        number: text(p, 'PartNumber'),
        size: text(p, 'Size'),
        etag: unquote(text(p, 'ETag')),
        modified: text(p, 'LastModified'),
        checksums: CHECKSUM_ALGORITHMS.map((a) => [a, text(p, `Checksum${a}`)]).filter(([, v]) => v),
      });
    }
    if (text(root, 'IsTruncated') !== 'true') break;
    marker = text(root, 'NextPartNumberMarker');
  }
  return { parts, ...info };
}

/** Renders the uploads of `path[1]`; returns its cleanup (the auto-refresh timer). */
export function renderUploads(view, { path }) {
  const bucket = path[1];
  document.title = `Uploads in progress in ${bucket} – Tessera console`;
  const msg = messageSlot();
  const listSlot = h('div', { class: 'uploads', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading uploads…'));
  const summary = h('p', { class: 'summary', role: 'status' });
  const autoId = uid('auto');
  const auto = h('input', { type: 'checkbox', id: autoId });
  let timer = null;
  auto.addEventListener('change', () => {
    window.clearInterval(timer);
    timer = auto.checked ? window.setInterval(load, 5000) : null;
  });

  replace(
    view,
    h('h1', {}, bucket),
    bucketTabs(bucket, 'uploads'),
    h(
      'div',
      { class: 'list-head' },
      h('h2', {}, 'Multipart uploads in progress'),
      h('div', { class: 'actions' }, button('Refresh', () => load(), { class: 'secondary' }), h('span', { class: 'check' }, auto, h('label', { for: autoId }, 'Refresh every 5 s'))),
    ),
    summary,
    msg.el,
    listSlot,
  );

  let generation = 0;
  async function load() {
    const mine = ++generation;
    listSlot.setAttribute('aria-busy', 'true');
    try {
      const list = await listUploads(bucket);
      const withParts = await Promise.all(
        list.map(async (u) => {
          try {
            return { ...u, ...(await listParts(bucket, u.key, u.uploadId)) };
          } catch (err) {
            return { ...u, partsError: err, parts: [] };
          }
        }),
      );
      if (mine !== generation) return;
      summary.textContent = list.length === 0 ? 'No multipart uploads in progress.' : `${list.length} upload${list.length === 1 ? '' : 's'} in progress.`;
      replace(listSlot, withParts.map((u) => card(u)));
    } catch (err) {
      if (mine !== generation) return;
      replace(listSlot);
      msg.show(err);
    } finally {
      if (mine === generation) listSlot.removeAttribute('aria-busy');
    }
  }

  function card(u) {
    const total = u.parts.reduce((s, p) => s + Number(p.size || 0), 0);
    const abort = button('Abort', async () => {
      if (!(await confirmDialog(`Abort the upload of ${u.key}? Its parts are deleted.`, 'Abort upload'))) return;
      try {
        await s3('DELETE', bucket, u.key, { query: { uploadId: u.uploadId } });
        msg.ok(`Upload of ${u.key} aborted.`);
        await load();
      } catch (err) {
        msg.show(err);
      }
    }, { class: 'danger small', 'aria-label': `Abort upload of ${u.key}` });
    const titleId = uid('upload');
    return h(
      'article',
      { class: 'card upload', 'aria-labelledby': titleId, dataset: { uploadId: u.uploadId, key: u.key } },
      h('div', { class: 'upload-head' }, h('h3', { id: titleId }, h('code', {}, u.key)), abort),
      facts([
        ['Upload ID', h('code', { class: 'upload-id' }, u.uploadId)],
        ['Initiator', u.initiator],
        ['Initiated', formatDate(u.initiated)],
        ['Age', formatAge(u.initiated)],
        ['Storage class', u.storageClass],
        ['Checksum', [u.checksumAlgorithm || 'none', u.checksumType ? ` (${u.checksumType})` : ''].join('')],
        ['Parts uploaded', `${u.parts.length} part${u.parts.length === 1 ? '' : 's'}, ${formatBytes(total)}`],
      ]),
      u.partsError
        ? errorBox(u.partsError)
        : table(
            [
              { label: 'Part', class: 'num', cell: (p) => p.number },
              { label: 'Size', class: 'num', cell: (p) => formatBytes(p.size) },
              { label: 'ETag', cell: (p) => h('code', { class: 'etag' }, p.etag) },
              { label: 'Checksum', cell: (p) => (p.checksums.length ? h('code', {}, p.checksums.map(([a, v]) => `${a} ${v}`).join(', ')) : '—') },
              { label: 'Uploaded', cell: (p) => formatDate(p.modified) },
            ],
            u.parts,
            { label: `Parts of the upload of ${u.key}`, empty: 'No parts uploaded yet.' },
          ),
    );
  }

  load();
  return () => window.clearInterval(timer);
}

