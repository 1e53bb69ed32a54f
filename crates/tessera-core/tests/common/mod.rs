//! Shared harness for the domain's integration tests: a [`Tessera`] over real stores reached only
//! through the `MetaStore` / `BlobStore` traits, and helpers that compute expected values
//! independently of the domain (MD5, SHA, and a bitwise CRC reference).
//!
//! [`stores`] is the one place that picks the backends.

// Each test binary uses its own subset of the helpers.
#![allow(dead_code)]

pub mod hooked;

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest as _, Md5};

use tessera_core::checksum::{ChecksumAlgorithm, ChecksumValue};
use tessera_core::multipart::{CompletePart, CompleteUploadRequest, CreateUploadRequest};
use tessera_core::objects::{GetObjectRequest, PutObjectRequest};
use tessera_core::payload::{BodyStream, PayloadChecks};
use tessera_core::{
    BlobId, BlobStore, ByteStream, MetaStore, ObjectRecord, Options, PartRecord, Tessera,
    UploadRecord,
};

/// The minimum part size the tests run with (every part but the last must reach it).
pub const MIN_PART: u64 = 1024;

/// The bucket every harness starts with.
pub const BUCKET: &str = "bkt";

/// A domain over fresh, empty stores.
pub struct Harness {
    pub app: Tessera,
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// Keeps whatever backs the stores (a temporary directory) alive.
    _keep: Box<dyn Any + Send + Sync>,
}

/// Fresh, empty stores, and what must outlive them. The only function that names a backend:
/// the in-memory stores, which pass the same conformance suites as SQLite and local files.
pub async fn stores() -> (
    Arc<dyn MetaStore>,
    Arc<dyn BlobStore>,
    Box<dyn Any + Send + Sync>,
) {
    let meta = tessera_testing::MemMetaStore::new();
    let blobs = tessera_testing::MemBlobStore::new();
    (Arc::new(meta), Arc::new(blobs), Box::new(()))
}

/// A domain with bucket [`BUCKET`] and `min_part_size` = [`MIN_PART`].
pub async fn open() -> Harness {
    open_with_meta(|m| m).await
}

/// Like [`open`], with the MetaStore wrapped by `wrap` (to inject behaviour into the port).
pub async fn open_with_meta(
    wrap: impl FnOnce(Arc<dyn MetaStore>) -> Arc<dyn MetaStore>,
) -> Harness {
    open_with_stores(wrap, |b| b).await
}

/// Like [`open`], with both stores wrapped.
pub async fn open_with_stores(
    wrap_meta: impl FnOnce(Arc<dyn MetaStore>) -> Arc<dyn MetaStore>,
    wrap_blobs: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore>,
) -> Harness {
    open_with_options(wrap_meta, wrap_blobs, |o| o).await
}

/// Like [`open_with_stores`], with the options adjusted by `adjust`.
pub async fn open_with_options(
    wrap_meta: impl FnOnce(Arc<dyn MetaStore>) -> Arc<dyn MetaStore>,
    wrap_blobs: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore>,
    adjust: impl FnOnce(Options) -> Options,
) -> Harness {
    let (meta, blobs, keep) = stores().await;
    let meta = wrap_meta(meta);
    let blobs = wrap_blobs(blobs);
    let options = adjust(Options {
        min_part_size: MIN_PART,
        // Sweeps in these tests are explicit, of blobs made a moment before.
        sweep_grace: Duration::ZERO,
        ..Options::default()
    });
    let app = Tessera::open(meta.clone(), blobs.clone(), options)
        .await
        .expect("open domain");
    app.create_bucket(BUCKET, "111122223333")
        .await
        .expect("create bucket");
    Harness {
        app,
        meta,
        blobs,
        _keep: keep,
    }
}

// -------------------------------------------------------------------------------------------
// Bodies and reads.

/// A request body made of `data`, cut into chunks of at most 100 bytes.
pub fn body(data: &[u8]) -> BodyStream {
    let chunks: Vec<tessera_core::Result<Bytes>> = data
        .chunks(100)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Every byte of a stream.
pub async fn read_all(mut stream: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("read chunk"));
    }
    out
}

/// `n` bytes of a pattern that depends on `seed` (so parts differ).
pub fn bytes_of(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(17))
                ^ seed
        })
        .collect()
}

impl Harness {
    /// PutObject with no checks or conditions.
    pub async fn put(&self, key: &str, data: &[u8]) -> ObjectRecord {
        self.put_with(key, data, PayloadChecks::default())
            .await
            .expect("put object")
    }

    /// PutObject with payload checks.
    pub async fn put_with(
        &self,
        key: &str,
        data: &[u8],
        checks: PayloadChecks,
    ) -> tessera_core::Result<ObjectRecord> {
        self.app
            .put_object(
                PutObjectRequest {
                    bucket: BUCKET.into(),
                    key: key.into(),
                    checks,
                    ..PutObjectRequest::default()
                },
                body(data),
            )
            .await
    }

    /// The whole object's bytes.
    pub async fn get_bytes(&self, key: &str) -> tessera_core::Result<Vec<u8>> {
        let read = self
            .app
            .get_object(
                &GetObjectRequest {
                    bucket: BUCKET.into(),
                    key: key.into(),
                    ..GetObjectRequest::default()
                },
                true,
            )
            .await?;
        Ok(read_all(read.body.expect("a body")).await)
    }

