//! The conformance suite every [`MetaStore`] backend must pass, written once.
//!
//! A backend implements [`Harness`] (open its store; opening again must show the same data)
//! and expands [`meta_store_conformance!`](crate::meta_store_conformance) in a test file,
//! which gives one `#[tokio::test]` per case, each with a fresh harness:
//!
//! ```text
//! struct MyHarness { /* a temp dir, a scratch database... */ }
//!
//! #[async_trait::async_trait]
//! impl tessera_testing::meta_conformance::Harness for MyHarness {
//!     async fn open(&self) -> std::sync::Arc<dyn tessera_core::MetaStore> { /* ... */ }
//! }
//!
//! async fn harness() -> MyHarness { /* a fresh, empty location */ }
//!
//! tessera_testing::meta_store_conformance!(harness);
//! ```
//!
//! The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dependency.
//! Cases panic on failure, like any test. The list of cases lives in the macro only; a unit
//! test checks that every case function of this file is in it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::accounts::{AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy};
use tessera_core::checksum::{ChecksumAlgorithm, ChecksumType, ChecksumValue};
use tessera_core::{
    new_sequencer, now_millis, BlobId, BucketRecord, BucketSetting, CompleteRequest,
    ContentHeaders, Error, ListedVersion, MetaStore, ObjectAttrs, ObjectChecksum, ObjectRecord,
    ObjectUpdate, PartRecord, Retention, RetentionChange, RetentionMode, Segment, UploadRecord,
    VersionCursor, WriteCondition, NULL_VERSION,
};
use tokio::task::JoinSet;

/// Opens the store under test. Each case gets a fresh harness whose store starts empty;
/// opening again after the previous store was dropped must show the same, durable data.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Opens the store (panics if it cannot).
    async fn open(&self) -> Arc<dyn MetaStore>;
}

/// Expands to one `#[tokio::test]` per conformance case. The argument is a function (or
/// closure) taking no arguments and returning a future of a fresh [`Harness`].
/// `meta_store_conformance!(@names)` is the list of case names, as a `&[&str]`.
#[macro_export]
macro_rules! meta_store_conformance {
    // The one list of cases: every other arm receives it from here.
    (@list $callback:ident! ($($args:tt)*)) => {
        $crate::$callback! { $($args)*
            buckets_crud,
            list_buckets_paging,
            delete_bucket_not_empty,
            delete_bucket_with_uploads,
            bucket_settings,
            put_get_object,
            put_object_missing_bucket,
            overwrite_frees_blobs,
            put_conditions,
            object_owner_and_acl,
            if_none_match_race,
            delete_object_semantics,
            list_objects_byte_order,
            list_objects_paging,
            segments_ranges,
            uploads_create_get_list,
            parts_put_replace_list,
            complete_upload_basic,
            complete_upload_replaces_object,
            complete_upload_conflict,
            complete_upload_condition,
            prune_completed_uploads,
            abort_upload,
            referenced_blobs,
            group_commit_isolation,
            concurrent_overwrites_free_every_blob,
            durability,
            accounts_crud,
            account_delete_refused_with_buckets,
            users_crud,
            user_renamed_with_keys_and_policies,
            access_keys_rules,
            root_key_replaced,
            user_policies_rules,
            auth_epoch_moves,
            epoch_and_bucket_together,
            versions_placed_by_sequencer,
            null_version_replaced,
            delete_markers,
            delete_version_promotes_next,
            list_versions_paging,
            version_attrs_and_updates,
            complete_places_by_upload_sequencer,
            delete_bucket_with_versions,
            leases_one_holder,
            locked_versions_not_removed,
        }
    };
    (@tests $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = ($harness)().await;
                $crate::meta_conformance::$case(&harness).await;
            }
        )*
    };
    (@names; $($case:ident),* $(,)?) => {
        &[$(stringify!($case)),*]
    };
    (@names) => {
        $crate::meta_store_conformance!(@list meta_store_conformance!(@names;))
    };
    ($harness:expr) => {
        $crate::meta_store_conformance!(@list meta_store_conformance!(@tests $harness;));
    };
}

/// Asserts that `$result` is an `Err` matching `$pattern`.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err(e) => assert!(
                matches!(e, $pattern),
                "expected {}, got {e:?}",
                stringify!($pattern)
            ),
            Ok(v) => panic!("expected {}, got Ok({v:?})", stringify!($pattern)),
        }
    };
}

/// An object keeps its owner and ACL; PutObjectAcl replaces the ACL of exactly the object the
/// caller saw, and an upload's owner and ACL pass to the object at Complete.
pub async fn object_owner_and_acl(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (mut o, segs) = object("b", "k", "e1", &[3]);
    o.owner = "444455556666".into();
    o.acl = Some("acl-1".into());
    store
        .put_object(o.clone(), segs, WriteCondition::default())
        .await
        .unwrap();
    let got = store.get_object("b", "k").await.unwrap().unwrap();
    assert_eq!(
        (got.owner.as_str(), got.acl.as_deref()),
        ("444455556666", Some("acl-1"))
    );
    store
        .update_object(
            "b",
            "k",
            &o.object_id,
            ObjectUpdate::Acl(Some("acl-2".into())),
        )
        .await
        .unwrap();
    assert_err!(
        store
            .update_object("b", "k", "another-object", ObjectUpdate::Acl(None))
            .await,
        Error::NoSuchKey
    );
    assert_err!(
        store
            .update_object("b", "missing", &o.object_id, ObjectUpdate::Acl(None))
            .await,
        Error::NoSuchKey
    );
    drop(store);
    let store = h.open().await;
    let got = store.get_object("b", "k").await.unwrap().unwrap();
    assert_eq!(got.acl.as_deref(), Some("acl-2"));
    let listed = store.list_objects("b", "", None, 10).await.unwrap();
    assert_eq!(listed[0].owner, "444455556666");
    store
        .update_object("b", "k", &o.object_id, ObjectUpdate::Acl(None))
        .await
        .unwrap();
    assert_eq!(store.get_object("b", "k").await.unwrap().unwrap().acl, None);

    let mut u = upload("b", "mp", "up-acl", 1_700_000_000_000);
    u.owner = "777788889999".into();
    u.acl = Some("acl-u".into());
    store.create_upload(u.clone()).await.unwrap();
    assert_eq!(store.get_upload("up-acl").await.unwrap(), Some(u));
}

/// A versioned object (its version id is its sequencer) with one segment.
fn version(key: &str, etag: &str, sequencer: &str) -> (ObjectRecord, Vec<Segment>) {
    let (mut o, s) = object("b", key, etag, &[4]);
    o.version_id = sequencer.into();
    o.sequencer = sequencer.into();
    (o, s)
}

/// A delete marker of `key` with this version id and sequencer.
fn marker(key: &str, version_id: &str, sequencer: &str) -> ObjectRecord {
    let (mut o, _) = object("b", key, "", &[]);
    o.size = 0;
    o.version_id = version_id.into();
    o.sequencer = sequencer.into();
    o.delete_marker = true;
    o
}

/// `(version id, is latest)` of a versions listing.
fn ids(listed: &[ListedVersion]) -> Vec<(String, bool)> {
    listed
        .iter()
        .map(|v| (v.object.version_id.clone(), v.is_latest))
        .collect()
}

async fn all_versions(store: &dyn MetaStore, prefix: &str) -> Vec<ListedVersion> {
    store
        .list_versions("b", prefix, VersionCursor::default(), 1000)
        .await
        .unwrap()
}

