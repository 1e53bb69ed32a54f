//! The lifecycle worker over the memory stores: one pass aborts the uploads and expires the
//! objects that are due, leaves the rest, frees their blobs, and runs on one node at a time.

mod common;

use std::time::Duration;

use common::*;
use tessera_core::lifecycle::{
    AbortIncomplete, Expiration, Filter, LifecycleConfiguration, Rule, RuleStatus,
};
use tessera_core::{LifecycleReport, Options, Tessera};

fn rule(id: &str, prefix: &str) -> Rule {
    Rule {
        id: Some(id.into()),
        status: RuleStatus::Enabled,
        prefix: None,
        filter: Some(Filter {
            prefix: Some(prefix.into()),
            ..Filter::default()
        }),
        expiration: None,
        abort_incomplete_multipart_upload: None,
        noncurrent_version_expiration: None,
        transitions: Vec::new(),
        noncurrent_version_transitions: Vec::new(),
    }
}

fn config() -> LifecycleConfiguration {
    let mut abort = rule("abort", "stale/");
    abort.abort_incomplete_multipart_upload = Some(AbortIncomplete {
        days_after_initiation: Some(1),
    });
    let mut expire = rule("expire", "old/");
    expire.expiration = Some(Expiration {
        days: Some(1),
        ..Expiration::default()
    });
    LifecycleConfiguration::new(vec![abort, expire]).unwrap()
}

/// A domain whose lifecycle day is `day`.
async fn open_with_day(day: Duration) -> Harness {
    open_with_options(
        |m| m,
        |b| b,
        |o| Options {
            lifecycle_day: day,
            ..o
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_applies_what_is_due_and_only_that() {
    let h = open_with_day(Duration::from_millis(5)).await;
    h.app.put_bucket_lifecycle(BUCKET, &config()).await.unwrap();
    let stale = h.create_upload("stale/u").await;
    h.upload_part(&stale, 1, b"part").await;
    let kept = h.create_upload("keep/u").await;
    h.put("old/a", b"old").await;
    let keep = h.put("keep/a", b"keep").await;
    tokio::time::sleep(Duration::from_millis(30)).await;

    let report = h.app.lifecycle_pass("node-a").await.unwrap().unwrap();
    assert_eq!(
        report,
        LifecycleReport {
            buckets: 1,
            uploads_aborted: 1,
            objects_expired: 1,
            versions_removed: 0,
        }
    );
    let uploads = h
        .meta
        .list_uploads(BUCKET, "", None, None, 10)
        .await
        .unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].upload_id, kept.upload_id);
    let objects = h.meta.list_objects(BUCKET, "", None, 10).await.unwrap();
    assert_eq!(objects, vec![keep]);

    // The freed blobs go: only keep/a's remains.
    for _ in 0..100 {
        if h.app.all_blobs().await.unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.app.all_blobs().await.unwrap().len(), 1);

    // Idempotent: the next pass finds nothing more.
    let again = h.app.lifecycle_pass("node-a").await.unwrap().unwrap();
    assert_eq!((again.uploads_aborted, again.objects_expired), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_due_before_its_day() {
    let h = open_with_day(tessera_core::lifecycle::STANDARD_DAY).await;
    h.app.put_bucket_lifecycle(BUCKET, &config()).await.unwrap();
    h.create_upload("stale/u").await;
    h.put("old/a", b"old").await;
    let report = h.app.lifecycle_pass("node-a").await.unwrap().unwrap();
    assert_eq!((report.uploads_aborted, report.objects_expired), (0, 0));
    assert_eq!(report.buckets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_at_a_time() {
    let h = open_with_day(Duration::from_millis(5)).await;
    h.app.put_bucket_lifecycle(BUCKET, &config()).await.unwrap();
    let other = Tessera::open(h.meta.clone(), h.blobs.clone(), h.app.options().clone())
        .await
        .unwrap();
    assert!(h.app.lifecycle_pass("node-a").await.unwrap().is_some());
    assert!(other.lifecycle_pass("node-b").await.unwrap().is_none());
    // The holder keeps it pass after pass.
    assert!(h.app.lifecycle_pass("node-a").await.unwrap().is_some());
}
