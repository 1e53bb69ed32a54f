//! Objects outside multipart: buckets and keys checked, ranges, GetObjectAttributes paging, and
//! the start-up sweep of blobs that nothing references.

mod common;

use bytes::Bytes;

use common::*;
use tessera_core::objects::{GetObjectRequest, RangeRequest};
use tessera_core::{Error, WriteCondition};

async fn get_range(h: &Harness, key: &str, range: RangeRequest) -> tessera_core::Result<Vec<u8>> {
    let read = h
        .app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                range: Some(range),
                ..Default::default()
            },
            true,
        )
        .await?;
    Ok(read_all(read.body.unwrap()).await)
}

#[tokio::test]
async fn missing_bucket_is_no_such_bucket() {
    let h = open().await;
    let put = h
        .app
        .put_object(
            tessera_core::objects::PutObjectRequest {
                bucket: "nobucket".into(),
                key: "k".into(),
                ..Default::default()
            },
            body(b"x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(put, Error::NoSuchBucket), "{put:?}");
    let create = h
        .app
        .create_upload(tessera_core::multipart::CreateUploadRequest {
            bucket: "nobucket".into(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(create, Error::NoSuchBucket), "{create:?}");
    assert!(matches!(
        h.app.object_record("nobucket", "k").await,
        Err(Error::NoSuchBucket)
    ));
    assert!(matches!(
        h.app
            .delete_object("nobucket", "k", None, WriteCondition::default(), None)
            .await,
        Err(Error::NoSuchBucket)
    ));
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn keys_are_checked() {
    let h = open().await;
    let err = h.put_with("", b"x", Default::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let long = "k".repeat(1025);
    let err = h
        .put_with(&long, b"x", Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyTooLong), "{err:?}");
    h.put(&"k".repeat(1024), b"x").await;
}

#[tokio::test]
async fn bucket_with_an_object_cannot_be_deleted() {
    let h = open().await;
    h.put("k", b"x").await;
    assert!(matches!(
        h.app.delete_bucket(BUCKET).await,
        Err(Error::BucketNotEmpty)
    ));
    h.app
        .delete_object(BUCKET, "k", None, WriteCondition::default(), None)
        .await
        .unwrap();
    h.app.delete_bucket(BUCKET).await.unwrap();
    assert!(matches!(
        h.app.bucket(BUCKET).await,
        Err(Error::NoSuchBucket)
    ));
    assert!(matches!(
        h.app.create_bucket("bkt", "111122223333").await.map(|_| ()),
        Ok(())
    ));
    // us-east-1: its owner may create it again (S3's legacy rule).
    h.app.create_bucket("bkt", "111122223333").await.unwrap();
}

#[tokio::test]
async fn ranges_across_multipart_segments() {
    let h = open().await;
    let a = bytes_of(MIN_PART as usize, 1);
    let b = bytes_of(MIN_PART as usize, 2);
    let c = bytes_of(100, 3);
    let upload = h.create_upload("k").await;
    let ea = h.upload_part(&upload, 1, &a).await.etag;
    let eb = h.upload_part(&upload, 2, &b).await.etag;
    let ec = h.upload_part(&upload, 3, &c).await.etag;
    h.complete(&upload, &[(1, &ea), (2, &eb), (3, &ec)])
        .await
        .unwrap();
    let whole = [a, b, c].concat();
    let n = whole.len() as u64;
    let cases = [
        (
            RangeRequest::FromTo {
                first: 0,
                last: Some(0),
            },
            0..1,
        ),
        (
            RangeRequest::FromTo {
                first: MIN_PART - 5,
                last: Some(2 * MIN_PART + 5),
            },
            (MIN_PART - 5) as usize..(2 * MIN_PART + 6) as usize,
        ),
        (
            RangeRequest::FromTo {
                first: 10,
                last: None,
            },
            10..n as usize,
        ),
        (
            RangeRequest::FromTo {
                first: 10,
                last: Some(n + 100),
            },
            10..n as usize,
        ),
        (RangeRequest::Suffix(150), (n - 150) as usize..n as usize),
        (RangeRequest::Suffix(n + 10), 0..n as usize),
    ];
    for (range, want) in cases {
        assert_eq!(
            get_range(&h, "k", range).await.unwrap(),
            whole[want.clone()],
            "{range:?}"
        );
    }
    for bad in [
        RangeRequest::FromTo {
            first: n,
            last: None,
        },
        RangeRequest::Suffix(0),
    ] {
        assert!(
            matches!(get_range(&h, "k", bad).await, Err(Error::InvalidRange)),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn object_attributes_page_through_parts() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let mut named = Vec::new();
    for n in 1..=5u32 {
        let size = if n == 5 { 7 } else { MIN_PART as usize };
        let part = h.upload_part(&upload, n, &bytes_of(size, n as u8)).await;
        named.push((n, part.etag));
    }
    let refs: Vec<(u32, &str)> = named.iter().map(|(n, e)| (*n, e.as_str())).collect();
    h.complete(&upload, &refs).await.unwrap();
    let (obj, parts, truncated) = h
        .app
        .object_attributes(BUCKET, "k", None, 0, 2)
        .await
        .unwrap();
    assert_eq!(obj.parts_count, Some(5));
    assert_eq!(
        parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(truncated);
    let (_, parts, truncated) = h
        .app
        .object_attributes(BUCKET, "k", None, 3, 10)
        .await
        .unwrap();
    assert_eq!(
        parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert!(!truncated);
    assert_eq!(parts[1].size, 7);
    assert_eq!(parts[1].offset, 4 * MIN_PART);
    assert_eq!(parts[1].etag, md5_hex(&bytes_of(7, 5)));
    // A single-PUT object has no parts to list.
    h.put("single", b"x").await;
    let (_, parts, truncated) = h
        .app
        .object_attributes(BUCKET, "single", None, 0, 10)
        .await
        .unwrap();
    assert!(parts.is_empty() && !truncated);
}

#[tokio::test]
async fn sweep_removes_only_unreferenced_blobs() {
    let h = open().await;
    h.put("k", b"kept").await;
    let upload = h.create_upload("u").await;
    h.upload_part(&upload, 1, b"part").await;
    let referenced = h.blob_set().await;
    assert_eq!(referenced.len(), 2);
    // A blob committed but never recorded (a crash between the two steps).
    let mut w = h.blobs.create().await.unwrap();
    w.write(Bytes::from_static(b"orphan")).await.unwrap();
    let orphan = w.id().clone();
    w.commit().await.unwrap();
    assert!(h.blob_set().await.contains(&orphan));
    // The sweep removes only what was modified strictly before it started.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(h.app.sweep().await.unwrap().blobs, 1);
    assert_eq!(h.blob_set().await, referenced);
    assert_eq!(h.get_bytes("k").await.unwrap(), b"kept");
    assert_eq!(h.app.sweep().await.unwrap().blobs, 0);
}

#[tokio::test]
async fn overwrite_replaces_bytes_and_frees_the_old_blob() {
    let h = open().await;
    h.put("k", b"one").await;
    let old = h.object_blobs("k").await;
    let obj = h.put("k", b"two!").await;
    assert_eq!(obj.etag, md5_hex(b"two!"));
    assert_eq!(h.get_bytes("k").await.unwrap(), b"two!");
    let new = h.object_blobs("k").await;
    assert!(
        h.wait_blobs(|b| b.len() == 1 && b.contains(&new[0]) && !b.contains(&old[0]))
            .await
    );
}

#[tokio::test]
async fn part_number_on_a_single_put_object() {
    let h = open().await;
    let data = bytes_of(1234, 5);
    h.put("single", &data).await;
    let req = |part_number, range| GetObjectRequest {
        bucket: BUCKET.into(),
        key: "single".into(),
        part_number,
        range,
        ..Default::default()
    };
    let read = h.app.get_object(&req(Some(1), None), true).await.unwrap();
    assert!(read.part.is_none());
    assert_eq!(read_all(read.body.unwrap()).await, data);
    // HEAD: the same answer without a body.
    let head = h.app.get_object(&req(Some(1), None), false).await.unwrap();
    assert!(head.body.is_none());
    assert_eq!(head.object.size, 1234);
    assert!(matches!(
        h.app.get_object(&req(Some(2), None), true).await,
        Err(Error::InvalidPartNumber)
    ));
    let both = req(
        Some(1),
        Some(RangeRequest::FromTo {
            first: 0,
            last: Some(9),
        }),
    );
    assert!(matches!(
        h.app.get_object(&both, true).await,
        Err(Error::InvalidRequest(_))
    ));
}
