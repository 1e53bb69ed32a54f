//! Conditional writes (If-None-Match `*`, If-Match) on PutObject, CompleteMultipartUpload,
//! CopyObject and DeleteObject, and the read conditions of GET and copy sources.

mod common;

use common::*;
use tessera_core::conditions::ReadConditions;
use tessera_core::objects::{CopyObjectRequest, GetObjectRequest, PutObjectRequest};
use tessera_core::payload::PayloadChecks;
use tessera_core::{Error, ObjectRecord, UploadRecord, WriteCondition};

fn if_none_match_any() -> WriteCondition {
    WriteCondition {
        if_none_match_any: true,
        ..Default::default()
    }
}

fn if_match(etag: &str) -> WriteCondition {
    WriteCondition {
        if_match: Some(etag.to_string()),
        ..Default::default()
    }
}

async fn put_if(
    h: &Harness,
    key: &str,
    data: &[u8],
    condition: WriteCondition,
) -> tessera_core::Result<ObjectRecord> {
    h.app
        .put_object(
            PutObjectRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                checks: PayloadChecks::default(),
                condition,
                ..Default::default()
            },
            body(data),
        )
        .await
}

/// An upload of `key` with one part holding `data`; returns it and the part ETag.
async fn one_part_upload(h: &Harness, key: &str, data: &[u8]) -> (UploadRecord, String) {
    let upload = h.create_upload(key).await;
    let part = h.upload_part(&upload, 1, data).await;
    (upload, part.etag)
}

fn copy(source_key: &str, key: &str) -> CopyObjectRequest {
    CopyObjectRequest {
        source_bucket: BUCKET.into(),
        source_key: source_key.into(),
        bucket: BUCKET.into(),
        key: key.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn put_if_none_match_star() {
    let h = open().await;
    put_if(&h, "k", b"first", if_none_match_any())
        .await
        .unwrap();
    let before = h.blob_set().await;
    let err = put_if(&h, "k", b"second", if_none_match_any())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert_eq!(h.get_bytes("k").await.unwrap(), b"first");
    // The refused body's blob is deleted again.
    assert!(h.wait_blobs(|b| *b == before).await);
}

#[tokio::test]
async fn put_if_match() {
    let h = open().await;
    let first = h.put("k", b"first").await;
    let err = put_if(&h, "k", b"x", if_match(&md5_hex(b"other")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert_eq!(h.get_bytes("k").await.unwrap(), b"first");
    // Quoted ETags and `*` match.
    put_if(&h, "k", b"second", if_match(&format!("\"{}\"", first.etag)))
        .await
        .unwrap();
    put_if(&h, "k", b"third", if_match("*")).await.unwrap();
    assert_eq!(h.get_bytes("k").await.unwrap(), b"third");
}

#[tokio::test]
async fn put_if_match_on_missing_key_is_no_such_key() {
    let h = open().await;
    let err = put_if(&h, "k", b"x", if_match("*")).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchKey), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test]
async fn concurrent_puts_if_none_match_have_one_winner() {
    let h = open().await;
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 100]).collect();
    let results = futures::future::join_all(
        bodies
            .iter()
            .map(|b| put_if(&h, "k", b, if_none_match_any())),
    )
    .await;
    let winners: Vec<&ObjectRecord> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::PreconditionFailed), "{e:?}");
        }
    }
    let stored = h.app.object_record(BUCKET, "k").await.unwrap();
    assert_eq!(stored.etag, winners[0].etag);
}

#[tokio::test]
async fn complete_if_none_match_star() {
    let h = open().await;
    let (upload, etag) = one_part_upload(&h, "k", b"multipart").await;
    h.put("k", b"already here").await;
    let mut req = complete_request(&upload, &[(1, &etag)]);
    req.condition = if_none_match_any();
    let err = h.app.complete_upload(req.clone()).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert_eq!(h.get_bytes("k").await.unwrap(), b"already here");
    // The upload is still in progress; once the key is gone the same Complete succeeds.
    h.app
        .delete_object(BUCKET, "k", None, WriteCondition::default(), None)
        .await
        .unwrap();
    h.app.complete_upload(req).await.unwrap();
    assert_eq!(h.get_bytes("k").await.unwrap(), b"multipart");
}

#[tokio::test]
async fn complete_if_match() {
    let h = open().await;
    let (upload, etag) = one_part_upload(&h, "k", b"multipart").await;
    let current = h.put("k", b"current").await;
    let mut req = complete_request(&upload, &[(1, &etag)]);
    req.condition = if_match(&md5_hex(b"stale"));
    let err = h.app.complete_upload(req.clone()).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert_eq!(h.get_bytes("k").await.unwrap(), b"current");
    req.condition = if_match(&current.etag);
    h.app.complete_upload(req).await.unwrap();
    assert_eq!(h.get_bytes("k").await.unwrap(), b"multipart");
}

#[tokio::test]
async fn complete_if_match_on_missing_key_is_no_such_key() {
    let h = open().await;
    let (upload, etag) = one_part_upload(&h, "k", b"multipart").await;
    let mut req = complete_request(&upload, &[(1, &etag)]);
    req.condition = if_match("*");
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchKey), "{err:?}");
}

