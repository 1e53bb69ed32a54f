//! Object operations: put, get, head, delete, copy, list.

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::blob::{error_from_io, error_to_io, ByteStream};
use crate::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::conditions::ReadConditions;
use crate::error::{ArgumentError, Error, RequestError, Result};
use crate::listing::{self, Item};
use crate::names::{normalize_metadata, validate_key};
use crate::payload::{finish_sealing, receive_sealed, write_chunk, BodyStream, PayloadChecks};
use crate::records::{
    new_sequencer, now_millis, BlobId, BucketRecord, ContentHeaders, ListAfter, ObjectAttrs,
    ObjectChecksum, ObjectRecord, Segment, WriteCondition,
};
use crate::sse::{CustomerKey, KeyUse};
use crate::sse_io::{
    md5_finish, md5_start, md5_update, new_etag, read_segment, Sealed, SseRequest,
};
use crate::sse_stream::Sealer;
use crate::tessera::Tessera;
use crate::versions::Versioning;

/// Largest single PUT (and largest part), as S3: 5 GiB.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Most keys one DeleteObjects may name, as S3.
pub const MAX_DELETE_KEYS: usize = 1000;

/// DeleteObjects names 1 to [`MAX_DELETE_KEYS`] keys; S3 refuses any other list as a document
/// that does not validate.
pub fn check_delete_batch(keys: usize) -> Result<()> {
    if keys == 0 || keys > MAX_DELETE_KEYS {
        return Err(Error::MalformedXml);
    }
    Ok(())
}

/// The storage classes S3 names. Tessera stores every class alike; it keeps and reports the
/// name so that clients and lifecycle rules see what they asked for.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// The stored form of a requested `x-amz-storage-class`: `None` for STANDARD (the default),
/// `InvalidStorageClass` for a name S3 does not know.
pub fn storage_class(requested: Option<&str>) -> Result<Option<String>> {
    match requested {
        None | Some("STANDARD") => Ok(None),
        Some(c) if STORAGE_CLASSES.contains(&c) => Ok(Some(c.to_owned())),
        Some(_) => Err(Error::InvalidStorageClass),
    }
}

/// Retries when an object is replaced between reading its record and its segments.
const READ_RETRIES: usize = 5;

/// What the client sends with a PutObject besides the body.
#[derive(Default)]
pub struct PutObjectRequest {
    pub bucket: String,
    pub key: String,
    pub headers: ContentHeaders,
    pub user_metadata: BTreeMap<String, String>,
    pub checks: PayloadChecks,
    pub condition: WriteCondition,
    /// Account that will own the object (decided by the bucket's ownership setting).
    pub owner: String,
    /// The object ACL, stored form; `None`: the owner alone.
    pub acl: Option<String>,
    /// Storage class, redirect and tags (validated by the caller).
    pub attrs: ObjectAttrs,
    /// The bucket as the caller read it just now (authorization did): no early read before
    /// the body is received (the metadata write checks the bucket again, atomically).
    pub bucket_record: Option<BucketRecord>,
    /// Encryption at rest asked for (else the bucket's default).
    pub encryption: SseRequest,
}

/// A byte range of an object, resolved against its size: `[start, end]` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// A range as the client asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=a-b` or `bytes=a-` (`last` None).
    FromTo { first: u64, last: Option<u64> },
    /// `bytes=-n`.
    Suffix(u64),
}

impl RangeRequest {
    /// Resolves the range against an object of `size` bytes; unsatisfiable -> `InvalidRange`.
    pub fn resolve(self, size: u64) -> Result<ByteRange> {
        match self {
            RangeRequest::FromTo { first, last } => {
                if first >= size {
                    return Err(Error::InvalidRange);
                }
                let end = last.map_or(size - 1, |l| l.min(size - 1));
                if end < first {
                    return Err(Error::InvalidRange);
                }
                Ok(ByteRange { start: first, end })
            }
            RangeRequest::Suffix(n) => {
                if n == 0 || size == 0 {
                    return Err(Error::InvalidRange);
                }
                Ok(ByteRange {
                    start: size.saturating_sub(n),
                    end: size - 1,
                })
            }
        }
    }
}

