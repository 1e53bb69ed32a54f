//! Encryption at rest through the domain: PutObject, GetObject (ranges, partNumber), multipart
//! uploads and copies with SSE-S3 and SSE-C, over the in-memory stores.

mod common;

use common::{body, bytes_of, open, read_all, Harness, BUCKET, MIN_PART};
use tessera_core::error::EncryptionError;
use tessera_core::multipart::{
    CompletePart, CompleteUploadRequest, CopySource, CreateUploadRequest,
};
use tessera_core::objects::{CopyObjectRequest, GetObjectRequest, PutObjectRequest, RangeRequest};
use tessera_core::sse::{CustomerKey, SseAlgorithm};
use tessera_core::sse_io::{encryption_of, SseKindOut, SseRequest};
use tessera_core::{Error, ObjectRecord};

fn managed() -> SseRequest {
    SseRequest {
        requested: Some(SseAlgorithm::Aes256),
        ..SseRequest::default()
    }
}

fn customer(k: &CustomerKey) -> SseRequest {
    SseRequest {
        customer: Some(k.clone()),
        ..SseRequest::default()
    }
}

async fn put(h: &Harness, key: &str, data: &[u8], encryption: SseRequest) -> ObjectRecord {
    h.app
        .put_object(
            PutObjectRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                encryption,
                ..Default::default()
            },
            body(data),
        )
        .await
        .unwrap()
}

async fn get(
    h: &Harness,
    key: &str,
    range: Option<RangeRequest>,
    part_number: Option<u32>,
    customer_key: Option<&CustomerKey>,
) -> Result<Vec<u8>, Error> {
    let read = h
        .app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: key.into(),
                range,
                part_number,
                customer_key: customer_key.cloned(),
                ..Default::default()
            },
            true,
        )
        .await?;
    Ok(read_all(read.body.unwrap()).await)
}

fn enc_err(r: Result<Vec<u8>, Error>) -> EncryptionError {
    match r {
        Err(Error::Encryption(e)) => e,
        other => panic!("{other:?}"),
    }
}

/// Every stored blob's bytes, concatenated.
async fn stored_bytes(h: &Harness) -> Vec<u8> {
    let mut out = Vec::new();
    for b in h.blobs.list(None, usize::MAX).await.unwrap() {
        let s = h.blobs.read(&b.id, 0, b.size).await.unwrap();
        out.extend(read_all(s).await);
    }
    out
}

