//! Bucket lifecycle configuration: the rules as S3's document has them, validated with S3's
//! errors, their stored form, which objects and uploads a rule applies to, and when an
//! object expires or an upload is aborted. Lifecycle API operations on [`Tessera`] are here
//! too; the background worker that applies the rules is [`crate::lifecycle_worker`].
//!
//! Transitions (and noncurrent-version transitions) are accepted, stored and reported back
//! as given, but never applied: Tessera has one storage class.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{ArgumentError, Error, RequestError, Result};
use crate::records::{BucketRecord, BucketSetting, Millis};
use crate::tagging::{validate_tag, TagSet};
use crate::tessera::Tessera;

/// Most rules a configuration may have.
pub const MAX_RULES: usize = 1000;
/// Longest rule ID, in characters.
pub const MAX_ID_CHARS: usize = 255;
/// A day as S3 counts it; other lengths are for tests (RGW's debug interval).
pub const STANDARD_DAY: Duration = Duration::from_secs(86_400);
const DAY_MS: i64 = 86_400_000;

/// Whether a rule is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleStatus {
    Enabled,
    Disabled,
}

impl RuleStatus {
    /// Parses S3's spelling; anything else is MalformedXML.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "Enabled" => Ok(RuleStatus::Enabled),
            "Disabled" => Ok(RuleStatus::Disabled),
            _ => Err(Error::MalformedXml),
        }
    }

    /// S3's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Enabled => "Enabled",
            RuleStatus::Disabled => "Disabled",
        }
    }
}

/// A rule's `Filter`: at most one of its fields is set (none: every object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub prefix: Option<String>,
    pub tag: Option<(String, String)>,
    pub and: Option<AndFilter>,
    pub object_size_greater_than: Option<i64>,
    pub object_size_less_than: Option<i64>,
}

/// The `And` of a filter: every predicate given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AndFilter {
    pub prefix: Option<String>,
    pub tags: Vec<(String, String)>,
    pub object_size_greater_than: Option<i64>,
    pub object_size_less_than: Option<i64>,
}

/// `Expiration`: exactly one of its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Expiration {
    pub days: Option<i32>,
    /// Midnight UTC.
    pub date: Option<Millis>,
    pub expired_object_delete_marker: Option<bool>,
}

/// `AbortIncompleteMultipartUpload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbortIncomplete {
    pub days_after_initiation: Option<i32>,
}

/// `NoncurrentVersionExpiration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: Option<i32>,
    pub newer_noncurrent_versions: Option<i32>,
}

/// `Transition` (stored and reported, never applied).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Transition {
    pub days: Option<i32>,
    pub date: Option<Millis>,
    pub storage_class: Option<String>,
}

/// `NoncurrentVersionTransition` (stored and reported, never applied).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoncurrentTransition {
    pub noncurrent_days: Option<i32>,
    pub newer_noncurrent_versions: Option<i32>,
    pub storage_class: Option<String>,
}

/// One lifecycle rule. After [`LifecycleConfiguration::new`] its `id` is always set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: Option<String>,
    pub status: RuleStatus,
    /// The legacy rule-level `Prefix` (instead of a `Filter`).
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub expiration: Option<Expiration>,
    #[serde(default)]
    pub abort_incomplete_multipart_upload: Option<AbortIncomplete>,
    #[serde(default)]
    pub noncurrent_version_expiration: Option<NoncurrentExpiration>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub noncurrent_version_transitions: Vec<NoncurrentTransition>,
}

/// A validated lifecycle configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleConfiguration {
    rules: Vec<Rule>,
}

fn argument(m: impl Into<String>) -> Error {
    Error::InvalidArgument(ArgumentError::Config(m.into()))
}

fn request(m: impl Into<String>) -> Error {
    Error::InvalidRequest(RequestError::Config(m.into()))
}

