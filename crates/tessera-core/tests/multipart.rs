//! The multipart upload state machine: Create, UploadPart, ListParts, Complete, Abort, and the
//! Complete rules (order, ETags, sizes, replays).

mod common;

use common::*;
use tessera_core::multipart::{validate_part_number, CopySource, MAX_PART_NUMBER};
use tessera_core::objects::GetObjectRequest;
use tessera_core::Error;

/// Three parts: two of the minimum size and a short last one.
async fn three_parts(h: &Harness, key: &str) -> (tessera_core::UploadRecord, Vec<Vec<u8>>) {
    let upload = h.create_upload(key).await;
    let data = vec![
        bytes_of(MIN_PART as usize, 1),
        bytes_of(MIN_PART as usize + 7, 2),
        bytes_of(10, 3),
    ];
    for (i, d) in data.iter().enumerate() {
        h.upload_part(&upload, i as u32 + 1, d).await;
    }
    (upload, data)
}

fn etags(data: &[Vec<u8>]) -> Vec<String> {
    data.iter().map(|d| md5_hex(d)).collect()
}

#[tokio::test]
async fn upload_ids_are_distinct_and_unguessable() {
    let h = open().await;
    let a = h.create_upload("k").await;
    let b = h.create_upload("k").await;
    assert_ne!(a.upload_id, b.upload_id);
    assert!(a.upload_id.len() >= 32, "{}", a.upload_id);
    assert!(!a.upload_id.starts_with('-'));
    let listed = h
        .app
        .list_uploads(BUCKET, "", None, None, None, 1000)
        .await
        .unwrap();
    let ids: Vec<_> = listed.uploads.iter().map(|u| u.upload_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.upload_id) && ids.contains(&b.upload_id));
}

#[tokio::test]
async fn part_etag_is_md5_of_its_bytes() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let data = bytes_of(333, 9);
    let part = h.upload_part(&upload, 1, &data).await;
    assert_eq!(part.etag, md5_hex(&data));
    assert_eq!(part.size, 333);
    assert_eq!(part.part_number, 1);
}

#[tokio::test]
async fn complete_concatenates_parts_with_multipart_etag() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let obj = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
    let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    assert_eq!(obj.etag, multipart_etag(&parts));
    assert!(obj.etag.ends_with("-3"));
    assert_eq!(obj.parts_count, Some(3));
    assert_eq!(obj.size, data.iter().map(|d| d.len() as u64).sum::<u64>());
    assert_eq!(h.get_bytes("k").await.unwrap(), data.concat());
    // The upload is gone.
    assert!(matches!(
        h.app
            .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
            .await,
        Err(Error::NoSuchUpload)
    ));
}

#[tokio::test]
async fn complete_carries_create_headers_and_metadata() {
    let h = open().await;
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("colour".to_string(), "blue".to_string());
    let upload = h
        .app
        .create_upload(tessera_core::multipart::CreateUploadRequest {
            bucket: BUCKET.into(),
            key: "k".into(),
            headers: tessera_core::ContentHeaders {
                content_type: Some("text/plain".into()),
                ..Default::default()
            },
            user_metadata: meta.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let p = h.upload_part(&upload, 1, b"hello").await;
    let obj = h.complete(&upload, &[(1, &p.etag)]).await.unwrap();
    assert_eq!(obj.headers.content_type.as_deref(), Some("text/plain"));
    assert_eq!(obj.user_metadata, meta);
    let stored = h.app.object_record(BUCKET, "k").await.unwrap();
    assert_eq!(stored.user_metadata, meta);
    assert_eq!(stored.etag, obj.etag);
}

#[tokio::test]
async fn non_consecutive_part_numbers_complete() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let a = bytes_of(MIN_PART as usize, 1);
    let b = bytes_of(MIN_PART as usize, 2);
    let c = bytes_of(5, 3);
    h.upload_part(&upload, 2, &a).await;
    h.upload_part(&upload, 5, &b).await;
    h.upload_part(&upload, 9, &c).await;
    let obj = h
        .complete(
            &upload,
            &[(2, &md5_hex(&a)), (5, &md5_hex(&b)), (9, &md5_hex(&c))],
        )
        .await
        .unwrap();
    assert_eq!(obj.etag, multipart_etag(&[&a, &b, &c]));
    assert_eq!(h.get_bytes("k").await.unwrap(), [a, b, c].concat());
}

#[tokio::test]
async fn complete_parts_out_of_order_is_invalid_part_order() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let err = h
        .complete(&upload, &[(2, &e[1]), (1, &e[0]), (3, &e[2])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPartOrder), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    // The upload is untouched and still completes.
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
}

#[tokio::test]
async fn complete_duplicate_part_numbers_is_invalid_part_order() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let err = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPartOrder), "{err:?}");
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
}