/// Options of a GetObject / HeadObject.
#[derive(Clone, Debug, Default)]
pub struct GetObjectRequest {
    pub bucket: String,
    pub key: String,
    pub range: Option<RangeRequest>,
    pub part_number: Option<u32>,
    pub conditions: ReadConditions,
    /// `versionId`: read that version instead of the current one.
    pub version_id: Option<String>,
    /// The SSE-C key the request presents.
    pub customer_key: Option<CustomerKey>,
}

/// An object ready to be streamed.
pub struct ObjectRead {
    pub object: ObjectRecord,
    /// Set when the answer is partial (206): the range served.
    pub range: Option<ByteRange>,
    /// The bytes (of `range` if set, else the whole object); `None` for HEAD.
    pub body: Option<ByteStream>,
    /// The part served, for a `partNumber` read of a multipart object (its checksums).
    pub part: Option<Segment>,
}

impl ObjectRead {
    /// The checksum GET/HEAD report when the client asks for checksums: the object's when the
    /// whole object is served (or a `partNumber` of a single-part object); for a part of a
    /// multipart object, that part's checksum of the object's algorithm, with the object's
    /// type; none for a byte range.
    pub fn reported_checksum(&self, part_number: Option<u32>) -> Option<ObjectChecksum> {
        let o = &self.object;
        let whole = self.range.is_none() || part_number.is_some() && o.parts_count.is_none();
        let object = o.checksum.as_ref()?;
        let part = self.part.as_ref().and_then(|p| {
            let v = p
                .checksums
                .iter()
                .find(|v| v.algorithm == object.algorithm)?;
            Some(ObjectChecksum {
                algorithm: v.algorithm,
                checksum_type: object.checksum_type,
                value: v.to_base64(),
            })
        });
        match part {
            Some(p) => Some(p),
            None if whole => Some(object.clone()),
            None => None,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    pub next_marker: Option<String>,
}

/// A listing request; `after` is the marker / start-after / decoded continuation token.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub bucket: String,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub after: Option<String>,
    pub max_keys: usize,
}

/// CopyObject options.
#[derive(Clone, Debug, Default)]
pub struct CopyObjectRequest {
    pub source_bucket: String,
    pub source_key: String,
    /// `?versionId=` of the copy source: that version instead of the current one.
    pub source_version_id: Option<String>,
    pub source_conditions: ReadConditions,
    pub bucket: String,
    pub key: String,
    /// `Some` for the REPLACE metadata directive: the new headers and metadata.
    pub replace_metadata: Option<(ContentHeaders, BTreeMap<String, String>)>,
    pub condition: WriteCondition,
    /// Account that will own the object (decided by the bucket's ownership setting).
    pub owner: String,
    /// The object ACL, stored form; `None`: the owner alone.
    pub acl: Option<String>,
    /// Storage class and redirect of the copy; its tags unless `copy_tags`.
    pub attrs: ObjectAttrs,
    /// `x-amz-tagging-directive: COPY` (the default): the source's tags, not `attrs.tags`.
    pub copy_tags: bool,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub source_customer_key: Option<CustomerKey>,
    /// The copy's encryption (else the destination bucket's default).
    pub encryption: SseRequest,
}

/// The object ETag and checksum for a single PUT.
fn single_put_checksum(received: &crate::payload::ReceivedBlob) -> Option<ObjectChecksum> {
    let chosen = received.client_checksum.clone().or_else(|| {
        received
            .digest
            .checksums
            .iter()
            .find(|c| c.algorithm == ChecksumAlgorithm::Crc64Nvme)
            .cloned()
    })?;
    Some(ObjectChecksum {
        algorithm: chosen.algorithm,
        checksum_type: ChecksumType::FullObject,
        value: chosen.to_base64(),
    })
}

impl Tessera {
    /// PutObject: streams the body into a blob, verifies it, then commits the object.
    pub async fn put_object(
        &self,
        mut req: PutObjectRequest,
        body: BodyStream,
    ) -> Result<ObjectRecord> {
        validate_key(&req.key)?;
        normalize_metadata(&mut req.headers, &req.user_metadata)?;
        // Its own time: in a versioned bucket the version is placed by when the PUT arrived.
        let started = new_sequencer();
        let bucket = match req.bucket_record.take() {
            Some(b) => b,
            None => self.require_bucket(&req.bucket).await?,
        };
        let versioning = Versioning::of(&bucket);
        let sealed = self.start_write(&bucket, &req.encryption)?;
        let checks = std::mem::take(&mut req.checks);
        let verified = receive_sealed(
            self.blobs.as_ref(),
            body,
            checks,
            MAX_PUT_SIZE,
            sealed.as_ref(),
        )
        .await?;
        self.run_detached(move |this| async move {
            let received = verified.commit().await?;
            let version = versioning.new_version(started);
            this.record_put(req, received, version, sealed).await
        })
        .await
    }

