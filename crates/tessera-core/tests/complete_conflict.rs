//! A part re-uploaded while a Complete runs: the MetaStore's `complete_upload` answers `Conflict`
//! (a segment's part blob changed) and the domain retries against the parts as they are now.
//! The object is never a mix of old and new parts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use common::hooked::{HookedMeta, Hooks};
use common::*;
use tessera_core::checksum::{compute_checksum, ChecksumAlgorithm};
use tessera_core::{
    BlobId, BlobStore, CompleteRequest, Error, MetaStore, PartRecord, UploadRecord,
};

/// When part 1 is replaced.
#[derive(Clone, Copy)]
enum Mode {
    /// Before the first `complete_upload` only.
    ReplaceOnce,
    /// Before every `complete_upload`.
    ReplaceAlways,
}

/// Replaces part 1 of the upload (a new blob holding `replacement`) just before the store's
/// `complete_upload` runs, as a client re-uploading the part at that moment would.
struct ReplacePart1 {
    blobs: Mutex<Option<Arc<dyn BlobStore>>>,
    mode: Mode,
    replacement: Vec<u8>,
    calls: AtomicUsize,
    /// The blobs put in as part 1, in order.
    injected: Mutex<Vec<BlobId>>,
}

#[async_trait]
impl Hooks for Arc<ReplacePart1> {
    async fn before_complete_upload(&self, inner: &dyn MetaStore, request: &CompleteRequest) {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let replace = match self.mode {
            Mode::ReplaceOnce => call == 0,
            Mode::ReplaceAlways => true,
        };
        if !replace {
            return;
        }
        let blobs = self.blobs.lock().unwrap().clone().expect("blob store set");
        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from(self.replacement.clone()))
            .await
            .unwrap();
        let blob = w.id().clone();
        let size = w.commit().await.unwrap();
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
        let replaced = inner.put_part(&request.upload_id, part).await.unwrap();
        self.injected.lock().unwrap().push(blob);
        // As the domain does for a replaced part.
        if let Some(old) = replaced {
            blobs.delete(&old).await.unwrap();
        }
    }
}

/// A harness whose MetaStore replaces part 1 with `replacement` during Complete.
async fn harness(mode: Mode, replacement: &[u8]) -> (Harness, Arc<ReplacePart1>) {
    let hooks = Arc::new(ReplacePart1 {
        blobs: Mutex::new(None),
        mode,
        replacement: replacement.to_vec(),
        calls: AtomicUsize::new(0),
        injected: Mutex::new(Vec::new()),
    });
    let h = open_with_meta(|inner| {
        Arc::new(HookedMeta {
            inner,
            hooks: hooks.clone(),
        })
    })
    .await;
    *hooks.blobs.lock().unwrap() = Some(h.blobs.clone());
    (h, hooks)
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
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
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