#[tokio::test]
async fn complete_unknown_part_is_invalid_part() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let never = md5_hex(b"never uploaded");
    let err = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (4, &never)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
}

#[tokio::test]
async fn complete_etag_mismatch_is_invalid_part() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let other = md5_hex(b"something else");
    let err = h
        .complete(&upload, &[(1, &e[0]), (2, &other), (3, &e[2])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
}

#[tokio::test]
async fn complete_part_without_etag_is_invalid_part() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let mut req = complete_request(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])]);
    req.parts[1].etag = None;
    let err = h.app.complete_upload(req).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
}

#[tokio::test]
async fn complete_accepts_quoted_and_unquoted_etags() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let quoted = format!("\"{}\"", e[1]);
    let upper = e[2].to_ascii_uppercase();
    let obj = h
        .complete(&upload, &[(1, &e[0]), (2, &quoted), (3, &upper)])
        .await
        .unwrap();
    let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    assert_eq!(obj.etag, multipart_etag(&parts));
}

#[tokio::test]
async fn complete_empty_part_list_is_malformed() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let err = h.complete(&upload, &[]).await.unwrap_err();
    assert!(matches!(err, Error::MalformedXml), "{err:?}");
    let e = etags(&data);
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
}

#[tokio::test]
async fn small_part_before_the_last_is_entity_too_small() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let small = bytes_of(MIN_PART as usize - 1, 1);
    let last = bytes_of(MIN_PART as usize, 2);
    h.upload_part(&upload, 1, &small).await;
    h.upload_part(&upload, 2, &last).await;
    let err = h
        .complete(&upload, &[(1, &md5_hex(&small)), (2, &md5_hex(&last))])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EntityTooSmall), "{err:?}");
    // Alone, the small part is the last one: fine.
    let obj = h.complete(&upload, &[(1, &md5_hex(&small))]).await.unwrap();
    assert_eq!(obj.size, MIN_PART - 1);
}

#[tokio::test]
async fn part_of_exactly_min_size_is_enough() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let first = bytes_of(MIN_PART as usize, 1);
    let last = bytes_of(1, 2);
    h.upload_part(&upload, 1, &first).await;
    h.upload_part(&upload, 2, &last).await;
    h.complete(&upload, &[(1, &md5_hex(&first)), (2, &md5_hex(&last))])
        .await
        .unwrap();
}

#[tokio::test]
async fn single_small_part_completes() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let p = h.upload_part(&upload, 1, b"tiny").await;
    let obj = h.complete(&upload, &[(1, &p.etag)]).await.unwrap();
    assert_eq!(obj.etag, multipart_etag(&[b"tiny"]));
    assert_eq!(h.get_bytes("k").await.unwrap(), b"tiny");
}

#[tokio::test]
async fn part_numbers_range_from_1_to_10000() {
    assert_eq!(validate_part_number(1).unwrap(), 1);
    assert_eq!(validate_part_number(10_000).unwrap(), MAX_PART_NUMBER);
    for bad in [0, -1, 10_001, i64::from(u32::MAX) + 1] {
        assert!(
            matches!(validate_part_number(bad), Err(Error::InvalidArgument(_))),
            "{bad}"
        );
    }
    let h = open().await;
    let upload = h.create_upload("k").await;
    let p = h.upload_part(&upload, MAX_PART_NUMBER, b"last").await;
    assert_eq!(p.part_number, 10_000);
    let obj = h
        .complete(&upload, &[(MAX_PART_NUMBER, &p.etag)])
        .await
        .unwrap();
    assert_eq!(obj.parts_count, Some(1));
    assert_eq!(h.get_bytes("k").await.unwrap(), b"last");
}