/// The newest sequencer is current whatever the order of the writes: an older one (an upload
/// started before) is kept as non-current.
pub async fn versions_placed_by_sequencer(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (oldest, middle, newest) = (new_sequencer(), new_sequencer(), new_sequencer());
    let (m, ms) = version("k", "e-middle", &middle);
    let (n, ns) = version("k", "e-newest", &newest);
    let (o, os) = version("k", "e-oldest", &oldest);
    for (v, segs) in [(&m, &ms), (&n, &ns), (&o, &os)] {
        let freed = store
            .put_object(v.clone(), segs.clone(), none())
            .await
            .unwrap();
        assert!(freed.is_empty(), "a new version replaces nothing");
    }
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(n.clone()));
    for v in [&o, &m, &n] {
        assert_eq!(
            store
                .get_object_version("b", "k", &v.version_id)
                .await
                .unwrap()
                .as_ref(),
            Some(v)
        );
        assert_eq!(
            store
                .list_segments(&v.object_id, 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    assert_eq!(
        store.get_object_version("b", "k", "null").await.unwrap(),
        None
    );
    assert_eq!(
        ids(&all_versions(&*store, "").await),
        vec![
            (newest.clone(), true),
            (middle.clone(), false),
            (oldest.clone(), false)
        ]
    );
    // Conditions see the current version.
    let (x, xs) = version("k", "e-x", &new_sequencer());
    assert_err!(
        store
            .put_object(x.clone(), xs.clone(), if_match("e-middle"))
            .await,
        Error::PreconditionFailed
    );
    store.put_object(x, xs, if_match("e-newest")).await.unwrap();
    let all = sorted(
        blobs(&ms)
            .into_iter()
            .chain(blobs(&ns))
            .chain(blobs(&os))
            .collect(),
    );
    assert_eq!(sorted(store.referenced_blobs(&all).await.unwrap()), all);
    drop(store);
    let store = h.open().await;
    assert_eq!(all_versions(&*store, "").await.len(), 4);
    assert_eq!(
        store.list_objects("b", "", None, 10).await.unwrap().len(),
        1
    );
}

/// A `null` version replaces the previous `null` version wherever it sits among the key's
/// versions (its blobs are freed); versioned ones stay.
pub async fn null_version_replaced(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (first, fs) = object("b", "k", "e-null-1", &[3]);
    store
        .put_object(first.clone(), fs.clone(), none())
        .await
        .unwrap();
    let seq = new_sequencer();
    let (v, vs) = version("k", "e-v", &seq);
    store
        .put_object(v.clone(), vs.clone(), none())
        .await
        .unwrap();
    // The first null version is non-current now; a second one replaces it and is current.
    let (second, ss) = object("b", "k", "e-null-2", &[5]);
    let freed = store.put_object(second.clone(), ss, none()).await.unwrap();
    assert_eq!(sorted(freed), sorted(blobs(&fs)));
    assert_eq!(
        store.get_object("b", "k").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        ids(&all_versions(&*store, "").await),
        vec![("null".to_owned(), true), (seq.clone(), false)]
    );
    // Replacing the current null version by a newer one frees it too.
    let (third, ts) = object("b", "k", "e-null-3", &[1]);
    let freed = store
        .put_object(third.clone(), ts.clone(), none())
        .await
        .unwrap();
    assert_eq!(freed.len(), 1);
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(third));
    assert_eq!(
        store.get_object_version("b", "k", &seq).await.unwrap(),
        Some(v)
    );
    assert!(store
        .list_segments(&first.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_segments(&second.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A delete marker is a version without bytes: current, it hides the key from listings and
/// from write conditions; removing it brings the previous version back.
pub async fn delete_markers(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (o, os) = version("k", "e1", &new_sequencer());
    store.put_object(o.clone(), os, none()).await.unwrap();
    put(&*store, "b", "other", "e2").await;
    let mseq = new_sequencer();
    let m = marker("k", &mseq, &mseq);
    assert_err!(
        store
            .put_object(m.clone(), Vec::new(), if_match("nope"))
            .await,
        Error::PreconditionFailed
    );
    store
        .put_object(m.clone(), Vec::new(), if_match("e1"))
        .await
        .unwrap();
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(m.clone()));
    let listed = store.list_objects("b", "", None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["other"]
    );
    assert_eq!(
        ids(&all_versions(&*store, "k").await),
        vec![(mseq.clone(), true), (o.version_id.clone(), false)]
    );
    // Conditions treat the key as absent.
    let (x, xs) = version("k", "e-x", &new_sequencer());
    assert_err!(
        store.put_object(x.clone(), xs.clone(), if_match("*")).await,
        Error::NoSuchKey
    );
    assert_err!(
        store.delete_object("b", "k", &mseq, if_match("*")).await,
        Error::NoSuchKey
    );
    // Removing the marker: the object is current again, nothing to free.
    let (removed, freed) = store
        .delete_object("b", "k", &mseq, none())
        .await
        .unwrap()
        .unwrap();
    assert!(removed.delete_marker && freed.is_empty());
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o));
    assert_eq!(
        store.list_objects("b", "", None, 10).await.unwrap().len(),
        2
    );
    store.put_object(x, xs, if_none_match()).await.unwrap_err();
}

/// Removing the current version makes the next newest current; removing a non-current one
/// leaves the current alone; a missing version id is `None`.
pub async fn delete_version_promotes_next(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let seqs: Vec<String> = (0..3).map(|_| new_sequencer()).collect();
    let mut made = Vec::new();
    for (i, seq) in seqs.iter().enumerate() {
        let (v, vs) = version("k", &format!("e{i}"), seq);
        store
            .put_object(v.clone(), vs.clone(), none())
            .await
            .unwrap();
        made.push((v, vs));
    }
    let (removed, freed) = store
        .delete_object("b", "k", &seqs[2], none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed, made[2].0);
    assert_eq!(freed, blobs(&made[2].1));
    assert_eq!(
        store.get_object("b", "k").await.unwrap(),
        Some(made[1].0.clone())
    );
    assert_err!(
        store
            .delete_object("b", "k", &seqs[0], if_match("e1"))
            .await,
        Error::PreconditionFailed
    );
    store
        .delete_object("b", "k", &seqs[0], if_match("e0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.get_object("b", "k").await.unwrap(),
        Some(made[1].0.clone())
    );
    assert_eq!(
        store
            .delete_object("b", "k", &seqs[0], none())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delete_object("b", "k", "null", none()).await.unwrap(),
        None
    );
    store
        .delete_object("b", "k", &seqs[1], none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get_object("b", "k").await.unwrap(), None);
    assert!(all_versions(&*store, "").await.is_empty());
}

/// Versions list by key, newest first within a key; a cursor resumes after a key or within
/// one after a version; the prefix bounds it.
pub async fn list_versions_paging(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let mut expected = Vec::new();
    for key in ["a", "b/1", "b/2", "c"] {
        let mut of_key = Vec::new();
        for i in 0..3 {
            let seq = new_sequencer();
            if i == 1 {
                store
                    .put_object(marker(key, &seq, &seq), Vec::new(), none())
                    .await
                    .unwrap();
            } else {
                let (v, vs) = version(key, "e", &seq);
                store.put_object(v, vs, none()).await.unwrap();
            }
            of_key.push(seq);
        }
        of_key.reverse();
        expected.extend(
            of_key
                .into_iter()
                .enumerate()
                .map(|(i, s)| (key, s, i == 0)),
        );
    }
    let got: Vec<(String, String, bool)> = all_versions(&*store, "")
        .await
        .into_iter()
        .map(|v| (v.object.key, v.object.version_id, v.is_latest))
        .collect();
    let want: Vec<(String, String, bool)> = expected
        .iter()
        .map(|(k, s, l)| (k.to_string(), s.clone(), *l))
        .collect();
    assert_eq!(got, want);
    // Page by two with the cursor of the last entry.
    let mut cursor = VersionCursor::default();
    let mut paged = Vec::new();
    loop {
        let page = store
            .list_versions("b", "", cursor.clone(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = VersionCursor {
            key: Some(last.object.key.as_bytes().to_vec()),
            sequencer: Some(last.object.sequencer.clone()),
        };
        paged.extend(
            page.into_iter()
                .map(|v| (v.object.key, v.object.version_id, v.is_latest)),
        );
    }
    assert_eq!(paged, want);
    // After a whole key; within a prefix.
    let after_a = VersionCursor {
        key: Some(b"a".to_vec()),
        sequencer: None,
    };
    let page = store.list_versions("b", "", after_a, 100).await.unwrap();
    assert_eq!(page.len(), 9);
    assert_eq!(page[0].object.key, "b/1");
    let under_b = all_versions(&*store, "b/").await;
    assert_eq!(under_b.len(), 6);
    let before_prefix = VersionCursor {
        key: Some(b"a".to_vec()),
        sequencer: Some(expected[0].1.clone()),
    };
    assert_eq!(
        store
            .list_versions("b", "b/", before_prefix, 100)
            .await
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        store
            .list_versions("b", "", VersionCursor::default(), 0)
            .await
            .unwrap(),
        vec![]
    );
    assert_err!(
        store
            .list_versions("nope", "", VersionCursor::default(), 10)
            .await,
        Error::NoSuchBucket
    );
}

/// Storage class, redirect and tags are stored with a version; tags and ACLs change on the
/// version whose object id is named, current or not.
pub async fn version_attrs_and_updates(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (mut old, os) = version("k", "e-old", &new_sequencer());
    old.attrs = ObjectAttrs {
        storage_class: Some("STANDARD_IA".into()),
        website_redirect: Some("/elsewhere".into()),
        tags: vec![("b".into(), "2".into()), ("a".into(), "line\nbreak".into())],
        ..ObjectAttrs::default()
    };
    // Encryption at rest: an opaque text the store keeps as given.
    old.attrs.encryption = Some("sse1;s3;65536;00ff;a=b;c\n".into());
    store.put_object(old.clone(), os, none()).await.unwrap();
    let (new, ns) = version("k", "e-new", &new_sequencer());
    store.put_object(new.clone(), ns, none()).await.unwrap();
    let tags = vec![("k\u{e9}y".to_owned(), String::new())];
    store
        .update_object("b", "k", &old.object_id, ObjectUpdate::Tags(tags.clone()))
        .await
        .unwrap();
    store
        .update_object(
            "b",
            "k",
            &old.object_id,
            ObjectUpdate::Acl(Some("acl".into())),
        )
        .await
        .unwrap();
    assert_err!(
        store
            .update_object("b", "k", "gone", ObjectUpdate::Tags(Vec::new()))
            .await,
        Error::NoSuchKey
    );
    drop(store);
    let store = h.open().await;
    let got = store
        .get_object_version("b", "k", &old.version_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.attrs.tags, tags);
    assert_eq!(got.attrs.storage_class.as_deref(), Some("STANDARD_IA"));
    assert_eq!(got.attrs.website_redirect.as_deref(), Some("/elsewhere"));
    assert_eq!(got.attrs.encryption, old.attrs.encryption);
    assert_eq!(got.acl.as_deref(), Some("acl"));
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(new));
    let mut u = upload("b", "mp", "u-attrs", 1);
    u.attrs.storage_class = Some("GLACIER".into());
    u.attrs.tags = vec![("t".into(), "v".into())];
    u.attrs.encryption = Some("sse1;c;65536;00;11;22".into());
    store.create_upload(u.clone()).await.unwrap();
    assert_eq!(store.get_upload("u-attrs").await.unwrap(), Some(u));
}

/// Complete places its object by the sequencer it is given (the upload's, in a versioned
/// bucket): an upload started before the current version does not become current. The
/// completed-upload record keeps the version id.
pub async fn complete_places_by_upload_sequencer(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let early = upload("b", "k", "u-early", 1);
    store.create_upload(early.clone()).await.unwrap();
    let p = part(1, 10);
    store.put_part("u-early", p.clone()).await.unwrap();
    let (later, ls) = version("k", "e-later", &new_sequencer());
    store.put_object(later.clone(), ls, none()).await.unwrap();
    let (mut o, _) = object("b", "k", "aabbccddeeff00112233445566778899-1", &[]);
    o.size = 10;
    o.parts_count = Some(1);
    o.version_id = early.sequencer.clone();
    o.sequencer = early.sequencer.clone();
    let request = CompleteRequest {
        upload_id: "u-early".into(),
        object: o.clone(),
        segments: segments_from_parts(&[&p]),
        condition: none(),
    };
    assert!(store.complete_upload(request).await.unwrap().is_empty());
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(later));
    assert_eq!(
        store
            .get_object_version("b", "k", &o.version_id)
            .await
            .unwrap(),
        Some(o.clone())
    );
    let done = store
        .get_completed_upload("u-early")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.version_id, o.version_id);
}

/// A bucket holding only non-current versions or delete markers is not empty.
pub async fn delete_bucket_with_versions(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let seq = new_sequencer();
    store
        .put_object(marker("k", &seq, &seq), Vec::new(), none())
        .await
        .unwrap();
    assert_err!(store.delete_bucket("b").await, Error::BucketNotEmpty);
    let (v, vs) = version("k", "e", &sequencer_before(&seq));
    store.put_object(v.clone(), vs, none()).await.unwrap();
    store
        .delete_object("b", "k", &seq, none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(v.clone()));
    store
        .delete_object("b", "k", &v.version_id, none())
        .await
        .unwrap()
        .unwrap();
    store.delete_bucket("b").await.unwrap();
}

/// Object Lock, checked by the store as it removes or changes a version: retention and legal
/// hold are stored with a version; a version under legal hold or active retention is not
/// removed (GOVERNANCE only with the bypass), nor replaced as the `null` version; an active
/// COMPLIANCE retention is not shortened by an update; an ended retention protects nothing.
pub async fn locked_versions_not_removed(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let hour_on = now_millis() + 3_600_000;
    let locked = |mode, retain_until| ObjectAttrs {
        retention: Some(Retention { mode, retain_until }),
        ..ObjectAttrs::default()
    };
    let bypass = WriteCondition {
        bypass_governance: true,
        ..WriteCondition::default()
    };
    let (mut gov, gs) = version("k", "e-gov", &new_sequencer());
    gov.attrs = locked(RetentionMode::Governance, hour_on);
    store.put_object(gov.clone(), gs, none()).await.unwrap();
    let (mut comp, cs) = version("k", "e-comp", &new_sequencer());
    comp.attrs = locked(RetentionMode::Compliance, hour_on);
    store.put_object(comp.clone(), cs, none()).await.unwrap();
    let (mut ended, es) = version("k", "e-ended", &new_sequencer());
    ended.attrs = locked(RetentionMode::Compliance, now_millis() - 1);
    store.put_object(ended.clone(), es, none()).await.unwrap();
    let (held, hs) = version("k", "e-held", &new_sequencer());
    store.put_object(held.clone(), hs, none()).await.unwrap();
    store
        .update_object("b", "k", &held.object_id, ObjectUpdate::LegalHold(true))
        .await
        .unwrap();
    drop(store);
    let store = h.open().await;
    assert_eq!(stored(store.as_ref(), &gov).await.unwrap().attrs, gov.attrs);
    assert_eq!(
        stored(store.as_ref(), &comp).await.unwrap().attrs,
        comp.attrs
    );
    assert_eq!(
        stored(store.as_ref(), &held)
            .await
            .unwrap()
            .attrs
            .legal_hold,
        Some(true)
    );

    assert_err!(
        store.delete_object("b", "k", &gov.version_id, none()).await,
        Error::ObjectLocked
    );
    assert_err!(
        store
            .delete_object("b", "k", &comp.version_id, bypass.clone())
            .await,
        Error::ObjectLocked
    );
    assert_err!(
        store
            .delete_object("b", "k", &held.version_id, bypass.clone())
            .await,
        Error::ObjectLocked
    );
    assert_eq!(
        store.get_object("b", "k").await.unwrap(),
        stored(store.as_ref(), &held).await
    );
    assert!(stored(store.as_ref(), &comp).await.is_some());
    store
        .delete_object("b", "k", &gov.version_id, bypass.clone())
        .await
        .unwrap()
        .unwrap();
    store
        .delete_object("b", "k", &ended.version_id, none())
        .await
        .unwrap()
        .unwrap();
    store
        .update_object("b", "k", &held.object_id, ObjectUpdate::LegalHold(false))
        .await
        .unwrap();
    store
        .delete_object("b", "k", &held.version_id, none())
        .await
        .unwrap()
        .unwrap();

    // A COMPLIANCE retention is lengthened, never shortened nor removed.
    let set = |retention, bypass_governance| {
        ObjectUpdate::Retention(RetentionChange {
            retention,
            bypass_governance,
        })
    };
    let shorter = Some(Retention {
        mode: RetentionMode::Compliance,
        retain_until: hour_on - 1,
    });
    let longer = Some(Retention {
        mode: RetentionMode::Compliance,
        retain_until: hour_on + 1,
    });
    for refused in [set(shorter, true), set(None, true)] {
        assert_err!(
            store
                .update_object("b", "k", &comp.object_id, refused)
                .await,
            Error::ObjectLocked
        );
    }
    assert_eq!(
        stored(store.as_ref(), &comp).await.unwrap().attrs,
        comp.attrs
    );
    store
        .update_object("b", "k", &comp.object_id, set(longer, false))
        .await
        .unwrap();
    assert_eq!(
        stored(store.as_ref(), &comp).await.unwrap().attrs.retention,
        longer
    );

    // A locked `null` version is not replaced by a write either.
    let (mut null, ns) = object("b", "n", "e-null", &[3]);
    null.attrs.legal_hold = Some(true);
    store.put_object(null.clone(), ns, none()).await.unwrap();
    let (again, again_segments) = object("b", "n", "e-again", &[3]);
    assert_err!(
        store.put_object(again, again_segments, none()).await,
        Error::ObjectLocked
    );
    assert_eq!(store.get_object("b", "n").await.unwrap(), Some(null));
}

/// The stored version of `v`, if any.
async fn stored(store: &dyn MetaStore, v: &ObjectRecord) -> Option<ObjectRecord> {
    store
        .get_object_version(&v.bucket, &v.key, &v.version_id)
        .await
        .unwrap()
}

/// A sequencer older than `seq` (sorts after it).
fn sequencer_before(seq: &str) -> String {
    format!("{seq}0")
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        created: 1_700_000_000_000,
        region: "us-east-1".into(),
        owner: "111122223333".into(),
        settings: BTreeMap::new(),
    }
}

fn random_id() -> String {
    BlobId::random().0
}

/// An object with one segment per entry of `sizes`; returns it and its segments.
fn object(bucket: &str, key: &str, etag: &str, sizes: &[u64]) -> (ObjectRecord, Vec<Segment>) {
    let segments = segments_of(sizes);
    let size = sizes.iter().sum();
    let record = ObjectRecord {
        bucket: bucket.into(),
        key: key.into(),
        object_id: random_id(),
        size,
        etag: etag.into(),
        last_modified: 1_700_000_000_123,
        headers: ContentHeaders::default(),
        user_metadata: BTreeMap::new(),
        checksum: None,
        parts_count: None,
        owner: "111122223333".into(),
        acl: None,
        version_id: NULL_VERSION.into(),
        sequencer: new_sequencer(),
        delete_marker: false,
        attrs: ObjectAttrs::default(),
    };
    (record, segments)
}

fn segments_of(sizes: &[u64]) -> Vec<Segment> {
    let mut offset = 0;
    sizes
        .iter()
        .zip(1u32..)
        .map(|(&size, part_number)| {
            let s = Segment {
                part_number,
                offset,
                size,
                blob: BlobId::random(),
                etag: format!("{:032x}", part_number),
                checksums: vec![ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    digest: u64::from(part_number).to_be_bytes().to_vec(),
                }],
            };
            offset += size;
            s
        })
        .collect()
}

