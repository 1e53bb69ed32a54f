//! The conformance suite every [`BlobStore`] backend must pass, written once: the contract in
//! the docs of [`tessera_core::blob`].
//!
//! A backend implements [`Harness`] and expands
//! [`blob_store_conformance!`](crate::blob_store_conformance) in a test file, which gives one
//! `#[tokio::test]` per case, each with a fresh harness:
//!
//! ```ignore
//! struct MyHarness { /* a temp dir, a scratch bucket... */ }
//!
//! #[async_trait::async_trait]
//! impl tessera_testing::blob_conformance::Harness for MyHarness {
//!     async fn open(&self) -> std::sync::Arc<dyn tessera_core::BlobStore> { /* ... */ }
//!     async fn set_modified(&self, name: &str, modified: tessera_core::Millis) { /* ... */ }
//! }
//!
//! async fn harness() -> MyHarness { /* a fresh, empty location */ }
//!
//! tessera_testing::blob_store_conformance!(harness);
//! ```
//!
//! The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dependency.
//! Cases panic on failure, like any test.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tessera_core::{now_millis, BlobId, BlobInfo, BlobStore, ByteStream, Error, Millis, TempInfo};

/// Opens the store under test. Each case gets a fresh harness whose store starts empty;
/// opening again after the previous store was dropped must show the same committed blobs.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Opens the store (panics if it cannot).
    async fn open(&self) -> Arc<dyn BlobStore>;

    /// Sets the modification time of the committed blob with id `name`, else of the temporary
    /// leftover named `name` (as listed), so that cases about ages need not wait.
    async fn set_modified(&self, name: &str, modified: Millis);
}

/// Expands to one `#[tokio::test]` per conformance case. The argument is a function (or
/// closure) taking no arguments and returning a future of a fresh [`Harness`].
#[macro_export]
macro_rules! blob_store_conformance {
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = ($harness)().await;
                $crate::blob_conformance::$case(&harness).await;
            }
        )*
    };
    ($harness:expr) => {
        $crate::blob_store_conformance!(@cases $harness;
            write_commit_read_ranges,
            id_fixed_at_create,
            uncommitted_is_invisible,
            read_missing_is_blob_not_found,
            read_past_end_fails,
            zero_length_blob,
            large_blob_many_writes,
            drop_without_commit_leaves_nothing,
            abort_leaves_nothing,
            crash_leftover_is_listed_and_deleted,
            commit_after_temporary_deleted_fails,
            delete_is_idempotent,
            read_while_deleted,
            list_pages,
            list_temporary_pages,
            ages_are_listed,
            writing_keeps_a_write_young,
            concurrent_writers,
            reopen_keeps_blobs,
        );
    };
}