    /// The metadata half of PutObject, for a committed blob (freed again if the write fails).
    async fn record_put(
        &self,
        req: PutObjectRequest,
        received: crate::payload::ReceivedBlob,
        (version_id, sequencer): (String, String),
        sealed: Option<Sealed>,
    ) -> Result<ObjectRecord> {
        let PutObjectRequest {
            bucket,
            key,
            headers,
            user_metadata,
            condition,
            owner,
            acl,
            mut attrs,
            ..
        } = req;
        attrs.encryption = sealed.as_ref().map(|s| s.info.encode());
        let checksum = single_put_checksum(&received);
        let size = received.digest.size;
        let object = ObjectRecord {
            bucket,
            key,
            object_id: BlobId::random().0,
            size,
            etag: new_etag(&received.digest.md5, sealed.as_ref()),
            last_modified: now_millis(),
            headers,
            user_metadata,
            checksum,
            parts_count: None,
            owner,
            acl,
            version_id,
            sequencer,
            delete_marker: false,
            attrs,
        };
        let segments = vec![Segment {
            part_number: 1,
            offset: 0,
            size,
            blob: received.blob.clone(),
            etag: object.etag.clone(),
            checksums: received.digest.checksums.clone(),
        }];
        match self
            .meta
            .put_object(object.clone(), segments, condition)
            .await
        {
            Ok(freed) => {
                self.free_blobs(freed);
                Ok(object)
            }
            Err(e) => {
                self.free_blobs(vec![received.blob]);
                Err(e)
            }
        }
    }

    /// The current object at bucket/key: `NoSuchBucket` / `NoSuchKey` when absent (a delete
    /// marker: [`Error::DeleteMarker`]).
    pub async fn object_record(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        self.object_version(bucket, key, None).await
    }

    /// GetObject (`with_body`) or HeadObject: conditions, range or part number, and the bytes.
    pub async fn get_object(&self, req: &GetObjectRequest, with_body: bool) -> Result<ObjectRead> {
        for _ in 0..READ_RETRIES {
            let object = self
                .object_version(&req.bucket, &req.key, req.version_id.as_deref())
                .await?;
            // A missing, wrong or needless SSE-C key is refused before anything is read.
            let sealed =
                self.open_encryption(&object.attrs, req.customer_key.as_ref(), KeyUse::Read)?;
            req.conditions.check(&object)?;
            let (range, part) = match (req.part_number, req.range) {
                (Some(_), Some(_)) => {
                    return Err(Error::InvalidRequest(RequestError::RangeWithPartNumber))
                }
                (Some(n), None) => {
                    let (range, part) = self.part_range(&object, n).await?;
                    (Some(range), part)
                }
                (None, Some(r)) => (Some(r.resolve(object.size)?), None),
                (None, None) => (None, None),
            };
            if !with_body {
                return Ok(ObjectRead {
                    object,
                    range,
                    body: None,
                    part,
                });
            }
            let (start, end_excl) = match range {
                Some(r) => (r.start, r.end + 1),
                None => (0, object.size),
            };
            match self
                .open_range(&object, start, end_excl, sealed.as_ref())
                .await?
            {
                Some(body) => {
                    return Ok(ObjectRead {
                        object,
                        range,
                        body: Some(body),
                        part,
                    })
                }
                None => continue, // replaced meanwhile: read the new object
            }
        }
        Err(Error::Conflict)
    }