fn blobs(segments: &[Segment]) -> Vec<BlobId> {
    segments.iter().map(|s| s.blob.clone()).collect()
}

fn sorted(mut v: Vec<BlobId>) -> Vec<BlobId> {
    v.sort();
    v
}

fn upload(bucket: &str, key: &str, upload_id: &str, initiated: i64) -> UploadRecord {
    UploadRecord {
        upload_id: upload_id.into(),
        bucket: bucket.into(),
        key: key.into(),
        initiated,
        headers: ContentHeaders::default(),
        user_metadata: BTreeMap::new(),
        checksum_algorithm: None,
        checksum_type: None,
        initiator: "arn:aws:iam::111122223333:user/uploader".into(),
        owner: "111122223333".into(),
        acl: None,
        sequencer: new_sequencer(),
        attrs: ObjectAttrs::default(),
    }
}

fn part(part_number: u32, size: u64) -> PartRecord {
    PartRecord {
        part_number,
        size,
        etag: format!("{:032x}", u64::from(part_number) * 7),
        last_modified: 1_700_000_000_000 + i64::from(part_number),
        blob: BlobId::random(),
        checksums: vec![
            ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                digest: vec![part_number as u8; 8],
            },
            ChecksumValue {
                algorithm: ChecksumAlgorithm::Sha1,
                digest: vec![3; 20],
            },
        ],
    }
}

/// The segments of a Complete made of `parts`, in order, with offsets.
fn segments_from_parts(parts: &[&PartRecord]) -> Vec<Segment> {
    let mut offset = 0;
    parts
        .iter()
        .map(|p| {
            let s = Segment {
                part_number: p.part_number,
                offset,
                size: p.size,
                blob: p.blob.clone(),
                etag: p.etag.clone(),
                checksums: p.checksums.clone(),
            };
            offset += p.size;
            s
        })
        .collect()
}

fn none() -> WriteCondition {
    WriteCondition::default()
}

fn if_none_match() -> WriteCondition {
    WriteCondition {
        if_none_match_any: true,
        ..WriteCondition::default()
    }
}

fn if_match(etag: &str) -> WriteCondition {
    WriteCondition {
        if_match: Some(etag.into()),
        ..WriteCondition::default()
    }
}

async fn put(
    store: &dyn MetaStore,
    bucket: &str,
    key: &str,
    etag: &str,
) -> (ObjectRecord, Vec<Segment>) {
    let (o, s) = object(bucket, key, etag, &[10]);
    let freed = store
        .put_object(o.clone(), s.clone(), none())
        .await
        .expect("put_object");
    assert!(freed.is_empty(), "a new key frees nothing");
    (o, s)
}

async fn keys(
    store: &dyn MetaStore,
    bucket: &str,
    prefix: &str,
    after: Option<&[u8]>,
    limit: usize,
) -> Vec<String> {
    store
        .list_objects(bucket, prefix, after.map(<[u8]>::to_vec), limit)
        .await
        .expect("list_objects")
        .into_iter()
        .map(|o| o.key)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Buckets
// ---------------------------------------------------------------------------------------------

/// Settings are set, replaced and removed one at a time, survive reopening, and go with the
/// bucket.
pub async fn bucket_settings(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("conf")).await.unwrap();
    assert_err!(
        store
            .put_bucket_setting("nope", BucketSetting::Policy, Some("{}".into()))
            .await,
        Error::NoSuchBucket
    );
    store
        .put_bucket_setting("conf", BucketSetting::Policy, Some("{\"p\":1}".into()))
        .await
        .unwrap();
    store
        .put_bucket_setting(
            "conf",
            BucketSetting::Ownership,
            Some("ObjectWriter".into()),
        )
        .await
        .unwrap();
    store
        .put_bucket_setting("conf", BucketSetting::Policy, Some("{\"p\":2}".into()))
        .await
        .unwrap();
    drop(store);
    let store = h.open().await;
    let b = store.get_bucket("conf").await.unwrap().unwrap();
    assert_eq!(b.setting(BucketSetting::Policy), Some("{\"p\":2}"));
    assert_eq!(b.setting(BucketSetting::Ownership), Some("ObjectWriter"));
    assert_eq!(b.setting(BucketSetting::Acl), None);
    let listed = store.list_buckets(None, 10).await.unwrap();
    assert_eq!(listed, vec![b]);
    store
        .put_bucket_setting("conf", BucketSetting::Policy, None)
        .await
        .unwrap();
    // Removing a setting that is not there is no error.
    store
        .put_bucket_setting("conf", BucketSetting::Acl, None)
        .await
        .unwrap();
    let b = store.get_bucket("conf").await.unwrap().unwrap();
    assert_eq!(b.setting(BucketSetting::Policy), None);
    assert_eq!(b.settings.len(), 1);
    store.delete_bucket("conf").await.unwrap();
    store.create_bucket(bucket("conf")).await.unwrap();
    assert!(
        store
            .get_bucket("conf")
            .await
            .unwrap()
            .unwrap()
            .settings
            .is_empty(),
        "a new bucket of the same name starts without the old one's settings"
    );
}

/// Create, get, duplicate, delete, delete again.
pub async fn buckets_crud(h: &dyn Harness) {
    let store = h.open().await;
    assert_eq!(store.get_bucket("photos").await.unwrap(), None);
    let b = BucketRecord {
        name: "photos".into(),
        created: 1_700_000_000_777,
        region: "eu-west-3".into(),
        owner: "111122223333".into(),
        settings: BTreeMap::from([("acl".to_owned(), "{\"v\":1}".to_owned())]),
    };
    store.create_bucket(b.clone()).await.unwrap();
    assert_eq!(store.get_bucket("photos").await.unwrap(), Some(b.clone()));
    assert_err!(
        store.create_bucket(bucket("photos")).await,
        Error::BucketAlreadyOwnedByYou
    );
    assert_eq!(
        store.get_bucket("photos").await.unwrap(),
        Some(b),
        "a failed create changes nothing"
    );
    assert_eq!(store.get_bucket("photo").await.unwrap(), None);
    assert_err!(store.delete_bucket("nope").await, Error::NoSuchBucket);
    assert_eq!(
        store.delete_bucket("photos").await.unwrap(),
        Vec::<BlobId>::new()
    );
    assert_eq!(store.get_bucket("photos").await.unwrap(), None);
    assert_err!(store.delete_bucket("photos").await, Error::NoSuchBucket);
    store.create_bucket(bucket("photos")).await.unwrap();
    assert!(store.get_bucket("photos").await.unwrap().is_some());
}

