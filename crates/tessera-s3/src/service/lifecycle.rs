//! Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration, and the headers that report
//! a rule's effect on an object (`x-amz-expiration`) or an upload (`x-amz-abort-date`,
//! `x-amz-abort-rule-id`). Authorization already ran (the bucket comes from the access check).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::lifecycle::{
    AbortIncomplete, AndFilter, Expiration, Filter, LifecycleConfiguration, NoncurrentExpiration,
    NoncurrentTransition, Rule, RuleStatus, Transition as CoreTransition,
};
use tessera_core::{Error, Millis, Tessera};

use crate::auth::bucket;
use crate::dates::{http_date, millis, ts};
use crate::errors::to_s3;
use crate::service::tagging::{tags_in, tags_out};

fn one_tag(tag: &Tag) -> S3Result<(String, String)> {
    let mut tags = tags_in(std::slice::from_ref(tag))?;
    tags.pop().ok_or_else(|| to_s3(Error::MalformedXml))
}

fn filter_in(f: &LifecycleRuleFilter) -> S3Result<Filter> {
    Ok(Filter {
        prefix: f.prefix.clone(),
        tag: f.tag.as_ref().map(one_tag).transpose()?,
        and: f
            .and
            .as_ref()
            .map(|a| -> S3Result<AndFilter> {
                Ok(AndFilter {
                    prefix: a.prefix.clone(),
                    tags: tags_in(a.tags.as_deref().unwrap_or_default())?,
                    object_size_greater_than: a.object_size_greater_than,
                    object_size_less_than: a.object_size_less_than,
                })
            })
            .transpose()?,
        object_size_greater_than: f.object_size_greater_than,
        object_size_less_than: f.object_size_less_than,
    })
}

fn rule_in(r: &LifecycleRule) -> S3Result<Rule> {
    Ok(Rule {
        id: r.id.clone(),
        status: RuleStatus::parse(r.status.as_str()).map_err(to_s3)?,
        prefix: r.prefix.clone(),
        filter: r.filter.as_ref().map(filter_in).transpose()?,
        expiration: r.expiration.as_ref().map(|e| Expiration {
            days: e.days,
            date: e.date.as_ref().map(millis),
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.as_ref().map(|a| {
            AbortIncomplete {
                days_after_initiation: a.days_after_initiation,
            }
        }),
        noncurrent_version_expiration: r.noncurrent_version_expiration.as_ref().map(|n| {
            NoncurrentExpiration {
                noncurrent_days: n.noncurrent_days,
                newer_noncurrent_versions: n.newer_noncurrent_versions,
            }
        }),
        transitions: r
            .transitions
            .iter()
            .flatten()
            .map(|t| CoreTransition {
                days: t.days,
                date: t.date.as_ref().map(millis),
                storage_class: t.storage_class.as_ref().map(|c| c.as_str().to_owned()),
            })
            .collect(),
        noncurrent_version_transitions: r
            .noncurrent_version_transitions
            .iter()
            .flatten()
            .map(|t| NoncurrentTransition {
                noncurrent_days: t.noncurrent_days,
                newer_noncurrent_versions: t.newer_noncurrent_versions,
                storage_class: t.storage_class.as_ref().map(|c| c.as_str().to_owned()),
            })
            .collect(),
    })
}

fn filter_out(f: &Filter) -> LifecycleRuleFilter {
    LifecycleRuleFilter {
        prefix: f.prefix.clone(),
        tag: f.tag.as_ref().map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        }),
        and: f.and.as_ref().map(|a| LifecycleRuleAndOperator {
            prefix: a.prefix.clone(),
            tags: (!a.tags.is_empty()).then(|| tags_out(&a.tags)),
            object_size_greater_than: a.object_size_greater_than,
            object_size_less_than: a.object_size_less_than,
        }),
        object_size_greater_than: f.object_size_greater_than,
        object_size_less_than: f.object_size_less_than,
    }
}

fn rule_out(r: &Rule) -> LifecycleRule {
    let storage_class = |c: &Option<String>| c.clone().map(TransitionStorageClass::from);
    LifecycleRule {
        id: r.id.clone(),
        status: ExpirationStatus::from(r.status.as_str().to_owned()),
        prefix: r.prefix.clone(),
        filter: r.filter.as_ref().map(filter_out),
        expiration: r.expiration.as_ref().map(|e| LifecycleExpiration {
            days: e.days,
            date: e.date.map(ts),
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.as_ref().map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: a.days_after_initiation,
            }
        }),
        noncurrent_version_expiration: r.noncurrent_version_expiration.as_ref().map(|n| {
            NoncurrentVersionExpiration {
                noncurrent_days: n.noncurrent_days,
                newer_noncurrent_versions: n.newer_noncurrent_versions,
            }
        }),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .iter()
                .map(|t| Transition {
                    days: t.days,
                    date: t.date.map(ts),
                    storage_class: storage_class(&t.storage_class),
                })
                .collect()
        }),
        noncurrent_version_transitions: (!r.noncurrent_version_transitions.is_empty()).then(|| {
            r.noncurrent_version_transitions
                .iter()
                .map(|t| NoncurrentVersionTransition {
                    noncurrent_days: t.noncurrent_days,
                    newer_noncurrent_versions: t.newer_noncurrent_versions,
                    storage_class: storage_class(&t.storage_class),
                })
                .collect()
        }),
    }
}

/// PutBucketLifecycleConfiguration: validated as S3 does, then replaces the configuration.
pub async fn put_bucket_lifecycle_configuration(
    app: &Tessera,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let b = bucket(&req.extensions)?;
    let Some(doc) = &req.input.lifecycle_configuration else {
        return Err(to_s3(Error::MalformedXml));
    };
    let rules = doc
        .rules
        .iter()
        .map(rule_in)
        .collect::<S3Result<Vec<_>>>()?;
    let config = LifecycleConfiguration::new(rules).map_err(to_s3)?;
    app.put_bucket_lifecycle(&b.name, &config)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

/// GetBucketLifecycleConfiguration: NoSuchLifecycleConfiguration when there is none.
pub async fn get_bucket_lifecycle_configuration(
    app: &Tessera,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let b = bucket(&req.extensions)?;
    let config = app.bucket_lifecycle(&b).map_err(to_s3)?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(config.rules().iter().map(rule_out).collect()),
        ..Default::default()
    }))
}

/// DeleteBucketLifecycle.
pub async fn delete_bucket_lifecycle(
    app: &Tessera,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    let b = bucket(&req.extensions)?;
    app.delete_bucket_lifecycle(&b.name).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput {}))
}

/// The `x-amz-expiration` value of a current object an expiration rule applies to:
/// `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="..."`.
pub(crate) fn expiration_header(
    app: &Tessera,
    ext: &http::Extensions,
    key: &str,
    size: u64,
    last_modified: Millis,
) -> Option<String> {
    let b = bucket(ext).ok()?;
    let (due, rule) = app.object_expiration(&b, key, size, last_modified)?;
    let date = http_date(&ts(due))?;
    Some(format!("expiry-date=\"{date}\", rule-id=\"{rule}\""))
}

/// The abort date and rule id of an upload a rule applies to (`x-amz-abort-date`,
/// `x-amz-abort-rule-id`).
pub(crate) fn abort_fields(
    app: &Tessera,
    ext: &http::Extensions,
    key: &str,
    initiated: Millis,
) -> (Option<Timestamp>, Option<String>) {
    let Ok(b) = bucket(ext) else {
        return (None, None);
    };
    match app.upload_abort_date(&b, key, initiated) {
        Some((due, rule)) => (Some(ts(due)), Some(rule)),
        None => (None, None),
    }
}
