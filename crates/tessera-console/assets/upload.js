/**
 * Uploads from the page. Files up to one part go in one PUT; larger ones as a multipart upload
 * (CreateMultipartUpload, 8 MiB UploadParts, 4 at a time, CompleteMultipartUpload), each part
 * with its CRC32 checksum as the AWS SDKs send it. Cancelling aborts the requests in flight
 * and the upload (AbortMultipartUpload). Uploads belong to the page, not to a view: they go
 * on while the user looks elsewhere (the transfers panel shows them).
 */

import { kid, s3Upload, text, xmlEscape } from './api.js';

/** Size of each part of a multipart upload (and the largest single PUT). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight at once. */
export const PARALLEL = 4;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 (ISO-HDLC, as x-amz-checksum-crc32) of bytes, base64 of its 4 big-endian bytes. */
export function crc32Base64(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  c = (c ^ 0xffffffff) >>> 0;
  return btoa(String.fromCharCode((c >>> 24) & 0xff, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff));
}

/**
 * One file going to `bucket/key`. Events (on the object, an EventTarget): "change" (state or
 * progress). `state`: queued, uploading, completing, done, failed, cancelled.
 */
export class Upload extends EventTarget {
  constructor(bucket, key, file) {
    super();
    this.bucket = bucket;
    this.key = key;
    this.file = file;
    this.size = file.size;
    this.state = 'queued';
    this.uploadId = null;
    this.error = null;
    this.partsTotal = Math.max(1, Math.ceil(file.size / PART_SIZE));
    this.partsDone = 0;
    this.loadedByPart = new Map();
    this.controller = new AbortController();
  }

  /** Bytes sent so far. */
  get loaded() {
    let sum = 0;
    for (const v of this.loadedByPart.values()) sum += v;
    return Math.min(sum, this.size);
  }

  /** True while it can still be cancelled. */
  get active() {
    return this.state === 'queued' || this.state === 'uploading' || this.state === 'completing';
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Runs the upload to its end; never throws (the state says how it ended). */
  async run() {
    this.state = 'uploading';
    this.changed();
    try {
      if (this.size <= PART_SIZE) await this.single();
      else await this.multipart();
      this.state = 'done';
    } catch (e) {
      if (this.state === 'cancelled' || (e && e.name === 'AbortError')) {
        this.state = 'cancelled';
      } else {
        this.state = 'failed';
        this.error = e;
        await this.abortUpload();
      }
    }
    this.changed();
  }

  /** Cancels: stops the requests in flight and aborts the multipart upload. */
  async cancel() {
    if (!this.active) return;
    this.state = 'cancelled';
    this.controller.abort();
    this.changed();
    await this.abortUpload();
  }

  async abortUpload() {
    if (!this.uploadId) return;
    const uploadId = this.uploadId;
    this.uploadId = null;
    try {
      await s3Upload('DELETE', this.bucket, this.key, { query: { uploadId } });
    } catch {
      /* already gone, or the session ended: the uploads view still lists it then */
    }
  }

  async single() {
    const bytes = new Uint8Array(await this.file.arrayBuffer());
    await s3Upload('PUT', this.bucket, this.key, {
      headers: {
        'Content-Type': this.file.type || 'application/octet-stream',
        'x-amz-checksum-crc32': crc32Base64(bytes),
      },
      body: bytes,
      signal: this.controller.signal,
      onProgress: (n) => this.progress(1, n),
    });
    this.progress(1, this.size);
    this.partsDone = 1;
  }

  progress(part, loaded) {
    this.loadedByPart.set(part, loaded);
    this.changed();
  }

  async multipart() {
    const created = await s3Upload('POST', this.bucket, this.key, {
      query: { uploads: null },
      headers: {
        'Content-Type': this.file.type || 'application/octet-stream',
        'x-amz-checksum-algorithm': 'CRC32',
      },
      signal: this.controller.signal,
    });
    const root = new DOMParser().parseFromString(created.text, 'application/xml').documentElement;
    this.uploadId = text(root, 'UploadId');
    if (!this.uploadId) throw new Error('CreateMultipartUpload answered without an UploadId.');
    if (this.state === 'cancelled') throw new DOMException('Aborted', 'AbortError');
    this.changed();

    const parts = new Array(this.partsTotal);
    let next = 1;
    const worker = async () => {
      while (next <= this.partsTotal) {
        const n = next;
        next += 1;
        parts[n - 1] = await this.part(n);
        this.partsDone += 1;
        this.changed();
      }
    };
    const workers = [];
    for (let i = 0; i < Math.min(PARALLEL, this.partsTotal); i += 1) workers.push(worker());
    try {
      await Promise.all(workers);
    } catch (e) {
      this.controller.abort(); // stop the sibling parts too
      throw e;
    }

    this.state = 'completing';
    this.changed();
    const body =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      parts
        .map(
          (p) =>
            `<Part><PartNumber>${p.number}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag>` +
            `<ChecksumCRC32>${p.crc}</ChecksumCRC32></Part>`,
        )
        .join('') +
      '</CompleteMultipartUpload>';
    const done = await s3Upload('POST', this.bucket, this.key, {
      query: { uploadId: this.uploadId },
      headers: { 'Content-Type': 'application/xml' },
      body,
      signal: this.controller.signal,
    });
    // CompleteMultipartUpload may answer 200 with an <Error> body (S3 does, after a long wait).
    const answer = new DOMParser().parseFromString(done.text, 'application/xml').documentElement;
    if (answer && answer.localName === 'Error') {
      const err = new Error(`${text(answer, 'Code')}: ${text(answer, 'Message')}`);
      err.code = text(answer, 'Code');
      err.detail = text(answer, 'Message');
      throw err;
    }
    this.uploadId = null; // completed: nothing left to abort
    if (!kid(answer, 'ETag')) throw new Error('CompleteMultipartUpload answered without an ETag.');
  }

  async part(n) {
    const start = (n - 1) * PART_SIZE;
    const blob = this.file.slice(start, Math.min(start + PART_SIZE, this.size));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const crc = crc32Base64(bytes);
    const resp = await s3Upload('PUT', this.bucket, this.key, {
      query: { partNumber: n, uploadId: this.uploadId },
      headers: { 'x-amz-checksum-crc32': crc },
      body: bytes,
      signal: this.controller.signal,
      onProgress: (loaded) => this.progress(n, loaded),
    });
    this.progress(n, bytes.length);
    const etag = resp.header('ETag');
    if (!etag) throw new Error(`UploadPart ${n} answered without an ETag.`);
    return { number: n, etag, crc };
  }
}

/** The page's uploads: a list plus "added"/"change" events for the transfers panel and views. */
class Uploads extends EventTarget {
  constructor() {
    super();
    this.list = [];
  }

  /** Starts uploading `file` to `bucket/key`; returns the Upload. */
  start(bucket, key, file) {
    const up = new Upload(bucket, key, file);
    this.list.push(up);
    up.addEventListener('change', () => this.dispatchEvent(new CustomEvent('change', { detail: up })));
    this.dispatchEvent(new CustomEvent('added', { detail: up }));
    up.run();
    return up;
  }

  /** Forgets finished uploads (the panel's "Clear finished"). */
  clearFinished() {
    this.list = this.list.filter((u) => u.active);
    this.dispatchEvent(new CustomEvent('change', { detail: null }));
  }

  /** Cancels every upload in flight (on sign-out). */
  async cancelAll() {
    await Promise.all(this.list.filter((u) => u.active).map((u) => u.cancel()));
  }
}

/** The page's single upload list. */
export const uploads = new Uploads();