/// Buckets list in name order, strictly after `after`, `limit` at a time.
pub async fn list_buckets_paging(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store.list_buckets(None, 10).await.unwrap().is_empty());
    let mut names: Vec<String> = (0..25)
        .map(|i| format!("bucket-{:02}", (i * 7) % 25))
        .collect();
    names.push("a-first".into());
    names.push("z-last".into());
    for n in &names {
        store.create_bucket(bucket(n)).await.unwrap();
    }
    names.sort();
    let all: Vec<String> = store
        .list_buckets(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(all, names);

    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_buckets(after.as_deref(), 10).await.unwrap();
        assert!(page.len() <= 10);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|b| b.name.clone());
        paged.extend(page.into_iter().map(|b| b.name));
    }
    assert_eq!(paged, names);

    let after_missing: Vec<String> = store
        .list_buckets(Some("bucket-10x"), 3)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(after_missing, ["bucket-11", "bucket-12", "bucket-13"]);
    assert!(store
        .list_buckets(Some("z-last"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.list_buckets(None, 0).await.unwrap().is_empty());
}

/// A bucket holding an object cannot be deleted.
pub async fn delete_bucket_not_empty(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    put(&*store, "b", "k", "e1").await;
    assert_err!(store.delete_bucket("b").await, Error::BucketNotEmpty);
    assert!(store.get_bucket("b").await.unwrap().is_some());
    assert!(store.get_object("b", "k").await.unwrap().is_some());
    store
        .delete_object("b", "k", "null", none())
        .await
        .unwrap()
        .unwrap();
    store.delete_bucket("b").await.unwrap();
    assert_eq!(store.get_bucket("b").await.unwrap(), None);
}

/// Deleting a bucket aborts its uploads and returns the blobs of their parts.
pub async fn delete_bucket_with_uploads(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    store.create_bucket(bucket("other")).await.unwrap();
    store
        .create_upload(upload("b", "k1", "u1", 1))
        .await
        .unwrap();
    store
        .create_upload(upload("b", "k2", "u2", 2))
        .await
        .unwrap();
    store
        .create_upload(upload("b", "k3", "u3", 3))
        .await
        .unwrap();
    store
        .create_upload(upload("other", "k1", "u4", 4))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for (id, n) in [("u1", 1), ("u1", 2), ("u2", 1)] {
        let p = part(n, 5);
        expected.push(p.blob.clone());
        store.put_part(id, p).await.unwrap();
    }
    let kept = part(1, 5);
    store.put_part("u4", kept.clone()).await.unwrap();

    assert_eq!(
        sorted(store.delete_bucket("b").await.unwrap()),
        sorted(expected.clone())
    );
    assert_eq!(store.get_bucket("b").await.unwrap(), None);
    for id in ["u1", "u2", "u3"] {
        assert_eq!(store.get_upload(id).await.unwrap(), None);
        assert!(store.list_parts(id, 0, 100).await.unwrap().is_empty());
        assert_err!(store.put_part(id, part(9, 1)).await, Error::NoSuchUpload);
    }
    assert!(store.referenced_blobs(&expected).await.unwrap().is_empty());
    assert!(
        store.get_upload("u4").await.unwrap().is_some(),
        "other buckets' uploads stay"
    );
    assert_eq!(
        store
            .referenced_blobs(std::slice::from_ref(&kept.blob))
            .await
            .unwrap(),
        vec![kept.blob]
    );

    // A recreated bucket starts without uploads.
    store.create_bucket(bucket("b")).await.unwrap();
    assert!(store
        .list_uploads("b", "", None, None, 100)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// Every field of an object and its segments round-trips.
pub async fn put_get_object(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    assert_eq!(store.get_object("b", "k").await.unwrap(), None);

    let (mut o, segments) = object(
        "b",
        "dir/ключ 🗝.txt",
        "0123456789abcdef0123456789abcdef-3",
        &[5, 7, 3],
    );
    o.headers = ContentHeaders {
        content_type: Some("text/plain; charset=utf-8".into()),
        content_encoding: Some("gzip".into()),
        content_disposition: Some("attachment; filename=\"ключ.txt\"".into()),
        content_language: Some("ru".into()),
        cache_control: Some("max-age=60".into()),
        expires: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
    };
    o.user_metadata = BTreeMap::from([
        ("color".to_string(), "blue".to_string()),
        ("note".to_string(), "héllo, \"world\" = 1; 2".to_string()),
        ("empty".to_string(), String::new()),
    ]);
    o.checksum = Some(ObjectChecksum {
        algorithm: ChecksumAlgorithm::Crc32c,
        checksum_type: ChecksumType::Composite,
        value: "yZRlqg==-3".into(),
    });
    o.parts_count = Some(3);
    o.size = 15;
    let freed = store
        .put_object(o.clone(), segments.clone(), none())
        .await
        .unwrap();
    assert!(freed.is_empty());

    assert_eq!(
        store.get_object("b", &o.key).await.unwrap(),
        Some(o.clone())
    );
    assert_eq!(store.get_object("b", "dir/ключ 🗝.tx").await.unwrap(), None);
    assert_eq!(store.get_object("other", &o.key).await.unwrap(), None);
    assert_eq!(
        store.list_segments(&o.object_id, 0, 100).await.unwrap(),
        segments
    );
    assert_eq!(
        store.get_segment(&o.object_id, 2).await.unwrap(),
        Some(segments[1].clone())
    );
    assert_eq!(store.get_segment(&o.object_id, 4).await.unwrap(), None);
    assert_eq!(store.get_segment("unknown", 1).await.unwrap(), None);

    // Plain object: no metadata, no checksum, no parts count.
    let (plain, plain_segments) = object("b", "plain", "d41d8cd98f00b204e9800998ecf8427e", &[0]);
    store
        .put_object(plain.clone(), plain_segments.clone(), none())
        .await
        .unwrap();
    assert_eq!(
        store.get_object("b", "plain").await.unwrap(),
        Some(plain.clone())
    );
    assert_eq!(
        store.list_segments(&plain.object_id, 0, 10).await.unwrap(),
        plain_segments
    );
}

/// Objects and uploads need their bucket.
pub async fn put_object_missing_bucket(h: &dyn Harness) {
    let store = h.open().await;
    let (o, s) = object("nope", "k", "e", &[1]);
    assert_err!(
        store.put_object(o.clone(), s, none()).await,
        Error::NoSuchBucket
    );
    assert_err!(
        store.list_objects("nope", "", None, 10).await,
        Error::NoSuchBucket
    );
    assert_err!(
        store.create_upload(upload("nope", "k", "u", 1)).await,
        Error::NoSuchBucket
    );
    assert_eq!(store.get_segment(&o.object_id, 1).await.unwrap(), None);
    assert_eq!(store.get_upload("u").await.unwrap(), None);
}

/// Overwriting returns the old object's blobs; its segments disappear.
pub async fn overwrite_frees_blobs(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (o1, s1) = object("b", "k", "e1", &[4, 4]);
    store
        .put_object(o1.clone(), s1.clone(), none())
        .await
        .unwrap();
    let (o2, s2) = object("b", "k", "e2", &[9]);
    let freed = store
        .put_object(o2.clone(), s2.clone(), none())
        .await
        .unwrap();
    assert_eq!(sorted(freed), sorted(blobs(&s1)));
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o2.clone()));
    assert!(store
        .list_segments(&o1.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .get_segments(&o1.object_id, 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_segments(&o2.object_id, 0, 10).await.unwrap(), s2);
    assert!(store
        .referenced_blobs(&blobs(&s1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.referenced_blobs(&blobs(&s2)).await.unwrap(),
        blobs(&s2)
    );

    // Same key in another bucket is another object.
    store.create_bucket(bucket("c")).await.unwrap();
    let (o3, s3) = object("c", "k", "e3", &[1]);
    assert!(store.put_object(o3, s3, none()).await.unwrap().is_empty());
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o2));
}

/// If-None-Match and If-Match on PUT, checked against the current object.
pub async fn put_conditions(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();

    // If-Match on a missing key fails with NoSuchKey (as S3), If-None-Match succeeds.
    let (o, s) = object("b", "k", "etag1", &[3]);
    assert_err!(
        store
            .put_object(o.clone(), s.clone(), if_match("etag1"))
            .await,
        Error::NoSuchKey
    );
    assert_err!(
        store.put_object(o.clone(), s.clone(), if_match("*")).await,
        Error::NoSuchKey
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), None);
    store
        .put_object(o.clone(), s.clone(), if_none_match())
        .await
        .unwrap();

    // If-None-Match on an existing key fails and changes nothing.
    let (o2, s2) = object("b", "k", "etag2", &[3]);
    assert_err!(
        store
            .put_object(o2.clone(), s2.clone(), if_none_match())
            .await,
        Error::PreconditionFailed
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o.clone()));
    assert!(store
        .list_segments(&o2.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());

    // If-Match with another ETag fails.
    assert_err!(
        store
            .put_object(o2.clone(), s2.clone(), if_match("etag9"))
            .await,
        Error::PreconditionFailed
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o.clone()));

    // If-Match with the ETag, quoted or not, succeeds.
    let freed = store
        .put_object(o2.clone(), s2.clone(), if_match("\"etag1\""))
        .await
        .unwrap();
    assert_eq!(freed, blobs(&s));
    let (o3, s3) = object("b", "k", "etag3", &[3]);
    assert_eq!(
        store
            .put_object(o3.clone(), s3.clone(), if_match("etag2"))
            .await
            .unwrap(),
        blobs(&s2)
    );
    let (o4, s4) = object("b", "k", "etag4", &[3]);
    assert_eq!(
        store
            .put_object(o4.clone(), s4, if_match("*"))
            .await
            .unwrap(),
        blobs(&s3)
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o4));
}

/// Eight concurrent `If-None-Match: *` puts of one key: exactly one wins.
pub async fn if_none_match_race(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    for round in 0..5 {
        let key = format!("race-{round}");
        let mut tasks = JoinSet::new();
        for i in 0..8 {
            let store = Arc::clone(&store);
            let (o, s) = object("b", &key, &format!("etag-{i}"), &[1]);
            tasks.spawn(async move { (o.clone(), store.put_object(o, s, if_none_match()).await) });
        }
        let mut winners = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (o, result) = joined.unwrap();
            match result {
                Ok(freed) => {
                    assert!(freed.is_empty());
                    winners.push(o);
                }
                Err(Error::PreconditionFailed) => {}
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one conditional put wins");
        assert_eq!(
            store.get_object("b", &key).await.unwrap().as_ref(),
            winners.first()
        );
    }
}

/// Delete: missing keys, If-Match, freed blobs.
pub async fn delete_object_semantics(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    assert_eq!(
        store
            .delete_object("b", "missing", "null", none())
            .await
            .unwrap(),
        None
    );
    assert_err!(
        store
            .delete_object("b", "missing", "null", if_match("e"))
            .await,
        Error::NoSuchKey
    );

    let (o, s) = object("b", "k", "etag1", &[2, 2, 2]);
    store
        .put_object(o.clone(), s.clone(), none())
        .await
        .unwrap();
    assert_err!(
        store
            .delete_object("b", "k", "null", if_match("other"))
            .await,
        Error::PreconditionFailed
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o.clone()));
    let freed = store
        .delete_object("b", "k", "null", if_match("\"etag1\""))
        .await
        .unwrap();
    assert_eq!(freed.map(|(_, b)| sorted(b)), Some(sorted(blobs(&s))));
    assert_eq!(store.get_object("b", "k").await.unwrap(), None);
    assert!(store
        .list_segments(&o.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.referenced_blobs(&blobs(&s)).await.unwrap().is_empty());
    assert_eq!(
        store.delete_object("b", "k", "null", none()).await.unwrap(),
        None
    );

    let (o2, s2) = object("b", "k2", "etag2", &[1]);
    store.put_object(o2, s2.clone(), none()).await.unwrap();
    assert_eq!(
        store
            .delete_object("b", "k2", "null", if_match("*"))
            .await
            .unwrap()
            .map(|(_, b)| b),
        Some(blobs(&s2))
    );
    let (o3, s3) = object("b", "k3", "etag3", &[1]);
    store.put_object(o3, s3.clone(), none()).await.unwrap();
    assert_eq!(
        store
            .delete_object("b", "k3", "null", none())
            .await
            .unwrap()
            .map(|(_, b)| b),
        Some(blobs(&s3))
    );
    assert!(store
        .list_objects("b", "", None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Listing is in key byte order, with prefix, raw-byte `after` and limit.
pub async fn list_objects_byte_order(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    store.create_bucket(bucket("other")).await.unwrap();
    let all_keys = [
        "a",
        "a b",
        "a/b",
        "a/c",
        "a/c/d",
        "ab",
        "A",
        "b",
        "z",
        "~",
        "\u{7f}",
        "\u{7f}x",
        "é",
        "éa",
        "ê",
        "中",
        "中文",
        "😀",
        "\u{10FFFF}",
        "0",
        "a\u{7f}",
        "aé",
    ];
    for k in all_keys {
        put(&*store, "b", k, "e").await;
    }
    put(&*store, "other", "a/zzz", "e").await;
    let mut expected: Vec<&str> = all_keys.to_vec();
    expected.sort(); // str order is byte order
    assert_eq!(keys(&*store, "b", "", None, 1000).await, expected);
    assert!(store
        .list_objects("b", "", None, 0)
        .await
        .unwrap()
        .is_empty());

    let prefixes = [
        "",
        "a",
        "a/",
        "a/c",
        "é",
        "中",
        "\u{7f}",
        "zz",
        "\u{10FFFF}",
        "0",
        "a\u{7f}",
    ];
    let mut afters: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"a/\xff".to_vec(),
        b"\xff".to_vec(),
        b"a/c\xff".to_vec(),
    ];
    afters.extend(all_keys.iter().map(|k| k.as_bytes().to_vec()));
    for prefix in prefixes {
        for after in std::iter::once(None).chain(afters.iter().map(|a| Some(a.as_slice()))) {
            for limit in [1, 2, 1000] {
                let want: Vec<&str> = expected
                    .iter()
                    .copied()
                    .filter(|k| k.starts_with(prefix))
                    .filter(|k| after.is_none_or(|a| k.as_bytes() > a))
                    .take(limit)
                    .collect();
                let got = keys(&*store, "b", prefix, after, limit).await;
                assert_eq!(got, want, "prefix {prefix:?} after {after:?} limit {limit}");
            }
        }
    }
    // A returned record is the full object.
    let listed = store.list_objects("b", "中文", None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        Some(listed[0].clone()),
        store.get_object("b", "中文").await.unwrap()
    );
}

/// 2,500 keys written concurrently, listed in pages of 1000.
pub async fn list_objects_paging(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..2500u32 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let (o, s) = object("b", &format!("k/{i:05}"), "e", &[1]);
            store.put_object(o, s, none()).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        assert!(joined.unwrap().unwrap().is_empty());
    }
    let expected: Vec<String> = (0..2500).map(|i| format!("k/{i:05}")).collect();

    let mut listed = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .list_objects("b", "", after.clone(), 1000)
            .await
            .unwrap();
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone().into_bytes());
        listed.extend(page.into_iter().map(|o| o.key));
    }
    assert_eq!(sizes, [1000, 1000, 500, 0]);
    assert_eq!(listed, expected);

    // With a prefix, smaller pages.
    let mut listed = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = keys(&*store, "b", "k/01", after.as_deref(), 300).await;
        let Some(last) = page.last() else { break };
        after = Some(last.clone().into_bytes());
        listed.extend(page);
    }
    assert_eq!(listed, expected[1000..2000]);
    // Skipping a "directory" with a 0xFF marker.
    assert!(keys(&*store, "b", "", Some(b"k/0\xff"), 2).await.is_empty());
    assert_eq!(
        keys(&*store, "b", "", Some(b"k/00\xff"), 1).await,
        ["k/01000"]
    );
    assert!(keys(&*store, "b", "k/", Some(b"k/024\xff"), 2)
        .await
        .is_empty());
    assert_eq!(
        keys(&*store, "b", "k/", Some(b"k/023\xff"), 2).await,
        ["k/02400", "k/02401"]
    );
}

