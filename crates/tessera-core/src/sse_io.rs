//! Encryption at rest on the object paths: what a write is encrypted with, the key a read
//! presents, and reading one segment's plaintext out of its (maybe sealed) blob.
//!
//! An encrypted object (or upload) keeps [`EncryptionInfo::encode`] in
//! [`ObjectAttrs::encryption`]; its sizes, part sizes and checksums are the plaintext's, its
//! blobs hold the sealed form (see [`crate::sse_stream`]), each under its own derived key.
//!
//! ETags: an SSE-S3 object's single-PUT (and part) ETag is the plaintext's MD5, as S3. An SSE-C
//! object's is not (S3 documents that it is not an MD5 of the object data): it is an HMAC of the
//! plaintext MD5 under the customer's key and the record's random salt
//! ([`EncryptionInfo::customer_etag`]), stored with the record. It looks like any ETag, keeps
//! the multipart `hex-N` form working, tells nothing of the plaintext to whoever lacks the key,
//! differs between two PUTs of the same data, and is the same for a part sent twice to one
//! upload (clients that retry a part keep the ETag they saw first).

use md5::{Digest as _, Md5};

use crate::blob::{BlobStore, ByteStream};
use crate::error::Result;
use crate::records::{BlobId, BucketRecord, ObjectAttrs, Segment};
use crate::sse::{
    check_unencrypted, CustomerKey, EncryptionInfo, KeyUse, KmsKey, ObjectKey, SseAlgorithm,
    SseKind, WriteEncryption,
};
use crate::sse_config::default_encryption;
use crate::sse_stream::{ciphertext_range, decrypt_range, BlobCipher};
use crate::tessera::Tessera;

/// What a write asks for: `x-amz-server-side-encryption` (parsed), the KMS key id and
/// bucket-key flag that go with `aws:kms`, and the SSE-C key. With none, the bucket's default
/// decides.
#[derive(Clone, Debug, Default)]
pub struct SseRequest {
    pub requested: Option<SseAlgorithm>,
    pub kms_key_id: Option<String>,
    pub bucket_key: Option<bool>,
    pub customer: Option<CustomerKey>,
}

/// An encrypted object's (or upload's) record and its opened key.
#[derive(Clone, Debug)]
pub struct Sealed {
    pub info: EncryptionInfo,
    pub key: ObjectKey,
}

impl Sealed {
    /// The cipher of one of the object's blobs.
    pub fn cipher(&self, blob: &BlobId) -> Result<BlobCipher> {
        self.info.blob_cipher(&self.key, blob)
    }

    /// SSE-C (else SSE-S3).
    pub fn is_customer(&self) -> bool {
        self.info.is_customer()
    }
}

/// How a stored object or upload is encrypted, for responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseKindOut {
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    Managed,
    /// SSE-C: the customer algorithm and key MD5 are echoed.
    Customer,
    /// SSE-KMS: `aws:kms` (or `aws:kms:dsse`), the key's ARN, the bucket-key flag.
    Kms {
        arn: String,
        dsse: bool,
        bucket_key: bool,
    },
}

/// The encryption of a stored object or upload (`None`: in the clear), for response headers;
/// a record that does not parse reports none (reading it fails anyway).
pub fn encryption_of(attrs: &ObjectAttrs) -> Option<SseKindOut> {
    let info = EncryptionInfo::decode(attrs.encryption.as_deref()?).ok()?;
    Some(match info.kind {
        SseKind::Customer(_) => SseKindOut::Customer,
        SseKind::Managed(_) => SseKindOut::Managed,
        SseKind::Kms(k, _) => SseKindOut::Kms {
            arn: k.arn,
            dsse: k.dsse,
            bucket_key: k.bucket_key,
        },
    })
}

/// The ETag of a new single-PUT object or part from its plaintext MD5 (see the module note).
pub(crate) fn new_etag(md5: &[u8; 16], sealed: Option<&Sealed>) -> String {
    match sealed {
        Some(s) if s.is_customer() => s.info.customer_etag(&s.key, md5),
        _ => hex::encode(md5),
    }
}

/// A plaintext MD5 computed while copying, for copies that need a new ETag (`None`: none).
pub(crate) fn md5_start(want: bool) -> Option<Md5> {
    want.then(Md5::new)
}

pub(crate) fn md5_update(md5: &mut Option<Md5>, data: &[u8]) {
    if let Some(m) = md5 {
        m.update(data);
    }
}

pub(crate) fn md5_finish(md5: Option<Md5>) -> Option<[u8; 16]> {
    md5.map(|m| m.finalize().into())
}

impl Tessera {
    /// A new object's (or upload's) encryption: the request's, else the bucket's default.
    pub(crate) fn start_write(
        &self,
        bucket: &BucketRecord,
        req: &SseRequest,
    ) -> Result<Option<Sealed>> {
        let default = default_encryption(bucket)?;
        let write = WriteEncryption::decide(
            req.requested,
            req.kms_key_id.clone(),
            req.bucket_key,
            req.customer.clone(),
            default.as_ref(),
        )?;
        // A bucket's objects use its owner's KMS keys (the ARN names that account).
        let resolve = |id: Option<&str>| {
            KmsKey::resolve(id, &self.options.region, &bucket.owner, |name| {
                self.kms_keys.contains(name)
            })
        };
        Ok(write
            .start(&self.master_key, resolve)?
            .map(|(info, key)| Sealed { info, key }))
    }

    /// The key to read (or add parts to) a stored object or upload, given the SSE-C key the
    /// request presents: refused before any byte is read when it is missing, wrong, or given
    /// for an object that has none.
    pub fn open_encryption(
        &self,
        attrs: &ObjectAttrs,
        customer: Option<&CustomerKey>,
        purpose: KeyUse,
    ) -> Result<Option<Sealed>> {
        match &attrs.encryption {
            None => {
                check_unencrypted(customer, purpose)?;
                Ok(None)
            }
            Some(text) => {
                let info = EncryptionInfo::decode(text)?;
                let key = info.object_key(customer, &self.master_key, purpose)?;
                Ok(Some(Sealed { info, key }))
            }
        }
    }
}

/// Plaintext `[from, to)` (relative to the segment) of one segment.
pub(crate) async fn read_segment(
    blobs: &dyn BlobStore,
    seg: &Segment,
    from: u64,
    to: u64,
    sealed: Option<&Sealed>,
) -> Result<ByteStream> {
    match sealed {
        None => blobs.read(&seg.blob, from, to - from).await,
        Some(_) if from >= to => Ok(Box::pin(futures::stream::empty())),
        Some(s) => {
            let range = ciphertext_range(seg.size, s.info.chunk_size, from, to)?;
            let stored = blobs.read(&seg.blob, range.offset, range.len).await?;
            decrypt_range(stored, s.cipher(&seg.blob)?, seg.size, from, to)
        }
    }
}