/// Runs every case in turn, each with a fresh harness from `make` (for backends that prefer
/// one test over [`blob_store_conformance!`](crate::blob_store_conformance)).
pub async fn run_all<H, Fut>(make: impl Fn() -> Fut)
where
    H: Harness,
    Fut: Future<Output = H>,
{
    write_commit_read_ranges(&make().await).await;
    id_fixed_at_create(&make().await).await;
    uncommitted_is_invisible(&make().await).await;
    read_missing_is_blob_not_found(&make().await).await;
    read_past_end_fails(&make().await).await;
    zero_length_blob(&make().await).await;
    large_blob_many_writes(&make().await).await;
    drop_without_commit_leaves_nothing(&make().await).await;
    abort_leaves_nothing(&make().await).await;
    crash_leftover_is_listed_and_deleted(&make().await).await;
    commit_after_temporary_deleted_fails(&make().await).await;
    delete_is_idempotent(&make().await).await;
    read_while_deleted(&make().await).await;
    list_pages(&make().await).await;
    list_temporary_pages(&make().await).await;
    ages_are_listed(&make().await).await;
    writing_keeps_a_write_young(&make().await).await;
    concurrent_writers(&make().await).await;
    reopen_keeps_blobs(&make().await).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Deterministic bytes that differ with `seed` and position.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_add(seed).wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// Writes `data` in pieces of `piece` bytes and commits; returns the id.
pub async fn put(store: &dyn BlobStore, data: &[u8], piece: usize) -> BlobId {
    let mut w = store.create().await.expect("create");
    for chunk in data.chunks(piece.max(1)) {
        w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    let id = w.id().clone();
    let size = w.commit().await.expect("commit");
    assert_eq!(size, data.len() as u64, "commit returns the size");
    id
}

/// Drains a stream: the bytes, or the first error.
async fn drain(mut s: ByteStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.extend_from_slice(&item?);
    }
    Ok(out)
}

/// Reads a range whole; an error from `read` or from the stream is `Err`.
async fn read(store: &dyn BlobStore, id: &BlobId, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
    let stream = store.read(id, offset, len).await?;
    drain(stream)
        .await
        .map_err(tessera_core::blob::error_from_io)
}

/// Every committed blob, through pages of `limit`.
async fn list_all(store: &dyn BlobStore, limit: usize) -> Vec<BlobInfo> {
    let mut out: Vec<BlobInfo> = Vec::new();
    loop {
        let page = store
            .list(out.last().map(|b| &b.id), limit)
            .await
            .expect("list");
        assert!(
            page.len() <= limit,
            "a page of {} for limit {limit}",
            page.len()
        );
        let full = page.len() == limit;
        out.extend(page);
        if !full {
            return out;
        }
    }
}

/// Every temporary leftover, through pages of `limit`.
async fn temporary_all(store: &dyn BlobStore, limit: usize) -> Vec<TempInfo> {
    let mut out: Vec<TempInfo> = Vec::new();
    loop {
        let page = store
            .list_temporary(out.last().map(|t| t.name.as_str()), limit)
            .await
            .expect("list_temporary");
        assert!(
            page.len() <= limit,
            "a page of {} for limit {limit}",
            page.len()
        );
        let full = page.len() == limit;
        out.extend(page);
        if !full {
            return out;
        }
    }
}

fn ids(infos: &[BlobInfo]) -> Vec<BlobId> {
    infos.iter().map(|b| b.id.clone()).collect()
}

/// Waits (up to 5 s) for best-effort background cleanups to leave no temporary leftover.
async fn wait_no_temporary(store: &dyn BlobStore) {
    for _ in 0..500 {
        if temporary_all(store, 100).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "temporary leftovers remain: {:?}",
        temporary_all(store, 100).await
    );
}

/// Slack for file-system timestamp granularity and clocks, in ms.
const CLOCK_SLACK: Millis = 2000;

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// Bytes written in any pieces read back whole and by any range.
pub async fn write_commit_read_ranges(h: &dyn Harness) {
    let store = h.open().await;
    let data = pattern(300_000, 1);
    // Byte-at-a-time writes on a shorter prefix, to keep the case quick.
    for (piece, len) in [
        (1, 5000),
        (1000, data.len()),
        (65_536, data.len()),
        (300_000, data.len()),
    ] {
        let id = put(&*store, &data[..len], piece).await;
        assert_eq!(
            read(&*store, &id, 0, len as u64).await.unwrap(),
            data[..len]
        );
    }
    let id = put(&*store, &data, 4096).await;
    for (off, len) in [
        (0, 1),
        (1, 0),
        (299_999, 1),
        (12_345, 100_000),
        (65_535, 65_538),
    ] {
        let got = read(&*store, &id, off, len).await.unwrap();
        assert_eq!(
            got,
            data[off as usize..(off + len) as usize],
            "range {off}+{len}"
        );
    }
    let listed = list_all(&*store, 100).await;
    assert_eq!(listed.len(), 5);
    let me = listed.iter().find(|b| b.id == id).expect("listed");
    assert_eq!(me.size, data.len() as u64);
}

/// The id is known at create, distinct per writer, and the one the blob has once committed.
pub async fn id_fixed_at_create(h: &dyn Harness) {
    let store = h.open().await;
    let a = store.create().await.unwrap();
    let b = store.create().await.unwrap();
    let (ida, idb) = (a.id().clone(), b.id().clone());
    assert_ne!(ida, idb, "two writers, one id");
    assert_eq!(a.commit().await.unwrap(), 0);
    assert_eq!(read(&*store, &ida, 0, 0).await.unwrap(), b"");
    b.abort().await.unwrap();
    assert_eq!(ids(&list_all(&*store, 10).await), vec![ida]);
}

/// Before commit a blob is neither listed nor readable, and shows as a temporary leftover.
pub async fn uncommitted_is_invisible(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(2 << 20, 2))).await.unwrap();
    let id = w.id().clone();
    assert!(list_all(&*store, 10).await.is_empty());
    let e = read(&*store, &id, 0, 1).await.unwrap_err();
    assert!(matches!(e, Error::BlobNotFound { .. }), "{e:?}");
    assert_eq!(temporary_all(&*store, 10).await.len(), 1);
    w.commit().await.unwrap();
    assert_eq!(ids(&list_all(&*store, 10).await), vec![id.clone()]);
    assert!(temporary_all(&*store, 10).await.is_empty());
    assert_eq!(
        read(&*store, &id, 0, 2 << 20).await.unwrap(),
        pattern(2 << 20, 2)
    );
}

