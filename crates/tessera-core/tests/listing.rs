//! The delimiter walk behind ListObjects and ListMultipartUploads: prefixes, delimiters, common
//! prefixes, max-keys paging with markers, and UTF-8 byte order.

mod common;

use common::*;
use tessera_core::objects::{ListPage, ListRequest};
use tessera_core::Error;

const TREE: [&str; 7] = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/e/f", "dz"];

async fn with_keys(keys: &[&str]) -> Harness {
    let h = open().await;
    for k in keys {
        h.put(k, k.as_bytes()).await;
    }
    h
}

async fn list(
    h: &Harness,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> ListPage {
    h.app
        .list_objects(&ListRequest {
            bucket: BUCKET.into(),
            prefix: prefix.into(),
            delimiter: delimiter.map(str::to_string),
            after: after.map(str::to_string),
            max_keys,
        })
        .await
        .unwrap()
}

fn keys(page: &ListPage) -> Vec<&str> {
    page.objects.iter().map(|o| o.key.as_str()).collect()
}

fn prefixes(page: &ListPage) -> Vec<&str> {
    page.common_prefixes.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn lists_every_key_in_order_with_records() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "", None, None, 1000).await;
    assert_eq!(keys(&page), TREE.to_vec());
    assert!(page.common_prefixes.is_empty());
    assert!(!page.is_truncated);
    for o in &page.objects {
        assert_eq!(o.size, o.key.len() as u64);
        assert_eq!(o.etag, md5_hex(o.key.as_bytes()));
    }
}

#[tokio::test]
async fn empty_bucket_lists_nothing_and_missing_bucket_is_an_error() {
    let h = open().await;
    let page = list(&h, "", Some("/"), None, 1000).await;
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
    assert!(!page.is_truncated);
    assert_eq!(page.next_marker, None);
    let err = h
        .app
        .list_objects(&ListRequest {
            bucket: "nobucket".into(),
            max_keys: 10,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket), "{err:?}");
}

#[tokio::test]
async fn delimiter_rolls_keys_up_into_common_prefixes() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "", Some("/"), None, 1000).await;
    assert_eq!(keys(&page), vec!["c", "dz"]);
    assert_eq!(prefixes(&page), vec!["a/", "b/", "d/"]);
    assert!(!page.is_truncated);
}

#[tokio::test]
async fn prefix_and_delimiter() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "a/", Some("/"), None, 1000).await;
    assert_eq!(keys(&page), vec!["a/1", "a/2"]);
    assert_eq!(prefixes(&page), vec!["a/b/"]);

    let page = list(&h, "d", None, None, 1000).await;
    assert_eq!(keys(&page), vec!["d/e/f", "dz"]);
    let page = list(&h, "d", Some("/"), None, 1000).await;
    assert_eq!(keys(&page), vec!["dz"]);
    assert_eq!(prefixes(&page), vec!["d/"]);

    let page = list(&h, "nothing-here", Some("/"), None, 1000).await;
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
}

#[tokio::test]
async fn key_equal_to_prefix_is_an_entry_not_a_common_prefix() {
    let h = with_keys(&["a/", "a/x", "a/y/z"]).await;
    let page = list(&h, "a/", Some("/"), None, 1000).await;
    assert_eq!(keys(&page), vec!["a/", "a/x"]);
    assert_eq!(prefixes(&page), vec!["a/y/"]);
}

#[tokio::test]
async fn multi_character_delimiter() {
    let h = with_keys(&["x--1", "x--2--y", "x-3", "z"]).await;
    let page = list(&h, "", Some("--"), None, 1000).await;
    assert_eq!(keys(&page), vec!["x-3", "z"]);
    assert_eq!(prefixes(&page), vec!["x--"]);
    let page = list(&h, "x--", Some("--"), None, 1000).await;
    assert_eq!(keys(&page), vec!["x--1"]);
    assert_eq!(prefixes(&page), vec!["x--2--"]);
}