#[tokio::test]
async fn reuploaded_part_replaces_the_old_one_and_frees_its_blob() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let old = h.upload_part(&upload, 1, b"first version").await;
    let new = h.upload_part(&upload, 1, b"second, longer version").await;
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 100)
        .await
        .unwrap();
    assert_eq!(page.parts.len(), 1);
    assert_eq!(page.parts[0].etag, md5_hex(b"second, longer version"));
    assert_eq!(page.parts[0].size, 22);
    assert!(
        h.wait_blobs(|b| !b.contains(&old.blob) && b.contains(&new.blob))
            .await,
        "the replaced part's blob is deleted"
    );
    // The old ETag no longer names the part.
    let err = h.complete(&upload, &[(1, &old.etag)]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPart { .. }), "{err:?}");
    h.complete(&upload, &[(1, &new.etag)]).await.unwrap();
    assert_eq!(h.get_bytes("k").await.unwrap(), b"second, longer version");
}

#[tokio::test]
async fn list_parts_pages_with_marker() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    for n in [1u32, 2, 3, 5, 8] {
        h.upload_part(&upload, n, &bytes_of(n as usize, n as u8))
            .await;
    }
    let list = |marker, max| {
        let h = &h;
        let id = upload.upload_id.clone();
        async move { h.app.list_parts(BUCKET, "k", &id, marker, max).await }
    };
    let p1 = list(0, 2).await.unwrap();
    let nums = |p: &tessera_core::multipart::PartsPage| -> Vec<u32> {
        p.parts.iter().map(|p| p.part_number).collect()
    };
    assert_eq!(nums(&p1), vec![1, 2]);
    assert!(p1.is_truncated);
    assert_eq!(p1.next_marker, Some(2));
    let p2 = list(2, 2).await.unwrap();
    assert_eq!(nums(&p2), vec![3, 5]);
    assert!(p2.is_truncated);
    let p3 = list(5, 2).await.unwrap();
    assert_eq!(nums(&p3), vec![8]);
    assert!(!p3.is_truncated);
    assert_eq!(p3.next_marker, Some(8));
    let all = list(0, 1000).await.unwrap();
    assert_eq!(nums(&all), vec![1, 2, 3, 5, 8]);
    assert!(!all.is_truncated);
    for p in &all.parts {
        assert_eq!(p.size, u64::from(p.part_number));
        assert_eq!(
            p.etag,
            md5_hex(&bytes_of(p.size as usize, p.part_number as u8))
        );
    }
}

#[tokio::test]
async fn mp_object_size_must_match() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let a = bytes_of(MIN_PART as usize, 1);
    let b = bytes_of(77, 2);
    h.upload_part(&upload, 1, &a).await;
    h.upload_part(&upload, 2, &b).await;
    let mut req = complete_request(&upload, &[(1, &md5_hex(&a)), (2, &md5_hex(&b))]);
    req.object_size = Some(MIN_PART + 78);
    let err = h.app.complete_upload(req.clone()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    req.object_size = Some(MIN_PART + 77);
    let obj = h.app.complete_upload(req).await.unwrap();
    assert_eq!(obj.size, MIN_PART + 77);
}

#[tokio::test]
async fn complete_retry_with_same_parts_returns_same_object() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let list = [(1, e[0].as_str()), (2, &e[1]), (3, &e[2])];
    let first = h.complete(&upload, &list).await.unwrap();
    let again = h.complete(&upload, &list).await.unwrap();
    assert_eq!(again.etag, first.etag);
    assert_eq!(again.object_id, first.object_id);
    assert_eq!(again.size, first.size);
    assert_eq!(h.get_bytes("k").await.unwrap(), data.concat());
}

