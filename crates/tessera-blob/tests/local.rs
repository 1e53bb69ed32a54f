//! Behaviour of `LocalBlobStore` that only files have (layout, temporary files, strays,
//! truncation); the port's contract is checked by the conformance suite (`conformance.rs`).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tessera_blob::LocalBlobStore;
use tessera_core::{BlobId, BlobStore, ByteStream, Error};

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

fn store() -> (tempfile::TempDir, LocalBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).unwrap();
    (dir, store)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Waits for best-effort background removals.
async fn wait_empty(dir: &Path) {
    for _ in 0..200 {
        if entries(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} still holds {:?}", dir.display(), entries(dir));
}

/// Collects a stream: the bytes, the chunk sizes, and the first error if any.
async fn collect(mut s: ByteStream) -> (Vec<u8>, Vec<usize>, Option<std::io::Error>) {
    let (mut data, mut sizes) = (Vec::new(), Vec::new());
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => {
                sizes.push(b.len());
                data.extend_from_slice(&b);
            }
            Err(e) => {
                assert!(s.next().await.is_none(), "stream continues after an error");
                return (data, sizes, Some(e));
            }
        }
    }
    (data, sizes, None)
}

async fn put(store: &LocalBlobStore, data: &[u8], piece: usize) -> BlobId {
    let mut w = store.create().await.unwrap();
    for p in data.chunks(piece.max(1)) {
        w.write(Bytes::copy_from_slice(p)).await.unwrap();
    }
    let id = w.id().clone();
    let size = w.commit().await.unwrap();
    assert_eq!(size, data.len() as u64);
    id
}

async fn read_all(store: &LocalBlobStore, id: &BlobId, off: u64, len: u64) -> Vec<u8> {
    let (data, _, err) = collect(store.read(id, off, len).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    data
}

#[tokio::test]
async fn write_commit_read_ranges() {
    let (dir, store) = store();
    let data = pattern(3 * 1024 * 1024 + 12_345, 1);
    // Mixed piece sizes: tiny (coalesced) and large (written as-is).
    let mut w = store.create().await.unwrap();
    let mut at = 0;
    for (i, size) in [1usize, 100, 70_000, 5, 2_000_000, 3, 64 * 1024, 17]
        .iter()
        .cycle()
        .enumerate()
    {
        if at == data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        w.write(Bytes::copy_from_slice(&data[at..end]))
            .await
            .unwrap();
        if i % 3 == 0 {
            w.write(Bytes::new()).await.unwrap();
        }
        at = end;
    }
    // The id is fixed at create and names the temporary file.
    let id = w.id().clone();
    assert_eq!(id.as_str().len(), 32);
    assert_eq!(entries(&dir.path().join("tmp")), [format!("{id}.tmp")]);
    let size = w.commit().await.unwrap();
    assert_eq!(size, data.len() as u64);

    // Fanned out by the first two hex characters; nothing left in tmp.
    let path = dir
        .path()
        .join("blobs")
        .join(&id.as_str()[..2])
        .join(id.as_str());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), data.len() as u64);
    assert!(entries(&dir.path().join("tmp")).is_empty());

    let n = data.len() as u64;
    for (off, len) in [
        (0, n),
        (0, 10),
        (0, 600_000),
        (1_000_000, 1_500_001),
        (n - 7, 7),
        (n, 0),
        (0, 0),
        (5, 0),
    ] {
        let got = read_all(&store, &id, off, len).await;
        assert_eq!(
            got,
            &data[off as usize..(off + len) as usize],
            "range {off}+{len}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blob_streamed_in_chunks() {
    let (_dir, store) = store();
    let data = pattern(20 * 1024 * 1024 + 3, 7);
    let id = put(&store, &data, 1_000_003).await;
    let (got, sizes, err) = collect(store.read(&id, 0, data.len() as u64).await.unwrap()).await;
    assert!(err.is_none());
    assert!(got == data);
    assert!(sizes.len() >= 20, "{} chunks", sizes.len());
    assert!(sizes.iter().all(|&s| s > 0 && s <= 1024 * 1024));
    // An unaligned range inside.
    let got = read_all(&store, &id, 3_333_333, 9_999_999).await;
    assert!(got == data[3_333_333..3_333_333 + 9_999_999]);
}

#[tokio::test]
async fn drop_without_commit_removes_temp_file() {
    let (dir, store) = store();
    let tmp = dir.path().join("tmp");
    {
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from(pattern(10, 0))).await.unwrap();
        assert_eq!(entries(&tmp).len(), 1);
    }
    wait_empty(&tmp).await;
    {
        // Dropped with a batch write possibly in flight.
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from(pattern(3 * 1024 * 1024, 0)))
            .await
            .unwrap();
    }
    wait_empty(&tmp).await;
    assert!(store.list(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn list_ignores_strays() {
    let (dir, store) = store();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(put(&store, &pattern(1000 + i, i as u32), 100).await);
    }
    ids.sort();
    let blobs = dir.path().join("blobs");
    std::fs::write(blobs.join("README"), b"x").unwrap();
    std::fs::write(blobs.join("ab"), b"a file where a fan-out directory goes").unwrap();
    std::fs::create_dir_all(blobs.join("zz")).unwrap();
    std::fs::write(blobs.join("zz").join("not-a-blob"), b"x").unwrap();
    let fan = blobs.join(&ids[0].as_str()[..2]);
    std::fs::write(fan.join("0123"), b"wrong fan").unwrap();
    std::fs::write(fan.join(format!("{}.partial", ids[0])), b"x").unwrap();
    std::fs::create_dir(fan.join(format!("{}0", ids[0]))).unwrap();

    for limit in [1, 2, 100] {
        let mut listed = Vec::new();
        loop {
            let page = store.list(listed.last(), limit).await.unwrap();
            let full = page.len() == limit;
            listed.extend(page.into_iter().map(|b| b.id));
            if !full {
                break;
            }
        }
        assert_eq!(listed, ids, "limit {limit}");
    }
}

/// Blobs committed by earlier releases (random ids given at commit, same layout) are listed,
/// read and deleted as they are; leftovers with their temporary names are listed too.
#[tokio::test]
async fn data_dir_of_an_earlier_release_reads_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let old_id = "5f0c1e2d3b4a69788796a5b4c3d2e1f0";
    let fan = dir.path().join("blobs").join(&old_id[..2]);
    std::fs::create_dir_all(&fan).unwrap();
    std::fs::write(fan.join(old_id), b"written by an earlier release").unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    let old_tmp = "0123456789abcdef0123456789abcdef.tmp";
    std::fs::write(dir.path().join("tmp").join(old_tmp), b"half").unwrap();

    let store = LocalBlobStore::open(dir.path()).unwrap();
    let listed = store.list(None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].size), (old_id, 29));
    let id = BlobId(old_id.into());
    assert_eq!(
        read_all(&store, &id, 0, 29).await,
        b"written by an earlier release"
    );
    let temp = store.list_temporary(None, 10).await.unwrap();
    assert_eq!(temp.len(), 1);
    assert_eq!(temp[0].name, old_tmp);
    store.delete(&id).await.unwrap();
    assert!(!fan.join(old_id).exists());
}

