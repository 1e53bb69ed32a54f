//! The domain's blob sweep and background work over real stores: SQLite metadata with local
//! files, or with blobs in memory where many blobs are needed.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use tessera_blob::LocalBlobStore;
use tessera_core::objects::{GetObjectRequest, PutObjectRequest};
use tessera_core::payload::BodyStream;
use tessera_core::{now_millis, BlobId, BlobStore, Millis, Options, SweepReport, Tessera};
use tessera_meta::SqliteMetaStore;
use tessera_testing::MemBlobStore;

const HOUR_MS: Millis = 3600 * 1000;
const BUCKET: &str = "sweep-test";

fn options(grace: Duration) -> Options {
    Options {
        sweep_grace: grace,
        ..Options::default()
    }
}

async fn meta(dir: &tempfile::TempDir) -> Arc<SqliteMetaStore> {
    Arc::new(
        SqliteMetaStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap(),
    )
}

fn body(data: &'static [u8]) -> BodyStream {
    Box::pin(futures::stream::once(async move {
        Ok(Bytes::from_static(data))
    }))
}

async fn put_object(t: &Tessera, key: &str, data: &'static [u8]) {
    t.put_object(
        PutObjectRequest {
            bucket: BUCKET.into(),
            key: key.into(),
            ..PutObjectRequest::default()
        },
        body(data),
    )
    .await
    .unwrap();
}

async fn get_object(t: &Tessera, key: &str) -> Vec<u8> {
    let req = GetObjectRequest {
        bucket: BUCKET.into(),
        key: key.into(),
        range: None,
        part_number: None,
        conditions: Default::default(),
        version_id: None,
        customer_key: None,
    };
    let read = t.get_object(&req, true).await.unwrap();
    let mut out = Vec::new();
    let mut stream = read.body.unwrap();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// Commits a blob nothing references (as a crash between blob and metadata commits would).
async fn orphan(store: &dyn BlobStore) -> BlobId {
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from_static(b"orphan")).await.unwrap();
    let id = w.id().clone();
    w.commit().await.unwrap();
    id
}

/// Sets a file's modification time to `ms_ago` milliseconds ago.
fn backdate(path: &std::path::Path, ms_ago: Millis) {
    let when = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_millis() - ms_ago).unwrap());
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn blob_path(dir: &std::path::Path, id: &BlobId) -> std::path::PathBuf {
    dir.join("blobs").join(&id.as_str()[..2]).join(id.as_str())
}