    /// The byte range of part `n` and, for a multipart object, the part itself.
    async fn part_range(
        &self,
        object: &ObjectRecord,
        n: u32,
    ) -> Result<(ByteRange, Option<Segment>)> {
        if n == 0 || n > 10_000 {
            return Err(Error::InvalidArgument(ArgumentError::PartNumber));
        }
        if object.parts_count.is_none() {
            if n == 1 {
                return match object.size {
                    0 => Err(Error::InvalidPartNumber),
                    size => Ok((
                        ByteRange {
                            start: 0,
                            end: size - 1,
                        },
                        None,
                    )),
                };
            }
            return Err(Error::InvalidPartNumber);
        }
        let seg = self
            .meta
            .get_segment(&object.object_id, n)
            .await?
            .ok_or(Error::InvalidPartNumber)?;
        if seg.size == 0 {
            return Err(Error::InvalidPartNumber);
        }
        let range = ByteRange {
            start: seg.offset,
            end: seg.offset + seg.size - 1,
        };
        Ok((range, Some(seg)))
    }

    /// Streams bytes `[start, end)` of `object` across its segments, decrypted with `sealed`
    /// (the object's opened key) when it is encrypted. `None` if the object's segments are
    /// gone (it was replaced or deleted after its record was read).
    pub(crate) async fn open_range(
        &self,
        object: &ObjectRecord,
        start: u64,
        end: u64,
        sealed: Option<&Sealed>,
    ) -> Result<Option<ByteStream>> {
        if start >= end {
            return Ok(Some(Box::pin(futures::stream::empty())));
        }
        let segments = self
            .meta
            .get_segments(&object.object_id, start, end)
            .await?;
        let covered: u64 = segments
            .iter()
            .map(|s| {
                (s.offset + s.size)
                    .min(end)
                    .saturating_sub(s.offset.max(start))
            })
            .sum();
        if covered != end - start {
            return Ok(None);
        }
        // Lease the blobs, then check the version is still there: if it was replaced or
        // removed before the lease was taken its blobs may be gone, and the caller reads again.
        let lease = self
            .leases
            .lease(segments.iter().map(|s| s.blob.clone()).collect());
        let still = self
            .meta
            .get_object_version(&object.bucket, &object.key, &object.version_id)
            .await?;
        if still.is_none_or(|c| c.object_id != object.object_id) {
            return Ok(None);
        }
        let blobs = self.blobs.clone();
        let sealed = sealed.cloned();
        let stream = futures::stream::iter(segments)
            .then(move |seg| {
                let blobs = blobs.clone();
                let sealed = sealed.clone();
                async move {
                    let from = start.max(seg.offset);
                    let to = end.min(seg.offset + seg.size);
                    let (a, b) = (from - seg.offset, to - seg.offset);
                    read_segment(blobs.as_ref(), &seg, a, b, sealed.as_ref())
                        .await
                        .map_err(error_to_io)
                }
            })
            .map(|opened| match opened {
                Ok(s) => s,
                Err(e) => Box::pin(futures::stream::once(async move { Err(e) })) as ByteStream,
            })
            .flatten()
            .map(move |chunk| {
                let _held = &lease; // released when the stream is dropped
                chunk
            });
        Ok(Some(Box::pin(stream)))
    }