#[tokio::test]
async fn empty_delimiter_means_no_delimiter() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "", Some(""), None, 1000).await;
    assert_eq!(keys(&page), TREE.to_vec());
    assert!(page.common_prefixes.is_empty());
}

#[tokio::test]
async fn max_keys_zero_lists_nothing() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "", None, None, 0).await;
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
}

#[tokio::test]
async fn max_keys_one_pages_through_every_key() {
    let h = with_keys(&TREE).await;
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..TREE.len() + 2 {
        let page = list(&h, "", None, after.as_deref(), 1).await;
        assert!(page.objects.len() <= 1);
        got.extend(keys(&page).into_iter().map(str::to_string));
        if !page.is_truncated {
            break;
        }
        after = Some(page.next_marker.clone().expect("a next marker"));
    }
    assert_eq!(got, TREE.to_vec());
}

#[tokio::test]
async fn start_after_need_not_be_a_key() {
    let h = with_keys(&TREE).await;
    let page = list(&h, "", None, Some("b/1"), 1000).await;
    assert_eq!(keys(&page), vec!["c", "d/e/f", "dz"]);
    let page = list(&h, "", None, Some("a/a"), 1000).await;
    assert_eq!(keys(&page), vec!["a/b/3", "b/1", "c", "d/e/f", "dz"]);
    let page = list(&h, "", None, Some("zzz"), 1000).await;
    assert!(page.objects.is_empty());
    assert!(!page.is_truncated);
}

#[tokio::test]
async fn paging_with_delimiter_counts_common_prefixes() {
    let h = with_keys(&[
        "asdf",
        "boo/bar",
        "boo/baz/xyzzy",
        "cquux/thud",
        "cquux/bla",
    ])
    .await;
    let r1 = list(&h, "", Some("/"), None, 1).await;
    assert_eq!(
        (keys(&r1), prefixes(&r1), r1.is_truncated),
        (vec!["asdf"], vec![], true)
    );
    assert_eq!(r1.next_marker.as_deref(), Some("asdf"));
    let r2 = list(&h, "", Some("/"), r1.next_marker.as_deref(), 1).await;
    assert_eq!(
        (keys(&r2), prefixes(&r2), r2.is_truncated),
        (vec![], vec!["boo/"], true)
    );
    assert_eq!(r2.next_marker.as_deref(), Some("boo/"));
    let r3 = list(&h, "", Some("/"), r2.next_marker.as_deref(), 1).await;
    assert_eq!(
        (keys(&r3), prefixes(&r3), r3.is_truncated),
        (vec![], vec!["cquux/"], false)
    );

    let r1 = list(&h, "", Some("/"), None, 2).await;
    assert_eq!(
        (keys(&r1), prefixes(&r1), r1.is_truncated),
        (vec!["asdf"], vec!["boo/"], true)
    );
    assert_eq!(r1.next_marker.as_deref(), Some("boo/"));
    let r2 = list(&h, "", Some("/"), r1.next_marker.as_deref(), 2).await;
    assert_eq!(
        (keys(&r2), prefixes(&r2), r2.is_truncated),
        (vec![], vec!["cquux/"], false)
    );
}

#[tokio::test]
async fn marker_inside_a_rolled_up_prefix_does_not_repeat_it() {
    let h = with_keys(&["a/1", "a/2", "b"]).await;
    // The marker sorts after "a/": the common prefix was on an earlier page.
    let page = list(&h, "", Some("/"), Some("a/1"), 1000).await;
    assert_eq!(keys(&page), vec!["b"]);
    assert!(page.common_prefixes.is_empty());
}

#[tokio::test]
async fn many_keys_under_one_prefix_make_one_common_prefix() {
    let mut names: Vec<String> = (0..30).map(|i| format!("dir/{i:03}")).collect();
    names.push("dir2".into());
    names.push("e".into());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let h = with_keys(&refs).await;
    let page = list(&h, "", Some("/"), None, 2).await;
    assert_eq!(prefixes(&page), vec!["dir/"]);
    assert_eq!(keys(&page), vec!["dir2"]);
    assert!(page.is_truncated);
    let page = list(&h, "", Some("/"), page.next_marker.as_deref(), 2).await;
    assert_eq!(keys(&page), vec!["e"]);
    assert!(!page.is_truncated);
}

