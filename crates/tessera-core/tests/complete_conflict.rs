//! A part re-uploaded while a Complete runs: the MetaStore's `complete_upload` answers `Conflict`
//! (a segment's part blob changed) and the domain retries against the parts as they are now.
//! The object is never a mix of old and new parts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use common::*;
use tessera_core::checksum::{compute_checksum, ChecksumAlgorithm};
use tessera_core::{
    BlobId, BlobStore, BucketRecord, CompleteRequest, CompletedUpload, Error, ListAfter, MetaStore,
    Millis, ObjectRecord, PartRecord, Result, Segment, UploadRecord, WriteCondition,
};

/// What the wrapper does before delegating `complete_upload`.
#[derive(Clone, Copy)]
enum Mode {
    /// Replace part 1 with these bytes before the first call only.
    ReplaceOnce,
    /// Replace part 1 (same bytes, new blob) before every call.
    ReplaceAlways,
}

/// A MetaStore that replaces part 1 of the upload just before `complete_upload` runs.
struct ReplacingMeta {
    inner: Arc<dyn MetaStore>,
    blobs: Mutex<Option<Arc<dyn BlobStore>>>,
    mode: Mode,
    replacement: Vec<u8>,
    calls: AtomicUsize,
    /// The blobs the wrapper put in as part 1, in order.
    injected: Mutex<Vec<BlobId>>,
}

impl ReplacingMeta {
    async fn replace_part_1(&self, upload_id: &str) {
        let blobs = self.blobs.lock().unwrap().clone().expect("blob store set");
        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from(self.replacement.clone()))
            .await
            .unwrap();
        let (blob, size) = w.commit().await.unwrap();
        let part = PartRecord {
            part_number: 1,
            size,
            etag: md5_hex(&self.replacement),
            last_modified: tessera_core::now_millis(),
            blob: blob.clone(),
            checksums: vec![compute_checksum(
                ChecksumAlgorithm::Crc64Nvme,
                &self.replacement,
            )],
        };
        let replaced = self.inner.put_part(upload_id, part).await.unwrap();
        self.injected.lock().unwrap().push(blob);
        // As the domain does for a replaced part.
        if let Some(old) = replaced {
            blobs.delete(&old).await.unwrap();
        }
    }
}

#[async_trait]
impl MetaStore for ReplacingMeta {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        self.inner.create_bucket(bucket).await
    }
    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.inner.get_bucket(name).await
    }
    async fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketRecord>> {
        self.inner.list_buckets(after, limit).await
    }
    async fn delete_bucket(&self, name: &str) -> Result<Vec<BlobId>> {
        self.inner.delete_bucket(name).await
    }
    async fn put_object(
        &self,
        object: ObjectRecord,
        segments: Vec<Segment>,
        condition: WriteCondition,
    ) -> Result<Vec<BlobId>> {
        self.inner.put_object(object, segments, condition).await
    }
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.inner.get_object(bucket, key).await
    }
    async fn get_segments(&self, object_id: &str, from: u64, to: u64) -> Result<Vec<Segment>> {
        self.inner.get_segments(object_id, from, to).await
    }
    async fn get_segment(&self, object_id: &str, part_number: u32) -> Result<Option<Segment>> {
        self.inner.get_segment(object_id, part_number).await
    }
    async fn list_segments(
        &self,
        object_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<Segment>> {
        self.inner.list_segments(object_id, after, limit).await
    }
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        condition: WriteCondition,
    ) -> Result<Option<Vec<BlobId>>> {
        self.inner.delete_object(bucket, key, condition).await
    }
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: ListAfter,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        self.inner.list_objects(bucket, prefix, after, limit).await
    }
    async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        self.inner.create_upload(upload).await
    }
    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.inner.get_upload(upload_id).await
    }
    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after_key: ListAfter,
        after_upload_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        self.inner
            .list_uploads(bucket, prefix, after_key, after_upload_id, limit)
            .await
    }
    async fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<Option<BlobId>> {
        self.inner.put_part(upload_id, part).await
    }
    async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        self.inner.list_parts(upload_id, after, limit).await
    }
    async fn complete_upload(&self, request: CompleteRequest) -> Result<Vec<BlobId>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let replace = match self.mode {
            Mode::ReplaceOnce => call == 0,
            Mode::ReplaceAlways => true,
        };
        if replace {
            self.replace_part_1(&request.upload_id).await;
        }
        self.inner.complete_upload(request).await
    }
    async fn get_completed_upload(&self, upload_id: &str) -> Result<Option<CompletedUpload>> {
        self.inner.get_completed_upload(upload_id).await
    }
    async fn prune_completed_uploads(&self, before: Millis) -> Result<u64> {
        self.inner.prune_completed_uploads(before).await
    }
    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<BlobId>> {
        self.inner.abort_upload(upload_id).await
    }
    async fn referenced_blobs(&self, candidates: &[BlobId]) -> Result<Vec<BlobId>> {
        self.inner.referenced_blobs(candidates).await
    }
}