#[tokio::test]
async fn complete_retry_with_quoted_etags_is_the_same_list() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let first = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
    let quoted: Vec<String> = e
        .iter()
        .map(|e| format!("\"{}\"", e.to_ascii_uppercase()))
        .collect();
    let again = h
        .complete(
            &upload,
            &[(1, &quoted[0]), (2, &quoted[1]), (3, &quoted[2])],
        )
        .await
        .unwrap();
    assert_eq!(again.etag, first.etag);
}

#[tokio::test]
async fn complete_retry_after_overwrite_still_answers_the_first_etag() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let list = [(1, e[0].as_str()), (2, &e[1]), (3, &e[2])];
    let first = h.complete(&upload, &list).await.unwrap();
    h.put("k", b"replaced").await;
    let again = h.complete(&upload, &list).await.unwrap();
    assert_eq!(again.etag, first.etag);
    // The retry does not resurrect the old object.
    assert_eq!(h.get_bytes("k").await.unwrap(), b"replaced");
}

#[tokio::test]
async fn complete_retry_with_other_parts_is_no_such_upload() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
    let bogus = "0123456789abcdef0123456789abcdef";
    for list in [
        vec![(1, e[0].as_str()), (2, &e[1])],
        vec![(1, e[0].as_str()), (2, &e[1]), (3, bogus)],
        vec![(1, e[0].as_str()), (3, &e[1]), (4, &e[1])],
    ] {
        let err = h.complete(&upload, &list).await.unwrap_err();
        assert!(matches!(err, Error::NoSuchUpload), "{list:?}: {err:?}");
    }
    assert_eq!(h.get_bytes("k").await.unwrap(), data.concat());
}

#[tokio::test]
async fn complete_retry_naming_other_part_numbers_is_no_such_upload() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
    // Same ETags in the same order, but part 4 was never uploaded: not the same part list.
    let err = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (4, &e[2])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchUpload), "{err:?}");
}

#[tokio::test]
async fn complete_retry_under_another_key_is_no_such_upload() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let list = [(1, e[0].as_str()), (2, &e[1]), (3, &e[2])];
    h.complete(&upload, &list).await.unwrap();
    let mut other = upload.clone();
    other.key = "other".into();
    let err = h.complete(&other, &list).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchUpload), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "other").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test]
async fn racing_completes_with_different_lists_have_one_winner() {
    let h = open().await;
    for attempt in 0..4 {
        let key = format!("race{attempt}");
        let upload = h.create_upload(&key).await;
        let a = bytes_of(MIN_PART as usize, 1);
        let b = bytes_of(100, 2);
        h.upload_part(&upload, 1, &a).await;
        h.upload_part(&upload, 2, &b).await;
        let (ea, eb) = (md5_hex(&a), md5_hex(&b));
        let both = complete_request(&upload, &[(1, &ea), (2, &eb)]);
        let first = complete_request(&upload, &[(1, &ea)]);
        let (r_both, r_first) =
            tokio::join!(h.app.complete_upload(both), h.app.complete_upload(first));
        let body = h.get_bytes(&key).await.unwrap();
        let stored = h.app.object_record(BUCKET, &key).await.unwrap();
        match (r_both, r_first) {
            (Ok(o), Err(e)) => {
                assert!(
                    matches!(e, Error::NoSuchUpload | Error::InvalidPart { .. }),
                    "{e:?}"
                );
                assert_eq!(body, [a.clone(), b.clone()].concat());
                assert_eq!(stored.etag, o.etag);
            }
            (Err(e), Ok(o)) => {
                assert!(
                    matches!(e, Error::NoSuchUpload | Error::InvalidPart { .. }),
                    "{e:?}"
                );
                assert_eq!(body, a);
                assert_eq!(stored.etag, o.etag);
            }
            (x, y) => panic!("exactly one Complete must win: {x:?} / {y:?}"),
        }
    }
}

