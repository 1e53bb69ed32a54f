//! The multipart upload state machine: Create, UploadPart, UploadPartCopy, Complete, Abort,
//! ListParts, ListMultipartUploads, with S3's ETag and checksum rules.

use std::collections::BTreeMap;

use crate::blob::error_from_io;
use crate::checksum::{self, ChecksumAlgorithm, ChecksumType, ChecksumValue};
use crate::conditions::ReadConditions;
use crate::error::{ArgumentError, Digest, Error, InvalidPartReason, RequestError, Result};
use crate::etag;
use crate::listing::{self, Item};
use crate::names::{normalize_metadata, validate_key};
use crate::objects::MAX_PUT_SIZE;
use crate::payload::{receive_sealed, BodyStream, PayloadChecks, ReceivedBlob};
use crate::records::{
    new_sequencer, now_millis, BlobId, CompleteRequest, ContentHeaders, ListAfter, ObjectAttrs,
    ObjectChecksum, ObjectRecord, PartRecord, Segment, UploadRecord, WriteCondition,
};
use crate::sse::{CustomerKey, KeyUse};
use crate::sse_io::{encryption_of, new_etag, Sealed, SseKindOut, SseRequest};
use crate::tessera::Tessera;
use crate::versions::Versioning;

/// Highest part number S3 allows.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// How often Complete is retried when a part is replaced while it runs.
const COMPLETE_RETRIES: usize = 3;

/// CreateMultipartUpload options.
#[derive(Clone, Debug, Default)]
pub struct CreateUploadRequest {
    pub bucket: String,
    pub key: String,
    pub headers: ContentHeaders,
    pub user_metadata: BTreeMap<String, String>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// ARN of the caller creating the upload (see [`UploadRecord::initiator`]).
    pub initiator: String,
    /// Account that will own the object (decided by the bucket's ownership setting).
    pub owner: String,
    /// The object ACL, stored form; `None`: the owner alone.
    pub acl: Option<String>,
    /// Storage class, redirect and tags the object gets (validated by the caller).
    pub attrs: ObjectAttrs,
    /// Encryption at rest of the object (else the bucket's default): decided here, kept
    /// on the upload, applied to every part.
    pub encryption: SseRequest,
}

/// One part named in a CompleteMultipartUpload request.
#[derive(Clone, Debug, Default)]
pub struct CompletePart {
    pub part_number: u32,
    pub etag: Option<String>,
    /// Part checksums the client repeated in the request.
    pub checksums: Vec<ChecksumValue>,
}

