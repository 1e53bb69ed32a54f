/**
 * An object's details: metadata (HEAD with x-amz-checksum-mode), checksums and their type and
 * the parts (GetObjectAttributes; HEAD ?partNumber= when the parts carry no details), versions
 * (ListObjectVersions) and tags (GetObjectTagging); download and delete.
 */

import { kid, kids, s3, s3Xml, text } from './api.js';
import { button, confirmDialog, errorBox, facts, formatBytes, formatDate, h, messageSlot, replace, table, unquote } from './dom.js';
import { bucketTabs, objectHref, objectsHref } from './routes.js';
import { baseName, downloadHref } from './view-objects.js';

const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
/** Parts looked up one by one (HEAD ?partNumber=) when GetObjectAttributes lists none. */
const MAX_PART_HEADS = 100;

/** The folder of a key ("a/b/c" -> "a/b/"). */
function folderOf(key) {
  const i = key.lastIndexOf('/', key.endsWith('/') ? key.length - 2 : key.length);
  return i < 0 ? '' : key.slice(0, i + 1);
}

/** A section with a heading and a body slot filled later. */
function section(title) {
  const slot = h('div', { class: 'section-body', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading…'));
  const el = h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), slot);
  return { el, slot };
}

function done(slot, ...children) {
  replace(slot, ...children);
  slot.removeAttribute('aria-busy');
}

