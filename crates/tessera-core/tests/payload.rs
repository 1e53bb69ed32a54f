//! Receiving a body into a blob: announced length, Content-MD5, checksum values (header or
//! trailer), size limits, and that a body that fails a check leaves no blob and no object.

mod common;

use bytes::Bytes;

use common::*;
use tessera_core::checksum::ChecksumAlgorithm;
use tessera_core::payload::{receive, receive_verified, BodyStream, PayloadChecks};
use tessera_core::Error;

use ChecksumAlgorithm::{Crc32, Crc32c, Crc64Nvme, Sha256};

#[tokio::test]
async fn receive_computes_size_md5_and_checksums() {
    let h = open().await;
    let data = bytes_of(4321, 8);
    let got = receive(
        h.blobs.as_ref(),
        body(&data),
        PayloadChecks {
            algorithm: Some(Sha256),
            ..Default::default()
        },
        u64::MAX,
    )
    .await
    .unwrap();
    assert_eq!(got.digest.size, 4321);
    assert_eq!(got.digest.md5, md5_raw(&data));
    assert_eq!(got.digest.etag(), md5_hex(&data));
    // CRC64NVME always, plus the algorithm asked for.
    assert_eq!(
        got.digest.checksum(Crc64Nvme).unwrap().digest,
        reference_digest(Crc64Nvme, &data)
    );
    assert_eq!(
        got.digest.checksum(Sha256).unwrap().digest,
        reference_digest(Sha256, &data)
    );
    assert!(got.client_checksum.is_none());
    let stored = read_all(h.blobs.read(&got.blob, 0, 4321).await.unwrap()).await;
    assert_eq!(stored, data);
}

