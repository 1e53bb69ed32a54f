//! Checksums: COMPOSITE and FULL_OBJECT multipart checksums per algorithm, the rules of Create
//! and Complete for uploads with an algorithm, and BadDigest on PutObject / UploadPart.
//! Expected values are computed by the test's own reference code (common::reference_digest).

mod common;

use common::*;
use tessera_core::checksum::{compute_checksum, ChecksumAlgorithm, ChecksumType};
use tessera_core::multipart::CreateUploadRequest;
use tessera_core::objects::GetObjectRequest;
use tessera_core::payload::PayloadChecks;
use tessera_core::{Error, ObjectChecksum, UploadRecord};

use ChecksumAlgorithm::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};

const CRCS: [ChecksumAlgorithm; 3] = [Crc32, Crc32c, Crc64Nvme];
const COMPOSITE_OK: [ChecksumAlgorithm; 4] = [Crc32, Crc32c, Sha1, Sha256];

/// Part bodies: two full parts and a short last one.
fn part_data() -> Vec<Vec<u8>> {
    vec![
        bytes_of(MIN_PART as usize, 11),
        bytes_of(MIN_PART as usize + 300, 12),
        bytes_of(123, 13),
    ]
}

async fn create(
    h: &Harness,
    key: &str,
    algorithm: Option<ChecksumAlgorithm>,
    kind: Option<ChecksumType>,
) -> tessera_core::Result<UploadRecord> {
    h.app
        .create_upload(CreateUploadRequest {
            bucket: BUCKET.into(),
            key: key.into(),
            checksum_algorithm: algorithm,
            checksum_type: kind,
            ..Default::default()
        })
        .await
}

/// Uploads every part with its checksum value sent by the "client".
async fn upload_with_checksums(h: &Harness, upload: &UploadRecord, alg: ChecksumAlgorithm) {
    for (i, d) in part_data().iter().enumerate() {
        let checks = PayloadChecks {
            checksum: Some(reference_value(alg, d)),
            ..Default::default()
        };
        h.upload_part_with(upload, i as u32 + 1, d, checks)
            .await
            .unwrap();
    }
}

/// A Complete naming every part of [`part_data`], repeating each part's `alg` checksum if asked.
fn complete_all(
    upload: &UploadRecord,
    alg: Option<ChecksumAlgorithm>,
) -> tessera_core::multipart::CompleteUploadRequest {
    let data = part_data();
    let etags: Vec<String> = data.iter().map(|d| md5_hex(d)).collect();
    let named: Vec<(u32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32 + 1, e.as_str()))
        .collect();
    let mut req = complete_request(upload, &named);
    if let Some(alg) = alg {
        for (p, d) in req.parts.iter_mut().zip(&data) {
            p.checksums = vec![reference_value(alg, d)];
        }
    }
    req
}

fn parts_refs(data: &[Vec<u8>]) -> Vec<&[u8]> {
    data.iter().map(Vec::as_slice).collect()
}

#[test]
fn reference_crcs_match_published_check_values() {
    // The standard check input "123456789" (CRC catalogue check values).
    let check = b"123456789";
    assert_eq!(reference_digest(Crc32, check), 0xCBF4_3926u32.to_be_bytes());
    assert_eq!(
        reference_digest(Crc32c, check),
        0xE306_9283u32.to_be_bytes()
    );
    assert_eq!(
        reference_digest(Crc64Nvme, check),
        0xAE8B_1486_0A79_9888u64.to_be_bytes()
    );
}

#[test]
fn domain_checksums_match_reference() {
    for alg in ChecksumAlgorithm::ALL {
        for len in [0usize, 1, 7, 64, 1000, 4097] {
            let data = bytes_of(len, len as u8);
            assert_eq!(
                compute_checksum(alg, &data).digest,
                reference_digest(alg, &data),
                "{alg:?} over {len} bytes"
            );
        }
    }
}

#[tokio::test]
async fn create_implies_the_checksum_type() {
    let h = open().await;
    let u = create(&h, "a", Some(Crc64Nvme), None).await.unwrap();
    assert_eq!(u.checksum_type, Some(ChecksumType::FullObject));
    for alg in COMPOSITE_OK {
        let u = create(&h, "b", Some(alg), None).await.unwrap();
        assert_eq!(u.checksum_algorithm, Some(alg));
        assert_eq!(u.checksum_type, Some(ChecksumType::Composite), "{alg:?}");
    }
    let u = create(&h, "c", None, None).await.unwrap();
    assert_eq!((u.checksum_algorithm, u.checksum_type), (None, None));
}