#[tokio::test]
async fn keys_list_in_utf8_byte_order() {
    // Byte order, not UTF-16 order: U+E000 (EE 80 80) sorts before U+1F600 (F0 9F 98 80),
    // although its UTF-16 code unit (E000) sorts after the surrogate D83D.
    let unsorted = [
        "é",
        "z",
        "\u{1F600}",
        "Z",
        "a",
        "~",
        "\u{E000}",
        "a b",
        "a\u{7F}",
    ];
    let h = with_keys(&unsorted).await;
    let mut want: Vec<&str> = unsorted.to_vec();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(
        want,
        vec![
            "Z",
            "a",
            "a b",
            "a\u{7F}",
            "z",
            "~",
            "é",
            "\u{E000}",
            "\u{1F600}"
        ]
    );
    let page = list(&h, "", None, None, 1000).await;
    assert_eq!(keys(&page), want);
    // Paging keeps the order across pages, with multi-byte markers.
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&h, "", None, after.as_deref(), 2).await;
        got.extend(keys(&page).into_iter().map(str::to_string));
        if !page.is_truncated {
            break;
        }
        after = page.next_marker.clone();
    }
    assert_eq!(got, want);
}

#[tokio::test]
async fn multibyte_delimiter_and_prefix() {
    let h = with_keys(&["añob", "añoc", "año→x→y", "año→z", "b"]).await;
    let page = list(&h, "año", Some("→"), None, 1000).await;
    assert_eq!(keys(&page), vec!["añob", "añoc"]);
    assert_eq!(prefixes(&page), vec!["año→"]);
}

#[tokio::test]
async fn list_uploads_rolls_up_and_pages_by_key_then_upload() {
    let h = open().await;
    let a1 = h.create_upload("a").await;
    let a2 = h.create_upload("a").await;
    let dir = h.create_upload("d/x").await;
    h.create_upload("d/y").await;
    let z = h.create_upload("z").await;
    let all = h
        .app
        .list_uploads(BUCKET, "", Some("/"), None, None, 1000)
        .await
        .unwrap();
    let listed: Vec<&str> = all.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(listed, vec!["a", "a", "z"]);
    assert_eq!(all.common_prefixes, vec!["d/".to_string()]);
    let a_ids = [a1.upload_id.clone(), a2.upload_id.clone()];
    assert!(a_ids.contains(&all.uploads[0].upload_id));
    assert!(a_ids.contains(&all.uploads[1].upload_id));
    assert_ne!(all.uploads[0].upload_id, all.uploads[1].upload_id);

    // One at a time: the first "a", then the second via the upload-id marker.
    let p1 = h
        .app
        .list_uploads(BUCKET, "", None, None, None, 1)
        .await
        .unwrap();
    assert!(p1.is_truncated);
    assert_eq!(p1.uploads[0].upload_id, all.uploads[0].upload_id);
    let p2 = h
        .app
        .list_uploads(
            BUCKET,
            "",
            None,
            p1.next_key_marker.as_deref(),
            p1.next_upload_id_marker.as_deref(),
            1,
        )
        .await
        .unwrap();
    assert_eq!(p2.uploads[0].upload_id, all.uploads[1].upload_id);
    // A key marker alone skips every upload of that key.
    let p3 = h
        .app
        .list_uploads(BUCKET, "", None, Some("a"), None, 1000)
        .await
        .unwrap();
    let ids: Vec<&str> = p3.uploads.iter().map(|u| u.upload_id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], dir.upload_id);
    assert_eq!(ids[2], z.upload_id);
    // A prefix.
    let p4 = h
        .app
        .list_uploads(BUCKET, "d/", None, None, None, 1000)
        .await
        .unwrap();
    let keys: Vec<&str> = p4.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, vec!["d/x", "d/y"]);
}