/// Reading a missing blob (never written, or deleted, or not even a valid id) is
/// `BlobNotFound`, naming the id.
pub async fn read_missing_is_blob_not_found(h: &dyn Harness) {
    let store = h.open().await;
    let never = BlobId::random();
    let e = read(&*store, &never, 0, 1).await.unwrap_err();
    assert!(
        matches!(&e, Error::BlobNotFound { id } if *id == never),
        "{e:?}"
    );
    let id = put(&*store, b"gone soon", 4).await;
    store.delete(&id).await.unwrap();
    let e = read(&*store, &id, 0, 9).await.unwrap_err();
    assert!(
        matches!(&e, Error::BlobNotFound { id: got } if *got == id),
        "{e:?}"
    );
    for odd in ["", "x", "../etc/passwd", "ABCDEF"] {
        let e = read(&*store, &BlobId(odd.into()), 0, 1).await.unwrap_err();
        assert!(matches!(e, Error::BlobNotFound { .. }), "{odd:?}: {e:?}");
    }
}

/// A range past the end fails (from `read` or on the stream) and never yields wrong bytes.
pub async fn read_past_end_fails(h: &dyn Harness) {
    let store = h.open().await;
    let id = put(&*store, &pattern(1000, 3), 100).await;
    for (off, len) in [(0, 1001), (1000, 1), (999, 2), (u64::MAX, 2)] {
        assert!(read(&*store, &id, off, len).await.is_err(), "{off}+{len}");
    }
    assert_eq!(read(&*store, &id, 1000, 0).await.unwrap(), b"");
}

/// A blob of no bytes commits, lists with size 0 and reads empty.
pub async fn zero_length_blob(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::new()).await.unwrap();
    let id = w.id().clone();
    assert_eq!(w.commit().await.unwrap(), 0);
    assert_eq!(read(&*store, &id, 0, 0).await.unwrap(), b"");
    assert!(read(&*store, &id, 0, 1).await.is_err());
    let listed = list_all(&*store, 10).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.clone(), listed[0].size), (id, 0));
}

/// 8 MiB written in thousands of uneven pieces reads back exactly, whole and in ranges.
pub async fn large_blob_many_writes(h: &dyn Harness) {
    let store = h.open().await;
    let data = pattern(8 << 20, 4);
    let mut w = store.create().await.unwrap();
    let (mut at, mut k) = (0usize, 0usize);
    while at < data.len() {
        // Sizes from 1 byte to ~300 KiB, small ones most often.
        let n = [1, 17, 4096, 65_535, 70_000, 300_001][k % 6].min(data.len() - at);
        w.write(Bytes::copy_from_slice(&data[at..at + n]))
            .await
            .unwrap();
        at += n;
        k += 1;
    }
    let id = w.id().clone();
    assert_eq!(w.commit().await.unwrap(), data.len() as u64);
    assert!(read(&*store, &id, 0, data.len() as u64).await.unwrap() == data);
    let (off, len) = (3_333_333u64, 2_000_000u64);
    assert!(
        read(&*store, &id, off, len).await.unwrap() == data[off as usize..(off + len) as usize]
    );
}

/// A writer dropped without commit leaves nothing: nothing listed, no leftover once the
/// best-effort cleanup ran.
pub async fn drop_without_commit_leaves_nothing(h: &dyn Harness) {
    let store = h.open().await;
    for n in [0usize, 10, 3 << 20] {
        let mut w = store.create().await.unwrap();
        if n > 0 {
            w.write(Bytes::from(pattern(n, 5))).await.unwrap();
        }
        let id = w.id().clone();
        drop(w);
        assert!(list_all(&*store, 10).await.is_empty());
        assert!(matches!(
            read(&*store, &id, 0, 0).await,
            Err(Error::BlobNotFound { .. })
        ));
    }
    wait_no_temporary(&*store).await;
}

/// `abort` discards the blob and its temporary data before it returns.
pub async fn abort_leaves_nothing(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(3 << 20, 6))).await.unwrap();
    let id = w.id().clone();
    w.abort().await.unwrap();
    assert!(temporary_all(&*store, 10).await.is_empty());
    assert!(list_all(&*store, 10).await.is_empty());
    assert!(matches!(
        read(&*store, &id, 0, 0).await,
        Err(Error::BlobNotFound { .. })
    ));
}