    /// CreateMultipartUpload with no checksum algorithm.
    pub async fn create_upload(&self, key: &str) -> UploadRecord {
        self.app
            .create_upload(CreateUploadRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                ..CreateUploadRequest::default()
            })
            .await
            .expect("create upload")
    }

    /// UploadPart with no checks.
    pub async fn upload_part(&self, upload: &UploadRecord, n: u32, data: &[u8]) -> PartRecord {
        self.upload_part_with(upload, n, data, PayloadChecks::default())
            .await
            .expect("upload part")
    }

    /// UploadPart with payload checks.
    pub async fn upload_part_with(
        &self,
        upload: &UploadRecord,
        n: u32,
        data: &[u8],
        checks: PayloadChecks,
    ) -> tessera_core::Result<PartRecord> {
        self.app
            .upload_part(
                &upload.bucket,
                &upload.key,
                &upload.upload_id,
                n,
                body(data),
                checks,
            )
            .await
            .map(|(part, _)| part)
    }

    /// CompleteMultipartUpload naming `parts` (number, ETag) and nothing else.
    pub async fn complete(
        &self,
        upload: &UploadRecord,
        parts: &[(u32, &str)],
    ) -> tessera_core::Result<ObjectRecord> {
        self.app
            .complete_upload(complete_request(upload, parts))
            .await
    }

    /// The committed blobs, as the BlobStore lists them.
    pub async fn blob_set(&self) -> HashSet<BlobId> {
        let mut set = HashSet::new();
        let mut after: Option<BlobId> = None;
        loop {
            let page = self
                .blobs
                .list(after.as_ref(), 100)
                .await
                .expect("list blobs");
            let Some(last) = page.last() else {
                return set;
            };
            after = Some(last.id.clone());
            set.extend(page.into_iter().map(|b| b.id));
        }
    }

    /// Waits (up to 5 s) until `check` holds for the committed blob set; returns whether it did.
    pub async fn wait_blobs(&self, check: impl Fn(&HashSet<BlobId>) -> bool) -> bool {
        for _ in 0..500 {
            if check(&self.blob_set().await) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// The blobs of the current object at `key`, through the MetaStore.
    pub async fn object_blobs(&self, key: &str) -> Vec<BlobId> {
        let object = self
            .meta
            .get_object(BUCKET, key)
            .await
            .expect("get object")
            .expect("object exists");
        self.meta
            .get_segments(&object.object_id, 0, object.size.max(1))
            .await
            .expect("segments")
            .into_iter()
            .map(|s| s.blob)
            .collect()
    }
}

/// A Complete request for `upload` naming `parts` (number, ETag).
pub fn complete_request(upload: &UploadRecord, parts: &[(u32, &str)]) -> CompleteUploadRequest {
    CompleteUploadRequest {
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        upload_id: upload.upload_id.clone(),
        parts: parts
            .iter()
            .map(|(n, etag)| CompletePart {
                part_number: *n,
                etag: Some((*etag).to_string()),
                checksums: Vec::new(),
            })
            .collect(),
        ..CompleteUploadRequest::default()
    }
}

// -------------------------------------------------------------------------------------------
// Expected values, computed here rather than by the domain.

pub fn md5_raw(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5_raw(data))
}

pub fn md5_b64(data: &[u8]) -> String {
    b64(&md5_raw(data))
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// S3's multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`.
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut concat = Vec::new();
    for p in parts {
        concat.extend_from_slice(&md5_raw(p));
    }
    format!("{}-{}", md5_hex(&concat), parts.len())
}

/// Reflected CRC, bit by bit: init all ones, final xor all ones (CRC-32, CRC-32C, CRC-64/NVME).
fn crc_reflected(poly: u64, width: u32, data: &[u8]) -> u64 {
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut crc = mask;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
        }
    }
    (crc ^ mask) & mask
}

/// The raw digest of `data` with `algorithm`, computed without the domain's code
/// (CRCs big-endian, as S3 encodes them).
pub fn reference_digest(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match algorithm {
        ChecksumAlgorithm::Crc32 => (crc_reflected(0xEDB8_8320, 32, data) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc32c => (crc_reflected(0x82F6_3B78, 32, data) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc64Nvme => crc_reflected(0x9A6C_9329_AC4B_C9B5, 64, data)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
    }
}

/// [`reference_digest`] as a [`ChecksumValue`].
pub fn reference_value(algorithm: ChecksumAlgorithm, data: &[u8]) -> ChecksumValue {
    ChecksumValue {
        algorithm,
        digest: reference_digest(algorithm, data),
    }
}

/// [`reference_digest`] in base64.
pub fn reference_b64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    b64(&reference_digest(algorithm, data))
}

/// The COMPOSITE checksum text of parts: checksum of the concatenated part digests, then `-N`.
pub fn composite_b64(algorithm: ChecksumAlgorithm, parts: &[&[u8]]) -> String {
    let mut concat = Vec::new();
    for p in parts {
        concat.extend_from_slice(&reference_digest(algorithm, p));
    }
    format!("{}-{}", reference_b64(algorithm, &concat), parts.len())
}
