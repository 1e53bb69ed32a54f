//! Races the domain must absorb: a copy source replaced (and its blob deleted) while it is
//! being copied, and identical Completes sent at once.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use common::hooked::{HookedMeta, Hooks};
use common::*;
use tessera_core::objects::CopyObjectRequest;
use tessera_core::{BlobId, BlobStore, Error, MetaStore, ObjectRecord, Segment, WriteCondition};

/// After the first `list_segments` of the object at `key`, replaces that object with one
/// holding `replacement` and deletes the listed blobs: a copy that listed the source's segments
/// then finds their blobs gone, as after an overwrite that freed them.
struct ReplaceSourceOnce {
    key: &'static str,
    replacement: Vec<u8>,
    blobs: Mutex<Option<Arc<dyn BlobStore>>>,
    done: AtomicBool,
    deleted: Mutex<Vec<BlobId>>,
}

#[async_trait]
impl Hooks for Arc<ReplaceSourceOnce> {
    async fn after_list_segments(
        &self,
        inner: &dyn MetaStore,
        object_id: &str,
        segments: &[Segment],
    ) {
        let current = inner.get_object(BUCKET, self.key).await.unwrap();
        if current.is_none_or(|o| o.object_id != object_id)
            || self.done.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let blobs = self.blobs.lock().unwrap().clone().expect("blob store set");
        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from(self.replacement.clone()))
            .await
            .unwrap();
        let blob = w.id().clone();
        let size = w.commit().await.unwrap();
        let etag = md5_hex(&self.replacement);
        let object = ObjectRecord {
            bucket: BUCKET.into(),
            key: self.key.into(),
            object_id: BlobId::random().0,
            size,
            etag: etag.clone(),
            last_modified: tessera_core::now_millis(),
            headers: Default::default(),
            user_metadata: Default::default(),
            checksum: None,
            parts_count: None,
            owner: String::new(),
            acl: None,
            version_id: tessera_core::NULL_VERSION.into(),
            sequencer: tessera_core::new_sequencer(),
            delete_marker: false,
            attrs: Default::default(),
        };
        let segment = Segment {
            part_number: 1,
            offset: 0,
            size,
            blob,
            etag,
            checksums: Vec::new(),
        };
        inner
            .put_object(object, vec![segment], WriteCondition::default())
            .await
            .unwrap();
        for s in segments {
            blobs.delete(&s.blob).await.unwrap();
            self.deleted.lock().unwrap().push(s.blob.clone());
        }
    }
}

#[tokio::test]
async fn copy_retries_when_its_source_blob_vanishes_mid_copy() {
    copy_with_source_replaced().await;
}

async fn copy_with_source_replaced() {
    let hooks = Arc::new(ReplaceSourceOnce {
        key: "src",
        replacement: b"the new source".to_vec(),
        blobs: Mutex::new(None),
        done: AtomicBool::new(false),
        deleted: Mutex::new(Vec::new()),
    });
    let h = open_with_stores(
        |inner| {
            Arc::new(HookedMeta {
                inner,
                hooks: hooks.clone(),
            })
        },
        |blobs| blobs,
    )
    .await;
    *hooks.blobs.lock().unwrap() = Some(h.blobs.clone());
    h.put("src", b"the old source").await;

    let obj = h
        .app
        .copy_object(CopyObjectRequest {
            source_bucket: BUCKET.into(),
            source_key: "src".into(),
            bucket: BUCKET.into(),
            key: "dst".into(),
            ..Default::default()
        })
        .await
        .expect("the copy retries on the new source");
    assert!(hooks.done.load(Ordering::SeqCst), "the race was staged");
    assert_eq!(hooks.deleted.lock().unwrap().len(), 1);
    // The copy is of one source, whole: the new one.
    assert_eq!(obj.etag, md5_hex(b"the new source"));
    assert_eq!(h.get_bytes("dst").await.unwrap(), b"the new source");
    // No blob left behind by the failed attempt: the new source's and the copy's only.
    assert!(h.wait_blobs(|b| b.len() == 2).await);
}

#[tokio::test]
async fn identical_completes_at_once_both_get_the_object() {
    let h = open().await;
    for attempt in 0..4 {
        let key = format!("k{attempt}");
        let upload = h.create_upload(&key).await;
        let a = bytes_of(MIN_PART as usize, 1);
        let b = bytes_of(10, 2);
        let ea = h.upload_part(&upload, 1, &a).await.etag;
        let eb = h.upload_part(&upload, 2, &b).await.etag;
        let req = complete_request(&upload, &[(1, &ea), (2, &eb)]);
        let (r1, r2) = tokio::join!(
            h.app.complete_upload(req.clone()),
            h.app.complete_upload(req)
        );
        let (o1, o2) = (r1.unwrap(), r2.unwrap());
        assert_eq!(o1.etag, multipart_etag(&[&a, &b]));
        assert_eq!(o1.etag, o2.etag);
        assert_eq!(h.get_bytes(&key).await.unwrap(), [a, b].concat());
        // One object, one set of blobs: nothing completed twice.
        let blobs = h.object_blobs(&key).await;
        assert_eq!(blobs.len(), 2);
    }
}

#[tokio::test]
async fn part_upload_racing_abort_leaves_no_blob() {
    let h = open().await;
    for _ in 0..4 {
        let upload = h.create_upload("k").await;
        let data = bytes_of(5000, 1);
        let (put, abort) = tokio::join!(
            h.upload_part_with(&upload, 1, &data, Default::default()),
            h.app.abort_upload(BUCKET, "k", &upload.upload_id)
        );
        abort.unwrap();
        if let Err(e) = put {
            assert!(matches!(e, Error::NoSuchUpload), "{e:?}");
        }
    }
    assert!(
        h.wait_blobs(|b| b.is_empty()).await,
        "every part blob freed"
    );
}