/// A writer that never ends (a crash: no drop, no abort) leaves a temporary leftover that is
/// listed until `delete_temporary` removes it; removing it twice is fine.
pub async fn crash_leftover_is_listed_and_deleted(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(2 << 20, 7))).await.unwrap();
    // Forgotten, as if the process had died: no cleanup runs.
    std::mem::forget(w);
    let left = temporary_all(&*store, 10).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(list_all(&*store, 10).await.is_empty());
    store.delete_temporary(&left[0].name).await.unwrap();
    store.delete_temporary(&left[0].name).await.unwrap();
    assert!(temporary_all(&*store, 10).await.is_empty());
}

/// A write whose temporary data was removed (by a sweep) fails to commit and shows nothing.
pub async fn commit_after_temporary_deleted_fails(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(2 << 20, 8))).await.unwrap();
    let id = w.id().clone();
    let left = temporary_all(&*store, 10).await;
    assert_eq!(left.len(), 1, "{left:?}");
    store.delete_temporary(&left[0].name).await.unwrap();
    let committed = async {
        w.write(Bytes::from(pattern(1000, 8))).await?;
        w.commit().await
    }
    .await;
    assert!(committed.is_err(), "committed without its temporary data");
    assert!(list_all(&*store, 10).await.is_empty());
    assert!(read(&*store, &id, 0, 0).await.is_err());
    wait_no_temporary(&*store).await;
}

/// Delete removes a blob; deleting it again, or a blob that never was, succeeds.
pub async fn delete_is_idempotent(h: &dyn Harness) {
    let store = h.open().await;
    let keep = put(&*store, b"keep", 2).await;
    let id = put(&*store, b"delete me", 2).await;
    store.delete(&id).await.unwrap();
    store.delete(&id).await.unwrap();
    store.delete(&BlobId::random()).await.unwrap();
    assert_eq!(ids(&list_all(&*store, 10).await), vec![keep.clone()]);
    assert_eq!(read(&*store, &keep, 0, 4).await.unwrap(), b"keep");
}

/// A stream opened before a delete completes with the blob's bytes or fails; never others.
pub async fn read_while_deleted(h: &dyn Harness) {
    let store = h.open().await;
    let data = pattern(3 << 20, 9);
    let id = put(&*store, &data, 1 << 20).await;
    let mut stream = store.read(&id, 0, data.len() as u64).await.unwrap();
    let first = stream.next().await.expect("a first piece").unwrap();
    store.delete(&id).await.unwrap();
    let mut got = first.to_vec();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(data.starts_with(&got), "bytes that are not the blob's");
    assert!(failed || got == data, "a short read without an error");
    assert!(matches!(
        read(&*store, &id, 0, 1).await,
        Err(Error::BlobNotFound { .. })
    ));
}

/// Listing pages in ascending id order, each page at most `limit`, the pages together every
/// blob once; `after` need not be a listed id.
pub async fn list_pages(h: &dyn Harness) {
    let store = h.open().await;
    let mut all = BTreeSet::new();
    for i in 0..25u32 {
        all.insert(put(&*store, &pattern(i as usize, i), 7).await);
    }
    let all: Vec<BlobId> = all.into_iter().collect();
    for limit in [1, 7, 25, 1000] {
        let listed = list_all(&*store, limit).await;
        assert_eq!(ids(&listed), all, "limit {limit}");
    }
    let first = store.list(None, 7).await.unwrap();
    assert_eq!(ids(&first), all[..7]);
    let mid = &all[12];
    let rest = store.list(Some(mid), 1000).await.unwrap();
    assert_eq!(ids(&rest), all[13..]);
    // A cursor between ids: "<id>0" sorts after <id> and before the next id.
    let between = BlobId(format!("{}0", all[3]));
    let after_between = store.list(Some(&between), 2).await.unwrap();
    assert_eq!(ids(&after_between), all[4..6]);
    assert!(store
        .list(Some(&BlobId("g".into())), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&store.list(Some(&BlobId(String::new())), 3).await.unwrap()),
        all[..3]
    );
    let sizes: BTreeSet<u64> = list_all(&*store, 10).await.iter().map(|b| b.size).collect();
    assert_eq!(sizes, (0..25u64).collect());
}

/// Temporary leftovers page like blobs, in ascending name order.
pub async fn list_temporary_pages(h: &dyn Harness) {
    let store = h.open().await;
    let mut writers = Vec::new();
    for i in 0..9u32 {
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from(pattern(10, i))).await.unwrap();
        writers.push(w);
    }
    let all = temporary_all(&*store, 1000).await;
    assert_eq!(all.len(), 9);
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    assert_eq!(temporary_all(&*store, 2).await, all);
    assert_eq!(temporary_all(&*store, 9).await, all);
    let rest = store.list_temporary(Some(&all[4].name), 100).await.unwrap();
    assert_eq!(rest, all[5..]);
    for w in writers {
        w.abort().await.unwrap();
    }
    assert!(temporary_all(&*store, 10).await.is_empty());
}