#[tokio::test]
async fn sse_s3_round_trip_and_ranges() {
    let h = open().await;
    let data = bytes_of(200_000, 3);
    let o = put(&h, "k", &data, managed()).await;
    assert_eq!(o.size, data.len() as u64);
    assert_eq!(encryption_of(&o.attrs), Some(SseKindOut::Managed));
    // The single-PUT ETag of SSE-S3 is the plaintext's MD5, as S3.
    assert_eq!(o.etag, hex::encode(md5_of(&data)));
    assert_eq!(get(&h, "k", None, None, None).await.unwrap(), data);
    for (a, b) in [
        (0, 0),
        (65_535, 65_536),
        (70_000, 140_000),
        (199_999, 199_999),
    ] {
        let r = RangeRequest::FromTo {
            first: a,
            last: Some(b),
        };
        let got = get(&h, "k", Some(r), None, None).await.unwrap();
        assert_eq!(got, data[a as usize..=b as usize]);
    }
    // The blob holds no 64-byte run of the plaintext.
    let stored = stored_bytes(&h).await;
    assert!(stored.len() > data.len());
    assert!(!stored.windows(64).any(|w| w == &data[1000..1064]));
    // A customer key for an SSE-S3 object is refused.
    let key = CustomerKey::from_bytes([1; 32]);
    assert_eq!(
        enc_err(get(&h, "k", None, None, Some(&key)).await),
        EncryptionError::NotApplicable
    );
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

#[tokio::test]
async fn sse_c_keys_are_checked_before_reading() {
    let h = open().await;
    let key = CustomerKey::from_bytes([7; 32]);
    let wrong = CustomerKey::from_bytes([8; 32]);
    let data = bytes_of(100_000, 5);
    let o = put(&h, "k", &data, customer(&key)).await;
    assert_eq!(encryption_of(&o.attrs), Some(SseKindOut::Customer));
    assert_ne!(o.etag, hex::encode(md5_of(&data)));
    assert_eq!(get(&h, "k", None, None, Some(&key)).await.unwrap(), data);
    assert_eq!(
        enc_err(get(&h, "k", None, None, None).await),
        EncryptionError::CustomerKeyRequired
    );
    assert_eq!(
        enc_err(get(&h, "k", None, None, Some(&wrong)).await),
        EncryptionError::WrongCustomerKey
    );
    let r = RangeRequest::Suffix(10);
    assert_eq!(
        get(&h, "k", Some(r), None, Some(&key)).await.unwrap(),
        data[data.len() - 10..]
    );
    // A plain object with a key: refused.
    put(&h, "plain", b"x", SseRequest::default()).await;
    assert_eq!(
        enc_err(get(&h, "plain", None, None, Some(&key)).await),
        EncryptionError::NotApplicable
    );
}

#[tokio::test]
async fn sse_c_multipart_with_part_copy() {
    let h = open().await;
    let key = CustomerKey::from_bytes([9; 32]);
    let src = bytes_of(5000, 1);
    put(&h, "src", &src, managed()).await;
    let upload = h
        .app
        .create_upload(CreateUploadRequest {
            bucket: BUCKET.into(),
            key: "mp".into(),
            encryption: customer(&key),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(encryption_of(&upload.attrs), Some(SseKindOut::Customer));
    let id = upload.upload_id.clone();
    let p1 = bytes_of(MIN_PART as usize + 300, 2);
    // Without the upload's key: refused.
    let e = h
        .app
        .upload_part(BUCKET, "mp", &id, 1, body(&p1), Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Encryption(EncryptionError::UploadKeyRequired)),
        "{e:?}"
    );
    let (part1, _, kind) = h
        .app
        .upload_part_with_key(
            BUCKET,
            "mp",
            &id,
            1,
            body(&p1),
            Default::default(),
            Some(&key),
        )
        .await
        .unwrap();
    assert_eq!(kind, Some(SseKindOut::Customer));
    let (part2, _) = h
        .app
        .upload_part_copy_with_key(
            BUCKET,
            "mp",
            &id,
            2,
            CopySource {
                bucket: BUCKET.into(),
                key: "src".into(),
                range: Some((100, 3099)),
                ..Default::default()
            },
            Some(&key),
        )
        .await
        .unwrap();
    let parts = [(1, part1.etag), (2, part2.etag)]
        .into_iter()
        .map(|(n, etag)| CompletePart {
            part_number: n,
            etag: Some(etag),
            checksums: Vec::new(),
        })
        .collect::<Vec<_>>();
    let complete = |customer_key| CompleteUploadRequest {
        bucket: BUCKET.into(),
        key: "mp".into(),
        upload_id: id.clone(),
        parts: parts.clone(),
        customer_key,
        ..Default::default()
    };
    // The Complete of an SSE-C upload needs its key.
    assert!(matches!(
        h.app.complete_upload(complete(None)).await,
        Err(Error::Encryption(EncryptionError::UploadKeyRequired))
    ));
    let o = h
        .app
        .complete_upload(complete(Some(key.clone())))
        .await
        .unwrap();
    assert!(o.etag.ends_with("-2"));
    assert_eq!(encryption_of(&o.attrs), Some(SseKindOut::Customer));
    let whole: Vec<u8> = [p1.as_slice(), &src[100..3100]].concat();
    assert_eq!(get(&h, "mp", None, None, Some(&key)).await.unwrap(), whole);
    let across = RangeRequest::FromTo {
        first: MIN_PART,
        last: Some(MIN_PART + 1000),
    };
    assert_eq!(
        get(&h, "mp", Some(across), None, Some(&key)).await.unwrap(),
        whole[MIN_PART as usize..=MIN_PART as usize + 1000]
    );
    assert_eq!(
        get(&h, "mp", None, Some(2), Some(&key)).await.unwrap(),
        src[100..3100]
    );
}

#[tokio::test]
async fn copies_decrypt_and_reencrypt() {
    let h = open().await;
    let key = CustomerKey::from_bytes([4; 32]);
    let data = bytes_of(90_000, 6);
    put(&h, "c", &data, customer(&key)).await;
    let copy = |dst: &str, source_key: Option<&CustomerKey>, encryption: SseRequest| {
        h.app.copy_object(CopyObjectRequest {
            source_bucket: BUCKET.into(),
            source_key: "c".into(),
            bucket: BUCKET.into(),
            key: dst.into(),
            copy_tags: true,
            source_customer_key: source_key.cloned(),
            encryption,
            ..Default::default()
        })
    };
    let e = copy("x", None, managed()).await.unwrap_err();
    assert!(
        matches!(e, Error::Encryption(EncryptionError::CustomerKeyRequired)),
        "{e:?}"
    );
    let o = copy("s3", Some(&key), managed()).await.unwrap();
    assert_eq!(encryption_of(&o.attrs), Some(SseKindOut::Managed));
    assert_eq!(o.etag, hex::encode(md5_of(&data)));
    assert_eq!(get(&h, "s3", None, None, None).await.unwrap(), data);
    let o = copy("plain", Some(&key), SseRequest::default())
        .await
        .unwrap();
    assert_eq!(encryption_of(&o.attrs), None);
    assert_eq!(get(&h, "plain", None, None, None).await.unwrap(), data);
}