    /// CopyObject: a new object with the source's bytes (copied into a fresh blob per segment).
    pub async fn copy_object(&self, req: CopyObjectRequest) -> Result<ObjectRecord> {
        self.run_detached(move |this| async move { this.copy_object_now(req).await })
            .await
    }

    /// CopyObject's work, run detached: it commits blobs one segment at a time.
    async fn copy_object_now(&self, req: CopyObjectRequest) -> Result<ObjectRecord> {
        validate_key(&req.key)?;
        let started = new_sequencer();
        let dest_bucket = self.require_bucket(&req.bucket).await?;
        let versioning = Versioning::of(&dest_bucket);
        let dest_sealed = self.start_write(&dest_bucket, &req.encryption)?;
        let same = req.source_bucket == req.bucket
            && req.source_key == req.key
            && req.source_version_id.is_none();
        // Copying an object onto itself must change something (S3's rule).
        let changes = req.replace_metadata.is_some()
            || req.attrs.storage_class.is_some()
            || req.attrs.website_redirect.is_some()
            || req.encryption.requested.is_some()
            || req.encryption.customer.is_some();
        if same && !changes {
            return Err(Error::InvalidRequest(RequestError::CopyOntoItself));
        }
        for _ in 0..READ_RETRIES {
            let source = self
                .object_version(
                    &req.source_bucket,
                    &req.source_key,
                    req.source_version_id.as_deref(),
                )
                .await?;
            let source_sealed = self.open_encryption(
                &source.attrs,
                req.source_customer_key.as_ref(),
                KeyUse::Read,
            )?;
            req.source_conditions.check_copy_source(&source)?;
            // The copy's ETag: the source's, but never a plaintext MD5 for an SSE-C copy, and
            // the plaintext MD5 (computed while copying) for a single-part copy of an SSE-C
            // source that is not SSE-C itself (see crate::sse_io on ETags).
            let dest_customer = dest_sealed.as_ref().is_some_and(Sealed::is_customer);
            let source_customer = source_sealed.as_ref().is_some_and(Sealed::is_customer);
            let want_md5 = source_customer && !dest_customer && source.parts_count.is_none();
            let Some((mut new_segments, md5)) = self
                .copy_segments(
                    &source,
                    source_sealed.as_ref(),
                    dest_sealed.as_ref(),
                    want_md5,
                )
                .await?
            else {
                continue;
            };
            let etag = match (dest_customer, md5, source.parts_count) {
                (true, _, None) => new_etag(&[0; 16], dest_sealed.as_ref()),
                (true, _, Some(n)) => {
                    format!("{}-{n}", new_etag(&[0; 16], dest_sealed.as_ref()))
                }
                (false, Some(md5), _) => hex::encode(md5),
                (false, None, _) => source.etag.clone(),
            };
            if source.parts_count.is_none() {
                for seg in &mut new_segments {
                    seg.etag = etag.clone();
                }
            }
            let (headers, user_metadata) = match &req.replace_metadata {
                Some((h, m)) => {
                    let mut h = h.clone();
                    normalize_metadata(&mut h, m)?;
                    (h, m.clone())
                }
                None => (source.headers.clone(), source.user_metadata.clone()),
            };
            let (version_id, sequencer) = versioning.new_version(started.clone());
            let object = ObjectRecord {
                bucket: req.bucket.clone(),
                key: req.key.clone(),
                object_id: BlobId::random().0,
                size: source.size,
                etag,
                last_modified: now_millis(),
                headers,
                user_metadata,
                checksum: source.checksum.clone(),
                parts_count: source.parts_count,
                owner: req.owner.clone(),
                acl: req.acl.clone(),
                version_id,
                sequencer,
                delete_marker: false,
                attrs: ObjectAttrs {
                    tags: if req.copy_tags {
                        source.attrs.tags.clone()
                    } else {
                        req.attrs.tags.clone()
                    },
                    encryption: dest_sealed.as_ref().map(|s| s.info.encode()),
                    ..req.attrs.clone()
                },
            };
            let blobs: Vec<BlobId> = new_segments.iter().map(|s| s.blob.clone()).collect();
            return match self
                .meta
                .put_object(object.clone(), new_segments, req.condition.clone())
                .await
            {
                Ok(freed) => {
                    self.free_blobs(freed);
                    Ok(object)
                }
                Err(e) => {
                    self.free_blobs(blobs);
                    Err(e)
                }
            };
        }
        Err(Error::Conflict)
    }