#[tokio::test]
async fn dropped_verified_blob_leaves_nothing() {
    let h = open().await;
    let verified = receive_verified(
        h.blobs.as_ref(),
        body(b"uncommitted"),
        PayloadChecks::default(),
        u64::MAX,
    )
    .await
    .unwrap();
    drop(verified);
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn shorter_body_than_announced_is_incomplete_body() {
    let h = open().await;
    let err = h
        .put_with(
            "k",
            b"12345",
            PayloadChecks {
                length: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IncompleteBody), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn longer_body_than_announced_is_incomplete_body() {
    let h = open().await;
    let err = h
        .put_with(
            "k",
            b"123456789012",
            PayloadChecks {
                length: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IncompleteBody), "{err:?}");
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn announced_length_that_matches_is_accepted() {
    let h = open().await;
    let obj = h
        .put_with(
            "k",
            b"0123456789",
            PayloadChecks {
                length: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(obj.size, 10);
    assert_eq!(h.get_bytes("k").await.unwrap(), b"0123456789");
}

#[tokio::test]
async fn upload_part_length_mismatch_stores_no_part() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let err = h
        .upload_part_with(
            &upload,
            1,
            b"abc",
            PayloadChecks {
                length: Some(4),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IncompleteBody), "{err:?}");
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
    assert!(page.parts.is_empty());
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn announced_length_over_the_limit_is_entity_too_large_before_reading() {
    let h = open().await;
    // A body that fails if read: the limit is checked on the announced length first.
    let unread: BodyStream = Box::pin(futures::stream::once(async {
        Err(Error::Internal("the body must not be read".into()))
    }));
    let err = receive(
        h.blobs.as_ref(),
        unread,
        PayloadChecks {
            length: Some(101),
            ..Default::default()
        },
        100,
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::EntityTooLarge), "{err:?}");
}

#[tokio::test]
async fn body_over_the_limit_is_entity_too_large() {
    let h = open().await;
    let err = receive(
        h.blobs.as_ref(),
        body(&bytes_of(101, 1)),
        PayloadChecks::default(),
        100,
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::EntityTooLarge), "{err:?}");
    let ok = receive(
        h.blobs.as_ref(),
        body(&bytes_of(100, 1)),
        PayloadChecks::default(),
        100,
    )
    .await
    .unwrap();
    assert_eq!(ok.digest.size, 100);
}

#[tokio::test]
async fn body_read_error_fails_the_put() {
    let h = open().await;
    let failing: BodyStream = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from_static(b"some bytes")),
        Err(Error::Body("connection reset".into())),
    ]));
    let err = h
        .app
        .put_object(
            tessera_core::objects::PutObjectRequest {
                bucket: BUCKET.into(),
                key: "k".into(),
                ..Default::default()
            },
            failing,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Body(_)), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn right_content_md5_is_accepted() {
    let h = open().await;
    let data = bytes_of(999, 2);
    let obj = h
        .put_with(
            "k",
            &data,
            PayloadChecks {
                content_md5: Some(md5_b64(&data)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(obj.etag, md5_hex(&data));
}

#[tokio::test]
async fn wrong_content_md5_is_bad_digest() {
    let h = open().await;
    let data = bytes_of(999, 2);
    let err = h
        .put_with(
            "k",
            &data,
            PayloadChecks {
                content_md5: Some(md5_b64(b"other")),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    assert!(h.blob_set().await.is_empty());
}

#[tokio::test]
async fn malformed_content_md5_is_invalid_digest() {
    let h = open().await;
    for bad in ["not base64!", &b64(b"short"), &b64(&[0u8; 17])] {
        let err = h
            .put_with(
                "k",
                b"data",
                PayloadChecks {
                    content_md5: Some(bad.to_string()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidDigest), "{bad}: {err:?}");
    }
}

#[tokio::test]
async fn upload_part_with_wrong_content_md5_is_bad_digest() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let err = h
        .upload_part_with(
            &upload,
            1,
            b"part bytes",
            PayloadChecks {
                content_md5: Some(md5_b64(b"other")),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
    assert!(page.parts.is_empty());
    // With the right one, the part is stored.
    let part = h
        .upload_part_with(
            &upload,
            1,
            b"part bytes",
            PayloadChecks {
                content_md5: Some(md5_b64(b"part bytes")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(part.etag, md5_hex(b"part bytes"));
}

#[tokio::test]
async fn trailer_checksum_is_verified() {
    let h = open().await;
    let data = bytes_of(3000, 6);
    let trailer = |value: tessera_core::checksum::ChecksumValue| PayloadChecks {
        algorithm: Some(value.algorithm),
        trailer: Some(Box::new(move || Ok(Some(value)))),
        ..Default::default()
    };
    let obj = h
        .put_with("good", &data, trailer(reference_value(Crc32c, &data)))
        .await
        .unwrap();
    assert_eq!(obj.checksum.unwrap().value, reference_b64(Crc32c, &data));
    let err = h
        .put_with("bad", &data, trailer(reference_value(Crc32c, b"x")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "bad").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test]
async fn trailer_of_an_unannounced_algorithm_is_invalid_request() {
    let h = open().await;
    let data = bytes_of(100, 6);
    let value = reference_value(Crc32, &data);
    let checks = PayloadChecks {
        // Announced CRC32C, sent CRC32.
        algorithm: Some(Crc32c),
        trailer: Some(Box::new(move || Ok(Some(value)))),
        ..Default::default()
    };
    let err = h.put_with("k", &data, checks).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn empty_trailer_keeps_the_computed_checksum() {
    let h = open().await;
    let data = bytes_of(100, 6);
    let checks = PayloadChecks {
        algorithm: Some(Crc32),
        trailer: Some(Box::new(|| Ok(None))),
        ..Default::default()
    };
    let obj = h.put_with("k", &data, checks).await.unwrap();
    // No client value: the object reports the CRC64NVME it always computes.
    let checksum = obj.checksum.unwrap();
    assert_eq!(checksum.algorithm, Crc64Nvme);
    assert_eq!(checksum.value, reference_b64(Crc64Nvme, &data));
}

#[tokio::test]
async fn empty_body_is_an_empty_object() {
    let h = open().await;
    let obj = h.put("empty", b"").await;
    assert_eq!(obj.size, 0);
    assert_eq!(obj.etag, md5_hex(b""));
    assert_eq!(h.get_bytes("empty").await.unwrap(), b"");
}