#[tokio::test]
async fn short_blob_is_an_error_on_the_stream() {
    let (dir, store) = store();
    let data = pattern(1000, 3);
    let id = put(&store, &data, 1000).await;
    for (off, len) in [(0, 1001), (999, 2), (1001, 0), (u64::MAX, 1)] {
        let (got, _, err) = collect(store.read(&id, off, len).await.unwrap()).await;
        assert!(got.is_empty(), "range {off}+{len}");
        assert_eq!(
            err.map(|e| e.kind()),
            Some(std::io::ErrorKind::UnexpectedEof)
        );
    }

    // A blob truncated under a reader: the stream fails instead of ending short.
    let big = pattern(3 * 1024 * 1024, 4);
    let id = put(&store, &big, 1 << 20).await;
    let stream = store.read(&id, 0, big.len() as u64).await.unwrap();
    let path = dir
        .path()
        .join("blobs")
        .join(&id.as_str()[..2])
        .join(id.as_str());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1024 * 1024)
        .unwrap();
    let (got, _, err) = collect(stream).await;
    assert!(got.len() <= 1024 * 1024);
    assert_eq!(got, big[..got.len()]);
    assert_eq!(
        err.map(|e| e.kind()),
        Some(std::io::ErrorKind::UnexpectedEof)
    );
}

#[tokio::test]
async fn delete_temporary_removes_leftovers_of_any_shape() {
    let (dir, store) = store();
    let tmp = dir.path().join("tmp");
    std::fs::write(tmp.join("crash1.tmp"), b"left over").unwrap();
    std::fs::create_dir(tmp.join("somedir")).unwrap();
    std::fs::write(tmp.join("somedir").join("f"), b"x").unwrap();
    let id = put(&store, b"kept", 2).await;
    let names: Vec<String> = store
        .list_temporary(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["crash1.tmp", "somedir"]);
    for name in &names {
        store.delete_temporary(name).await.unwrap();
    }
    assert!(entries(&tmp).is_empty());
    // Names that could reach outside tmp/ are refused, and touch nothing.
    for bad in ["", ".", "..", "../blobs", "a/b"] {
        assert!(
            matches!(store.delete_temporary(bad).await, Err(Error::Internal(_))),
            "{bad:?}"
        );
    }
    assert_eq!(read_all(&store, &id, 0, 4).await, b"kept");
    // Reopening an existing store is fine.
    let again = LocalBlobStore::open(dir.path()).unwrap();
    assert_eq!(again.list(None, 10).await.unwrap()[0].id, id);
}