/** Renders the details of `params.key` (version `params.versionId`) of `path[1]`. */
export async function renderObject(view, { path, params }) {
  const bucket = path[1];
  const key = params.key || '';
  const versionId = params.versionId || undefined;
  document.title = `${baseName(key)} – Tessera console`;
  const msg = messageSlot();
  const meta = section('Metadata');
  const sums = section('Checksums and parts');
  const versions = section('Versions');
  const tags = section('Tags');
  const folder = folderOf(key);

  const del = button(versionId ? 'Delete this version' : 'Delete', async () => {
    const what = versionId ? `version ${versionId} of ${key}` : key;
    if (!(await confirmDialog(`Delete ${what}?`))) return;
    try {
      await s3('DELETE', bucket, key, { query: { versionId } });
      window.location.hash = objectsHref(bucket, folder);
    } catch (err) {
      msg.show(err);
    }
  }, { class: 'danger' });

  replace(
    view,
    h('h1', { class: 'key-title' }, baseName(key)),
    bucketTabs(bucket, 'objects'),
    h(
      'nav',
      { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
      h('ol', {}, h('li', {}, h('a', { href: objectsHref(bucket) }, bucket)), folder ? h('li', {}, h('a', { href: objectsHref(bucket, folder) }, folder)) : null, h('li', {}, h('span', { 'aria-current': 'page' }, baseName(key)))),
    ),
    h(
      'div',
      { class: 'actions object-actions' },
      h('a', { class: 'button', href: downloadHref(bucket, key, versionId), download: baseName(key) }, 'Download'),
      del,
    ),
    msg.el,
    h('div', { class: 'detail-grid' }, meta.el, sums.el, versions.el, tags.el),
  );

  await Promise.all([
    loadMeta(bucket, key, versionId, meta.slot),
    loadChecksums(bucket, key, versionId, sums.slot),
    loadVersions(bucket, key, versions.slot),
    loadTags(bucket, key, versionId, tags.slot),
  ]);
}

async function loadMeta(bucket, key, versionId, slot) {
  try {
    const resp = await s3('HEAD', bucket, key, { query: { versionId }, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    const hd = (n) => resp.headers.get(n) || '';
    const userMeta = [];
    const checksums = [];
    resp.headers.forEach((value, name) => {
      if (name.startsWith('x-amz-meta-')) userMeta.push([name.slice('x-amz-meta-'.length), value]);
    });
    for (const alg of CHECKSUM_ALGORITHMS) {
      const v = hd(`x-amz-checksum-${alg.toLowerCase()}`);
      if (v) checksums.push(`${alg} ${v}`);
    }
    const sse = hd('x-amz-server-side-encryption') || (hd('x-amz-server-side-encryption-customer-algorithm') ? `SSE-C (${hd('x-amz-server-side-encryption-customer-algorithm')})` : '');
    done(
      slot,
      facts([
        ['Key', h('code', {}, key)],
        ['Content type', hd('content-type')],
        ['Size', `${formatBytes(hd('content-length'))} (${hd('content-length')} bytes)`],
        ['ETag', h('code', {}, unquote(hd('etag')))],
        ['Last modified', formatDate(hd('last-modified'))],
        ['Storage class', hd('x-amz-storage-class') || 'STANDARD'],
        ['Encryption', sse || 'none'],
        ['Version ID', hd('x-amz-version-id')],
        ['Parts', hd('x-amz-mp-parts-count')],
        ['Checksum', checksums.length ? h('code', {}, checksums.join(', ')) : 'none stored'],
        ['Checksum type', hd('x-amz-checksum-type')],
        ['Cache control', hd('cache-control')],
        ['Content disposition', hd('content-disposition')],
        ['Content encoding', hd('content-encoding')],
      ]),
      h('h3', {}, 'User metadata'),
      userMeta.length
        ? facts(userMeta.map(([k, v]) => [k, v]))
        : h('p', { class: 'empty' }, 'No x-amz-meta-* metadata.'),
    );
  } catch (err) {
    done(slot, errorBox(err));
  }
}

/** The checksums of a GetObjectAttributes <Checksum> or <Part>: [[alg, value]]. */
function checksumsOf(el) {
  return CHECKSUM_ALGORITHMS.map((a) => [a, text(el, `Checksum${a}`)]).filter(([, v]) => v);
}

async function loadChecksums(bucket, key, versionId, slot) {
  try {
    const root = await s3Xml('GET', bucket, key, {
      query: { attributes: null, versionId },
      headers: { 'x-amz-object-attributes': 'ETag,Checksum,ObjectParts,StorageClass,ObjectSize', 'x-amz-max-parts': '1000' },
    });
    const checksum = kid(root, 'Checksum');
    const sums = checksumsOf(checksum);
    const objectParts = kid(root, 'ObjectParts');
    const total = Number(text(objectParts, 'TotalPartsCount') || text(objectParts, 'PartsCount') || 0);
    let parts = kids(objectParts, 'Part').map((p) => ({
      number: text(p, 'PartNumber'),
      size: text(p, 'Size'),
      checksums: checksumsOf(p),
    }));
    if (!parts.length && total > 0) parts = await partsByHead(bucket, key, versionId, total);
    const items = [
      ['Checksum type', text(checksum, 'ChecksumType') || (sums.length ? '' : 'none')],
      ...sums.map(([a, v]) => [`Checksum ${a}`, h('code', {}, v)]),
      ['ETag', h('code', {}, unquote(text(root, 'ETag')))],
      ['Object size', text(root, 'ObjectSize') ? `${formatBytes(text(root, 'ObjectSize'))}` : ''],
      ['Parts', total ? String(total) : 'single part (uploaded in one request)'],
    ];
    done(
      slot,
      facts(items),
      parts.length
        ? table(
            [
              { label: 'Part', class: 'num', cell: (p) => p.number },
              { label: 'Size', class: 'num', cell: (p) => formatBytes(p.size) },
              { label: 'Checksum', cell: (p) => (p.checksums.length ? h('code', {}, p.checksums.map(([a, v]) => `${a} ${v}`).join(', ')) : '—') },
            ],
            parts,
            { label: `Parts of ${key}` },
          )
        : null,
      text(objectParts, 'IsTruncated') === 'true' ? h('p', { class: 'hint' }, `Showing the first ${parts.length} of ${total} parts.`) : null,
    );
  } catch (err) {
    done(slot, errorBox(err));
  }
}

/** Part sizes by HEAD ?partNumber=N (the first MAX_PART_HEADS parts). */
async function partsByHead(bucket, key, versionId, total) {
  const parts = [];
  for (let n = 1; n <= Math.min(total, MAX_PART_HEADS); n += 1) {
    const resp = await s3('HEAD', bucket, key, { query: { partNumber: n, versionId }, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    const checksums = CHECKSUM_ALGORITHMS.map((a) => [a, resp.headers.get(`x-amz-checksum-${a.toLowerCase()}`)]).filter(([, v]) => v);
    parts.push({ number: String(n), size: resp.headers.get('content-length'), checksums });
  }
  return parts;
}

async function loadVersions(bucket, key, slot) {
  try {
    const list = [];
    let keyMarker = '';
    let versionMarker = '';
    for (let page = 0; page < 20; page += 1) {
      const root = await s3Xml('GET', bucket, '', {
        query: { versions: null, prefix: key, 'max-keys': 1000, 'key-marker': keyMarker || undefined, 'version-id-marker': versionMarker || undefined },
      });
      for (const el of Array.from(root.children)) {
        if ((el.localName === 'Version' || el.localName === 'DeleteMarker') && text(el, 'Key') === key) {
          list.push({
            marker: el.localName === 'DeleteMarker',
            id: text(el, 'VersionId'),
            latest: text(el, 'IsLatest') === 'true',
            modified: text(el, 'LastModified'),
            size: text(el, 'Size'),
            etag: unquote(text(el, 'ETag')),
          });
        }
      }
      if (text(root, 'IsTruncated') !== 'true') break;
      keyMarker = text(root, 'NextKeyMarker');
      versionMarker = text(root, 'NextVersionIdMarker');
      if (keyMarker > key) break; // past this key's versions
    }
    done(
      slot,
      table(
        [
          { label: 'Version ID', cell: (v) => (v.marker ? h('code', {}, v.id) : h('a', { href: objectHref(bucket, key, v.id) }, h('code', {}, v.id))) },
          { label: 'Kind', cell: (v) => [v.marker ? 'Delete marker' : 'Object', v.latest ? h('span', { class: 'badge enabled' }, 'latest') : null] },
          { label: 'Last modified', cell: (v) => formatDate(v.modified) },
          { label: 'Size', class: 'num', cell: (v) => (v.marker ? '—' : formatBytes(v.size)) },
          { label: 'ETag', cell: (v) => (v.etag ? h('code', { class: 'etag' }, v.etag) : '') },
        ],
        list,
        { label: `Versions of ${key}`, empty: 'No versions listed.' },
      ),
    );
  } catch (err) {
    done(slot, errorBox(err));
  }
}

async function loadTags(bucket, key, versionId, slot) {
  try {
    const root = await s3Xml('GET', bucket, key, { query: { tagging: null, versionId } });
    const tagList = kids(kid(root, 'TagSet'), 'Tag').map((t) => ({ key: text(t, 'Key'), value: text(t, 'Value') }));
    done(
      slot,
      table(
        [
          { label: 'Key', cell: (t) => t.key },
          { label: 'Value', cell: (t) => t.value },
        ],
        tagList,
        { label: `Tags of ${key}`, empty: 'No tags.' },
      ),
    );
  } catch (err) {
    done(slot, errorBox(err));
  }
}