/// Segment lookups by byte range, by number, and in pages. A range returns the segments it
/// intersects; an empty segment counts as the point at its offset.
pub async fn segments_ranges(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let sizes = vec![10u64; 1000];
    let (mut o, segments) = object("b", "big", "e-1000", &sizes);
    o.parts_count = Some(1000);
    store
        .put_object(o.clone(), segments.clone(), none())
        .await
        .unwrap();
    let id = &o.object_id;
    let parts_of = |v: Vec<Segment>| v.into_iter().map(|s| s.part_number).collect::<Vec<_>>();

    assert_eq!(parts_of(store.get_segments(id, 0, 1).await.unwrap()), [1]);
    assert_eq!(parts_of(store.get_segments(id, 0, 10).await.unwrap()), [1]);
    assert_eq!(
        parts_of(store.get_segments(id, 0, 11).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        parts_of(store.get_segments(id, 9, 11).await.unwrap()),
        [1, 2]
    );
    assert_eq!(parts_of(store.get_segments(id, 10, 20).await.unwrap()), [2]);
    assert_eq!(
        parts_of(store.get_segments(id, 5000, 5015).await.unwrap()),
        [501, 502]
    );
    assert_eq!(
        parts_of(store.get_segments(id, 4999, 5001).await.unwrap()),
        [500, 501]
    );
    assert_eq!(
        parts_of(store.get_segments(id, 9999, 10_000).await.unwrap()),
        [1000]
    );
    assert_eq!(
        parts_of(store.get_segments(id, 9995, u64::MAX).await.unwrap()),
        [1000]
    );
    assert!(store
        .get_segments(id, 10_000, 20_000)
        .await
        .unwrap()
        .is_empty());
    assert!(store.get_segments(id, 50, 50).await.unwrap().is_empty());
    assert!(store.get_segments(id, 60, 50).await.unwrap().is_empty());
    assert!(store
        .get_segments("unknown", 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.get_segments(id, 0, u64::MAX).await.unwrap(), segments);
    assert_eq!(
        store.get_segments(id, 1234, 1256).await.unwrap(),
        segments[123..126]
    );

    // Empty segments: an empty object, and an empty part between two others.
    let (empty, empty_segments) = object("b", "empty", "d41d8cd98f00b204e9800998ecf8427e", &[0]);
    store
        .put_object(empty.clone(), empty_segments.clone(), none())
        .await
        .unwrap();
    assert_eq!(
        store.get_segments(&empty.object_id, 0, 1).await.unwrap(),
        empty_segments
    );
    assert!(store
        .get_segments(&empty.object_id, 1, 2)
        .await
        .unwrap()
        .is_empty());
    let (gap, gap_segments) = object("b", "gap", "e-3", &[5, 0, 5]);
    store
        .put_object(gap.clone(), gap_segments.clone(), none())
        .await
        .unwrap();
    let gid = &gap.object_id;
    assert_eq!(store.get_segments(gid, 0, 10).await.unwrap(), gap_segments);
    assert_eq!(
        store.get_segments(gid, 0, 5).await.unwrap(),
        gap_segments[..1]
    );
    assert_eq!(
        store.get_segments(gid, 5, 6).await.unwrap(),
        gap_segments[1..]
    );
    assert_eq!(store.get_segments(gid, 4, 6).await.unwrap(), gap_segments);
    assert_eq!(
        store.get_segments(gid, 6, 10).await.unwrap(),
        gap_segments[2..]
    );

    // Segments of unequal sizes.
    let (o2, s2) = object("b", "uneven", "e-3", &[7, 1, 100]);
    store
        .put_object(o2.clone(), s2.clone(), none())
        .await
        .unwrap();
    assert_eq!(
        store.get_segments(&o2.object_id, 7, 8).await.unwrap(),
        s2[1..2]
    );
    assert_eq!(store.get_segments(&o2.object_id, 6, 9).await.unwrap(), s2);
    assert_eq!(
        store.get_segments(&o2.object_id, 8, 108).await.unwrap(),
        s2[2..]
    );

    assert_eq!(
        store.get_segment(id, 1).await.unwrap(),
        Some(segments[0].clone())
    );
    assert_eq!(
        store.get_segment(id, 1000).await.unwrap(),
        Some(segments[999].clone())
    );
    assert_eq!(store.get_segment(id, 1001).await.unwrap(), None);
    assert_eq!(store.get_segment(id, 0).await.unwrap(), None);
    assert_eq!(store.list_segments(id, 0, 1000).await.unwrap(), segments);
    assert_eq!(
        store.list_segments(id, 10, 5).await.unwrap(),
        segments[10..15]
    );
    assert_eq!(
        store.list_segments(id, 998, 5).await.unwrap(),
        segments[998..]
    );
    assert!(store.list_segments(id, 1000, 5).await.unwrap().is_empty());
    assert!(store.list_segments(id, 0, 0).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Multipart uploads
// ---------------------------------------------------------------------------------------------

/// Uploads round-trip and list by key bytes, then initiation, then id, after a marker.
pub async fn uploads_create_get_list(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    store.create_bucket(bucket("other")).await.unwrap();

    let mut full = upload("b", "a", "id-a300", 300);
    full.headers.content_type = Some("image/png".into());
    full.headers.cache_control = Some("no-cache".into());
    full.user_metadata = BTreeMap::from([("k".to_string(), "v".to_string())]);
    full.checksum_algorithm = Some(ChecksumAlgorithm::Sha256);
    full.checksum_type = Some(ChecksumType::Composite);
    let created = [
        full.clone(),
        upload("b", "a", "id-a100", 100),
        upload("b", "a", "id-a200", 200),
        upload("b", "b", "x2", 100),
        upload("b", "b", "x1", 100),
        upload("b", "c/1", "c1", 5),
        upload("b", "c/2", "c2", 1),
        upload("b", "é", "e1", 1),
        upload("b", "z", "z1", 1),
        upload("other", "a", "o1", 1),
    ];
    for u in &created {
        store.create_upload(u.clone()).await.unwrap();
    }
    assert_eq!(
        store.get_upload("id-a300").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.get_upload("o1").await.unwrap(),
        Some(created[9].clone())
    );
    assert_eq!(store.get_upload("missing").await.unwrap(), None);

    let ids = |v: Vec<UploadRecord>| v.into_iter().map(|u| u.upload_id).collect::<Vec<_>>();
    let order = [
        "id-a100", "id-a200", "id-a300", "x1", "x2", "c1", "c2", "z1", "e1",
    ];
    assert_eq!(
        ids(store.list_uploads("b", "", None, None, 100).await.unwrap()),
        order
    );
    assert_eq!(
        store.list_uploads("b", "", None, None, 100).await.unwrap()[2],
        full
    );

    // Paging with the (key, upload id) of the last upload listed.
    for limit in [1, 2, 4] {
        let mut paged = Vec::new();
        let mut marker: Option<(Vec<u8>, String)> = None;
        loop {
            let page = store
                .list_uploads(
                    "b",
                    "",
                    marker.as_ref().map(|m| m.0.clone()),
                    marker.as_ref().map(|m| m.1.as_str()),
                    limit,
                )
                .await
                .unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            marker = Some((last.key.clone().into_bytes(), last.upload_id.clone()));
            paged.extend(ids(page));
        }
        assert_eq!(paged, order, "limit {limit}");
    }

    let list =
        |prefix: &'static str, key: Option<&'static str>, id: Option<&'static str>, limit| {
            let store = Arc::clone(&store);
            async move {
                ids(store
                    .list_uploads("b", prefix, key.map(|k| k.as_bytes().to_vec()), id, limit)
                    .await
                    .unwrap())
            }
        };
    // A key marker alone: after every upload of that key.
    assert_eq!(list("", Some("a"), None, 100).await, order[3..]);
    assert_eq!(list("", Some("a"), Some("id-a200"), 100).await, order[2..]);
    assert_eq!(
        list("", Some("a"), Some("id-a100"), 2).await,
        ["id-a200", "id-a300"]
    );
    assert_eq!(list("", Some("b"), Some("x1"), 100).await, order[4..]);
    assert_eq!(list("", Some("0"), None, 100).await, order);
    assert_eq!(list("", Some("z"), None, 100).await, ["e1"]);
    assert!(list("", Some("é"), None, 100).await.is_empty());
    assert_eq!(list("c/", None, None, 100).await, ["c1", "c2"]);
    assert_eq!(list("c/", Some("c/1"), None, 100).await, ["c2"]);
    assert_eq!(list("c/", Some("c/1"), Some("c1"), 100).await, ["c2"]);
    assert_eq!(
        list("c/", Some("a"), Some("id-a100"), 100).await,
        ["c1", "c2"]
    );
    assert!(list("c/", Some("c/2"), None, 100).await.is_empty());
    assert_eq!(list("a", None, None, 100).await, order[..3]);
    assert_eq!(list("é", None, None, 100).await, ["e1"]);
    assert!(list("", None, None, 0).await.is_empty());
    assert!(list("nothing", None, None, 10).await.is_empty());
    assert!(store
        .list_uploads("b", "", Some(b"\xff".to_vec()), None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store
            .list_uploads("other", "", None, None, 10)
            .await
            .unwrap()),
        ["o1"]
    );
}

/// Parts: missing upload, replace, same blob again, list pages.
pub async fn parts_put_replace_list(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    assert_err!(
        store.put_part("nope", part(1, 1)).await,
        Error::NoSuchUpload
    );
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    store.create_upload(upload("b", "k", "v", 2)).await.unwrap();

    let p1 = part(1, 100);
    assert_eq!(store.put_part("u", p1.clone()).await.unwrap(), None);
    assert_eq!(
        store.list_parts("u", 0, 10).await.unwrap(),
        vec![p1.clone()]
    );
    let p1b = part(1, 200);
    assert_eq!(
        store.put_part("u", p1b.clone()).await.unwrap(),
        Some(p1.blob.clone())
    );
    assert_eq!(
        store.list_parts("u", 0, 10).await.unwrap(),
        vec![p1b.clone()]
    );
    assert!(store
        .referenced_blobs(std::slice::from_ref(&p1.blob))
        .await
        .unwrap()
        .is_empty());
    // Storing the very same blob again frees nothing.
    assert_eq!(store.put_part("u", p1b.clone()).await.unwrap(), None);
    assert!(
        store.list_parts("v", 0, 10).await.unwrap().is_empty(),
        "parts belong to their upload"
    );
    assert!(store.list_parts("nope", 0, 10).await.unwrap().is_empty());

    // 1,500 parts written concurrently, listed in pages.
    let mut tasks = JoinSet::new();
    let mut expected = vec![p1b];
    for n in 2..=1500u32 {
        let p = part(n, u64::from(n));
        expected.push(p.clone());
        let store = Arc::clone(&store);
        tasks.spawn(async move { store.put_part("u", p).await });
    }
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), None);
    }
    let page1 = store.list_parts("u", 0, 1000).await.unwrap();
    assert_eq!(page1, expected[..1000]);
    let page2 = store.list_parts("u", 1000, 1000).await.unwrap();
    assert_eq!(page2, expected[1000..]);
    assert!(store.list_parts("u", 1500, 1000).await.unwrap().is_empty());
    assert_eq!(
        store.list_parts("u", 10, 5).await.unwrap(),
        expected[10..15]
    );
    assert!(store.list_parts("u", 0, 0).await.unwrap().is_empty());
    let high = part(10_000, 1);
    store.put_part("u", high.clone()).await.unwrap();
    assert_eq!(store.list_parts("u", 1500, 10).await.unwrap(), vec![high]);
}

