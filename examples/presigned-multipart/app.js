// Presigned multipart upload from the browser: the backend (backend.py) creates the upload
// and presigns one URL per request; the parts go straight to the S3 endpoint, PARALLEL at a
// time. Each part's ETag is read from its response (the bucket's CORS rule must expose ETag).
// The upload is remembered in localStorage: after a reload, choosing the same file again
// lists the parts already stored (a presigned ListParts) and sends only the missing ones.
'use strict';

const PART_SIZE = 8 * 1024 * 1024;
const PARALLEL = 4;
// Attempts per part (network errors and 5xx are retried, with a fresh URL each time).
const ATTEMPTS = 3;
const STORE_PREFIX = 'presigned-multipart:';

const $ = (id) => document.getElementById(id);
const mib = (n) => (n / 1048576).toFixed(1);

/** The upload in progress, if any. */
let current = null;

class UploadError extends Error {
  constructor(message, code = '', status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function storeKey(file) {
  return `${STORE_PREFIX}${file.name}|${file.size}|${file.lastModified}`;
}

function savedUpload(file) {
  try {
    const value = JSON.parse(localStorage.getItem(storeKey(file)) || 'null');
    return value && value.uploadId && value.key ? value : null;
  } catch (e) {
    return null;
  }
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

/** An S3 error document's code and message, as an UploadError. */
function s3Error(what, status, text) {
  const doc = new DOMParser().parseFromString(text || '', 'application/xml');
  const field = (name) => doc.getElementsByTagName(name)[0]?.textContent || '';
  const code = field('Code') || `HTTP ${status}`;
  return new UploadError(`${what}: ${code}: ${field('Message') || 'request failed'}`, code, status);
}

function corsError(what) {
  return new UploadError(
    `${what}: the request to the S3 endpoint failed (a network error, or refused by CORS: ` +
    'the bucket needs a CORS rule that allows this origin and the method, and exposes ETag)',
    'NetworkError');
}

/** POSTs JSON to the backend; its errors carry the S3 error code and message. */
async function api(path, body) {
  const resp = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const value = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new UploadError(`${path}: ${value.error || resp.status}: ${value.message || resp.statusText}`,
      value.error || '', resp.status);
  }
  return value;
}

function partCount(up) {
  return Math.max(1, Math.ceil(up.file.size / up.partSize));
}

function partBlob(up, n) {
  const start = (n - 1) * up.partSize;
  return up.file.slice(start, Math.min(up.file.size, start + up.partSize));
}

function render(up) {
  let bytes = 0;
  for (const part of up.done.values()) bytes += part.size;
  for (const loaded of up.inflight.values()) bytes += loaded;
  const total = partCount(up);
  const bar = $('progress');
  bar.max = Math.max(1, up.file.size);
  bar.value = Math.min(bytes, up.file.size);
  bar.dataset.partsDone = String(up.done.size);
  bar.dataset.partsTotal = String(total);
  $('progress-text').textContent =
    `${mib(bytes)} of ${mib(up.file.size)} MiB — ${up.done.size} of ${total} parts` +
    (up.resumed ? ` (${up.resumed} found already uploaded)` : '');
}

/** The parts the endpoint already has, by number (a presigned ListParts, page by page). */
async function listParts(up) {
  const found = new Map();
  let marker = 0;
  for (let page = 0; page < 20; page++) {
    const { url } = await api('/api/sign-list', { key: up.key, uploadId: up.uploadId, partNumberMarker: marker });
    let resp;
    try {
      resp = await fetch(url);
    } catch (e) {
      throw corsError('ListParts');
    }
    const text = await resp.text();
    if (!resp.ok) throw s3Error('ListParts', resp.status, text);
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const child = (el, name) => el.getElementsByTagNameNS('*', name)[0]?.textContent || '';
    for (const part of doc.getElementsByTagNameNS('*', 'Part')) {
      found.set(Number(child(part, 'PartNumber')), { etag: child(part, 'ETag'), size: Number(child(part, 'Size')) });
    }
    const root = doc.documentElement;
    if (child(root, 'IsTruncated') !== 'true') return found;
    marker = Number(child(root, 'NextPartNumberMarker'));
  }
  return found;
}

/** PUTs one part to its presigned URL; resolves to the part's ETag. */
function sendPart(up, n, url) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    up.xhrs.add(xhr);
    const done = () => {
      up.xhrs.delete(xhr);
      up.inflight.delete(n);
    };
    xhr.open('PUT', url);
    xhr.upload.onprogress = (e) => {
      up.inflight.set(n, e.loaded);
      render(up);
    };
    xhr.onload = () => {
      done();
      if (xhr.status !== 200) {
        reject(s3Error(`Part ${n}`, xhr.status, xhr.responseText));
        return;
      }
      const etag = xhr.getResponseHeader('ETag');
      if (!etag) {
        reject(new UploadError(`Part ${n}: the ETag response header cannot be read: ` +
          'the bucket\'s CORS rule must list ETag in ExposeHeaders', 'NoETag'));
        return;
      }
      resolve(etag);
    };
    xhr.onerror = () => {
      done();
      reject(corsError(`Part ${n}`));
    };
    xhr.onabort = () => {
      done();
      reject(new UploadError(`Part ${n}: stopped`, 'Stopped'));
    };
    xhr.send(partBlob(up, n));
  });
}