    /// Copies every segment of `source` into new blobs, decrypting with `from` (the source's
    /// opened key) and encrypting with `to` (the copy's); with `want_md5`, the plaintext's MD5
    /// too. `None` if the source vanished meanwhile.
    async fn copy_segments(
        &self,
        source: &ObjectRecord,
        from: Option<&Sealed>,
        to: Option<&Sealed>,
        want_md5: bool,
    ) -> Result<Option<(Vec<Segment>, Option<[u8; 16]>)>> {
        let segments = self.all_segments(&source.object_id).await?;
        let total: u64 = segments.iter().map(|s| s.size).sum();
        if total != source.size || segments.is_empty() {
            return Ok(None);
        }
        let mut md5 = md5_start(want_md5);
        let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
        for seg in segments {
            let copied = async {
                let mut reader = read_segment(self.blobs.as_ref(), &seg, 0, seg.size, from).await?;
                let mut writer = self.blobs.create().await?;
                let mut sealer = match to {
                    Some(s) => Some(Sealer::new(s.cipher(writer.id())?)),
                    None => None,
                };
                while let Some(chunk) = reader.next().await {
                    let chunk = chunk.map_err(error_from_io)?;
                    md5_update(&mut md5, &chunk);
                    write_chunk(writer.as_mut(), sealer.as_mut(), chunk).await?;
                }
                finish_sealing(writer.as_mut(), sealer).await?;
                let blob = writer.id().clone();
                writer.commit().await?;
                Ok(blob)
            }
            .await;
            match copied {
                Ok(blob) => out.push(Segment { blob, ..seg }),
                Err(e) => {
                    self.free_blobs(out.into_iter().map(|s| s.blob).collect());
                    return match e {
                        Error::BlobNotFound { .. } => Ok(None),
                        other => Err(other),
                    };
                }
            }
        }
        Ok(Some((out, md5_finish(md5))))
    }

    /// Every segment of an object, in order (empty if the object is gone).
    pub(crate) async fn all_segments(&self, object_id: &str) -> Result<Vec<Segment>> {
        let mut out = Vec::new();
        loop {
            let after = out.last().map_or(0, |s: &Segment| s.part_number);
            let page = self.meta.list_segments(object_id, after, 1000).await?;
            let full = page.len() == 1000;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// GetObjectAttributes: the object and a page of its parts (multipart objects only).
    pub async fn object_attributes(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        part_marker: u32,
        max_parts: usize,
    ) -> Result<(ObjectRecord, Vec<Segment>, bool)> {
        let object = self.object_version(bucket, key, version_id).await?;
        if object.parts_count.is_none() {
            return Ok((object, Vec::new(), false));
        }
        let max = max_parts.min(1000);
        let mut parts = self
            .meta
            .list_segments(&object.object_id, part_marker, max + 1)
            .await?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((object, parts, truncated))
    }

    /// ListObjects / ListObjectsV2: keys and common prefixes in byte order, at most `max_keys`.
    pub async fn list_objects(&self, req: &ListRequest) -> Result<ListPage> {
        self.require_bucket(&req.bucket).await?;
        let source = ObjectSource {
            app: self,
            bucket: &req.bucket,
            prefix: &req.prefix,
        };
        let start = req.after.as_ref().map(|m| m.clone().into_bytes());
        let walked = listing::walk(
            &source,
            start,
            &req.prefix,
            req.delimiter.as_deref(),
            req.after.as_deref(),
            req.max_keys.min(1000),
        )
        .await?;
        let mut page = ListPage {
            is_truncated: walked.is_truncated,
            ..ListPage::default()
        };
        for item in walked.items {
            match item {
                Item::Entry(o) => {
                    page.next_marker = Some(o.key.clone());
                    page.objects.push(o);
                }
                Item::CommonPrefix(p) => {
                    page.next_marker = Some(p.clone());
                    page.common_prefixes.push(p);
                }
            }
        }
        Ok(page)
    }
}

/// Objects of one bucket under a prefix, for the delimiter walk.
struct ObjectSource<'a> {
    app: &'a Tessera,
    bucket: &'a str,
    prefix: &'a str,
}

impl listing::Source for ObjectSource<'_> {
    type Entry = ObjectRecord;
    type Cursor = ListAfter;