/// Listings carry when each blob and leftover was last written: now for fresh ones, and the
/// time a harness set (how the sweep's grace period is tested without waiting).
pub async fn ages_are_listed(h: &dyn Harness) {
    let store = h.open().await;
    let t0 = now_millis();
    let old = put(&*store, b"old", 3).await;
    let fresh = put(&*store, b"fresh", 3).await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from_static(b"pending")).await.unwrap();
    let t1 = now_millis();
    for b in list_all(&*store, 10).await {
        assert!(
            (t0 - CLOCK_SLACK..=t1 + CLOCK_SLACK).contains(&b.modified),
            "{b:?} not within {t0}..{t1}"
        );
    }
    let temp = temporary_all(&*store, 10).await;
    assert_eq!(temp.len(), 1);
    assert!((t0 - CLOCK_SLACK..=t1 + CLOCK_SLACK).contains(&temp[0].modified));

    let two_hours_ago = t0 - 2 * 3600 * 1000;
    h.set_modified(old.as_str(), two_hours_ago).await;
    h.set_modified(&temp[0].name, two_hours_ago).await;
    let listed = list_all(&*store, 10).await;
    let age = |id: &BlobId| {
        listed
            .iter()
            .find(|b| b.id == *id)
            .map(|b| b.modified)
            .expect("listed")
    };
    assert!(
        (age(&old) - two_hours_ago).abs() <= CLOCK_SLACK,
        "{listed:?}"
    );
    assert!(age(&fresh) >= t0 - CLOCK_SLACK);
    let temp = temporary_all(&*store, 10).await;
    assert!((temp[0].modified - two_hours_ago).abs() <= CLOCK_SLACK);
    w.abort().await.unwrap();
}

/// A write in progress that keeps writing does not age: after its leftover was made old,
/// more bytes (2 MiB, past any write buffer) make it young again.
pub async fn writing_keeps_a_write_young(h: &dyn Harness) {
    let store = h.open().await;
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(1000, 10))).await.unwrap();
    let name = temporary_all(&*store, 10).await[0].name.clone();
    let long_ago = now_millis() - 2 * 3600 * 1000;
    h.set_modified(&name, long_ago).await;
    let t0 = now_millis();
    w.write(Bytes::from(pattern(2 << 20, 11))).await.unwrap();
    w.write(Bytes::from(pattern(2 << 20, 12))).await.unwrap();
    let mut young = false;
    // A backend may write in the background: give it a moment.
    for _ in 0..200 {
        let temp = temporary_all(&*store, 10).await;
        assert_eq!(temp.len(), 1);
        if temp[0].modified >= t0 - CLOCK_SLACK {
            young = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(young, "a write in progress still looks hours old");
    let id = w.id().clone();
    w.commit().await.unwrap();
    assert_eq!(
        read(&*store, &id, 0, 1000).await.unwrap(),
        pattern(1000, 10)
    );
}

/// Writers on many tasks at once each get their own blob, whole.
pub async fn concurrent_writers(h: &dyn Harness) {
    let store = h.open().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16u32 {
        let store = store.clone();
        tasks.spawn(async move {
            let data = pattern(100_000 + i as usize * 4099, i);
            let id = put(&*store, &data, 1000 + i as usize * 37).await;
            (id, data)
        });
    }
    let mut written = Vec::new();
    while let Some(done) = tasks.join_next().await {
        written.push(done.expect("writer task"));
    }
    let listed = list_all(&*store, 5).await;
    assert_eq!(listed.len(), 16);
    for (id, data) in written {
        assert!(read(&*store, &id, 0, data.len() as u64).await.unwrap() == data);
    }
    assert!(temporary_all(&*store, 10).await.is_empty());
}

/// Committed blobs survive dropping the store and opening it again; deletions too.
pub async fn reopen_keeps_blobs(h: &dyn Harness) {
    let (kept, gone) = {
        let store = h.open().await;
        let kept = put(&*store, &pattern(70_000, 13), 9000).await;
        let gone = put(&*store, b"x", 1).await;
        store.delete(&gone).await.unwrap();
        (kept, gone)
    };
    let store = h.open().await;
    assert_eq!(ids(&list_all(&*store, 10).await), vec![kept.clone()]);
    assert_eq!(
        read(&*store, &kept, 0, 70_000).await.unwrap(),
        pattern(70_000, 13)
    );
    assert!(matches!(
        read(&*store, &gone, 0, 1).await,
        Err(Error::BlobNotFound { .. })
    ));
}