/// CompleteMultipartUpload options.
#[derive(Clone, Debug, Default)]
pub struct CompleteUploadRequest {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub parts: Vec<CompletePart>,
    /// A whole-object checksum sent with the Complete (`x-amz-checksum-*`), base64, maybe with `-N`.
    pub object_checksum: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-checksum-type` sent with the Complete.
    pub checksum_type: Option<ChecksumType>,
    /// `x-amz-mp-object-size`.
    pub object_size: Option<u64>,
    pub condition: WriteCondition,
    /// SSE-C key sent with the Complete: checked against the upload's when given; required
    /// when the upload is SSE-C (AWS: for uploads with a checksum, which every object has).
    pub customer_key: Option<crate::sse::CustomerKey>,
}

/// The source of an UploadPartCopy.
#[derive(Clone, Debug, Default)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    /// `?versionId=` of the copy source.
    pub version_id: Option<String>,
    pub range: Option<(u64, u64)>,
    pub conditions: ReadConditions,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub customer_key: Option<CustomerKey>,
}

/// A page of uploads.
#[derive(Clone, Debug, Default)]
pub struct UploadsPage {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// A page of parts, with the upload they belong to.
#[derive(Clone, Debug)]
pub struct PartsPage {
    pub upload: UploadRecord,
    pub parts: Vec<PartRecord>,
    pub is_truncated: bool,
    pub next_marker: Option<u32>,
}

/// Checks a part number: 1..=10000.
pub fn validate_part_number(n: i64) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| Error::InvalidArgument(ArgumentError::PartNumber))
}

/// Resolves the algorithm/type pair of a Create as S3 does.
fn resolve_checksum_kind(
    algorithm: Option<ChecksumAlgorithm>,
    kind: Option<ChecksumType>,
) -> Result<(Option<ChecksumAlgorithm>, Option<ChecksumType>)> {
    match (algorithm, kind) {
        (None, None) => Ok((None, None)),
        (None, Some(_)) => Err(Error::InvalidRequest(
            RequestError::ChecksumTypeWithoutAlgorithm,
        )),
        (Some(ChecksumAlgorithm::Crc64Nvme), None) => {
            Ok((algorithm, Some(ChecksumType::FullObject)))
        }
        (Some(_), None) => Ok((algorithm, Some(ChecksumType::Composite))),
        (Some(a), Some(ChecksumType::FullObject)) if !a.is_crc() => Err(Error::InvalidRequest(
            RequestError::ChecksumTypeUnsupported {
                checksum_type: ChecksumType::FullObject,
                algorithm: a,
            },
        )),
        (Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumType::Composite)) => Err(
            Error::InvalidRequest(RequestError::ChecksumTypeUnsupported {
                checksum_type: ChecksumType::Composite,
                algorithm: ChecksumAlgorithm::Crc64Nvme,
            }),
        ),
        (Some(_), Some(_)) => Ok((algorithm, kind)),
    }
}

/// The record of a part just received (`sealed`: the upload's encryption, for the ETag).
fn new_part(part_number: u32, received: ReceivedBlob, sealed: Option<&Sealed>) -> PartRecord {
    PartRecord {
        part_number,
        size: received.digest.size,
        etag: new_etag(&received.digest.md5, sealed),
        last_modified: now_millis(),
        blob: received.blob,
        checksums: received.digest.checksums,
    }
}

fn part_checksum(part: &PartRecord, algorithm: ChecksumAlgorithm) -> Option<&ChecksumValue> {
    part.checksums.iter().find(|c| c.algorithm == algorithm)
}

/// The multipart ETag a Complete's part list would produce; `None` if a part has no valid ETag.
fn requested_etag(req: &CompleteUploadRequest) -> Option<String> {
    let md5s: Option<Vec<[u8; 16]>> = req
        .parts
        .iter()
        .map(|p| p.etag.as_deref().and_then(etag::parse_etag))
        .collect();
    md5s.map(|m| etag::multipart_etag(&m))
}

fn invalid_part(n: u32) -> Error {
    Error::InvalidPart {
        part_number: n,
        reason: InvalidPartReason::NotFound,
    }
}

impl Tessera {
    /// CreateMultipartUpload: a new upload with an unguessable id.
    pub async fn create_upload(&self, mut req: CreateUploadRequest) -> Result<UploadRecord> {
        validate_key(&req.key)?;
        normalize_metadata(&mut req.headers, &req.user_metadata)?;
        let (checksum_algorithm, checksum_type) =
            resolve_checksum_kind(req.checksum_algorithm, req.checksum_type)?;
        let bucket = self.require_bucket(&req.bucket).await?;
        let sealed = self.start_write(&bucket, &req.encryption)?;
        req.attrs.encryption = sealed.map(|s| s.info.encode());
        let upload = UploadRecord {
            upload_id: new_upload_id(),
            bucket: req.bucket,
            key: req.key,
            initiated: now_millis(),
            headers: req.headers,
            user_metadata: req.user_metadata,
            checksum_algorithm,
            checksum_type,
            initiator: req.initiator,
            owner: req.owner,
            acl: req.acl,
            // The upload's place among the key's versions, should the bucket be versioned.
            sequencer: new_sequencer(),
            attrs: req.attrs,
        };
        self.meta.create_upload(upload.clone()).await?;
        Ok(upload)
    }

    /// The upload, checked against the bucket and key of the request: `NoSuchUpload` otherwise.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord> {
        match self.meta.get_upload(upload_id).await? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => {
                self.require_bucket(bucket).await?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    /// UploadPart: stores (or replaces) part `part_number` with the body's bytes. Returns the
    /// part and the checksum algorithm to report back (the client's, else the upload's).
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: BodyStream,
        checks: PayloadChecks,
    ) -> Result<(PartRecord, Option<ChecksumAlgorithm>)> {
        let (part, algorithm, _) = self
            .upload_part_with_key(bucket, key, upload_id, part_number, body, checks, None)
            .await?;
        Ok((part, algorithm))
    }

    /// [`Tessera::upload_part`] with the SSE-C key the request presents: an SSE-C upload's
    /// parts need its key, others none; the part is encrypted as the upload says, which the
    /// third value tells (for the response headers).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_with_key(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: BodyStream,
        mut checks: PayloadChecks,
        customer: Option<&CustomerKey>,
    ) -> Result<(PartRecord, Option<ChecksumAlgorithm>, Option<SseKindOut>)> {
        let upload = self.upload(bucket, key, upload_id).await?;
        let encryption = encryption_of(&upload.attrs);
        let sealed = self.open_encryption(&upload.attrs, customer, KeyUse::UploadPart)?;
        if checks.algorithm.is_none() {
            checks.algorithm = upload.checksum_algorithm;
        }
        if let (Some(required), Some(sent)) = (upload.checksum_algorithm, checks.checksum.as_ref())
        {
            if sent.algorithm != required && checks.trailer.is_none() {
                return Err(Error::InvalidRequest(
                    RequestError::ChecksumAlgorithmMismatch {
                        expected: required,
                        actual: sent.algorithm,
                    },
                ));
            }
        }
        let reported = checks
            .checksum
            .as_ref()
            .map(|c| c.algorithm)
            .or(checks.algorithm);
        let verified = receive_sealed(
            self.blobs.as_ref(),
            body,
            checks,
            MAX_PUT_SIZE,
            sealed.as_ref(),
        )
        .await?;
        let upload_id = upload_id.to_string();
        let part = self
            .run_detached(move |this| async move {
                let received = verified.commit().await?;
                let part = new_part(part_number, received, sealed.as_ref());
                this.store_part(&upload_id, part).await
            })
            .await?;
        Ok((part, reported, encryption))
    }

    async fn store_part(&self, upload_id: &str, part: PartRecord) -> Result<PartRecord> {
        match self.meta.put_part(upload_id, part.clone()).await {
            Ok(replaced) => {
                self.free_blobs(replaced.into_iter().collect());
                Ok(part)
            }
            Err(e) => {
                self.free_blobs(vec![part.blob.clone()]);
                Err(e)
            }
        }
    }

    /// UploadPartCopy: a part made of (a range of) an existing object's bytes.
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: CopySource,
    ) -> Result<(PartRecord, ObjectRecord)> {
        self.upload_part_copy_with_key(bucket, key, upload_id, part_number, source, None)
            .await
    }

    /// [`Tessera::upload_part_copy`] with the upload's SSE-C key as the request presents it
    /// (the source's is in [`CopySource::customer_key`]): the source is decrypted, the part
    /// encrypted as the upload says.
    pub async fn upload_part_copy_with_key(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: CopySource,
        customer: Option<&CustomerKey>,
    ) -> Result<(PartRecord, ObjectRecord)> {
        let upload = self.upload(bucket, key, upload_id).await?;
        let sealed = self.open_encryption(&upload.attrs, customer, KeyUse::UploadPart)?;
        self.run_detached(move |this| async move {
            this.upload_part_copy_now(upload, part_number, source, sealed)
                .await
        })
        .await
    }

    /// UploadPartCopy's work, run detached: it commits a blob and then records the part.
    async fn upload_part_copy_now(
        &self,
        upload: UploadRecord,
        part_number: u32,
        source: CopySource,
        sealed: Option<Sealed>,
    ) -> Result<(PartRecord, ObjectRecord)> {
        let upload_id = upload.upload_id.as_str();
        for _ in 0..5 {
            let object = self
                .object_version(&source.bucket, &source.key, source.version_id.as_deref())
                .await?;
            let source_sealed =
                self.open_encryption(&object.attrs, source.customer_key.as_ref(), KeyUse::Read)?;
            source.conditions.check_copy_source(&object)?;
            let (start, end_excl) = match source.range {
                Some((first, last)) => {
                    if first > last || last >= object.size {
                        return Err(Error::InvalidArgument(
                            ArgumentError::CopySourceRangeOutOfBounds { size: object.size },
                        ));
                    }
                    (first, last + 1)
                }
                None => (0, object.size),
            };
            if end_excl - start > MAX_PUT_SIZE {
                return Err(Error::EntityTooLarge);
            }
            let Some(stream) = self
                .open_range(&object, start, end_excl, source_sealed.as_ref())
                .await?
            else {
                continue;
            };
            let body: BodyStream = Box::pin(futures::StreamExt::map(stream, |r| {
                r.map_err(error_from_io)
            }));
            let checks = PayloadChecks {
                algorithm: upload.checksum_algorithm,
                length: Some(end_excl - start),
                ..PayloadChecks::default()
            };
            let received = receive_sealed(
                self.blobs.as_ref(),
                body,
                checks,
                MAX_PUT_SIZE,
                sealed.as_ref(),
            );
            let received = match async { received.await?.commit().await }.await {
                Ok(r) => r,
                Err(Error::BlobNotFound { .. }) => continue,
                Err(Error::IncompleteBody) => continue,
                Err(e) => return Err(e),
            };
            let part = new_part(part_number, received, sealed.as_ref());
            return Ok((self.store_part(upload_id, part).await?, object));
        }
        Err(Error::Conflict)
    }

    /// AbortMultipartUpload: removes the upload and frees its parts.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.upload(bucket, key, upload_id).await?;
        let upload_id = upload_id.to_string();
        self.run_detached(move |this| async move {
            let freed = this.meta.abort_upload(&upload_id).await?;
            this.free_blobs(freed);
            Ok(())
        })
        .await
    }

    /// ListParts: up to `max_parts` (at most 1000) parts after `marker`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max_parts: usize,
    ) -> Result<PartsPage> {
        let upload = self.upload(bucket, key, upload_id).await?;
        let max = max_parts.min(1000);
        let mut parts = self.meta.list_parts(upload_id, marker, max + 1).await?;
        let is_truncated = parts.len() > max;
        parts.truncate(max);
        let next_marker = parts.last().map(|p| p.part_number);
        Ok(PartsPage {
            upload,
            parts,
            is_truncated,
            next_marker,
        })
    }

    /// ListMultipartUploads: ordered by key then initiation; prefix, delimiter and markers.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadsPage> {
        self.require_bucket(bucket).await?;
        let key_marker = key_marker.filter(|k| !k.is_empty());
        // Without an upload-id marker, the key marker excludes every upload of that key.
        let start = UploadCursor {
            key: key_marker.map(|k| k.as_bytes().to_vec()),
            upload_id: key_marker
                .and(upload_id_marker)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        };
        let source = UploadSource {
            app: self,
            bucket,
            prefix,
        };
        let walked = listing::walk(
            &source,
            start,
            prefix,
            delimiter,
            key_marker,
            max_uploads.min(1000),
        )
        .await?;
        let mut page = UploadsPage {
            is_truncated: walked.is_truncated,
            ..UploadsPage::default()
        };
        for item in walked.items {
            match item {
                Item::Entry(u) => {
                    page.next_key_marker = Some(u.key.clone());
                    page.next_upload_id_marker = Some(u.upload_id.clone());
                    page.uploads.push(u);
                }
                Item::CommonPrefix(p) => {
                    page.next_key_marker = Some(p.clone());
                    page.next_upload_id_marker = None;
                    page.common_prefixes.push(p);
                }
            }
        }
        Ok(page)
    }

    /// CompleteMultipartUpload: validates the named parts and commits the object as a manifest of
    /// the part blobs (O(parts), no byte copied). A retry of a Complete that already succeeded
    /// returns the same object.
    pub async fn complete_upload(&self, req: CompleteUploadRequest) -> Result<ObjectRecord> {
        self.run_detached(move |this| async move { this.complete_upload_now(req).await })
            .await
    }

    /// CompleteMultipartUpload's work, run detached: its metadata write frees unnamed parts.
    async fn complete_upload_now(&self, req: CompleteUploadRequest) -> Result<ObjectRecord> {
        validate_key(&req.key)?;
        if req.parts.is_empty() {
            return Err(Error::MalformedXml);
        }
        for pair in req.parts.windows(2) {
            if pair[1].part_number <= pair[0].part_number {
                return Err(Error::InvalidPartOrder);
            }
        }
        let versioning = Versioning::of(&self.require_bucket(&req.bucket).await?);
        for _ in 0..COMPLETE_RETRIES {
            let upload = match self.meta.get_upload(&req.upload_id).await? {
                Some(u) if u.bucket == req.bucket && u.key == req.key => u,
                _ => return self.completed_again(&req).await,
            };
            let customer_upload = upload
                .attrs
                .encryption
                .as_deref()
                .and_then(|e| crate::sse::EncryptionInfo::decode(e).ok())
                .is_some_and(|i| i.is_customer());
            // AWS requires the key for uploads made with a checksum, and since it gives every
            // new object one (CRC64NVME by default), in effect for every SSE-C upload.
            if req.customer_key.is_some() || customer_upload {
                self.open_encryption(
                    &upload.attrs,
                    req.customer_key.as_ref(),
                    crate::sse::KeyUse::UploadPart,
                )?;
            }
            let (mut object, segments) = self.assemble(&upload, &req).await?;
            // Versioned: placed by the upload's start (the user guide's rule); else the null
            // version, newest when it commits.
            (object.version_id, object.sequencer) =
                versioning.new_version(upload.sequencer.clone());
            let request = CompleteRequest {
                upload_id: req.upload_id.clone(),
                object: object.clone(),
                segments,
                condition: req.condition.clone(),
            };
            match self.meta.complete_upload(request).await {
                Ok(freed) => {
                    self.free_blobs(freed);
                    return Ok(object);
                }
                Err(Error::Conflict) => continue,
                Err(Error::NoSuchUpload) => return self.completed_again(&req).await,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict)
    }

    /// The answer to a Complete whose upload is gone: the same success if it was completed with
    /// the same parts (the ETags it names give the recorded multipart ETag), else NoSuchUpload:
    /// a retry may not claim a different part list, nor the loser of two racing Completes.
    async fn completed_again(&self, req: &CompleteUploadRequest) -> Result<ObjectRecord> {
        let done = self.meta.get_completed_upload(&req.upload_id).await?;
        match done {
            Some(done)
                if done.bucket == req.bucket
                    && done.key == req.key
                    && requested_etag(req).is_some_and(|e| etag::etag_matches(&e, &done.etag)) =>
            {
                let made = self
                    .meta
                    .get_object_version(&req.bucket, &req.key, &done.version_id)
                    .await?;
                match made {
                    // The version it made is still there: its segments say which part numbers
                    // it was completed from, so a list naming others (same ETags) is not a retry.
                    Some(obj) if etag::etag_matches(&obj.etag, &done.etag) => {
                        if self.same_part_numbers(&obj.object_id, req).await? {
                            Ok(obj)
                        } else {
                            Err(Error::NoSuchUpload)
                        }
                    }
                    // Replaced since: only the recorded ETag is left to compare.
                    _ => Ok(ObjectRecord {
                        bucket: done.bucket,
                        key: done.key,
                        object_id: String::new(),
                        size: 0,
                        etag: done.etag,
                        last_modified: done.completed,
                        headers: ContentHeaders::default(),
                        user_metadata: BTreeMap::new(),
                        checksum: done.checksum,
                        parts_count: None,
                        owner: String::new(),
                        acl: None,
                        version_id: done.version_id,
                        sequencer: String::new(),
                        delete_marker: false,
                        attrs: ObjectAttrs::default(),
                    }),
                }
            }
            _ => {
                self.require_bucket(&req.bucket).await?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    /// Whether the object's segments carry exactly the part numbers `req` names, in order.
    async fn same_part_numbers(
        &self,
        object_id: &str,
        req: &CompleteUploadRequest,
    ) -> Result<bool> {
        const PAGE: usize = 1000;
        let mut named = req.parts.iter().map(|p| p.part_number);
        let mut after = 0;
        loop {
            let page = self.meta.list_segments(object_id, after, PAGE).await?;
            for seg in &page {
                if named.next() != Some(seg.part_number) {
                    return Ok(false);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = last.part_number,
                _ => return Ok(named.next().is_none()),
            }
        }
    }

    /// Checks the parts named by a Complete and builds the object record and its segments.
    async fn assemble(
        &self,
        upload: &UploadRecord,
        req: &CompleteUploadRequest,
    ) -> Result<(ObjectRecord, Vec<Segment>)> {
        if upload.checksum_algorithm.is_some() {
            // AWS documents that an upload with checksums needs consecutive part numbers and
            // answers others with a 500; Tessera says so with a 400.
            let consecutive = req
                .parts
                .iter()
                .enumerate()
                .all(|(i, p)| p.part_number as usize == i + 1);
            if !consecutive {
                return Err(Error::InvalidRequest(RequestError::NonConsecutiveParts));
            }
        }
        let stored = self.all_parts(&upload.upload_id).await?;
        let mut segments = Vec::with_capacity(req.parts.len());
        let mut md5s = Vec::with_capacity(req.parts.len());
        let mut offset = 0u64;
        let last = req.parts.len() - 1;
        for (i, named) in req.parts.iter().enumerate() {
            let part = stored
                .get(&named.part_number)
                .ok_or_else(|| invalid_part(named.part_number))?;
            match &named.etag {
                Some(e) if etag::etag_matches(e, &part.etag) => {}
                _ => return Err(invalid_part(named.part_number)),
            }
            if i != last && part.size < self.options.min_part_size {
                return Err(Error::EntityTooSmall);
            }
            for sent in &named.checksums {
                match part_checksum(part, sent.algorithm) {
                    Some(have) if have.digest == sent.digest => {}
                    _ => return Err(invalid_part(named.part_number)),
                }
            }
            if let (Some(alg), Some(ChecksumType::Composite)) =
                (upload.checksum_algorithm, upload.checksum_type)
            {
                if !named.checksums.iter().any(|c| c.algorithm == alg) {
                    return Err(Error::InvalidRequest(RequestError::MissingPartChecksum {
                        algorithm: alg,
                        part_number: named.part_number,
                    }));
                }
            }
            md5s.push(
                etag::parse_etag(&part.etag)
                    .ok_or_else(|| Error::Internal("stored part ETag is not an MD5".into()))?,
            );
            segments.push(Segment {
                part_number: part.part_number,
                offset,
                size: part.size,
                blob: part.blob.clone(),
                etag: part.etag.clone(),
                checksums: part.checksums.clone(),
            });
            offset += part.size;
        }
        if let Some(expected) = req.object_size {
            if expected != offset {
                return Err(Error::InvalidRequest(RequestError::ObjectSizeMismatch {
                    expected,
                    computed: offset,
                }));
            }
        }
        let checksum = self.object_checksum(upload, req, &segments)?;
        let object = ObjectRecord {
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            object_id: BlobId::random().0,
            size: offset,
            etag: etag::multipart_etag(&md5s),
            last_modified: now_millis(),
            headers: upload.headers.clone(),
            user_metadata: upload.user_metadata.clone(),
            checksum,
            parts_count: Some(u32::try_from(segments.len()).unwrap_or(MAX_PART_NUMBER)),
            owner: upload.owner.clone(),
            acl: upload.acl.clone(),
            version_id: String::new(),
            sequencer: String::new(),
            delete_marker: false,
            attrs: upload.attrs.clone(),
        };
        Ok((object, segments))
    }

    /// Every part of an upload, by number.
    async fn all_parts(&self, upload_id: &str) -> Result<BTreeMap<u32, PartRecord>> {
        let mut out = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = self.meta.list_parts(upload_id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.part_number;
            let full = page.len() == 1000;
            out.extend(page.into_iter().map(|p| (p.part_number, p)));
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// The object checksum: COMPOSITE or FULL_OBJECT of the upload's algorithm, or CRC64NVME
    /// FULL_OBJECT when none was named; checked against one sent with the Complete.
    fn object_checksum(
        &self,
        upload: &UploadRecord,
        req: &CompleteUploadRequest,
        segments: &[Segment],
    ) -> Result<Option<ObjectChecksum>> {
        let (algorithm, kind) = match (upload.checksum_algorithm, upload.checksum_type) {
            (Some(a), Some(t)) => (a, t),
            (Some(a), None) => (a, ChecksumType::Composite),
            (None, _) => (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
        };
        if let Some(sent_kind) = req.checksum_type {
            if upload.checksum_algorithm.is_some() && sent_kind != kind {
                return Err(Error::InvalidRequest(RequestError::ChecksumTypeMismatch {
                    upload: kind,
                }));
            }
        }
        let mut digests: Vec<(&[u8], u64)> = Vec::with_capacity(segments.len());
        for seg in segments {
            match seg.checksums.iter().find(|c| c.algorithm == algorithm) {
                Some(c) => digests.push((c.digest.as_slice(), seg.size)),
                None if upload.checksum_algorithm.is_none() => return Ok(None),
                None => return Err(invalid_part(seg.part_number)),
            }
        }
        let value = match kind {
            ChecksumType::Composite => {
                let parts: Vec<&[u8]> = digests.iter().map(|(d, _)| *d).collect();
                let combined = checksum::composite_checksum(algorithm, &parts);
                format!("{}-{}", combined.to_base64(), segments.len())
            }
            ChecksumType::FullObject => {
                checksum::combine_full_object(algorithm, &digests)?.to_base64()
            }
        };
        if let Some((sent_alg, sent)) = &req.object_checksum {
            let base = value.split('-').next().unwrap_or_default();
            let sent_base = sent.split('-').next().unwrap_or_default();
            if *sent_alg != algorithm || sent_base != base {
                return Err(Error::BadDigest {
                    algorithm: Digest::Checksum(*sent_alg),
                });
            }
        }
        Ok(Some(ObjectChecksum {
            algorithm,
            checksum_type: kind,
            value,
        }))
    }
}

/// A fresh, unguessable upload id: 192 random bits as hex, so it is URL-safe and never starts
/// with '-' (the aws cli would read such an id as an option).
/// The checksums of a part that UploadPart and GetObjectAttributes report: only that of the
/// algorithm the client asked for (with the part, the upload or the object); none otherwise.
pub fn asked_part_checksums(
    checksums: &[ChecksumValue],
    asked: Option<ChecksumAlgorithm>,
) -> Vec<ChecksumValue> {
    match asked {
        Some(a) => checksums
            .iter()
            .filter(|c| c.algorithm == a)
            .cloned()
            .collect(),
        None => Vec::new(),
    }
}

/// The checksums of a part that UploadPartCopy reports: that of the upload's algorithm;
/// without one, every checksum the part has.
pub fn copied_part_checksums(
    checksums: &[ChecksumValue],
    upload_algorithm: Option<ChecksumAlgorithm>,
) -> Vec<ChecksumValue> {
    checksums
        .iter()
        .filter(|c| upload_algorithm.is_none_or(|a| a == c.algorithm))
        .cloned()
        .collect()
}

/// The checksums of a part that ListParts reports: that of the upload's algorithm; without one,
/// that of the algorithm the client sent with the part; else every one (the implicit CRC64NVME).
pub fn listed_part_checksums(
    checksums: &[ChecksumValue],
    upload_algorithm: Option<ChecksumAlgorithm>,
) -> Vec<ChecksumValue> {
    let sent = checksums
        .iter()
        .map(|c| c.algorithm)
        .find(|a| *a != ChecksumAlgorithm::Crc64Nvme);
    copied_part_checksums(checksums, upload_algorithm.or(sent))
}

fn new_upload_id() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

/// Parses `x-amz-copy-source-range` (`bytes=first-last`): both bounds required.
pub fn parse_copy_source_range(s: &str) -> Result<(u64, u64)> {
    let bad = || Error::InvalidArgument(ArgumentError::CopySourceRangeSyntax);
    let spec = s.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.trim().parse().map_err(|_| bad())?;
    let last: u64 = b.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    Ok((first, last))
}

/// Where a ListMultipartUploads read starts: after this key, or after this upload of it.
#[derive(Clone, Debug)]
struct UploadCursor {
    key: ListAfter,
    upload_id: Option<String>,
}

/// In-progress uploads of one bucket under a prefix, for the delimiter walk.
struct UploadSource<'a> {
    app: &'a Tessera,
    bucket: &'a str,
    prefix: &'a str,
}

impl listing::Source for UploadSource<'_> {
    type Entry = UploadRecord;
    type Cursor = UploadCursor;

    async fn fetch(&self, cursor: UploadCursor, limit: usize) -> Result<Vec<UploadRecord>> {
        self.app
            .meta
            .list_uploads(
                self.bucket,
                self.prefix,
                cursor.key,
                cursor.upload_id.as_deref(),
                limit,
            )
            .await
    }

    fn key<'e>(&self, entry: &'e UploadRecord) -> &'e str {
        &entry.key
    }

    fn after(&self, entry: &UploadRecord) -> UploadCursor {
        UploadCursor {
            key: Some(entry.key.clone().into_bytes()),
            upload_id: Some(entry.upload_id.clone()),
        }
    }

    fn past_prefix(&self, prefix: &str) -> UploadCursor {
        UploadCursor {
            key: Some(listing::past_prefix_bytes(prefix)),
            upload_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(algorithm: ChecksumAlgorithm) -> ChecksumValue {
        ChecksumValue {
            algorithm,
            digest: vec![0; algorithm.digest_len()],
        }
    }

    fn algorithms(values: &[ChecksumValue]) -> Vec<ChecksumAlgorithm> {
        values.iter().map(|v| v.algorithm).collect()
    }

    #[test]
    fn reported_part_checksums() {
        use ChecksumAlgorithm::{Crc32, Crc64Nvme, Sha256};
        let implicit = [value(Crc64Nvme)];
        let sent = [value(Crc64Nvme), value(Sha256)];
        // UploadPart / GetObjectAttributes: only what was asked for.
        assert!(asked_part_checksums(&sent, None).is_empty());
        assert_eq!(
            algorithms(&asked_part_checksums(&sent, Some(Sha256))),
            [Sha256]
        );
        assert!(asked_part_checksums(&sent, Some(Crc32)).is_empty());
        // UploadPartCopy: the upload's algorithm, else everything.
        assert_eq!(
            algorithms(&copied_part_checksums(&sent, None)),
            [Crc64Nvme, Sha256]
        );
        assert_eq!(
            algorithms(&copied_part_checksums(&sent, Some(Crc64Nvme))),
            [Crc64Nvme]
        );
        // ListParts: the upload's, else the one sent with the part, else the implicit one.
        assert_eq!(algorithms(&listed_part_checksums(&sent, None)), [Sha256]);
        assert_eq!(
            algorithms(&listed_part_checksums(&sent, Some(Crc64Nvme))),
            [Crc64Nvme]
        );
        assert_eq!(
            algorithms(&listed_part_checksums(&implicit, None)),
            [Crc64Nvme]
        );
    }
}