#[tokio::test]
async fn abort_then_complete_is_no_such_upload() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    h.app
        .abort_upload(BUCKET, "k", &upload.upload_id)
        .await
        .unwrap();
    let err = h
        .complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchUpload), "{err:?}");
    assert!(matches!(
        h.app.object_record(BUCKET, "k").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test]
async fn abort_frees_parts_and_forgets_the_upload() {
    let h = open().await;
    let (upload, _) = three_parts(&h, "k").await;
    assert_eq!(h.blob_set().await.len(), 3);
    h.app
        .abort_upload(BUCKET, "k", &upload.upload_id)
        .await
        .unwrap();
    assert!(h.wait_blobs(|b| b.is_empty()).await, "part blobs deleted");
    let id = &upload.upload_id;
    assert!(matches!(
        h.app.abort_upload(BUCKET, "k", id).await,
        Err(Error::NoSuchUpload)
    ));
    assert!(matches!(
        h.app.list_parts(BUCKET, "k", id, 0, 10).await,
        Err(Error::NoSuchUpload)
    ));
    let err = h
        .upload_part_with(&upload, 4, b"late", Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchUpload), "{err:?}");
    let listed = h
        .app
        .list_uploads(BUCKET, "", None, None, None, 1000)
        .await
        .unwrap();
    assert!(listed.uploads.is_empty());
    assert!(h.wait_blobs(|b| b.is_empty()).await, "no blob left behind");
}

#[tokio::test]
async fn parts_not_named_in_complete_are_freed() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    let page = h
        .app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
    let blob_of = |n: u32| {
        page.parts
            .iter()
            .find(|p| p.part_number == n)
            .unwrap()
            .blob
            .clone()
    };
    // Parts 1 and 3 make the object; part 2 is dropped.
    h.complete(&upload, &[(1, &e[0]), (3, &e[2])])
        .await
        .unwrap();
    let (b1, b2, b3) = (blob_of(1), blob_of(2), blob_of(3));
    assert!(
        h.wait_blobs(|b| b.len() == 2 && b.contains(&b1) && b.contains(&b3) && !b.contains(&b2))
            .await
    );
    assert_eq!(
        h.get_bytes("k").await.unwrap(),
        [data[0].clone(), data[2].clone()].concat()
    );
}

#[tokio::test]
async fn unknown_or_foreign_upload_id_is_no_such_upload() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let unknown = "00112233445566778899aabbccddeeff0011223344556677";
    assert!(matches!(
        h.app.list_parts(BUCKET, "k", unknown, 0, 10).await,
        Err(Error::NoSuchUpload)
    ));
    // An upload id used with another key is not that upload.
    assert!(matches!(
        h.app
            .list_parts(BUCKET, "other", &upload.upload_id, 0, 10)
            .await,
        Err(Error::NoSuchUpload)
    ));
    let mut foreign = upload.clone();
    foreign.key = "other".into();
    let err = h
        .upload_part_with(&foreign, 1, b"x", Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchUpload), "{err:?}");
    assert!(matches!(
        h.app.abort_upload(BUCKET, "other", &upload.upload_id).await,
        Err(Error::NoSuchUpload)
    ));
    // A missing bucket says so.
    assert!(matches!(
        h.app.list_parts("nobucket", "k", unknown, 0, 10).await,
        Err(Error::NoSuchBucket)
    ));
    // The real upload is untouched.
    h.app
        .list_parts(BUCKET, "k", &upload.upload_id, 0, 10)
        .await
        .unwrap();
}

#[tokio::test]
async fn get_by_part_number_serves_that_part() {
    let h = open().await;
    let (upload, data) = three_parts(&h, "k").await;
    let e = etags(&data);
    h.complete(&upload, &[(1, &e[0]), (2, &e[1]), (3, &e[2])])
        .await
        .unwrap();
    let req = |n| GetObjectRequest {
        bucket: BUCKET.into(),
        key: "k".into(),
        part_number: Some(n),
        ..Default::default()
    };
    let read = h.app.get_object(&req(2), true).await.unwrap();
    let range = read.range.unwrap();
    assert_eq!(range.start, data[0].len() as u64);
    assert_eq!(range.end, (data[0].len() + data[1].len()) as u64 - 1);
    assert_eq!(read.part.as_ref().unwrap().etag, e[1]);
    assert_eq!(read_all(read.body.unwrap()).await, data[1]);
    assert!(matches!(
        h.app.get_object(&req(4), true).await,
        Err(Error::InvalidPartNumber)
    ));
}