#[tokio::test]
async fn create_refuses_full_object_with_sha_and_composite_with_crc64nvme() {
    let h = open().await;
    for (alg, kind) in [
        (Some(Sha1), Some(ChecksumType::FullObject)),
        (Some(Sha256), Some(ChecksumType::FullObject)),
        (Some(Crc64Nvme), Some(ChecksumType::Composite)),
        (None, Some(ChecksumType::FullObject)),
        (None, Some(ChecksumType::Composite)),
    ] {
        let err = create(&h, "k", alg, kind).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(_)),
            "{alg:?} {kind:?}: {err:?}"
        );
    }
    // Allowed pairs.
    for alg in CRCS {
        create(&h, "k", Some(alg), Some(ChecksumType::FullObject))
            .await
            .unwrap();
    }
    for alg in COMPOSITE_OK {
        create(&h, "k", Some(alg), Some(ChecksumType::Composite))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn composite_checksum_per_algorithm() {
    let h = open().await;
    let data = part_data();
    for alg in COMPOSITE_OK {
        let key = format!("composite-{}", alg.as_str());
        let upload = create(&h, &key, Some(alg), Some(ChecksumType::Composite))
            .await
            .unwrap();
        upload_with_checksums(&h, &upload, alg).await;
        let obj = h
            .app
            .complete_upload(complete_all(&upload, Some(alg)))
            .await
            .unwrap();
        let want = composite_b64(alg, &parts_refs(&data));
        assert!(want.ends_with("-3"));
        assert_eq!(
            obj.checksum,
            Some(ObjectChecksum {
                algorithm: alg,
                checksum_type: ChecksumType::Composite,
                value: want,
            }),
            "{alg:?}"
        );
        let stored = h.app.object_record(BUCKET, &key).await.unwrap();
        assert_eq!(stored.checksum, obj.checksum);
    }
}

#[tokio::test]
async fn full_object_checksum_per_crc_is_the_crc_of_the_whole_object() {
    let h = open().await;
    let data = part_data();
    let whole = data.concat();
    for alg in CRCS {
        let key = format!("full-{}", alg.as_str());
        let upload = create(&h, &key, Some(alg), Some(ChecksumType::FullObject))
            .await
            .unwrap();
        upload_with_checksums(&h, &upload, alg).await;
        // FULL_OBJECT needs no part checksums in the Complete.
        let obj = h
            .app
            .complete_upload(complete_all(&upload, None))
            .await
            .unwrap();
        let checksum = obj.checksum.expect("a checksum");
        assert_eq!(checksum.algorithm, alg);
        assert_eq!(checksum.checksum_type, ChecksumType::FullObject);
        assert_eq!(checksum.value, reference_b64(alg, &whole), "{alg:?}");
        assert!(!checksum.value.contains('-'));
        assert_eq!(h.get_bytes(&key).await.unwrap(), whole);
    }
}

#[tokio::test]
async fn full_object_complete_accepts_the_right_object_checksum() {
    let h = open().await;
    let whole = part_data().concat();
    for alg in CRCS {
        let upload = create(&h, "k", Some(alg), Some(ChecksumType::FullObject))
            .await
            .unwrap();
        upload_with_checksums(&h, &upload, alg).await;
        let mut req = complete_all(&upload, Some(alg));
        req.object_checksum = Some((alg, reference_b64(alg, &whole)));
        req.checksum_type = Some(ChecksumType::FullObject);
        let obj = h.app.complete_upload(req).await.unwrap();
        assert_eq!(obj.checksum.unwrap().value, reference_b64(alg, &whole));
    }
}

#[tokio::test]
async fn complete_with_wrong_object_checksum_is_bad_digest() {
    let h = open().await;
    let upload = create(&h, "k", Some(Crc32), Some(ChecksumType::FullObject))
        .await
        .unwrap();
    upload_with_checksums(&h, &upload, Crc32).await;
    let mut req = complete_all(&upload, None);
    req.object_checksum = Some((Crc32, reference_b64(Crc32, b"not the object")));
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    // The upload survives and completes without the wrong value.
    h.app
        .complete_upload(complete_all(&upload, None))
        .await
        .unwrap();
}

#[tokio::test]
async fn composite_complete_accepts_its_value_with_suffix_and_refuses_another() {
    let h = open().await;
    let data = part_data();
    let upload = create(&h, "k", Some(Sha256), None).await.unwrap();
    upload_with_checksums(&h, &upload, Sha256).await;
    let mut bad = complete_all(&upload, Some(Sha256));
    bad.object_checksum = Some((Sha256, format!("{}-3", reference_b64(Sha256, b"x"))));
    let err = h.app.complete_upload(bad).await.unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
    let mut good = complete_all(&upload, Some(Sha256));
    let want = composite_b64(Sha256, &parts_refs(&data));
    good.object_checksum = Some((Sha256, want.clone()));
    let obj = h.app.complete_upload(good).await.unwrap();
    assert_eq!(obj.checksum.unwrap().value, want);
}

#[tokio::test]
async fn composite_complete_without_part_checksums_is_invalid_request() {
    let h = open().await;
    let upload = create(&h, "k", Some(Crc32c), Some(ChecksumType::Composite))
        .await
        .unwrap();
    upload_with_checksums(&h, &upload, Crc32c).await;
    let err = h
        .app
        .complete_upload(complete_all(&upload, None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    // One part missing its checksum is enough.
    let mut req = complete_all(&upload, Some(Crc32c));
    req.parts[2].checksums.clear();
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn complete_with_wrong_part_checksum_is_invalid_part() {
    let h = open().await;
    let upload = create(&h, "k", Some(Sha1), None).await.unwrap();
    upload_with_checksums(&h, &upload, Sha1).await;
    let mut req = complete_all(&upload, Some(Sha1));
    req.parts[1].checksums = vec![reference_value(Sha1, b"other bytes")];
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
}

#[tokio::test]
async fn checksum_upload_needs_consecutive_part_numbers() {
    for kind in [ChecksumType::Composite, ChecksumType::FullObject] {
        let h = open().await;
        let upload = create(&h, "k", Some(Crc32), Some(kind)).await.unwrap();
        let a = bytes_of(MIN_PART as usize, 1);
        let b = bytes_of(10, 2);
        for (n, d) in [(1u32, &a), (3, &b)] {
            let checks = PayloadChecks {
                checksum: Some(reference_value(Crc32, d)),
                ..Default::default()
            };
            h.upload_part_with(&upload, n, d, checks).await.unwrap();
        }
        let mut req = complete_request(&upload, &[(1, &md5_hex(&a)), (3, &md5_hex(&b))]);
        req.parts[0].checksums = vec![reference_value(Crc32, &a)];
        req.parts[1].checksums = vec![reference_value(Crc32, &b)];
        let err = h.app.complete_upload(req).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{kind:?}: {err:?}");
    }
}

#[tokio::test]
async fn complete_with_other_checksum_type_is_invalid_request() {
    let h = open().await;
    let upload = create(&h, "k", Some(Crc32), Some(ChecksumType::Composite))
        .await
        .unwrap();
    upload_with_checksums(&h, &upload, Crc32).await;
    let mut req = complete_all(&upload, Some(Crc32));
    req.checksum_type = Some(ChecksumType::FullObject);
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn upload_part_with_wrong_checksum_is_bad_digest() {
    let h = open().await;
    for alg in ChecksumAlgorithm::ALL {
        let upload = create(&h, "k", Some(alg), None).await.unwrap();
        let data = bytes_of(200, 5);
        let checks = PayloadChecks {
            checksum: Some(reference_value(alg, b"something else")),
            ..Default::default()
        };
        let err = h
            .upload_part_with(&upload, 1, &data, checks)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadDigest { .. }), "{alg:?}: {err:?}");
        let page = h
            .app
            .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
            .await
            .unwrap();
        assert!(page.parts.is_empty(), "no part stored");
    }
    assert!(h.wait_blobs(|b| b.is_empty()).await, "no blob left behind");
}

#[tokio::test]
async fn upload_part_with_checksum_of_another_algorithm_is_rejected() {
    let h = open().await;
    let upload = create(&h, "k", Some(Crc32), None).await.unwrap();
    let data = bytes_of(200, 5);
    let checks = PayloadChecks {
        checksum: Some(reference_value(Sha256, &data)),
        ..Default::default()
    };
    let err = h
        .upload_part_with(&upload, 1, &data, checks)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn part_gets_the_upload_algorithm_checksum_without_a_client_value() {
    let h = open().await;
    let data = part_data();
    let upload = create(&h, "k", Some(Sha256), None).await.unwrap();
    for (i, d) in data.iter().enumerate() {
        let part = h.upload_part(&upload, i as u32 + 1, d).await;
        assert!(part.checksums.contains(&reference_value(Sha256, d)));
        assert!(part.checksums.contains(&reference_value(Crc64Nvme, d)));
    }
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
    for (p, d) in page.parts.iter().zip(&data) {
        assert!(p.checksums.contains(&reference_value(Sha256, d)));
    }
    let obj = h
        .app
        .complete_upload(complete_all(&upload, Some(Sha256)))
        .await
        .unwrap();
    assert_eq!(
        obj.checksum.unwrap().value,
        composite_b64(Sha256, &parts_refs(&data))
    );
}

#[tokio::test]
async fn upload_without_algorithm_gets_crc64nvme_full_object() {
    let h = open().await;
    let data = part_data();
    let upload = create(&h, "k", None, None).await.unwrap();
    for (i, d) in data.iter().enumerate() {
        // A client may still send a part checksum of its own (boto3 sends CRC32).
        let checks = PayloadChecks {
            checksum: Some(reference_value(Crc32, d)),
            ..Default::default()
        };
        h.upload_part_with(&upload, i as u32 + 1, d, checks)
            .await
            .unwrap();
    }
    let obj = h
        .app
        .complete_upload(complete_all(&upload, None))
        .await
        .unwrap();
    assert_eq!(
        obj.checksum,
        Some(ObjectChecksum {
            algorithm: Crc64Nvme,
            checksum_type: ChecksumType::FullObject,
            value: reference_b64(Crc64Nvme, &data.concat()),
        })
    );
}

#[tokio::test]
async fn get_part_number_returns_the_part_checksum() {
    let h = open().await;
    let data = part_data();
    let upload = create(&h, "k", Some(Crc32c), None).await.unwrap();
    upload_with_checksums(&h, &upload, Crc32c).await;
    h.app
        .complete_upload(complete_all(&upload, Some(Crc32c)))
        .await
        .unwrap();
    let read = h
        .app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: "k".into(),
                part_number: Some(2),
                ..Default::default()
            },
            false,
        )
        .await
        .unwrap();
    let part = read.part.unwrap();
    assert_eq!(part.part_number, 2);
    assert!(part.checksums.contains(&reference_value(Crc32c, &data[1])));
}

#[tokio::test]
async fn put_object_keeps_the_client_checksum_as_full_object() {
    let h = open().await;
    let data = bytes_of(5000, 3);
    for alg in ChecksumAlgorithm::ALL {
        let key = format!("put-{}", alg.as_str());
        let obj = h
            .put_with(
                &key,
                &data,
                PayloadChecks {
                    checksum: Some(reference_value(alg, &data)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            obj.checksum,
            Some(ObjectChecksum {
                algorithm: alg,
                checksum_type: ChecksumType::FullObject,
                value: reference_b64(alg, &data),
            }),
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn put_object_without_checksum_gets_crc64nvme() {
    let h = open().await;
    let data = bytes_of(777, 4);
    let obj = h.put("k", &data).await;
    assert_eq!(obj.etag, md5_hex(&data));
    assert_eq!(
        obj.checksum,
        Some(ObjectChecksum {
            algorithm: Crc64Nvme,
            checksum_type: ChecksumType::FullObject,
            value: reference_b64(Crc64Nvme, &data),
        })
    );
}

#[tokio::test]
async fn put_object_with_wrong_checksum_is_bad_digest() {
    let h = open().await;
    let data = bytes_of(5000, 3);
    for alg in ChecksumAlgorithm::ALL {
        let err = h
            .put_with(
                "k",
                &data,
                PayloadChecks {
                    checksum: Some(reference_value(alg, b"other")),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadDigest { .. }), "{alg:?}: {err:?}");
    }
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    assert!(h.wait_blobs(|b| b.is_empty()).await, "no blob left behind");
}

#[tokio::test]
async fn composite_of_one_part_is_the_checksum_of_its_digest_with_suffix_1() {
    let h = open().await;
    let data = bytes_of(500, 1);
    let upload = create(&h, "k", Some(Crc32), None).await.unwrap();
    let checks = PayloadChecks {
        checksum: Some(reference_value(Crc32, &data)),
        ..Default::default()
    };
    h.upload_part_with(&upload, 1, &data, checks).await.unwrap();
    let mut req = complete_request(&upload, &[(1, &md5_hex(&data))]);
    req.parts[0].checksums = vec![reference_value(Crc32, &data)];
    let obj = h.app.complete_upload(req).await.unwrap();
    let value = obj.checksum.unwrap().value;
    assert!(value.ends_with("-1"), "{value}");
    // The checksum of the part's checksum, not the part's checksum itself.
    assert_eq!(value, composite_b64(Crc32, &[&data]));
    assert_ne!(value, format!("{}-1", reference_b64(Crc32, &data)));
}

#[tokio::test]
async fn complete_with_object_checksum_of_another_algorithm_is_bad_digest() {
    let h = open().await;
    let whole = part_data().concat();
    let upload = create(&h, "k", Some(Crc32c), Some(ChecksumType::FullObject))
        .await
        .unwrap();
    upload_with_checksums(&h, &upload, Crc32c).await;
    let mut req = complete_all(&upload, None);
    req.object_checksum = Some((Crc32, reference_b64(Crc32, &whole)));
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err:?}");
}