/// Complete with some parts: unused parts freed, object stored, upload gone, record kept.
pub async fn complete_upload_basic(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    store
        .create_upload(upload("b", "big", "u", 1))
        .await
        .unwrap();
    let parts: Vec<PartRecord> = (1..=5).map(|n| part(n, 10 + u64::from(n))).collect();
    for p in &parts {
        store.put_part("u", p.clone()).await.unwrap();
    }
    let chosen = [&parts[0], &parts[2], &parts[3]];
    let segments = segments_from_parts(&chosen);
    let (mut o, _) = object("b", "big", "aabbccddeeff00112233445566778899-3", &[]);
    o.size = segments.iter().map(|s| s.size).sum();
    o.parts_count = Some(3);
    o.checksum = Some(ObjectChecksum {
        algorithm: ChecksumAlgorithm::Crc64Nvme,
        checksum_type: ChecksumType::FullObject,
        value: "AAAAAAAAAAA=".into(),
    });
    let request = CompleteRequest {
        upload_id: "u".into(),
        object: o.clone(),
        segments: segments.clone(),
        condition: none(),
    };
    let freed = store.complete_upload(request.clone()).await.unwrap();
    assert_eq!(
        sorted(freed),
        sorted(vec![parts[1].blob.clone(), parts[4].blob.clone()])
    );

    assert_eq!(store.get_object("b", "big").await.unwrap(), Some(o.clone()));
    assert_eq!(
        store.list_segments(&o.object_id, 0, 100).await.unwrap(),
        segments
    );
    assert_eq!(
        store.get_segment(&o.object_id, 3).await.unwrap(),
        Some(segments[1].clone())
    );
    assert_eq!(
        store.get_segments(&o.object_id, 10, 11).await.unwrap(),
        segments[..1]
    );
    assert_eq!(
        store.get_segments(&o.object_id, 11, 12).await.unwrap(),
        segments[1..2]
    );
    assert_eq!(
        store.get_segments(&o.object_id, 23, 25).await.unwrap(),
        segments[1..]
    );
    assert_eq!(store.get_upload("u").await.unwrap(), None);
    assert!(store.list_parts("u", 0, 100).await.unwrap().is_empty());
    assert!(store
        .list_uploads("b", "", None, None, 10)
        .await
        .unwrap()
        .is_empty());

    let done = store
        .get_completed_upload("u")
        .await
        .unwrap()
        .expect("completed record");
    assert_eq!(done.upload_id, "u");
    assert_eq!(done.bucket, "b");
    assert_eq!(done.key, "big");
    assert_eq!(done.etag, o.etag);
    assert_eq!(done.checksum, o.checksum);
    assert!(done.completed > 0);
    assert_eq!(store.get_completed_upload("other").await.unwrap(), None);

    // The upload is gone for every later call.
    assert_err!(store.complete_upload(request).await, Error::NoSuchUpload);
    assert_err!(store.put_part("u", part(1, 1)).await, Error::NoSuchUpload);
    assert_err!(store.abort_upload("u").await, Error::NoSuchUpload);
    assert_eq!(store.get_object("b", "big").await.unwrap(), Some(o.clone()));

    let used: Vec<BlobId> = blobs(&segments);
    assert_eq!(
        sorted(store.referenced_blobs(&used).await.unwrap()),
        sorted(used)
    );
    assert!(store
        .referenced_blobs(&[parts[1].blob.clone(), parts[4].blob.clone()])
        .await
        .unwrap()
        .is_empty());

    // The object is an ordinary object now.
    assert_err!(store.delete_bucket("b").await, Error::BucketNotEmpty);
    let (_, freed) = store
        .delete_object("b", "big", "null", none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sorted(freed), sorted(blobs(&segments)));
}

/// Completing over an existing object frees the replaced object's blobs.
pub async fn complete_upload_replaces_object(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (old, old_segments) = object("b", "k", "old", &[3, 3]);
    store
        .put_object(old.clone(), old_segments.clone(), none())
        .await
        .unwrap();
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    let p = part(1, 4);
    store.put_part("u", p.clone()).await.unwrap();
    let segments = segments_from_parts(&[&p]);
    let (mut o, _) = object("b", "k", "new-1", &[]);
    o.size = 4;
    o.parts_count = Some(1);
    let freed = store
        .complete_upload(CompleteRequest {
            upload_id: "u".into(),
            object: o.clone(),
            segments: segments.clone(),
            condition: if_match("old"),
        })
        .await
        .unwrap();
    assert_eq!(sorted(freed), sorted(blobs(&old_segments)));
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o.clone()));
    assert!(store
        .list_segments(&old.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.list_segments(&o.object_id, 0, 10).await.unwrap(),
        segments
    );
}

/// A part replaced or missing since the caller read it makes Complete fail with Conflict,
/// changing nothing.
pub async fn complete_upload_conflict(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    let p1 = part(1, 5);
    let p2 = part(2, 5);
    store.put_part("u", p1.clone()).await.unwrap();
    store.put_part("u", p2.clone()).await.unwrap();
    let segments = segments_from_parts(&[&p1, &p2]);
    // Part 2 re-uploaded meanwhile.
    let p2b = part(2, 5);
    assert_eq!(
        store.put_part("u", p2b.clone()).await.unwrap(),
        Some(p2.blob.clone())
    );
    let (mut o, _) = object("b", "k", "e-2", &[]);
    o.size = 10;
    let request = CompleteRequest {
        upload_id: "u".into(),
        object: o.clone(),
        segments,
        condition: none(),
    };
    assert_err!(store.complete_upload(request).await, Error::Conflict);
    assert_eq!(store.get_object("b", "k").await.unwrap(), None);
    assert!(store.get_upload("u").await.unwrap().is_some());
    assert_eq!(
        store.list_parts("u", 0, 10).await.unwrap(),
        vec![p1.clone(), p2b.clone()]
    );
    assert_eq!(store.get_completed_upload("u").await.unwrap(), None);
    assert!(store
        .list_segments(&o.object_id, 0, 10)
        .await
        .unwrap()
        .is_empty());

    // A part that does not exist.
    let p3 = part(3, 5);
    let request = CompleteRequest {
        upload_id: "u".into(),
        object: o.clone(),
        segments: segments_from_parts(&[&p1, &p3]),
        condition: none(),
    };
    assert_err!(store.complete_upload(request).await, Error::Conflict);
    assert!(store.get_upload("u").await.unwrap().is_some());

    // With the current parts it succeeds.
    let request = CompleteRequest {
        upload_id: "u".into(),
        object: o.clone(),
        segments: segments_from_parts(&[&p1, &p2b]),
        condition: none(),
    };
    assert!(store.complete_upload(request).await.unwrap().is_empty());
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o));
}

/// Completed-upload records older than the cut-off are forgotten; newer ones stay.
pub async fn prune_completed_uploads(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    for id in ["u1", "u2"] {
        store.create_upload(upload("b", "k", id, 1)).await.unwrap();
        let p = part(1, 4);
        store.put_part(id, p.clone()).await.unwrap();
        let (mut o, _) = object("b", "k", id, &[]);
        o.size = 4;
        let request = CompleteRequest {
            upload_id: id.into(),
            object: o,
            segments: segments_from_parts(&[&p]),
            condition: none(),
        };
        store.complete_upload(request).await.unwrap();
    }
    let done = store.get_completed_upload("u1").await.unwrap().unwrap();
    assert_eq!(
        store
            .prune_completed_uploads(done.completed - 1)
            .await
            .unwrap(),
        0
    );
    assert!(store.get_completed_upload("u1").await.unwrap().is_some());
    assert_eq!(store.prune_completed_uploads(i64::MAX).await.unwrap(), 2);
    assert_eq!(store.get_completed_upload("u1").await.unwrap(), None);
    assert_eq!(store.get_completed_upload("u2").await.unwrap(), None);
}

/// Complete checks its condition against the current object, atomically.
pub async fn complete_upload_condition(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (existing, existing_segments) = object("b", "k", "current", &[1]);
    store
        .put_object(existing.clone(), existing_segments, none())
        .await
        .unwrap();
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    let p = part(1, 5);
    store.put_part("u", p.clone()).await.unwrap();
    let (mut o, _) = object("b", "k", "e-1", &[]);
    o.size = 5;
    let request = |condition| CompleteRequest {
        upload_id: "u".into(),
        object: o.clone(),
        segments: segments_from_parts(&[&p]),
        condition,
    };
    assert_err!(
        store.complete_upload(request(if_none_match())).await,
        Error::PreconditionFailed
    );
    assert_err!(
        store.complete_upload(request(if_match("stale"))).await,
        Error::PreconditionFailed
    );
    assert_eq!(
        store.get_object("b", "k").await.unwrap(),
        Some(existing.clone())
    );
    assert!(store.get_upload("u").await.unwrap().is_some());
    assert_eq!(store.list_parts("u", 0, 10).await.unwrap(), vec![p.clone()]);
    assert_eq!(store.get_completed_upload("u").await.unwrap(), None);

    // If-Match on a key that has no object fails with NoSuchKey, as S3.
    store.delete_object("b", "k", "null", none()).await.unwrap();
    assert_err!(
        store.complete_upload(request(if_match("current"))).await,
        Error::NoSuchKey
    );
    assert!(store
        .complete_upload(request(if_none_match()))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(o));
}

/// Abort returns the parts' blobs; a second abort is NoSuchUpload.
pub async fn abort_upload(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    assert_err!(store.abort_upload("nope").await, Error::NoSuchUpload);
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    store.create_upload(upload("b", "k", "v", 1)).await.unwrap();
    let parts: Vec<PartRecord> = (1..=3).map(|n| part(n, 1)).collect();
    for p in &parts {
        store.put_part("u", p.clone()).await.unwrap();
    }
    let other = part(1, 1);
    store.put_part("v", other.clone()).await.unwrap();
    let freed = store.abort_upload("u").await.unwrap();
    assert_eq!(
        sorted(freed),
        sorted(parts.iter().map(|p| p.blob.clone()).collect())
    );
    assert_eq!(store.get_upload("u").await.unwrap(), None);
    assert!(store.list_parts("u", 0, 10).await.unwrap().is_empty());
    assert_eq!(store.get_completed_upload("u").await.unwrap(), None);
    assert_err!(store.abort_upload("u").await, Error::NoSuchUpload);
    assert_err!(store.put_part("u", part(4, 1)).await, Error::NoSuchUpload);
    assert_eq!(
        store.list_parts("v", 0, 10).await.unwrap(),
        vec![other.clone()]
    );
    // An upload with no parts aborts to nothing.
    store.create_upload(upload("b", "k", "w", 1)).await.unwrap();
    assert!(store.abort_upload("w").await.unwrap().is_empty());
    assert_eq!(
        ids_of(store.list_uploads("b", "", None, None, 10).await.unwrap()),
        ["v"]
    );
}

fn ids_of(v: Vec<UploadRecord>) -> Vec<String> {
    v.into_iter().map(|u| u.upload_id).collect()
}

/// Which candidate blobs are referenced by segments or parts.
pub async fn referenced_blobs(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    assert!(store.referenced_blobs(&[]).await.unwrap().is_empty());
    let (o, s) = object("b", "k", "e", &[1, 1]);
    store.put_object(o, s.clone(), none()).await.unwrap();
    store.create_upload(upload("b", "k", "u", 1)).await.unwrap();
    let p = part(1, 1);
    store.put_part("u", p.clone()).await.unwrap();
    let stray = BlobId::random();
    let candidates = vec![
        stray.clone(),
        s[1].blob.clone(),
        p.blob.clone(),
        s[0].blob.clone(),
    ];
    let got: HashSet<BlobId> = store
        .referenced_blobs(&candidates)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let want: HashSet<BlobId> = [s[0].blob.clone(), s[1].blob.clone(), p.blob.clone()]
        .into_iter()
        .collect();
    assert_eq!(got, want);

    // Many candidates, as the start-up sweep passes.
    let mut many: Vec<BlobId> = (0..3000).map(|_| BlobId::random()).collect();
    many.push(p.blob.clone());
    assert_eq!(
        store.referenced_blobs(&many).await.unwrap(),
        vec![p.blob.clone()]
    );

    store.delete_object("b", "k", "null", none()).await.unwrap();
    store.abort_upload("u").await.unwrap();
    assert!(store
        .referenced_blobs(&candidates)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Concurrency and durability
// ---------------------------------------------------------------------------------------------

/// Many concurrent writes, some failing: every failure is isolated, every success durable.
pub async fn group_commit_isolation(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let (taken, taken_segments) = put(&*store, "b", "taken", "t").await;
    store
        .create_upload(upload("b", "up", "u", 1))
        .await
        .unwrap();

    #[derive(Debug)]
    enum Outcome {
        Put(tessera_core::Result<Vec<BlobId>>),
        Part(tessera_core::Result<Option<BlobId>>),
        Bucket(tessera_core::Result<()>),
    }
    let mut tasks = JoinSet::new();
    for i in 0..400u32 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let outcome = match i % 5 {
                0 => {
                    let (o, s) = object("b", &format!("new/{i:04}"), "n", &[1]);
                    Outcome::Put(store.put_object(o, s, if_none_match()).await)
                }
                1 => {
                    let (o, s) = object("b", "taken", "lost", &[1]);
                    Outcome::Put(store.put_object(o, s, if_none_match()).await)
                }
                2 => Outcome::Part(store.put_part("missing-upload", part(1, 1)).await),
                3 => Outcome::Part(store.put_part("u", part(i, 1)).await),
                _ => {
                    let (o, s) = object("no-bucket", "k", "x", &[1]);
                    match store.put_object(o, s, none()).await {
                        Err(Error::NoSuchBucket) => {
                            Outcome::Bucket(store.create_bucket(bucket(&format!("nb-{i}"))).await)
                        }
                        other => Outcome::Put(
                            other.and(Err(Error::Internal("put into a missing bucket".into()))),
                        ),
                    }
                }
            };
            (i, outcome)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) = joined.unwrap();
        match (i % 5, outcome) {
            (0, Outcome::Put(Ok(freed))) => assert!(freed.is_empty()),
            (1, Outcome::Put(Err(Error::PreconditionFailed))) => {}
            (2, Outcome::Part(Err(Error::NoSuchUpload))) => {}
            (3, Outcome::Part(Ok(None))) => {}
            (4, Outcome::Bucket(Ok(()))) => {}
            (n, other) => panic!("task {i} (kind {n}): unexpected {other:?}"),
        }
    }

    let listed = keys(&*store, "b", "new/", None, 1000).await;
    let expected: Vec<String> = (0..400)
        .filter(|i| i % 5 == 0)
        .map(|i| format!("new/{i:04}"))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        store.get_object("b", "taken").await.unwrap(),
        Some(taken.clone())
    );
    assert_eq!(
        store.list_segments(&taken.object_id, 0, 10).await.unwrap(),
        taken_segments
    );
    let part_numbers: Vec<u32> = store
        .list_parts("u", 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|p| p.part_number)
        .collect();
    assert_eq!(
        part_numbers,
        (0..400).filter(|i| i % 5 == 3).collect::<Vec<u32>>()
    );
    assert_eq!(
        store.list_buckets(Some("nb-"), 1000).await.unwrap().len(),
        80
    );
    assert_eq!(store.get_bucket("no-bucket").await.unwrap(), None);
}