/// `Days`-like values must be positive (S3: InvalidArgument).
fn positive(value: i32, name: &str, action: &str) -> Result<()> {
    if value > 0 {
        Ok(())
    } else {
        Err(argument(format!(
            "'{name}' for {action} action must be a positive integer"
        )))
    }
}

fn midnight(date: Millis) -> Result<()> {
    if date.rem_euclid(DAY_MS) == 0 {
        Ok(())
    } else {
        Err(argument("'Date' must be at midnight GMT"))
    }
}

fn check_sizes(gt: Option<i64>, lt: Option<i64>) -> Result<()> {
    if gt.is_some_and(|n| n < 0) || lt.is_some_and(|n| n <= 0) {
        return Err(argument("Object size must be a positive number of bytes"));
    }
    if let (Some(gt), Some(lt)) = (gt, lt) {
        if gt >= lt {
            return Err(argument(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
            ));
        }
    }
    Ok(())
}

fn check_tags(tags: &[(String, String)]) -> Result<()> {
    for (i, (k, v)) in tags.iter().enumerate() {
        validate_tag(k, v)?;
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(Error::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

/// An ID for a rule given none, as S3 makes one: 48 random base64 characters.
fn generated_id() -> String {
    let bytes: Vec<u8> = rand::random::<[u8; 32]>()
        .into_iter()
        .chain(rand::random::<[u8; 4]>())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Rounds `t` up to the next multiple of `day` since the epoch (unchanged if on one): with
/// the standard day that is the next midnight UTC, as S3 rounds.
pub fn round_up_to_day(t: Millis, day: Duration) -> Millis {
    let d = day_ms(day);
    t.div_euclid(d)
        .saturating_add(i64::from(t.rem_euclid(d) != 0))
        .saturating_mul(d)
}

/// `start` plus `days` days, rounded up to the next day boundary.
pub fn after_days(start: Millis, days: i32, day: Duration) -> Millis {
    let d = day_ms(day);
    round_up_to_day(start.saturating_add(i64::from(days).saturating_mul(d)), day)
}

fn day_ms(day: Duration) -> i64 {
    i64::try_from(day.as_millis()).unwrap_or(DAY_MS).max(1)
}

impl Filter {
    fn predicates(&self) -> usize {
        usize::from(self.prefix.is_some())
            + usize::from(self.tag.is_some())
            + usize::from(self.and.is_some())
            + usize::from(self.object_size_greater_than.is_some())
            + usize::from(self.object_size_less_than.is_some())
    }

    fn has_tags(&self) -> bool {
        self.tag.is_some() || self.and.as_ref().is_some_and(|a| !a.tags.is_empty())
    }
}

impl Rule {
    /// The rule's ID (set on every validated rule).
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// Whether the rule is enabled.
    pub fn enabled(&self) -> bool {
        self.status == RuleStatus::Enabled
    }

    fn has_action(&self) -> bool {
        self.expiration.is_some()
            || self.abort_incomplete_multipart_upload.is_some()
            || self.noncurrent_version_expiration.is_some()
            || !self.transitions.is_empty()
            || !self.noncurrent_version_transitions.is_empty()
    }

    /// Checks the rule as S3 does, filling in a generated ID if it has none.
    fn validate(&mut self) -> Result<()> {
        match &self.id {
            Some(id) if id.is_empty() => self.id = None,
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(argument(format!(
                    "ID length should not exceed allowed limit of {MAX_ID_CHARS}"
                )))
            }
            _ => {}
        }
        if self.id.is_none() {
            self.id = Some(generated_id());
        }
        match (&self.prefix, &self.filter) {
            (Some(_), Some(_)) | (None, None) => return Err(Error::MalformedXml),
            _ => {}
        }
        if let Some(f) = &self.filter {
            if f.predicates() > 1 {
                return Err(Error::MalformedXml);
            }
            if let Some((k, v)) = &f.tag {
                validate_tag(k, v)?;
            }
            check_sizes(f.object_size_greater_than, f.object_size_less_than)?;
            if let Some(a) = &f.and {
                check_tags(&a.tags)?;
                check_sizes(a.object_size_greater_than, a.object_size_less_than)?;
            }
        }
        if !self.has_action() {
            return Err(request(
                "At least one action needs to be specified in a rule",
            ));
        }
        if let Some(e) = &self.expiration {
            let given = usize::from(e.days.is_some())
                + usize::from(e.date.is_some())
                + usize::from(e.expired_object_delete_marker.is_some());
            if given != 1 {
                return Err(Error::MalformedXml);
            }
            if let Some(days) = e.days {
                positive(days, "Days", "Expiration")?;
            }
            if let Some(date) = e.date {
                midnight(date)?;
            }
            if e.expired_object_delete_marker.is_some()
                && self.filter.as_ref().is_some_and(Filter::has_tags)
            {
                return Err(request(
                    "ExpiredObjectDeleteMarker cannot be specified with object tags",
                ));
            }
        }
        if let Some(a) = &self.abort_incomplete_multipart_upload {
            let days = a.days_after_initiation.ok_or(Error::MalformedXml)?;
            positive(
                days,
                "DaysAfterInitiation",
                "AbortIncompleteMultipartUpload",
            )?;
            if self.filter.as_ref().is_some_and(Filter::has_tags) {
                return Err(request(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
        }
        if let Some(n) = &self.noncurrent_version_expiration {
            let days = n.noncurrent_days.ok_or(Error::MalformedXml)?;
            positive(days, "NoncurrentDays", "NoncurrentVersionExpiration")?;
            if let Some(newer) = n.newer_noncurrent_versions {
                if !(1..=100).contains(&newer) {
                    return Err(argument(
                        "'NewerNoncurrentVersions' must be between 1 and 100",
                    ));
                }
            }
        }
        for t in &self.transitions {
            if usize::from(t.days.is_some()) + usize::from(t.date.is_some()) != 1
                || t.storage_class.is_none()
            {
                return Err(Error::MalformedXml);
            }
            if t.days.is_some_and(|d| d < 0) {
                return Err(argument("'Days' in Transition action must be nonnegative"));
            }
            if let Some(date) = t.date {
                midnight(date)?;
            }
        }
        for t in &self.noncurrent_version_transitions {
            match t.noncurrent_days {
                None => return Err(Error::MalformedXml),
                Some(d) if d < 0 => return Err(argument(
                    "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
                )),
                Some(_) => {}
            }
            if t.storage_class.is_none() {
                return Err(Error::MalformedXml);
            }
        }
        Ok(())
    }

    /// The key prefix the rule requires (empty: any key).
    fn key_prefix(&self) -> &str {
        let filter = self.filter.as_ref();
        self.prefix
            .as_deref()
            .or_else(|| filter.and_then(|f| f.prefix.as_deref()))
            .or_else(|| filter.and_then(|f| f.and.as_ref()?.prefix.as_deref()))
            .unwrap_or_default()
    }

    /// Whether the enabled rule applies to a current object of this key, size and tags.
    pub fn applies_to_object(&self, key: &str, size: u64, tags: &TagSet) -> bool {
        if !self.enabled() || !key.starts_with(self.key_prefix()) {
            return false;
        }
        let Some(f) = &self.filter else { return true };
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let sizes_hold = |gt: Option<i64>, lt: Option<i64>| {
            gt.is_none_or(|n| size > n) && lt.is_none_or(|n| size < n)
        };
        let tag_holds = |(k, v): &(String, String)| tags.get(k) == Some(v.as_str());
        f.tag.as_ref().is_none_or(tag_holds)
            && sizes_hold(f.object_size_greater_than, f.object_size_less_than)
            && f.and.as_ref().is_none_or(|a| {
                a.tags.iter().all(tag_holds)
                    && sizes_hold(a.object_size_greater_than, a.object_size_less_than)
            })
    }

    /// Whether the enabled rule applies to an in-progress upload of this key: by prefix (an
    /// upload's size is unknown until Complete, so size predicates do not count; rules with
    /// tags cannot abort uploads).
    pub fn applies_to_upload(&self, key: &str) -> bool {
        self.enabled()
            && !self.filter.as_ref().is_some_and(Filter::has_tags)
            && key.starts_with(self.key_prefix())
    }
}

impl LifecycleConfiguration {
    /// Validates `rules` as S3 does: 1 to 1000 rules, each valid, IDs unique (generated for
    /// rules without one).
    pub fn new(mut rules: Vec<Rule>) -> Result<Self> {
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(Error::MalformedXml);
        }
        for rule in &mut rules {
            rule.validate()?;
        }
        for (i, rule) in rules.iter().enumerate() {
            if rules[..i].iter().any(|r| r.id == rule.id) {
                return Err(argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        Ok(Self { rules })
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether an enabled rule aborts incomplete uploads.
    pub fn aborts_uploads(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.enabled() && r.abort_incomplete_multipart_upload.is_some())
    }

    /// Whether an enabled rule expires current objects by age or date.
    pub fn expires_objects(&self) -> bool {
        self.rules.iter().any(|r| {
            r.enabled()
                && r.expiration
                    .as_ref()
                    .is_some_and(|e| e.days.is_some() || e.date.is_some())
        })
    }

    /// Whether an enabled rule expires noncurrent versions or expired delete markers (the
    /// scan over a bucket's versions): NoncurrentVersionExpiration, ExpiredObjectDeleteMarker,
    /// or Expiration Days, which also removes delete markers once that old.
    pub fn expires_versions(&self) -> bool {
        self.rules.iter().any(|r| {
            r.enabled()
                && (r.noncurrent_version_expiration.is_some()
                    || r.expiration.as_ref().is_some_and(|e| {
                        e.expired_object_delete_marker == Some(true) || e.days.is_some()
                    }))
        })
    }

    /// When a noncurrent version expires, and by which rule: of the enabled rules that apply
    /// with NoncurrentVersionExpiration, those whose NewerNoncurrentVersions keeps fewer than
    /// `newer_noncurrent` (the noncurrent versions of the key newer than this one); the
    /// earliest of `noncurrent_since` (when its successor was written) plus NoncurrentDays,
    /// rounded up to the next day boundary.
    pub fn noncurrent_expiration(
        &self,
        key: &str,
        size: u64,
        tags: &TagSet,
        noncurrent_since: Millis,
        newer_noncurrent: usize,
        day: Duration,
    ) -> Option<(Millis, &str)> {
        self.rules
            .iter()
            .filter(|r| r.applies_to_object(key, size, tags))
            .filter_map(|r| {
                let n = r.noncurrent_version_expiration.as_ref()?;
                let keep = usize::try_from(n.newer_noncurrent_versions.unwrap_or(0)).unwrap_or(0);
                if newer_noncurrent < keep {
                    return None;
                }
                let due = match n.noncurrent_days {
                    Some(days) => after_days(noncurrent_since, days, day),
                    // NewerNoncurrentVersions alone: due as soon as it is beyond the count.
                    None => noncurrent_since,
                };
                Some((due, r.id()))
            })
            .min_by_key(|(t, _)| *t)
    }

    /// Whether an enabled rule removes a delete marker of `key` written at `written` that is
    /// the key's only version, at `now`: ExpiredObjectDeleteMarker at once, Expiration Days
    /// once the marker is that old (markers have no size and no tags).
    pub fn removes_expired_delete_marker(
        &self,
        key: &str,
        written: Millis,
        now: Millis,
        day: Duration,
    ) -> bool {
        self.rules.iter().any(|r| {
            if !r.applies_to_object(key, 0, &TagSet::default()) {
                return false;
            }
            match r.expiration.as_ref() {
                Some(e) if e.expired_object_delete_marker == Some(true) => true,
                // S3: "When you specify the Days tag, Amazon S3 automatically performs
                // ExpiredObjectDeleteMarker cleanup when the delete markers are old enough".
                Some(e) => e.days.is_some_and(|d| after_days(written, d, day) <= now),
                None => false,
            }
        })
    }

    /// When an upload of `key` initiated at `initiated` is aborted, and by which rule: the
    /// earliest of the enabled rules that apply (initiation plus DaysAfterInitiation days,
    /// rounded up to the next day boundary).
    pub fn abort_date(
        &self,
        key: &str,
        initiated: Millis,
        day: Duration,
    ) -> Option<(Millis, &str)> {
        self.rules
            .iter()
            .filter(|r| r.applies_to_upload(key))
            .filter_map(|r| {
                let days = r
                    .abort_incomplete_multipart_upload
                    .as_ref()?
                    .days_after_initiation?;
                Some((after_days(initiated, days, day), r.id()))
            })
            .min_by_key(|(t, _)| *t)
    }

    /// When a current object expires, and by which rule: the earliest of the enabled rules
    /// that apply (last modified plus Days days rounded up to the next day boundary, or the
    /// rule's Date).
    pub fn expiration(
        &self,
        key: &str,
        size: u64,
        tags: &TagSet,
        last_modified: Millis,
        day: Duration,
    ) -> Option<(Millis, &str)> {
        self.rules
            .iter()
            .filter(|r| r.applies_to_object(key, size, tags))
            .filter_map(|r| {
                let e = r.expiration.as_ref()?;
                let due = match (e.days, e.date) {
                    (Some(days), _) => after_days(last_modified, days, day),
                    (None, Some(date)) => date,
                    (None, None) => return None,
                };
                Some((due, r.id()))
            })
            .min_by_key(|(t, _)| *t)
    }

    /// The stored form (versioned JSON, [`crate::records::rules_to_stored`]).
    pub fn to_stored(&self) -> String {
        crate::records::rules_to_stored(&self.rules)
    }

    /// Reads the stored form back (not revalidated: it was valid when stored).
    pub fn from_stored(s: &str) -> Result<Self> {
        Ok(Self {
            rules: crate::records::rules_from_stored(s, "lifecycle configuration")?,
        })
    }

    /// The bucket's configuration, if it has one that reads back (else logged, `None`).
    pub fn of(bucket: &BucketRecord) -> Option<Self> {
        crate::records::bucket_rules(bucket, BucketSetting::Lifecycle, "lifecycle configuration")
            .map(|rules| Self { rules })
    }
}

impl Tessera {
    /// PutBucketLifecycleConfiguration: replaces the whole configuration.
    pub async fn put_bucket_lifecycle(
        &self,
        bucket: &str,
        config: &LifecycleConfiguration,
    ) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Lifecycle, Some(config.to_stored()))
            .await
    }

    /// GetBucketLifecycleConfiguration: `NoSuchLifecycleConfiguration` when there is none.
    pub fn bucket_lifecycle(&self, bucket: &BucketRecord) -> Result<LifecycleConfiguration> {
        bucket
            .setting(BucketSetting::Lifecycle)
            .map(LifecycleConfiguration::from_stored)
            .transpose()?
            .ok_or(Error::NoSuchLifecycleConfiguration)
    }

    /// DeleteBucketLifecycle (idempotent).
    pub async fn delete_bucket_lifecycle(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Lifecycle, None)
            .await
    }

    /// The abort date and rule of an upload (`x-amz-abort-date`, `x-amz-abort-rule-id`), if
    /// a rule of the bucket applies to it.
    pub fn upload_abort_date(
        &self,
        bucket: &BucketRecord,
        key: &str,
        initiated: Millis,
    ) -> Option<(Millis, String)> {
        let config = LifecycleConfiguration::of(bucket)?;
        config
            .abort_date(key, initiated, self.options.lifecycle_day)
            .map(|(t, id)| (t, id.to_owned()))
    }

    /// The expiry date and rule of a current object (`x-amz-expiration`), if an expiration
    /// rule of the bucket applies to it. Objects have no tags yet: tag filters never match.
    pub fn object_expiration(
        &self,
        bucket: &BucketRecord,
        key: &str,
        size: u64,
        last_modified: Millis,
    ) -> Option<(Millis, String)> {
        let config = LifecycleConfiguration::of(bucket)?;
        config
            .expiration(
                key,
                size,
                &TagSet::default(),
                last_modified,
                self.options.lifecycle_day,
            )
            .map(|(t, id)| (t, id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> Rule {
        Rule {
            id: Some(id.into()),
            status: RuleStatus::Enabled,
            prefix: None,
            filter: Some(Filter::default()),
            expiration: Some(Expiration {
                days: Some(1),
                ..Expiration::default()
            }),
            abort_incomplete_multipart_upload: None,
            noncurrent_version_expiration: None,
            transitions: Vec::new(),
            noncurrent_version_transitions: Vec::new(),
        }
    }

    fn with(f: impl FnOnce(&mut Rule)) -> Result<LifecycleConfiguration> {
        let mut r = rule("r");
        f(&mut r);
        LifecycleConfiguration::new(vec![r])
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidArgument(ArgumentError::Config(m))
            | Error::InvalidRequest(RequestError::Config(m))
            | Error::InvalidTag(m) => m,
            other => format!("{other:?}"),
        }
    }

    const T0: Millis = 1_356_000_000_000; // 2012-12-20T10:40:00Z

    #[test]
    fn valid_configurations() {
        assert!(with(|_| {}).is_ok());
        assert!(with(|r| {
            r.filter = None;
            r.prefix = Some("logs/".into());
        })
        .is_ok());
        assert!(with(|r| {
            r.filter = Some(Filter {
                and: Some(AndFilter {
                    prefix: Some("a/".into()),
                    tags: vec![("k".into(), "v".into()), ("k2".into(), "v".into())],
                    object_size_greater_than: Some(10),
                    object_size_less_than: Some(100),
                }),
                ..Filter::default()
            });
        })
        .is_ok());
        assert!(with(|r| {
            r.expiration = None;
            r.transitions = vec![Transition {
                days: Some(0),
                date: None,
                storage_class: Some("GLACIER".into()),
            }];
        })
        .is_ok());
    }

    #[test]
    fn structural_errors_are_malformed_xml() {
        let malformed = |r: Result<LifecycleConfiguration>| matches!(r, Err(Error::MalformedXml));
        assert!(malformed(LifecycleConfiguration::new(Vec::new())));
        assert!(malformed(with(|r| r.prefix = Some("x".into()))));
        assert!(malformed(with(|r| r.filter = None)));
        assert!(malformed(with(|r| {
            r.filter = Some(Filter {
                prefix: Some("a".into()),
                object_size_greater_than: Some(3),
                ..Filter::default()
            })
        })));
        assert!(malformed(with(
            |r| r.expiration = Some(Expiration::default())
        )));
        assert!(malformed(with(|r| {
            r.expiration = Some(Expiration {
                days: Some(1),
                expired_object_delete_marker: Some(true),
                ..Expiration::default()
            })
        })));
        assert!(malformed(with(|r| {
            r.expiration = Some(Expiration {
                days: Some(1),
                date: Some(0),
                ..Expiration::default()
            })
        })));
        assert!(malformed(with(|r| {
            r.abort_incomplete_multipart_upload = Some(AbortIncomplete::default())
        })));
        assert!(malformed(LifecycleConfiguration::new(
            (0..1001).map(|i| rule(&i.to_string())).collect()
        )));
    }

    #[test]
    fn value_errors() {
        let e = with(|r| r.expiration.as_mut().unwrap().days = Some(0)).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let e = with(|r| {
            r.expiration = Some(Expiration {
                date: Some(T0),
                ..Expiration::default()
            })
        })
        .unwrap_err();
        assert_eq!(message(e), "'Date' must be at midnight GMT");
        assert!(with(|r| {
            r.expiration = Some(Expiration {
                date: Some(1_356_048_000_000),
                ..Expiration::default()
            })
        })
        .is_ok());
        let e = with(|r| r.id = Some("x".repeat(256))).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let e = LifecycleConfiguration::new(vec![rule("a"), rule("a")]).unwrap_err();
        assert_eq!(
            message(e),
            "Rule ID must be unique. Found same ID for more than one rule"
        );
        let e = with(|r| {
            r.expiration = None;
            r.filter = Some(Filter::default());
        })
        .unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)));
        assert_eq!(
            message(e),
            "At least one action needs to be specified in a rule"
        );
        let e = with(|r| {
            r.filter = Some(Filter {
                tag: Some(("k".into(), "v".into())),
                ..Filter::default()
            });
            r.abort_incomplete_multipart_upload = Some(AbortIncomplete {
                days_after_initiation: Some(1),
            });
        })
        .unwrap_err();
        assert_eq!(
            message(e),
            "AbortIncompleteMultipartUpload cannot be specified with Tags."
        );
        let e = with(|r| {
            r.filter = Some(Filter {
                tag: Some(("aws:k".into(), "v".into())),
                ..Filter::default()
            })
        })
        .unwrap_err();
        assert!(matches!(e, Error::InvalidTag(_)));
        let e = with(|r| {
            r.noncurrent_version_expiration = Some(NoncurrentExpiration {
                noncurrent_days: Some(1),
                newer_noncurrent_versions: Some(0),
            })
        })
        .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
    }

    #[test]
    fn ids_generated_when_missing() {
        let c = LifecycleConfiguration::new(vec![
            Rule {
                id: None,
                ..rule("")
            },
            Rule {
                id: Some(String::new()),
                ..rule("")
            },
        ])
        .unwrap();
        let (a, b) = (c.rules()[0].id(), c.rules()[1].id());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }

    #[test]
    fn matching() {
        let none = TagSet::default();
        let tags = TagSet::new(
            vec![("k".into(), "v".into())],
            crate::tagging::TagTarget::Object,
        )
        .unwrap();
        let c = with(|r| {
            r.filter = Some(Filter {
                and: Some(AndFilter {
                    prefix: Some("a/".into()),
                    tags: vec![("k".into(), "v".into())],
                    object_size_greater_than: Some(10),
                    object_size_less_than: Some(100),
                }),
                ..Filter::default()
            })
        })
        .unwrap();
        let r = &c.rules()[0];
        assert!(r.applies_to_object("a/x", 50, &tags));
        assert!(!r.applies_to_object("a/x", 50, &none));
        assert!(!r.applies_to_object("b/x", 50, &tags));
        assert!(!r.applies_to_object("a/x", 10, &tags));
        assert!(!r.applies_to_object("a/x", 100, &tags));
        assert!(!r.applies_to_upload("a/x"));

        let c = with(|r| {
            r.filter = None;
            r.prefix = Some("logs/".into());
        })
        .unwrap();
        assert!(c.rules()[0].applies_to_object("logs/1", 0, &none));
        assert!(c.rules()[0].applies_to_upload("logs/1"));
        assert!(!c.rules()[0].applies_to_upload("log"));

        let c = with(|r| r.status = RuleStatus::Disabled).unwrap();
        assert!(!c.rules()[0].applies_to_object("x", 1, &none));
        assert!(!c.expires_objects());

        let c = with(|r| {
            r.filter = Some(Filter {
                object_size_less_than: Some(5),
                ..Filter::default()
            })
        })
        .unwrap();
        assert!(c.rules()[0].applies_to_object("x", 4, &none));
        assert!(!c.rules()[0].applies_to_object("x", 5, &none));
        assert!(c.rules()[0].applies_to_upload("x"));
    }

    #[test]
    fn rounding_to_midnight() {
        // S3's example: created 2014-01-15 10:30 UTC, 3 days -> 2014-01-19 00:00 UTC.
        let created = 1_389_781_800_000;
        assert_eq!(after_days(created, 3, STANDARD_DAY), 1_390_089_600_000);
        let midnight = 1_389_744_000_000; // 2014-01-15 00:00 exactly: no rounding
        assert_eq!(after_days(midnight, 1, STANDARD_DAY), midnight + DAY_MS);
        // A 2 s debug day: the next multiple of 2 s since the epoch.
        let day = Duration::from_secs(2);
        assert_eq!(after_days(1_001, 1, day), 4_000);
        assert_eq!(after_days(2_000, 1, day), 4_000);
        assert_eq!(round_up_to_day(-1, day), 0);
    }

    #[test]
    fn expired_delete_markers_by_flag_or_by_days() {
        let day = Duration::from_secs(2);
        let by_days = with(|r| r.expiration.as_mut().unwrap().days = Some(5)).unwrap();
        // Written at 1 s: due at the day boundary 5 days on (12 s).
        assert!(!by_days.removes_expired_delete_marker("k", 1_000, 11_999, day));
        assert!(by_days.removes_expired_delete_marker("k", 1_000, 12_000, day));
        let by_flag = with(|r| {
            r.expiration = Some(Expiration {
                expired_object_delete_marker: Some(true),
                ..Expiration::default()
            })
        })
        .unwrap();
        assert!(by_flag.removes_expired_delete_marker("k", 1_000, 1_000, day));
        assert!(by_flag.expires_versions() && by_days.expires_versions());
        let by_date = with(|r| {
            r.expiration = Some(Expiration {
                date: Some(0),
                ..Expiration::default()
            })
        })
        .unwrap();
        assert!(!by_date.removes_expired_delete_marker("k", 0, i64::MAX, day));
    }

    #[test]
    fn earliest_rule_wins() {
        let mut a = rule("slow");
        a.expiration = Some(Expiration {
            days: Some(30),
            ..Expiration::default()
        });
        a.abort_incomplete_multipart_upload = Some(AbortIncomplete {
            days_after_initiation: Some(7),
        });
        let mut b = rule("fast");
        b.expiration = None;
        b.filter = Some(Filter {
            prefix: Some("tmp/".into()),
            ..Filter::default()
        });
        b.abort_incomplete_multipart_upload = Some(AbortIncomplete {
            days_after_initiation: Some(1),
        });
        let c = LifecycleConfiguration::new(vec![a, b]).unwrap();
        let none = TagSet::default();
        assert_eq!(
            c.abort_date("tmp/x", T0, STANDARD_DAY),
            Some((1_356_134_400_000, "fast"))
        );
        assert_eq!(
            c.abort_date("x", T0, STANDARD_DAY),
            Some((1_356_652_800_000, "slow"))
        );
        assert_eq!(
            c.expiration("tmp/x", 1, &none, T0, STANDARD_DAY),
            Some((1_356_048_000_000 + 30 * DAY_MS, "slow"))
        );
        assert!(c.aborts_uploads() && c.expires_objects());
    }

    #[test]
    fn stored_round_trip() {
        let mut r = rule("r1");
        r.transitions = vec![Transition {
            days: Some(30),
            date: None,
            storage_class: Some("GLACIER".into()),
        }];
        r.noncurrent_version_expiration = Some(NoncurrentExpiration {
            noncurrent_days: Some(3),
            newer_noncurrent_versions: Some(2),
        });
        let c = LifecycleConfiguration::new(vec![r, rule("r2")]).unwrap();
        let back = LifecycleConfiguration::from_stored(&c.to_stored()).unwrap();
        assert_eq!(back, c);
        assert!(LifecycleConfiguration::from_stored("{\"v\":9,\"rules\":[]}").is_err());
    }
}
