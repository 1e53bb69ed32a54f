/**
 * The console's addresses (hash routes, so the server serves one page) and the tabs of a
 * bucket's pages. Routes: #/buckets, #/buckets/<b>?prefix=, #/buckets/<b>/object?key=,
 * #/buckets/<b>/uploads, #/buckets/<b>/policy, #/iam.
 */

import { encode } from './api.js';
import { h } from './dom.js';

function withQuery(path, params) {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

/** The bucket list. */
export const bucketsHref = () => '#/buckets';
/** A bucket's objects under `prefix`. */
export const objectsHref = (bucket, prefix = '') => withQuery(`#/buckets/${encode(bucket)}`, { prefix });
/** An object's details (a version's when given). */
export const objectHref = (bucket, key, versionId) =>
  withQuery(`#/buckets/${encode(bucket)}/object`, { key, versionId });
/** A bucket's in-progress multipart uploads. */
export const uploadsHref = (bucket) => `#/buckets/${encode(bucket)}/uploads`;
/** A bucket's policy editor. */
export const policyHref = (bucket) => `#/buckets/${encode(bucket)}/policy`;
/** Users and access keys. */
export const iamHref = () => '#/iam';

/** Parses location.hash into {path: [segments], params: URLSearchParams-like object}. */
export function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const pathPart = qi < 0 ? raw : raw.slice(0, qi);
  const queryPart = qi < 0 ? '' : raw.slice(qi + 1);
  const path = pathPart.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const params = {};
  for (const pair of queryPart.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      params[decodeURIComponent(k)] = decodeURIComponent(v);
    } catch {
      params[k] = v;
    }
  }
  return { path, params };
}

/** The tabs of a bucket's pages; `active`: objects, uploads or policy. */
export function bucketTabs(bucket, active) {
  const tab = (id, label, href) =>
    h('li', {}, h('a', { href, 'aria-current': id === active ? 'page' : null, class: id === active ? 'active' : null }, label));
  return h(
    'nav',
    { class: 'tabs', 'aria-label': `Bucket ${bucket}` },
    h(
      'ul',
      {},
      tab('objects', 'Objects', objectsHref(bucket)),
      tab('uploads', 'Uploads in progress', uploadsHref(bucket)),
      tab('policy', 'Policy', policyHref(bucket)),
    ),
  );
}