/// Concurrent unconditional overwrites of one key: every replaced blob is freed exactly once,
/// and the survivor's blob never is.
pub async fn concurrent_overwrites_free_every_blob(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("b")).await.unwrap();
    let mut tasks = JoinSet::new();
    let mut all = Vec::new();
    for i in 0..50 {
        let (o, s) = object("b", "hot", &format!("e{i}"), &[1, 1]);
        all.extend(blobs(&s));
        let store = Arc::clone(&store);
        tasks.spawn(async move { store.put_object(o, s, none()).await });
    }
    let mut freed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        freed.extend(joined.unwrap().unwrap());
    }
    let survivor = store.get_object("b", "hot").await.unwrap().unwrap();
    let live = blobs(
        &store
            .list_segments(&survivor.object_id, 0, 10)
            .await
            .unwrap(),
    );
    assert_eq!(live.len(), 2);
    let unique: HashSet<&BlobId> = freed.iter().collect();
    assert_eq!(unique.len(), freed.len(), "no blob freed twice");
    assert_eq!(freed.len(), 98);
    assert!(live.iter().all(|b| !unique.contains(b)));
    let mut everything = freed;
    everything.extend(live.clone());
    assert_eq!(sorted(everything), sorted(all.clone()));
    assert_eq!(
        sorted(store.referenced_blobs(&all).await.unwrap()),
        sorted(live)
    );
}

/// Data survives dropping the store and opening it again.
pub async fn durability(h: &dyn Harness) {
    let (o, s, p, completed_object) = {
        let store = h.open().await;
        store.create_bucket(bucket("b")).await.unwrap();
        let (mut o, s) = object("b", "kept", "etag", &[4, 6]);
        o.user_metadata.insert("a".into(), "b".into());
        store
            .put_object(o.clone(), s.clone(), none())
            .await
            .unwrap();
        put(&*store, "b", "deleted", "x").await;
        store
            .delete_object("b", "deleted", "null", none())
            .await
            .unwrap();
        store
            .create_upload(upload("b", "mp", "u", 7))
            .await
            .unwrap();
        let p = part(2, 9);
        store.put_part("u", p.clone()).await.unwrap();
        store
            .create_upload(upload("b", "done", "d", 8))
            .await
            .unwrap();
        let dp = part(1, 3);
        store.put_part("d", dp.clone()).await.unwrap();
        let (mut c, _) = object("b", "done", "c-1", &[]);
        c.size = 3;
        store
            .complete_upload(CompleteRequest {
                upload_id: "d".into(),
                object: c.clone(),
                segments: segments_from_parts(&[&dp]),
                condition: none(),
            })
            .await
            .unwrap();
        (o, s, p, c)
    };
    let store = h.open().await;
    assert!(store.get_bucket("b").await.unwrap().is_some());
    assert_eq!(
        store.get_object("b", "kept").await.unwrap(),
        Some(o.clone())
    );
    assert_eq!(store.get_object("b", "deleted").await.unwrap(), None);
    assert_eq!(store.list_segments(&o.object_id, 0, 10).await.unwrap(), s);
    assert_eq!(
        store.get_upload("u").await.unwrap().map(|u| u.initiated),
        Some(7)
    );
    assert_eq!(store.list_parts("u", 0, 10).await.unwrap(), vec![p]);
    assert_eq!(
        store.get_object("b", "done").await.unwrap(),
        Some(completed_object)
    );
    assert_eq!(
        store
            .get_completed_upload("d")
            .await
            .unwrap()
            .map(|c| c.etag),
        Some("c-1".to_string())
    );
    assert_eq!(keys(&*store, "b", "", None, 10).await, ["done", "kept"]);
    // And it keeps working.
    put(&*store, "b", "after-reopen", "y").await;
    drop(store);
    let store = h.open().await;
    assert!(store
        .get_object("b", "after-reopen")
        .await
        .unwrap()
        .is_some());
}

// ---------------------------------------------------------------------------------------------
// Accounts, users, keys, user policies
// ---------------------------------------------------------------------------------------------

fn account(id: &str, name: &str) -> Account {
    Account {
        id: id.into(),
        name: name.into(),
        email: Some(format!("{name}@example.com")),
        canonical_id: format!("{:0>64}", id),
        created: 1_700_000_000_000,
    }
}

fn iam_user(account_id: &str, name: &str) -> User {
    User {
        account_id: account_id.into(),
        name: name.into(),
        path: "/team/".into(),
        // Unique across accounts, as the ids the domain generates are.
        user_id: format!(
            "AIDA{:0>17}",
            format!("{}{}", &account_id[..4], name.to_ascii_uppercase())
        ),
        arn: format!("arn:aws:iam::{account_id}:user/team/{name}"),
        created: 1_700_000_000_001,
    }
}

fn key(id: &str, owner: KeyOwner) -> AccessKey {
    AccessKey {
        access_key_id: id.into(),
        secret: format!("secret-of-{id}"),
        status: KeyStatus::Active,
        owner,
        created: 1_700_000_000_002,
        last_used: None,
    }
}

fn root_of(account_id: &str) -> KeyOwner {
    KeyOwner::Root {
        account_id: account_id.into(),
    }
}

fn user_owner(account_id: &str, name: &str) -> KeyOwner {
    KeyOwner::User {
        account_id: account_id.into(),
        user_name: name.into(),
    }
}