    fn fetch(
        &self,
        cursor: ListAfter,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<Vec<ObjectRecord>>> + Send {
        self.app
            .meta
            .list_objects(self.bucket, self.prefix, cursor, limit)
    }

    fn key<'e>(&self, entry: &'e ObjectRecord) -> &'e str {
        &entry.key
    }

    fn after(&self, entry: &ObjectRecord) -> ListAfter {
        Some(entry.key.clone().into_bytes())
    }

    fn past_prefix(&self, prefix: &str) -> ListAfter {
        Some(listing::past_prefix_bytes(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ChecksumValue;

    fn read(
        parts_count: Option<u32>,
        range: Option<ByteRange>,
        part: Option<Segment>,
    ) -> ObjectRead {
        ObjectRead {
            object: ObjectRecord {
                bucket: "b".into(),
                key: "k".into(),
                object_id: "o".into(),
                size: 10,
                etag: "e".into(),
                last_modified: 0,
                headers: ContentHeaders::default(),
                user_metadata: BTreeMap::new(),
                checksum: Some(ObjectChecksum {
                    algorithm: ChecksumAlgorithm::Crc32,
                    checksum_type: ChecksumType::Composite,
                    value: "whole-2".into(),
                }),
                parts_count,
                owner: String::new(),
                acl: None,
                version_id: "null".into(),
                sequencer: String::new(),
                delete_marker: false,
                attrs: ObjectAttrs::default(),
            },
            range,
            body: None,
            part,
        }
    }

    #[test]
    fn reported_checksums() {
        let range = Some(ByteRange { start: 0, end: 4 });
        // The whole object: its checksum.
        let whole = read(None, None, None).reported_checksum(None);
        assert_eq!(whole.map(|c| c.value), Some("whole-2".into()));
        // A byte range: none.
        assert!(read(None, range, None).reported_checksum(None).is_none());
        // partNumber=1 of a single-part object is the whole object.
        let single = read(None, range, None).reported_checksum(Some(1));
        assert_eq!(single.map(|c| c.value), Some("whole-2".into()));
        // A part of a multipart object: the part's value, the object's type.
        let segment = Segment {
            part_number: 1,
            offset: 0,
            size: 5,
            blob: BlobId("x".into()),
            etag: "p".into(),
            checksums: vec![ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc32,
                digest: vec![0, 0, 0, 1],
            }],
        };
        let part = read(Some(2), range, Some(segment))
            .reported_checksum(Some(1))
            .expect("a part checksum");
        assert_eq!(part.value, "AAAAAQ==");
        assert_eq!(part.checksum_type, ChecksumType::Composite);
        // A part without the object's algorithm: none.
        assert!(read(Some(2), range, None)
            .reported_checksum(Some(1))
            .is_none());
    }
}
