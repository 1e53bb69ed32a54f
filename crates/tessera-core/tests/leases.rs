//! Read leases: a GET stream opened before an overwrite or a delete reads the old bytes to the
//! end, and the old blobs are deleted only once that reader is dropped.

mod common;

use std::time::Duration;

use futures::StreamExt;

use common::*;
use tessera_core::objects::GetObjectRequest;
use tessera_core::{BlobId, ByteStream, Error, WriteCondition};

/// A three-part multipart object at `key`; returns its bytes.
async fn multipart_object(h: &Harness, key: &str) -> Vec<u8> {
    let upload = h.create_upload(key).await;
    let parts = [
        bytes_of(MIN_PART as usize * 2, 1),
        bytes_of(MIN_PART as usize * 2, 2),
        bytes_of(MIN_PART as usize, 3),
    ];
    let mut named = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        named.push((
            i as u32 + 1,
            h.upload_part(&upload, i as u32 + 1, p).await.etag,
        ));
    }
    let named: Vec<(u32, &str)> = named.iter().map(|(n, e)| (*n, e.as_str())).collect();
    h.complete(&upload, &named).await.unwrap();
    parts.concat()
}

async fn open_stream(h: &Harness, key: &str) -> ByteStream {
    h.app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap()
        .body
        .unwrap()
}

/// What the old blobs' fate would be by now if nothing held them.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn all_present(h: &Harness, ids: &[BlobId]) -> bool {
    let set = h.blob_set().await;
    ids.iter().all(|id| set.contains(id))
}

async fn none_present(h: &Harness, ids: &[BlobId]) -> bool {
    h.wait_blobs(|set| ids.iter().all(|id| !set.contains(id)))
        .await
}

#[tokio::test]
async fn overwritten_object_is_deleted_when_nobody_reads_it() {
    let h = open().await;
    multipart_object(&h, "k").await;
    let old = h.object_blobs("k").await;
    assert_eq!(old.len(), 3);
    h.put("k", b"new").await;
    assert!(none_present(&h, &old).await, "freed blobs are deleted");
}

#[tokio::test]
async fn reader_started_before_overwrite_reads_the_old_bytes() {
    let h = open().await;
    let old_bytes = multipart_object(&h, "k").await;
    let old = h.object_blobs("k").await;

    let mut stream = open_stream(&h, "k").await;
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    h.put("k", b"new").await;
    settle().await;
    assert!(all_present(&h, &old).await, "blobs held while being read");

    let mut got = first.to_vec();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.expect("old bytes still readable"));
    }
    assert_eq!(got, old_bytes);
    assert_eq!(h.get_bytes("k").await.unwrap(), b"new");
    // Still held until the stream itself is dropped.
    settle().await;
    assert!(all_present(&h, &old).await);
    drop(stream);
    assert!(
        none_present(&h, &old).await,
        "deleted once the reader let go"
    );
}

#[tokio::test]
async fn reader_started_before_delete_reads_the_old_bytes() {
    let h = open().await;
    let old_bytes = multipart_object(&h, "k").await;
    let old = h.object_blobs("k").await;

    let stream = open_stream(&h, "k").await;
    // Not a byte read yet: even the first blob is opened after the delete.
    h.app
        .delete_object(BUCKET, "k", None, WriteCondition::default(), None)
        .await
        .unwrap();
    settle().await;
    assert!(all_present(&h, &old).await);
    assert!(matches!(h.get_bytes("k").await, Err(Error::NoSuchKey)));
    assert_eq!(read_all(stream).await, old_bytes);
    assert!(none_present(&h, &old).await);
}

#[tokio::test]
async fn single_put_object_is_held_by_its_reader() {
    let h = open().await;
    let data = bytes_of(5000, 4);
    h.put("k", &data).await;
    let old = h.object_blobs("k").await;
    assert_eq!(old.len(), 1);
    let stream = open_stream(&h, "k").await;
    h.put("k", b"other").await;
    settle().await;
    assert!(all_present(&h, &old).await);
    assert_eq!(read_all(stream).await, data);
    assert!(none_present(&h, &old).await);
}

#[tokio::test]
async fn two_readers_hold_the_blobs_until_both_are_done() {
    let h = open().await;
    let old_bytes = multipart_object(&h, "k").await;
    let old = h.object_blobs("k").await;
    let s1 = open_stream(&h, "k").await;
    let s2 = open_stream(&h, "k").await;
    h.put("k", b"new").await;
    assert_eq!(read_all(s1).await, old_bytes);
    settle().await;
    assert!(
        all_present(&h, &old).await,
        "the second reader still holds them"
    );
    assert_eq!(read_all(s2).await, old_bytes);
    assert!(none_present(&h, &old).await);
}

#[tokio::test]
async fn range_reader_holds_only_what_it_reads() {
    let h = open().await;
    let old_bytes = multipart_object(&h, "k").await;
    let old = h.object_blobs("k").await;
    // A range inside part 2 only.
    let start = MIN_PART * 2 + 10;
    let end = MIN_PART * 3;
    let read = h
        .app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: "k".into(),
                range: Some(tessera_core::objects::RangeRequest::FromTo {
                    first: start,
                    last: Some(end),
                }),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
    let stream = read.body.unwrap();
    h.put("k", b"new").await;
    // Parts 1 and 3 are not read: they go now; part 2 waits for the reader.
    assert!(none_present(&h, &[old[0].clone(), old[2].clone()]).await);
    assert!(all_present(&h, &old[1..2]).await);
    assert_eq!(
        read_all(stream).await,
        old_bytes[start as usize..=end as usize]
    );
    assert!(none_present(&h, &old[1..2]).await);
}