async function uploadPart(up, n) {
  for (let attempt = 1; ; attempt++) {
    const { url } = await api('/api/sign-part', { key: up.key, uploadId: up.uploadId, partNumber: n });
    try {
      const etag = await sendPart(up, n, url);
      up.done.set(n, { etag, size: partBlob(up, n).size });
      render(up);
      return;
    } catch (e) {
      const retryable = e.code === 'NetworkError' || e.status >= 500;
      if (up.stopped || !retryable || attempt >= ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  }
}

/** Sends every missing part, PARALLEL at a time; the first failure stops the others. */
async function sendMissing(up) {
  const todo = [];
  for (let n = 1; n <= partCount(up); n++) if (!up.done.has(n)) todo.push(n);
  let failure = null;
  const worker = async () => {
    while (todo.length && !failure && !up.stopped) {
      const n = todo.shift();
      try {
        await uploadPart(up, n);
      } catch (e) {
        if (!failure) failure = e;
        up.stopped = true;
        for (const xhr of up.xhrs) xhr.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (failure) throw failure;
}

/** Resumes the remembered upload of `file` if the endpoint still has it, else starts one. */
async function prepare(file) {
  const base = { file, done: new Map(), inflight: new Map(), xhrs: new Set(), stopped: false, resumed: 0 };
  const prior = savedUpload(file);
  if (prior) {
    const up = { ...base, key: prior.key, uploadId: prior.uploadId, partSize: prior.partSize || PART_SIZE };
    setStatus('resuming', `Resuming the upload of ${file.name}: listing the parts already uploaded…`);
    try {
      const found = await listParts(up);
      for (const [n, part] of found) {
        // A part counts only whole: the size it must have at this part size.
        if (n <= partCount(up) && part.size === partBlob(up, n).size) up.done.set(n, part);
      }
      up.resumed = up.done.size;
      return up;
    } catch (e) {
      if (e.code !== 'NoSuchUpload') throw e;
      localStorage.removeItem(storeKey(file));
    }
  }
  setStatus('starting', `Starting the upload of ${file.name}…`);
  const { uploadId, key } = await api('/api/create', { name: file.name, size: file.size, type: file.type });
  localStorage.setItem(storeKey(file), JSON.stringify({
    uploadId, key, name: file.name, size: file.size, lastModified: file.lastModified,
    partSize: PART_SIZE, started: new Date().toISOString(),
  }));
  return { ...base, key, uploadId, partSize: PART_SIZE };
}

async function start() {
  const file = $('file').files[0];
  if (!file || current) return;
  $('start').disabled = true;
  $('abort').disabled = false;
  try {
    const up = await prepare(file);
    current = up;
    render(up);
    setStatus('uploading', up.resumed
      ? `Resumed: ${up.resumed} parts were already uploaded; sending the other ${partCount(up) - up.resumed}.`
      : `Uploading ${file.name} in ${partCount(up)} parts…`);
    await sendMissing(up);
    setStatus('completing', 'Completing the upload…');
    const parts = [...up.done.entries()].sort((a, b) => a[0] - b[0])
      .map(([n, part]) => ({ PartNumber: n, ETag: part.etag }));
    const result = await api('/api/complete', { key: up.key, uploadId: up.uploadId, parts });
    localStorage.removeItem(storeKey(file));
    $('resume').hidden = true;
    setStatus('done', `Uploaded ${file.name} (${mib(file.size)} MiB) as ${result.key}, ETag ${result.etag}.`);
  } catch (e) {
    if (e.code === 'Stopped' && current && current.aborted) return;
    setStatus('error', `Upload failed. ${e.message}`);
    $('start').disabled = false;
  } finally {
    current = null;
    $('abort').disabled = true;
  }
}

async function abort() {
  const file = $('file').files[0];
  const up = current;
  if (up) {
    up.stopped = up.aborted = true;
    for (const xhr of up.xhrs) xhr.abort();
  }
  const prior = up || (file && savedUpload(file));
  if (!prior) return;
  try {
    await api('/api/abort', { key: prior.key, uploadId: prior.uploadId });
    setStatus('aborted', 'The upload was aborted; its parts are deleted.');
  } catch (e) {
    setStatus('error', `Abort failed. ${e.message}`);
  }
  if (file) localStorage.removeItem(storeKey(file));
  $('start').disabled = !file;
  $('abort').disabled = true;
}

function showResumable() {
  const file = $('file').files[0];
  const note = $('resume');
  if (file) {
    const prior = savedUpload(file);
    note.hidden = !prior;
    note.textContent = prior ? `An upload of this file started ${prior.started} was interrupted: Upload resumes it.` : '';
    $('start').disabled = !!current;
    $('abort').disabled = !prior && !current;
    return;
  }
  const names = [];
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (k && k.startsWith(STORE_PREFIX)) names.push(k.slice(STORE_PREFIX.length).split('|')[0]);
  }
  note.hidden = names.length === 0;
  note.textContent = names.length ? `Interrupted uploads: ${names.join(', ')}. Choose the same file again to resume.` : '';
}

$('part-size').textContent = `${mib(PART_SIZE)} MiB`;
$('parallel').textContent = String(PARALLEL);
$('file').addEventListener('change', showResumable);
$('start').addEventListener('click', start);
$('abort').addEventListener('click', abort);
showResumable();
