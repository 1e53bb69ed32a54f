/**
 * The console's HTTP client. The server keeps the session (HttpOnly cookie) and signs nothing
 * for us to see: S3 requests go to /api/s3/<bucket>/<key>?<query> and come back exactly as S3
 * answers them (status, headers, XML); IAM Query requests go to /api/iam. Every request that
 * changes something carries the session's CSRF token. A 401 NotLoggedIn anywhere ends the
 * session in the page (listeners of onSessionLost show the login form again).
 */

/** An error answer: `code` and `detail` from S3's XML, IAM's XML or the console's JSON. */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(`${code}: ${detail}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The signed-in identity ({accessKeyId, accountId, arn, userName}) or null. */
let current = null;
let csrfToken = '';
const lostListeners = new Set();

/** The signed-in identity, or null. */
export function identity() {
  return current;
}

/** Registers `fn(message)` to run when the server says the session is gone. */
export function onSessionLost(fn) {
  lostListeners.add(fn);
}

function setSession(json) {
  current = {
    accessKeyId: json.accessKeyId,
    accountId: json.accountId,
    arn: json.arn,
    userName: json.userName,
  };
  csrfToken = json.csrfToken || '';
}

function sessionLost(message) {
  const had = current !== null;
  current = null;
  csrfToken = '';
  if (had) for (const fn of lostListeners) fn(message);
}

// ---------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------

/** Parses an XML text (S3 and IAM answers); throws ApiError on malformed XML. */
export function parseXml(text) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) {
    throw new ApiError(0, 'MalformedResponse', 'The server answered with XML the page cannot read.');
  }
  return doc.documentElement;
}

/** The direct children of `el` named `name` (namespaces ignored). */
export function kids(el, name) {
  if (!el) return [];
  return Array.from(el.children).filter((c) => c.localName === name);
}

/** The first direct child of `el` named `name`, or null. */
export function kid(el, name) {
  return kids(el, name)[0] || null;
}

/** The text of the first child named `name` (or of a path "A/B"), '' when absent. */
export function text(el, path) {
  let node = el;
  for (const name of path.split('/')) {
    node = kid(node, name);
    if (!node) return '';
  }
  return node.textContent;
}

/** Escapes text for an XML document the page sends. */
export function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

// ---------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------

/** RFC 3986 encoding (what S3 signs): encodeURIComponent plus !'()*. */
export function encode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The console path of a bucket or object: /api/s3/<bucket>/<key> (key's slashes kept). */
export function s3Path(bucket = '', key = '') {
  let p = '/api/s3/';
  if (bucket) p += encode(bucket);
  if (key) p += `/${key.split('/').map(encode).join('/')}`;
  return p;
}

/** A query string from an object; null/'' values give bare sub-resources (`?uploads`). */
export function query(params = {}) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === false) continue;
    parts.push(v === null || v === '' ? encode(k) : `${encode(k)}=${encode(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

const STATUS_CODES = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** The ApiError of an error answer (JSON, S3 XML <Error>, IAM XML <ErrorResponse>, or none). */
export function errorFrom(status, contentType, body, statusText = '') {
  let code = STATUS_CODES[status] || `HTTP${status}`;
  let detail = statusText || `The server answered ${status}.`;
  const trimmed = (body || '').trim();
  if ((contentType || '').includes('json') && trimmed) {
    try {
      const j = JSON.parse(trimmed);
      code = j.code || code;
      detail = j.message || detail;
    } catch {
      /* not JSON after all: keep the status */
    }
  } else if (trimmed.startsWith('<')) {
    try {
      const root = parseXml(trimmed);
      // S3: <Error><Code/><Message/></Error>; IAM: <ErrorResponse><Error><Code/>...
      const err = root.localName === 'Error' ? root : kid(root, 'Error') || root;
      code = text(err, 'Code') || code;
      detail = text(err, 'Message') || detail;
    } catch {
      /* keep the status */
    }
  }
  const e = new ApiError(status, code, detail);
  if (status === 401 && code === 'NotLoggedIn') sessionLost(detail);
  return e;
}

async function check(resp) {
  if (resp.ok) return resp;
  let body = '';
  try {
    body = await resp.text();
  } catch {
    /* the body is optional */
  }
  throw errorFrom(resp.status, resp.headers.get('content-type'), body, resp.statusText);
}

async function send(url, init = {}) {
  const method = (init.method || 'GET').toUpperCase();
  const headers = new Headers(init.headers || {});
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers.set('X-CSRF-Token', csrfToken);
  let resp;
  try {
    resp = await fetch(url, { ...init, method, headers, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NetworkError', 'The server could not be reached.');
  }
  return check(resp);
}

// ---------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------

/** Signs in; resolves to the identity, throws ApiError (e.g. InvalidAccessKeyId). */
export async function login(accessKeyId, secretAccessKey) {
  const resp = await send('/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ accessKeyId, secretAccessKey }),
  });
  setSession(await resp.json());
  return current;
}

/** The session the cookie holds, or null when there is none. */
export async function restoreSession() {
  try {
    const resp = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
    if (!resp.ok) return null;
    setSession(await resp.json());
    return current;
  } catch {
    return null;
  }
}

/** Ends the session on the server and in the page. */
export async function logout() {
  try {
    await send('/api/logout', { method: 'POST' });
  } finally {
    current = null;
    csrfToken = '';
  }
}

// ---------------------------------------------------------------------------------------
// S3 and IAM
// ---------------------------------------------------------------------------------------

/**
 * An S3 request through the console: `s3('GET', bucket, key, {query, headers, body, signal})`.
 * Resolves to the Response (2xx); throws ApiError with S3's code and message otherwise.
 */
export function s3(method, bucket, key = '', opts = {}) {
  const url = s3Path(bucket, key) + query(opts.query);
  return send(url, { method, headers: opts.headers, body: opts.body, signal: opts.signal });
}

/** An S3 request whose answer is XML: resolves to its root element. */
export async function s3Xml(method, bucket, key = '', opts = {}) {
  const resp = await s3(method, bucket, key, opts);
  return parseXml(await resp.text());
}

/**
 * An S3 request by XMLHttpRequest, for upload progress: resolves {status, header(name), text};
 * `onProgress(loadedBytes)` while the body goes out; `signal` aborts (rejects with AbortError).
 */
export function s3Upload(method, bucket, key, { query: q, headers = {}, body, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, s3Path(bucket, key) + query(q));
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    const abort = () => xhr.abort();
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException('Aborted', 'AbortError'));
        return;
      }
      signal.addEventListener('abort', abort, { once: true });
    }
    const cleanup = () => signal && signal.removeEventListener('abort', abort);
    if (onProgress) xhr.upload.addEventListener('progress', (ev) => onProgress(ev.loaded));
    xhr.addEventListener('load', () => {
      cleanup();
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), text: xhr.responseText });
      } else {
        reject(errorFrom(xhr.status, xhr.getResponseHeader('content-type'), xhr.responseText, xhr.statusText));
      }
    });
    xhr.addEventListener('error', () => {
      cleanup();
      reject(new ApiError(0, 'NetworkError', 'The upload lost its connection to the server.'));
    });
    xhr.addEventListener('abort', () => {
      cleanup();
      reject(new DOMException('Aborted', 'AbortError'));
    });
    xhr.send(body === undefined ? null : body);
  });
}

/**
 * An IAM Query action (`iam('ListUsers', {MaxItems: 100})`); resolves to its
 * <ActionResult> element (or the root when there is none).
 */
export async function iam(action, params = {}) {
  const form = new URLSearchParams({ Action: action, Version: '2010-05-08' });
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') form.set(k, String(v));
  }
  const resp = await send('/api/iam', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: form.toString(),
  });
  const root = parseXml(await resp.text());
  return kid(root, `${action}Result`) || root;
}