/// Accounts: create with a root key, duplicates refused, listed in creation order, deleted
/// with their users and keys.
pub async fn accounts_crud(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store.list_accounts().await.unwrap().is_empty());
    let a = account("111122223333", "first");
    let b = account("444455556666", "second");
    store
        .create_account(a.clone(), Some(key("AKIAFIRST0000000000", root_of(&a.id))))
        .await
        .unwrap();
    store.create_account(b.clone(), None).await.unwrap();
    assert_eq!(
        store.list_accounts().await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_err!(
        store
            .create_account(account("999999999999", "first"), None)
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_err!(
        store
            .create_account(account("111122223333", "third"), None)
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_err!(
        store
            .create_account(
                account("777777777777", "third"),
                Some(key("AKIAFIRST0000000000", root_of("777777777777")))
            )
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(
        store.list_accounts().await.unwrap().len(),
        2,
        "a refused create changes nothing"
    );
    let k = store
        .get_access_key("AKIAFIRST0000000000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k, key("AKIAFIRST0000000000", root_of(&a.id)));
    store.create_user(iam_user(&a.id, "alice")).await.unwrap();
    store
        .create_access_key(key("AKIAALICE0000000000", user_owner(&a.id, "alice")))
        .await
        .unwrap();
    store.delete_account(&a.id).await.unwrap();
    assert_eq!(store.list_accounts().await.unwrap(), vec![b.clone()]);
    assert_eq!(
        store.get_access_key("AKIAFIRST0000000000").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_access_key("AKIAALICE0000000000").await.unwrap(),
        None
    );
    assert_eq!(store.get_user(&a.id, "alice").await.unwrap(), None);
    assert_err!(store.delete_account(&a.id).await, Error::NoSuchEntity(_));
    // The name is free again.
    store
        .create_account(account("121212121212", "first"), None)
        .await
        .unwrap();
}

/// An account that owns a bucket cannot be deleted; bucket owners are stored.
pub async fn account_delete_refused_with_buckets(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "owner");
    store.create_account(a.clone(), None).await.unwrap();
    let mut b = bucket("owned");
    b.owner = a.id.clone();
    store.create_bucket(b.clone()).await.unwrap();
    assert_eq!(
        store.get_bucket("owned").await.unwrap().unwrap().owner,
        a.id
    );
    assert_err!(store.delete_account(&a.id).await, Error::DeleteConflict(_));
    store.delete_bucket("owned").await.unwrap();
    store.delete_account(&a.id).await.unwrap();
}

/// Users: unique per account ignoring case, listed by name, deleted only without keys or
/// policies.
pub async fn users_crud(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "a");
    let other = account("444455556666", "b");
    store.create_account(a.clone(), None).await.unwrap();
    store.create_account(other.clone(), None).await.unwrap();
    assert_err!(
        store.create_user(iam_user("000000000000", "bob")).await,
        Error::NoSuchEntity(_)
    );
    let bob = iam_user(&a.id, "bob");
    store.create_user(bob.clone()).await.unwrap();
    store.create_user(iam_user(&a.id, "alice")).await.unwrap();
    store.create_user(iam_user(&other.id, "bob")).await.unwrap();
    assert_err!(
        store.create_user(iam_user(&a.id, "BOB")).await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(
        store.get_user(&a.id, "bob").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        store.get_user(&a.id, "Bob").await.unwrap(),
        Some(bob.clone())
    );
    let names: Vec<String> = store
        .list_users(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    store
        .create_access_key(key("AKIABOB000000000000", user_owner(&a.id, "bob")))
        .await
        .unwrap();
    assert_err!(
        store.delete_user(&a.id, "bob").await,
        Error::DeleteConflict(_)
    );
    store
        .delete_access_key("AKIABOB000000000000")
        .await
        .unwrap();
    store
        .put_user_policy(
            &a.id,
            "bob",
            UserPolicy {
                name: "p".into(),
                document: "{}".into(),
            },
        )
        .await
        .unwrap();
    assert_err!(
        store.delete_user(&a.id, "bob").await,
        Error::DeleteConflict(_)
    );
    store.delete_user_policy(&a.id, "bob", "p").await.unwrap();
    store.delete_user(&a.id, "bob").await.unwrap();
    assert_eq!(store.get_user(&a.id, "bob").await.unwrap(), None);
    assert_err!(
        store.delete_user(&a.id, "bob").await,
        Error::NoSuchEntity(_)
    );
    assert!(store.get_user(&other.id, "bob").await.unwrap().is_some());
}

/// A renamed or moved user keeps its id, keys and policies; the new name must be free.
pub async fn user_renamed_with_keys_and_policies(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "a");
    store.create_account(a.clone(), None).await.unwrap();
    let bob = iam_user(&a.id, "bob");
    store.create_user(bob.clone()).await.unwrap();
    store.create_user(iam_user(&a.id, "carol")).await.unwrap();
    store
        .create_access_key(key("AKIABOB000000000000", user_owner(&a.id, "bob")))
        .await
        .unwrap();
    store
        .put_user_policy(
            &a.id,
            "bob",
            UserPolicy {
                name: "p".into(),
                document: "{}".into(),
            },
        )
        .await
        .unwrap();
    let mut taken = bob.clone();
    taken.name = "Carol".into();
    assert_err!(
        store.update_user(&a.id, "bob", taken).await,
        Error::EntityAlreadyExists(_)
    );
    assert_err!(
        store.update_user(&a.id, "nobody", bob.clone()).await,
        Error::NoSuchEntity(_)
    );
    let mut robert = bob.clone();
    robert.name = "robert".into();
    robert.path = "/ops/".into();
    robert.arn = format!("arn:aws:iam::{}:user/ops/robert", a.id);
    store
        .update_user(&a.id, "BOB", robert.clone())
        .await
        .unwrap();
    assert_eq!(store.get_user(&a.id, "bob").await.unwrap(), None);
    assert_eq!(store.get_user(&a.id, "robert").await.unwrap(), Some(robert));
    let k = store
        .get_access_key("AKIABOB000000000000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.owner, user_owner(&a.id, "robert"));
    assert_eq!(
        store
            .list_user_policies(&a.id, "robert")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_err!(
        store.delete_user(&a.id, "robert").await,
        Error::DeleteConflict(_)
    );
    // A change of case only is a rename too.
    let mut upper = store.get_user(&a.id, "robert").await.unwrap().unwrap();
    upper.name = "Robert".into();
    store.update_user(&a.id, "robert", upper).await.unwrap();
    assert_eq!(
        store.get_user(&a.id, "robert").await.unwrap().unwrap().name,
        "Robert"
    );
}

/// Keys: at most two per user, unique ids, status changes, deletion, last use.
pub async fn access_keys_rules(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "a");
    store.create_account(a.clone(), None).await.unwrap();
    store.create_user(iam_user(&a.id, "bob")).await.unwrap();
    let bob = user_owner(&a.id, "bob");
    assert_err!(
        store
            .create_access_key(key("AKIANOBODY000000000", user_owner(&a.id, "nobody")))
            .await,
        Error::NoSuchEntity(_)
    );
    store
        .create_access_key(key("AKIABOB000000000001", bob.clone()))
        .await
        .unwrap();
    let mut second = key("AKIABOB000000000002", bob.clone());
    second.created += 5;
    store.create_access_key(second.clone()).await.unwrap();
    assert_err!(
        store
            .create_access_key(key("AKIABOB000000000003", bob.clone()))
            .await,
        Error::LimitExceeded(_)
    );
    assert_err!(
        store
            .create_access_key(key("AKIABOB000000000001", root_of(&a.id)))
            .await,
        Error::EntityAlreadyExists(_)
    );
    // Root keys are not limited to two.
    for i in 0..3 {
        store
            .create_access_key(key(&format!("AKIAROOT00000000000{i}"), root_of(&a.id)))
            .await
            .unwrap();
    }
    let ids: Vec<String> = store
        .list_access_keys(&bob)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(ids, ["AKIABOB000000000001", "AKIABOB000000000002"]);
    assert_eq!(
        store.list_access_keys(&root_of(&a.id)).await.unwrap().len(),
        3
    );

    store
        .set_access_key_status("AKIABOB000000000002", KeyStatus::Inactive)
        .await
        .unwrap();
    let got = store
        .get_access_key("AKIABOB000000000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, KeyStatus::Inactive);
    assert_eq!(got.secret, second.secret);
    assert_err!(
        store
            .set_access_key_status("AKIAMISSING00000000", KeyStatus::Active)
            .await,
        Error::NoSuchEntity(_)
    );

    let used = KeyUse {
        at: 1_700_000_100_000,
        service: "s3".into(),
        region: "eu-west-1".into(),
    };
    store
        .record_key_use("AKIABOB000000000001", used.clone())
        .await
        .unwrap();
    store
        .record_key_use("AKIAMISSING00000000", used.clone())
        .await
        .unwrap();
    let got = store
        .get_access_key("AKIABOB000000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_used, Some(used));

    store
        .delete_access_key("AKIABOB000000000001")
        .await
        .unwrap();
    assert_eq!(
        store.get_access_key("AKIABOB000000000001").await.unwrap(),
        None
    );
    assert_err!(
        store.delete_access_key("AKIABOB000000000001").await,
        Error::NoSuchEntity(_)
    );
    // A slot is free again.
    store
        .create_access_key(key("AKIABOB000000000004", bob))
        .await
        .unwrap();
}

/// set_root_key replaces every root key of the account, and refuses another owner's key id.
pub async fn root_key_replaced(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "a");
    store
        .create_account(a.clone(), Some(key("AKIAOLD000000000000", root_of(&a.id))))
        .await
        .unwrap();
    store.create_user(iam_user(&a.id, "bob")).await.unwrap();
    store
        .create_access_key(key("AKIABOB000000000000", user_owner(&a.id, "bob")))
        .await
        .unwrap();
    let new = key("AKIANEW000000000000", root_of(&a.id));
    store.set_root_key(new.clone()).await.unwrap();
    assert_eq!(
        store.list_access_keys(&root_of(&a.id)).await.unwrap(),
        vec![new.clone()]
    );
    assert_eq!(
        store.get_access_key("AKIAOLD000000000000").await.unwrap(),
        None
    );
    // Same id, new secret and status: replaced in place.
    let mut changed = new.clone();
    changed.secret = "another-secret-value".into();
    store.set_root_key(changed.clone()).await.unwrap();
    assert_eq!(
        store.get_access_key("AKIANEW000000000000").await.unwrap(),
        Some(changed)
    );
    assert_err!(
        store
            .set_root_key(key("AKIABOB000000000000", root_of(&a.id)))
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_err!(
        store
            .set_root_key(key("AKIAXXX000000000000", root_of("999999999999")))
            .await,
        Error::NoSuchEntity(_)
    );
    assert!(store
        .get_access_key("AKIABOB000000000000")
        .await
        .unwrap()
        .is_some());
}

/// Inline policies: put replaces, listed by name, the aggregate size limit counts the others
/// (whitespace excluded), delete.
pub async fn user_policies_rules(h: &dyn Harness) {
    let store = h.open().await;
    let a = account("111122223333", "a");
    store.create_account(a.clone(), None).await.unwrap();
    store.create_user(iam_user(&a.id, "bob")).await.unwrap();
    let pol = |name: &str, doc: String| UserPolicy {
        name: name.into(),
        document: doc,
    };
    assert_err!(
        store
            .put_user_policy(&a.id, "nobody", pol("p", "{}".into()))
            .await,
        Error::NoSuchEntity(_)
    );
    store
        .put_user_policy(&a.id, "bob", pol("zeta", "x".repeat(1000)))
        .await
        .unwrap();
    store
        .put_user_policy(&a.id, "bob", pol("alpha", "y".repeat(1000)))
        .await
        .unwrap();
    // 1000 + 1049 > 2048.
    assert_err!(
        store
            .put_user_policy(&a.id, "bob", pol("more", "z".repeat(49)))
            .await,
        Error::LimitExceeded(_)
    );
    // Whitespace does not count; replacing a policy does not count its old size.
    store
        .put_user_policy(
            &a.id,
            "bob",
            pol("more", format!("{}{}", "z".repeat(48), " ".repeat(500))),
        )
        .await
        .unwrap();
    store
        .put_user_policy(&a.id, "bob", pol("zeta", "w".repeat(1000)))
        .await
        .unwrap();
    let got = store.list_user_policies(&a.id, "BOB").await.unwrap();
    let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alpha", "more", "zeta"]);
    assert_eq!(got[2].document, "w".repeat(1000));
    store
        .delete_user_policy(&a.id, "bob", "zeta")
        .await
        .unwrap();
    assert_err!(
        store.delete_user_policy(&a.id, "bob", "zeta").await,
        Error::NoSuchEntity(_)
    );
    assert_err!(
        store.list_user_policies(&a.id, "nobody").await,
        Error::NoSuchEntity(_)
    );
    assert_eq!(
        store.list_user_policies(&a.id, "bob").await.unwrap().len(),
        2
    );
}

/// Every identity change moves the auth epoch, a key-use record does not, and a reopened
/// store (another process) sees the same epoch and data.
/// The epoch and a bucket read together agree with the separate reads.
pub async fn epoch_and_bucket_together(h: &dyn Harness) {
    let store = h.open().await;
    store.create_bucket(bucket("both")).await.unwrap();
    let epoch = store.auth_epoch().await.unwrap();
    let (e, b) = store.epoch_and_bucket(Some("both")).await.unwrap();
    assert_eq!((e, b), (epoch, store.get_bucket("both").await.unwrap()));
    assert_eq!(
        store.epoch_and_bucket(Some("none")).await.unwrap(),
        (epoch, None)
    );
    assert_eq!(store.epoch_and_bucket(None).await.unwrap(), (epoch, None));
    store
        .create_account(account("444455556666", "later"), None)
        .await
        .unwrap();
    let (moved, _) = store.epoch_and_bucket(Some("both")).await.unwrap();
    assert!(
        moved > epoch,
        "an identity change moves the epoch seen with the bucket"
    );
}

pub async fn auth_epoch_moves(h: &dyn Harness) {
    let a = account("111122223333", "a");
    let epoch = {
        let store = h.open().await;
        let mut last = store.auth_epoch().await.unwrap();
        let mut moved = |now: u64, what: &str| {
            assert!(now > last, "{what} did not move the epoch");
            last = now;
        };
        store.create_account(a.clone(), None).await.unwrap();
        moved(store.auth_epoch().await.unwrap(), "create_account");
        store.create_user(iam_user(&a.id, "bob")).await.unwrap();
        moved(store.auth_epoch().await.unwrap(), "create_user");
        store
            .create_access_key(key("AKIABOB000000000000", user_owner(&a.id, "bob")))
            .await
            .unwrap();
        moved(store.auth_epoch().await.unwrap(), "create_access_key");
        store
            .set_access_key_status("AKIABOB000000000000", KeyStatus::Inactive)
            .await
            .unwrap();
        moved(store.auth_epoch().await.unwrap(), "set_access_key_status");
        store
            .put_user_policy(
                &a.id,
                "bob",
                UserPolicy {
                    name: "p".into(),
                    document: "{}".into(),
                },
            )
            .await
            .unwrap();
        moved(store.auth_epoch().await.unwrap(), "put_user_policy");
        store
            .set_root_key(key("AKIAROOT00000000000", root_of(&a.id)))
            .await
            .unwrap();
        moved(store.auth_epoch().await.unwrap(), "set_root_key");
        let before = store.auth_epoch().await.unwrap();
        store
            .record_key_use(
                "AKIABOB000000000000",
                KeyUse {
                    at: 1,
                    service: "s3".into(),
                    region: "us-east-1".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store.auth_epoch().await.unwrap(),
            before,
            "record_key_use moved the epoch"
        );
        // A refused change does not move it either.
        assert!(store.delete_user(&a.id, "bob").await.is_err());
        assert_eq!(store.auth_epoch().await.unwrap(), before);
        store.delete_user_policy(&a.id, "bob", "p").await.unwrap();
        moved(store.auth_epoch().await.unwrap(), "delete_user_policy");
        store
            .delete_access_key("AKIABOB000000000000")
            .await
            .unwrap();
        moved(store.auth_epoch().await.unwrap(), "delete_access_key");
        store.delete_user(&a.id, "bob").await.unwrap();
        moved(store.auth_epoch().await.unwrap(), "delete_user");
        store.auth_epoch().await.unwrap()
    };
    let again = h.open().await;
    assert_eq!(again.auth_epoch().await.unwrap(), epoch);
    assert_eq!(again.list_accounts().await.unwrap(), vec![a.clone()]);
    assert!(again
        .get_access_key("AKIAROOT00000000000")
        .await
        .unwrap()
        .is_some());
    again.delete_account(&a.id).await.unwrap();
    assert!(again.auth_epoch().await.unwrap() > epoch);
}

/// A lease is taken when free, renewed by its holder, refused to others until it expires,
/// then taken over; it survives reopening; leases of other names are independent.
pub async fn leases_one_holder(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store.try_lease("job", "a", 100, 200).await.unwrap());
    assert!(!store.try_lease("job", "b", 150, 250).await.unwrap());
    assert!(store.try_lease("job", "a", 150, 300).await.unwrap());
    // Renewed: still a's at 250 (the first span ended at 200).
    assert!(!store.try_lease("job", "b", 250, 350).await.unwrap());
    assert!(store.try_lease("other", "b", 250, 350).await.unwrap());
    drop(store);
    let store = h.open().await;
    assert!(!store.try_lease("job", "b", 299, 400).await.unwrap());
    // Expired at 300: b takes it over, and a is now the one refused.
    assert!(store.try_lease("job", "b", 300, 400).await.unwrap());
    assert!(!store.try_lease("job", "a", 350, 500).await.unwrap());
    // Concurrent contenders for a free lease: exactly one wins.
    let mut set = JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        set.spawn(async move {
            store
                .try_lease("race", &format!("n{i}"), 1, 2)
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(won) = set.join_next().await {
        winners += usize::from(won.unwrap());
    }
    assert_eq!(winners, 1);
}

#[cfg(test)]
mod tests {
    /// Every public case function of this file is in the macro's list, and nothing else is.
    #[test]
    fn every_case_is_listed() {
        let source = include_str!("meta_conformance.rs");
        let mut defined: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter_map(|l| l.split_once("(h: &dyn Harness)").map(|(name, _)| name))
            .collect();
        let mut listed: Vec<&str> = crate::meta_store_conformance!(@names).to_vec();
        assert!(listed.len() > 20, "{listed:?}");
        defined.sort_unstable();
        listed.sort_unstable();
        assert_eq!(defined, listed);
    }
}