/// A harness whose MetaStore replaces part 1 with `replacement` during Complete.
async fn harness(mode: Mode, replacement: &[u8]) -> (Harness, Arc<ReplacingMeta>) {
    let mut wrapper = None;
    let h = open_with_meta(|inner| {
        let w = Arc::new(ReplacingMeta {
            inner,
            blobs: Mutex::new(None),
            mode,
            replacement: replacement.to_vec(),
            calls: AtomicUsize::new(0),
            injected: Mutex::new(Vec::new()),
        });
        wrapper = Some(w.clone());
        w
    })
    .await;
    let w = wrapper.unwrap();
    *w.blobs.lock().unwrap() = Some(h.blobs.clone());
    (h, w)
}

/// An upload with part 1 (`first`) and part 2 (`second`) uploaded through the domain.
async fn two_parts(h: &Harness, first: &[u8], second: &[u8]) -> UploadRecord {
    let upload = h.create_upload("k").await;
    h.upload_part(&upload, 1, first).await;
    h.upload_part(&upload, 2, second).await;
    upload
}

#[tokio::test]
async fn part_replaced_with_other_bytes_during_complete_is_invalid_part() {
    let first = bytes_of(MIN_PART as usize, 1);
    let second = bytes_of(50, 2);
    let replacement = bytes_of(MIN_PART as usize, 9);
    let (h, w) = harness(Mode::ReplaceOnce, &replacement).await;
    let upload = two_parts(&h, &first, &second).await;

    // The client names the part 1 it uploaded; by the retry, part 1 has other bytes (another
    // ETag), so the Complete no longer names an existing part.
    let err = h
        .complete(&upload, &[(1, &md5_hex(&first)), (2, &md5_hex(&second))])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPart(_)), "{err:?}");
    assert_eq!(
        w.calls.load(Ordering::SeqCst),
        1,
        "the store was called once"
    );
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));

    // The upload is still there, with the replacement as part 1: completing with its ETag
    // gives exactly the replacement's bytes followed by part 2.
    let obj = h
        .complete(
            &upload,
            &[(1, &md5_hex(&replacement)), (2, &md5_hex(&second))],
        )
        .await
        .unwrap();
    assert_eq!(obj.etag, multipart_etag(&[&replacement, &second]));
    assert_eq!(
        h.get_bytes("k").await.unwrap(),
        [replacement, second].concat()
    );
}

#[tokio::test]
async fn part_replaced_with_same_bytes_during_complete_retries_onto_the_new_blob() {
    let first = bytes_of(MIN_PART as usize, 1);
    let second = bytes_of(50, 2);
    // Same bytes, so same ETag: the retry accepts the new part and must use its blob.
    let (h, w) = harness(Mode::ReplaceOnce, &first).await;
    let upload = two_parts(&h, &first, &second).await;

    let obj = h
        .complete(&upload, &[(1, &md5_hex(&first)), (2, &md5_hex(&second))])
        .await
        .unwrap();
    assert_eq!(w.calls.load(Ordering::SeqCst), 2, "one conflict, one retry");
    assert_eq!(obj.etag, multipart_etag(&[&first, &second]));
    let injected = w.injected.lock().unwrap()[0].clone();
    let blobs = h.object_blobs("k").await;
    assert_eq!(blobs[0], injected, "the object uses the part as it is now");
    assert_eq!(h.get_bytes("k").await.unwrap(), [first, second].concat());
    // Only the two blobs the object uses are left (the replaced original part was deleted).
    assert!(
        h.wait_blobs(|b| b.len() == 2 && b.contains(&injected))
            .await
    );
}

#[tokio::test]
async fn complete_gives_up_with_conflict_when_parts_keep_changing() {
    let first = bytes_of(MIN_PART as usize, 1);
    let second = bytes_of(50, 2);
    let (h, w) = harness(Mode::ReplaceAlways, &first).await;
    let upload = two_parts(&h, &first, &second).await;

    let err = h
        .complete(&upload, &[(1, &md5_hex(&first)), (2, &md5_hex(&second))])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict), "{err:?}");
    let calls = w.calls.load(Ordering::SeqCst);
    assert!((2..=10).contains(&calls), "bounded retries, got {calls}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    // Still an upload in progress with both parts.
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
    assert_eq!(page.parts.len(), 2);
}