#[tokio::test]
async fn copy_if_none_match_star() {
    let h = open().await;
    h.put("src", b"source").await;
    h.put("dst", b"dest").await;
    let mut req = copy("src", "dst");
    req.condition = if_none_match_any();
    let err = h.app.copy_object(req).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert_eq!(h.get_bytes("dst").await.unwrap(), b"dest");
    let mut req = copy("src", "new");
    req.condition = if_none_match_any();
    h.app.copy_object(req).await.unwrap();
    assert_eq!(h.get_bytes("new").await.unwrap(), b"source");
}

#[tokio::test]
async fn copy_if_match() {
    let h = open().await;
    h.put("src", b"source").await;
    let dst = h.put("dst", b"dest").await;
    let mut req = copy("src", "dst");
    req.condition = if_match(&md5_hex(b"stale"));
    let err = h.app.copy_object(req).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    let mut req = copy("src", "dst");
    req.condition = if_match(&dst.etag);
    let obj = h.app.copy_object(req).await.unwrap();
    assert_eq!(obj.etag, md5_hex(b"source"));
    assert_eq!(h.get_bytes("dst").await.unwrap(), b"source");
}

#[tokio::test]
async fn copy_source_conditions() {
    let h = open().await;
    let src = h.put("src", b"source").await;
    let mut req = copy("src", "dst");
    req.source_conditions = ReadConditions {
        if_match: Some(md5_hex(b"other")),
        ..Default::default()
    };
    let err = h.app.copy_object(req).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    // A copy source's If-None-Match that matches is 412, not 304.
    let mut req = copy("src", "dst");
    req.source_conditions = ReadConditions {
        if_none_match: Some(src.etag.clone()),
        ..Default::default()
    };
    let err = h.app.copy_object(req).await.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "dst").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test]
async fn copy_of_a_multipart_object_keeps_its_bytes_etag_and_parts() {
    let h = open().await;
    let a = bytes_of(MIN_PART as usize, 1);
    let b = bytes_of(10, 2);
    let upload = h.create_upload("src").await;
    let ea = h.upload_part(&upload, 1, &a).await.etag;
    let eb = h.upload_part(&upload, 2, &b).await.etag;
    let src = h.complete(&upload, &[(1, &ea), (2, &eb)]).await.unwrap();
    let obj = h.app.copy_object(copy("src", "dst")).await.unwrap();
    assert_eq!(obj.etag, src.etag);
    assert_eq!(obj.parts_count, Some(2));
    assert_eq!(h.get_bytes("dst").await.unwrap(), [a, b].concat());
    // The copy has blobs of its own: deleting the source leaves it readable.
    h.app
        .delete_object(BUCKET, "src", None, WriteCondition::default(), None)
        .await
        .unwrap();
    assert_eq!(
        h.get_bytes("dst").await.unwrap().len(),
        MIN_PART as usize + 10
    );
}

#[tokio::test]
async fn copy_onto_itself_needs_new_metadata() {
    let h = open().await;
    h.put("k", b"data").await;
    let err = h.app.copy_object(copy("k", "k")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    let mut req = copy("k", "k");
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("m".to_string(), "v".to_string());
    req.replace_metadata = Some((Default::default(), meta.clone()));
    let obj = h.app.copy_object(req).await.unwrap();
    assert_eq!(obj.user_metadata, meta);
    assert_eq!(h.get_bytes("k").await.unwrap(), b"data");
}

#[tokio::test]
async fn delete_if_match() {
    let h = open().await;
    let obj = h.put("k", b"data").await;
    let err = h
        .app
        .delete_object(BUCKET, "k", None, if_match(&md5_hex(b"other")), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    let removed = h
        .app
        .delete_object(BUCKET, "k", None, if_match(&obj.etag), None)
        .await
        .unwrap();
    // A bucket never versioned: no version id, no marker.
    assert_eq!(removed, Default::default());
    assert!(matches!(h.get_bytes("k").await, Err(Error::NoSuchKey)));
    // Deleting a missing key is not an error.
    h.app
        .delete_object(BUCKET, "k", None, WriteCondition::default(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn get_conditions() {
    let h = open().await;
    let obj = h.put("k", b"data").await;
    let get = |conditions: ReadConditions| {
        let h = &h;
        async move {
            h.app
                .get_object(
                    &GetObjectRequest {
                        bucket: BUCKET.into(),
                        key: "k".into(),
                        conditions,
                        ..Default::default()
                    },
                    false,
                )
                .await
        }
    };
    get(ReadConditions {
        if_match: Some(obj.etag.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = get(ReadConditions {
        if_match: Some(md5_hex(b"other")),
        ..Default::default()
    })
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::PreconditionFailed), "{err:?}");
    let err = get(ReadConditions {
        if_none_match: Some(format!("\"{}\"", obj.etag)),
        ..Default::default()
    })
    .await
    .err()
    .unwrap();
    assert!(
        matches!(&err, Error::NotModified { etag, .. } if *etag == obj.etag),
        "{err:?}"
    );
    // If-Match that holds wins over a failing If-Unmodified-Since.
    get(ReadConditions {
        if_match: Some(obj.etag.clone()),
        if_unmodified_since: Some(obj.last_modified - 10_000),
        ..Default::default()
    })
    .await
    .unwrap();
}