#[tokio::test]
async fn upload_part_copy_whole_and_range() {
    let h = open().await;
    let src = bytes_of(3000, 7);
    h.put("src", &src).await;
    let upload = h.create_upload("k").await;
    let source = |range| CopySource {
        bucket: BUCKET.into(),
        key: "src".into(),
        range,
        ..Default::default()
    };
    let (p1, _) = h
        .app
        .upload_part_copy(BUCKET, "k", &upload.upload_id, 1, source(None))
        .await
        .unwrap();
    assert_eq!(p1.etag, md5_hex(&src));
    let (p2, _) = h
        .app
        .upload_part_copy(BUCKET, "k", &upload.upload_id, 2, source(Some((10, 19))))
        .await
        .unwrap();
    assert_eq!(p2.etag, md5_hex(&src[10..20]));
    let err = h
        .app
        .upload_part_copy(BUCKET, "k", &upload.upload_id, 3, source(Some((0, 3000))))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    h.complete(&upload, &[(1, &p1.etag), (2, &p2.etag)])
        .await
        .unwrap();
    assert_eq!(
        h.get_bytes("k").await.unwrap(),
        [&src[..], &src[10..20]].concat()
    );
}

#[tokio::test]
async fn delete_bucket_aborts_uploads_in_progress() {
    let h = open().await;
    h.app.create_bucket("other", "111122223333").await.unwrap();
    let upload = h
        .app
        .create_upload(tessera_core::multipart::CreateUploadRequest {
            bucket: "other".into(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    h.upload_part(&upload, 1, b"part").await;
    assert_eq!(h.blob_set().await.len(), 1);
    h.app.delete_bucket("other").await.unwrap();
    assert!(h.wait_blobs(|b| b.is_empty()).await);
    assert!(matches!(
        h.app
            .list_parts("other", "k", &upload.upload_id, 0, 10)
            .await,
        Err(Error::NoSuchBucket)
    ));
}

#[tokio::test]
async fn empty_last_part_completes_and_has_no_part_range() {
    let h = open().await;
    let upload = h.create_upload("k").await;
    let a = bytes_of(MIN_PART as usize, 1);
    let ea = h.upload_part(&upload, 1, &a).await.etag;
    let empty = h.upload_part(&upload, 2, b"").await;
    assert_eq!(empty.etag, md5_hex(b""));
    let obj = h
        .complete(&upload, &[(1, &ea), (2, &empty.etag)])
        .await
        .unwrap();
    assert_eq!(obj.size, MIN_PART);
    assert_eq!(obj.etag, multipart_etag(&[&a, b""]));
    assert_eq!(h.get_bytes("k").await.unwrap(), a);
    let err = h
        .app
        .get_object(
            &GetObjectRequest {
                bucket: BUCKET.into(),
                key: "k".into(),
                part_number: Some(2),
                ..Default::default()
            },
            true,
        )
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::InvalidPartNumber), "{err:?}");
}

#[tokio::test]
async fn upload_part_copy_range_across_the_parts_of_a_multipart_source() {
    let h = open().await;
    let src_upload = h.create_upload("src").await;
    let a = bytes_of(MIN_PART as usize, 1);
    let b = bytes_of(500, 2);
    let ea = h.upload_part(&src_upload, 1, &a).await.etag;
    let eb = h.upload_part(&src_upload, 2, &b).await.etag;
    h.complete(&src_upload, &[(1, &ea), (2, &eb)])
        .await
        .unwrap();
    let whole = [a, b].concat();

    let upload = h.create_upload("k").await;
    let (first, last) = (MIN_PART - 100, MIN_PART + 99);
    let (part, source) = h
        .app
        .upload_part_copy(
            BUCKET,
            "k",
            &upload.upload_id,
            1,
            CopySource {
                bucket: BUCKET.into(),
                key: "src".into(),
                range: Some((first, last)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(source.key, "src");
    let want = &whole[first as usize..=last as usize];
    assert_eq!(part.size, 200);
    assert_eq!(part.etag, md5_hex(want));
    h.complete(&upload, &[(1, &part.etag)]).await.unwrap();
    assert_eq!(h.get_bytes("k").await.unwrap(), want);
}