/// Only blobs and leftovers older than the grace period go, and only unreferenced blobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_old_unreferenced_blobs_and_leftovers_only() {
    let dir = tempfile::tempdir().unwrap();
    let blob_dir = dir.path().join("store");
    let blobs = LocalBlobStore::open(&blob_dir).unwrap();
    let t = Tessera::open(
        meta(&dir).await,
        Arc::new(blobs.clone()),
        options(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    t.create_bucket(BUCKET, "111122223333").await.unwrap();
    put_object(&t, "kept", b"referenced").await;
    let referenced = t.all_blobs().await.unwrap()[0].id.clone();
    backdate(&blob_path(&blob_dir, &referenced), 2 * HOUR_MS);
    let old_orphan = orphan(&blobs).await;
    backdate(&blob_path(&blob_dir, &old_orphan), 2 * HOUR_MS);
    let young_orphan = orphan(&blobs).await;
    // Two writes that never end (a crash): one old, one young (maybe another node's).
    for age in [2 * HOUR_MS, 0] {
        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from_static(b"half")).await.unwrap();
        let name = format!("{}.tmp", w.id());
        std::mem::forget(w);
        if age > 0 {
            backdate(&blob_dir.join("tmp").join(&name), age);
        }
    }
    let old_temp = blobs
        .list_temporary(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.modified < now_millis() - HOUR_MS)
        .unwrap();

    let found = t.unreferenced(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(found.listed, 3);
    assert_eq!(
        found.blobs.iter().map(|b| &b.id).collect::<Vec<_>>(),
        [&old_orphan]
    );
    assert_eq!(found.temporary, std::slice::from_ref(&old_temp));
    // With no grace everything unreferenced shows (a leak check with no write in flight).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let everything = t.unreferenced(Duration::ZERO).await.unwrap();
    let mut ids: Vec<&BlobId> = everything.blobs.iter().map(|b| &b.id).collect();
    ids.sort();
    let mut want = vec![&old_orphan, &young_orphan];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(everything.temporary.len(), 2);

    assert_eq!(
        t.sweep().await.unwrap(),
        SweepReport {
            blobs: 1,
            temporary: 1
        }
    );
    let mut left: Vec<BlobId> = t
        .all_blobs()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    left.sort();
    let mut want = vec![referenced, young_orphan];
    want.sort();
    assert_eq!(left, want);
    let temp = blobs.list_temporary(None, 10).await.unwrap();
    assert_eq!(temp.len(), 1);
    assert_ne!(temp[0].name, old_temp.name);
    assert_eq!(get_object(&t, "kept").await, b"referenced");
    assert_eq!(t.sweep().await.unwrap(), SweepReport::default());
}

/// The sweep pages through more blobs than one page holds, checking each page's references.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_pages_through_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = MemBlobStore::new();
    let t = Tessera::open(
        meta(&dir).await,
        Arc::new(blobs.clone()),
        options(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    t.create_bucket(BUCKET, "111122223333").await.unwrap();
    for key in ["k1", "k2", "k3"] {
        put_object(&t, key, b"referenced").await;
    }
    let mut orphans = 0;
    for _ in 0..2500 {
        orphan(&blobs).await;
        orphans += 1;
    }
    for b in t.all_blobs().await.unwrap() {
        assert!(blobs.set_modified(b.id.as_str(), now_millis() - HOUR_MS));
    }
    assert_eq!(blobs.len(), 2503);
    let found = t.unreferenced(Duration::from_secs(60)).await.unwrap();
    assert_eq!((found.listed, found.blobs.len()), (2503, orphans));
    let report = t.sweep().await.unwrap();
    assert_eq!(report.blobs, orphans);
    assert_eq!(blobs.len(), 3);
    for key in ["k1", "k2", "k3"] {
        assert_eq!(get_object(&t, key).await, b"referenced");
    }
}

/// A blob freed while a GET streams it stays until the stream ends, even for the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_leaves_a_blob_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = MemBlobStore::new();
    let t = Tessera::open(
        meta(&dir).await,
        Arc::new(blobs.clone()),
        options(Duration::ZERO),
    )
    .await
    .unwrap();
    t.create_bucket(BUCKET, "111122223333").await.unwrap();
    put_object(&t, "k", b"first").await;
    let old = t.all_blobs().await.unwrap()[0].id.clone();
    let req = GetObjectRequest {
        bucket: BUCKET.into(),
        key: "k".into(),
        range: None,
        part_number: None,
        conditions: Default::default(),
        version_id: None,
        customer_key: None,
    };
    let reading = t.get_object(&req, true).await.unwrap();
    put_object(&t, "k", b"second").await;
    assert!(blobs.set_modified(old.as_str(), now_millis() - HOUR_MS));
    t.sweep().await.unwrap();
    let ids: Vec<BlobId> = t
        .all_blobs()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert!(ids.contains(&old), "swept under a reader");
    let mut stream = reading.body.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, b"first");
    drop(stream);
    // The lease's release deletes it (in the background).
    for _ in 0..200 {
        if t.all_blobs().await.unwrap().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the freed blob outlived its reader");
}

/// The background sweeps at start and then at every interval; shutdown stops and joins every
/// task (the clones of the stores they held are all dropped when it returns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_sweeps_and_shutdown_joins_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(MemBlobStore::new());
    let t = Tessera::open(
        meta(&dir).await,
        blobs.clone(),
        Options {
            sweep_grace: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(1),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let first = orphan(&*blobs).await;
    assert!(blobs.set_modified(first.as_str(), now_millis() - HOUR_MS));
    let held_before = Arc::strong_count(&blobs);

    let background = t.start_background();
    assert_eq!(background.running(), 3); // the sweep, the completed-upload pruner, the lifecycle worker
    assert!(Arc::strong_count(&blobs) > held_before);
    wait_for(|| blobs.is_empty(), "the start-up sweep").await;
    // Planted after the first sweep: the next one, an interval later, takes it.
    let second = orphan(&*blobs).await;
    assert!(blobs.set_modified(second.as_str(), now_millis() - HOUR_MS));
    wait_for(|| blobs.is_empty(), "the next sweep").await;

    tokio::time::timeout(Duration::from_secs(5), background.shutdown())
        .await
        .expect("shutdown is prompt");
    assert_eq!(
        Arc::strong_count(&blobs),
        held_before,
        "a background task outlived shutdown"
    );
    // Stopped for good: nothing sweeps any more.
    let third = orphan(&*blobs).await;
    assert!(blobs.set_modified(third.as_str(), now_millis() - HOUR_MS));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(blobs.len(), 1);

    // Dropping the handle instead aborts the tasks.
    let background = t.start_background();
    wait_for(|| blobs.is_empty(), "the start-up sweep").await;
    drop(background);
    for _ in 0..200 {
        if Arc::strong_count(&blobs) == held_before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("background tasks still hold the store after their handle was dropped");
}

async fn wait_for(cond: impl Fn() -> bool, what: &str) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
