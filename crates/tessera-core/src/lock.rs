//! S3 Object Lock: a bucket's lock configuration (with its default retention), the retention
//! and legal hold of each version, and the rules deciding when a version may be removed or its
//! retention changed.
//!
//! The rules are pure functions of a version's attributes and the time: the stores call them
//! inside the transaction that removes a version or changes its retention, so a retention set
//! concurrently is never missed.

use crate::error::{ArgumentError, Error, RequestError, Result};
use crate::ids::{now_millis, Millis};
use crate::records::{BucketRecord, BucketSetting, ObjectAttrs, ObjectRecord, ObjectUpdate};
use crate::tessera::Tessera;
use crate::versions::Versioning;

/// Milliseconds in a day (a default retention's unit; a year is 365 days, as S3 counts).
const DAY_MILLIS: Millis = 86_400_000;
/// The longest default retention S3 accepts: 100 years (36500 days).
const MAX_RETENTION_DAYS: u32 = 36_500;

/// A retention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionMode {
    /// Removable early by a caller with s3:BypassGovernanceRetention who asks for it.
    Governance,
    /// Nobody removes the version, shortens or removes its retention before it ends.
    Compliance,
}

impl RetentionMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }

    /// Parses the wire name (exact, as S3).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(RetentionMode::Governance),
            "COMPLIANCE" => Some(RetentionMode::Compliance),
            _ => None,
        }
    }
}

/// A version's retention: no removal before `retain_until` (in the mode's terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub retain_until: Millis,
}

impl Retention {
    /// Whether it still protects the version at `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.retain_until > now
    }
}

/// A PutObjectRetention's change, checked by the store against the version's retention at the
/// moment it applies it ([`ObjectAttrs::change_retention`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionChange {
    /// The new retention; `None` removes it.
    pub retention: Option<Retention>,
    /// `x-amz-bypass-governance-retention: true`, from a caller allowed to bypass.
    pub bypass_governance: bool,
}

impl ObjectAttrs {
    /// Whether a version with these attributes may not be removed at `now`: under legal hold,
    /// or under an active retention (GOVERNANCE unless `bypass_governance`).
    pub fn removal_blocked(&self, now: Millis, bypass_governance: bool) -> bool {
        if self.legal_hold == Some(true) {
            return true;
        }
        match &self.retention {
            Some(r) if r.active(now) => match r.mode {
                RetentionMode::Compliance => true,
                RetentionMode::Governance => !bypass_governance,
            },
            _ => false,
        }
    }

    /// Applies a retention change if S3 allows it at `now`: an active COMPLIANCE retention can
    /// only be kept or lengthened in COMPLIANCE; an active GOVERNANCE one can be kept or
    /// lengthened in GOVERNANCE, and shortened, removed or given another mode only with the
    /// bypass.
    /// Refused: [`Error::ObjectLocked`].
    pub fn change_retention(&mut self, change: &RetentionChange, now: Millis) -> Result<()> {
        if let Some(current) = self.retention.filter(|r| r.active(now)) {
            let lengthens = change
                .retention
                .is_some_and(|new| new.retain_until >= current.retain_until);
            let allowed = match current.mode {
                RetentionMode::Compliance => {
                    lengthens
                        && change
                            .retention
                            .is_some_and(|n| n.mode == RetentionMode::Compliance)
                }
                // Extending keeps the mode; turning GOVERNANCE into COMPLIANCE (or anything
                // else) alters the lock settings, which only the bypass may.
                RetentionMode::Governance => {
                    change.bypass_governance
                        || (lengthens
                            && change
                                .retention
                                .is_some_and(|n| n.mode == RetentionMode::Governance))
                }
            };
            if !allowed {
                return Err(Error::ObjectLocked);
            }
        }
        self.retention = change.retention;
        Ok(())
    }
}

/// How long a default retention lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

impl RetentionPeriod {
    fn millis(self) -> Millis {
        let days = match self {
            RetentionPeriod::Days(d) => i64::from(d),
            RetentionPeriod::Years(y) => i64::from(y) * 365,
        };
        days * DAY_MILLIS
    }
}

/// A bucket's default retention, given to new versions that name none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub period: RetentionPeriod,
}

impl DefaultRetention {
    /// A default retention from a configuration's Rule: a mode and Days or Years (not both),
    /// positive and at most 100 years.
    pub fn parse(mode: Option<&str>, days: Option<i32>, years: Option<i32>) -> Result<Self> {
        let mode = mode
            .and_then(RetentionMode::parse)
            .ok_or(Error::MalformedXml)?;
        let (value, as_period): (i32, fn(u32) -> RetentionPeriod) = match (days, years) {
            (Some(d), None) => (d, RetentionPeriod::Days),
            (None, Some(y)) => (y, RetentionPeriod::Years),
            _ => return Err(Error::MalformedXml),
        };
        let value = u32::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .ok_or(Error::InvalidArgument(ArgumentError::RetentionPeriod))?;
        let period = as_period(value);
        let too_long = match period {
            RetentionPeriod::Days(d) => d > MAX_RETENTION_DAYS,
            RetentionPeriod::Years(y) => y > MAX_RETENTION_DAYS / 365,
        };
        if too_long {
            return Err(Error::InvalidArgument(
                ArgumentError::RetentionPeriodTooLong,
            ));
        }
        Ok(DefaultRetention { mode, period })
    }

    /// The retention of a version created at `created`.
    pub fn retention_from(&self, created: Millis) -> Retention {
        Retention {
            mode: self.mode,
            retain_until: created.saturating_add(self.period.millis()),
        }
    }
}

/// A bucket's Object Lock configuration (present: lock enabled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectLockConfig {
    pub default_retention: Option<DefaultRetention>,
}

impl ObjectLockConfig {
    /// The configuration of `bucket`; `None` when object lock is not enabled on it.
    pub fn of(bucket: &BucketRecord) -> Option<Self> {
        bucket
            .setting(BucketSetting::ObjectLock)
            .map(Self::from_stored)
    }

    /// Stored form: `Enabled`, or `Enabled MODE Days|Years N`.
    pub fn to_stored(&self) -> String {
        match &self.default_retention {
            None => "Enabled".to_owned(),
            Some(d) => {
                let (unit, n) = match d.period {
                    RetentionPeriod::Days(n) => ("Days", n),
                    RetentionPeriod::Years(n) => ("Years", n),
                };
                format!("Enabled {} {unit} {n}", d.mode.as_str())
            }
        }
    }

    /// Reads [`ObjectLockConfig::to_stored`]' form; an unreadable rule counts as none (the
    /// lock itself stays enabled, which is the safe side).
    pub fn from_stored(s: &str) -> Self {
        let mut words = s.split(' ').skip(1);
        let (mode, unit, n) = (words.next(), words.next(), words.next());
        let n = n.and_then(|n| n.parse::<u32>().ok());
        let default_retention = match (mode.and_then(RetentionMode::parse), unit, n) {
            (Some(mode), Some("Days"), Some(n)) => Some(DefaultRetention {
                mode,
                period: RetentionPeriod::Days(n),
            }),
            (Some(mode), Some("Years"), Some(n)) => Some(DefaultRetention {
                mode,
                period: RetentionPeriod::Years(n),
            }),
            _ => None,
        };
        ObjectLockConfig { default_retention }
    }
}

/// The lock headers of a write (PutObject, CreateMultipartUpload, CopyObject).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockHeaders {
    /// `x-amz-object-lock-mode`.
    pub mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date`.
    pub retain_until: Option<Millis>,
    /// `x-amz-object-lock-legal-hold` (`ON` / `OFF`).
    pub legal_hold: Option<String>,
}

impl LockHeaders {
    /// Whether the write names any lock setting.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.retain_until.is_none() && self.legal_hold.is_none()
    }

    /// Sets the retention and legal hold of a new version in `bucket` into `attrs`: the ones
    /// the headers name (mode and date together, the date in the future), else the bucket's
    /// default retention from `now`. Lock headers on a bucket without lock: InvalidRequest.
    pub fn apply(&self, bucket: &BucketRecord, now: Millis, attrs: &mut ObjectAttrs) -> Result<()> {
        let Some(config) = ObjectLockConfig::of(bucket) else {
            if self.is_empty() {
                return Ok(());
            }
            return Err(Error::InvalidRequest(
                RequestError::MissingObjectLockConfiguration,
            ));
        };
        attrs.retention = match (&self.mode, self.retain_until) {
            (Some(mode), Some(until)) => Some(new_retention(mode, until, now)?),
            (None, None) => config.default_retention.map(|d| d.retention_from(now)),
            _ => return Err(Error::InvalidRequest(RequestError::LockHeadersIncomplete)),
        };
        attrs.legal_hold = self
            .legal_hold
            .as_deref()
            .map(parse_legal_hold)
            .transpose()?;
        Ok(())
    }
}

/// A retention a client asks for: a known mode and a date in the future.
pub fn new_retention(mode: &str, retain_until: Millis, now: Millis) -> Result<Retention> {
    let mode = RetentionMode::parse(mode).ok_or(Error::InvalidArgument(ArgumentError::LockMode))?;
    if retain_until <= now {
        return Err(Error::InvalidArgument(ArgumentError::RetainUntilInPast));
    }
    Ok(Retention { mode, retain_until })
}

/// A legal hold status: `ON` or `OFF`.
pub fn parse_legal_hold(status: &str) -> Result<bool> {
    match status {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(Error::InvalidArgument(ArgumentError::LegalHoldStatus)),
    }
}

/// Refuses per-version lock operations on a bucket without lock, as S3.
fn require_lock(bucket: &BucketRecord) -> Result<ObjectLockConfig> {
    ObjectLockConfig::of(bucket).ok_or(Error::InvalidRequest(
        RequestError::MissingObjectLockConfiguration,
    ))
}

impl Tessera {
    /// PutObjectLockConfiguration: `enabled` must be `Enabled`; the bucket must have
    /// versioning enabled (lock may be enabled on an existing versioned bucket).
    pub async fn put_object_lock_configuration(
        &self,
        bucket: &BucketRecord,
        enabled: Option<&str>,
        default_retention: Option<DefaultRetention>,
    ) -> Result<()> {
        if enabled != Some("Enabled") {
            return Err(Error::MalformedXml);
        }
        if Versioning::of(bucket) != Versioning::Enabled {
            return Err(Error::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                    .into(),
            ));
        }
        let config = ObjectLockConfig { default_retention };
        self.meta
            .put_bucket_setting(
                &bucket.name,
                BucketSetting::ObjectLock,
                Some(config.to_stored()),
            )
            .await
    }

    /// GetObjectLockConfiguration: `ObjectLockConfigurationNotFound` on a bucket without lock.
    pub fn object_lock_configuration(&self, bucket: &BucketRecord) -> Result<ObjectLockConfig> {
        ObjectLockConfig::of(bucket).ok_or(Error::ObjectLockConfigurationNotFound)
    }

    /// The version a per-version lock operation acts on (the bucket must have lock).
    async fn locked_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectRecord> {
        require_lock(bucket)?;
        self.object_version(&bucket.name, key, version_id).await
    }

    /// PutObjectRetention on a version: `retention` `None` removes it. The change is checked
    /// by the store against the version's retention as it applies it.
    pub async fn put_object_retention(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version_id: Option<&str>,
        change: RetentionChange,
    ) -> Result<()> {
        let object = self.locked_version(bucket, key, version_id).await?;
        if change.retention.is_some_and(|r| !r.active(now_millis())) {
            return Err(Error::InvalidArgument(ArgumentError::RetainUntilInPast));
        }
        self.meta
            .update_object(
                &bucket.name,
                key,
                &object.object_id,
                ObjectUpdate::Retention(change),
            )
            .await
    }

    /// GetObjectRetention: `NoSuchObjectLockConfiguration` when the version has none.
    pub async fn object_retention(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Retention> {
        let object = self.locked_version(bucket, key, version_id).await?;
        object
            .attrs
            .retention
            .ok_or(Error::NoSuchObjectLockConfiguration)
    }

    /// PutObjectLegalHold on a version.
    pub async fn put_object_legal_hold(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<()> {
        let object = self.locked_version(bucket, key, version_id).await?;
        self.meta
            .update_object(
                &bucket.name,
                key,
                &object.object_id,
                ObjectUpdate::LegalHold(on),
            )
            .await
    }

    /// GetObjectLegalHold: `NoSuchObjectLockConfiguration` when never set on the version.
    pub async fn object_legal_hold(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<bool> {
        let object = self.locked_version(bucket, key, version_id).await?;
        object
            .attrs
            .legal_hold
            .ok_or(Error::NoSuchObjectLockConfiguration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn retention(mode: RetentionMode, retain_until: Millis) -> Option<Retention> {
        Some(Retention { mode, retain_until })
    }

    fn attrs(retention: Option<Retention>, legal_hold: Option<bool>) -> ObjectAttrs {
        ObjectAttrs {
            retention,
            legal_hold,
            ..ObjectAttrs::default()
        }
    }

    fn change(retention: Option<Retention>, bypass_governance: bool) -> RetentionChange {
        RetentionChange {
            retention,
            bypass_governance,
        }
    }

    use RetentionMode::{Compliance, Governance};

    #[test]
    fn removal() {
        let later = NOW + 1000;
        assert!(!attrs(None, None).removal_blocked(NOW, false));
        assert!(!attrs(None, Some(false)).removal_blocked(NOW, false));
        assert!(attrs(None, Some(true)).removal_blocked(NOW, true));
        assert!(attrs(retention(Compliance, later), None).removal_blocked(NOW, true));
        assert!(attrs(retention(Governance, later), None).removal_blocked(NOW, false));
        assert!(!attrs(retention(Governance, later), None).removal_blocked(NOW, true));
        // An ended retention protects nothing; the legal hold still does.
        assert!(!attrs(retention(Compliance, NOW), None).removal_blocked(NOW, false));
        assert!(attrs(retention(Compliance, NOW - 1), Some(true)).removal_blocked(NOW, true));
    }

    #[test]
    fn compliance_is_only_lengthened() {
        let until = NOW + 10_000;
        let mut a = attrs(retention(Compliance, until), None);
        for refused in [
            change(None, true),
            change(retention(Compliance, until - 1), true),
            change(retention(Governance, until + 1), true),
        ] {
            assert!(matches!(
                a.change_retention(&refused, NOW),
                Err(Error::ObjectLocked)
            ));
        }
        assert_eq!(a.retention, retention(Compliance, until));
        a.change_retention(&change(retention(Compliance, until + 1), false), NOW)
            .unwrap();
        assert_eq!(a.retention, retention(Compliance, until + 1));
        // Once ended, anything goes.
        a.change_retention(&change(None, false), until + 2).unwrap();
        assert_eq!(a.retention, None);
    }

    #[test]
    fn governance_needs_the_bypass_unless_lengthened() {
        let until = NOW + 10_000;
        let mut a = attrs(retention(Governance, until), None);
        assert!(a
            .change_retention(&change(retention(Governance, until - 1), false), NOW)
            .is_err());
        assert!(a.change_retention(&change(None, false), NOW).is_err());
        // Another mode alters the lock: the bypass only (ceph/s3-tests checks this too).
        assert!(a
            .change_retention(&change(retention(Compliance, until), false), NOW)
            .is_err());
        a.change_retention(&change(retention(Governance, until + 1), false), NOW)
            .unwrap();
        a.change_retention(&change(retention(Compliance, until + 1), true), NOW)
            .unwrap();
        let mut a = attrs(retention(Governance, until), None);
        a.change_retention(&change(retention(Governance, until - 1), true), NOW)
            .unwrap();
        a.change_retention(&change(None, true), NOW).unwrap();
        assert_eq!(a.retention, None);
    }

    #[test]
    fn default_retentions() {
        let d = DefaultRetention::parse(Some("GOVERNANCE"), Some(1), None).unwrap();
        assert_eq!(
            d.retention_from(NOW),
            Retention {
                mode: Governance,
                retain_until: NOW + DAY_MILLIS
            }
        );
        let y = DefaultRetention::parse(Some("COMPLIANCE"), None, Some(2)).unwrap();
        assert_eq!(y.retention_from(0).retain_until, 730 * DAY_MILLIS);
        assert!(matches!(
            DefaultRetention::parse(Some("GOVERNANCE"), Some(1), Some(1)),
            Err(Error::MalformedXml)
        ));
        assert!(matches!(
            DefaultRetention::parse(Some("GOVERNANCE"), None, None),
            Err(Error::MalformedXml)
        ));
        assert!(matches!(
            DefaultRetention::parse(Some("governance"), Some(1), None),
            Err(Error::MalformedXml)
        ));
        for bad in [0, -1] {
            assert!(matches!(
                DefaultRetention::parse(Some("COMPLIANCE"), Some(bad), None),
                Err(Error::InvalidArgument(ArgumentError::RetentionPeriod))
            ));
        }
        assert!(matches!(
            DefaultRetention::parse(Some("COMPLIANCE"), None, Some(101)),
            Err(Error::InvalidArgument(
                ArgumentError::RetentionPeriodTooLong
            ))
        ));
    }

    #[test]
    fn stored_configurations() {
        for config in [
            ObjectLockConfig::default(),
            ObjectLockConfig {
                default_retention: Some(DefaultRetention {
                    mode: Compliance,
                    period: RetentionPeriod::Years(3),
                }),
            },
            ObjectLockConfig {
                default_retention: Some(DefaultRetention {
                    mode: Governance,
                    period: RetentionPeriod::Days(30),
                }),
            },
        ] {
            assert_eq!(ObjectLockConfig::from_stored(&config.to_stored()), config);
        }
    }

    fn bucket(lock: Option<&str>) -> BucketRecord {
        let mut b = BucketRecord {
            name: "b".into(),
            created: 0,
            region: String::new(),
            owner: "o".into(),
            settings: Default::default(),
        };
        if let Some(l) = lock {
            b.settings
                .insert(BucketSetting::ObjectLock.as_str().into(), l.into());
        }
        b
    }

    #[test]
    fn lock_headers_of_new_versions() {
        let mut a = ObjectAttrs::default();
        LockHeaders::default()
            .apply(&bucket(None), NOW, &mut a)
            .unwrap();
        assert_eq!(a, ObjectAttrs::default());
        let hold = LockHeaders {
            legal_hold: Some("ON".into()),
            ..Default::default()
        };
        assert!(matches!(
            hold.apply(&bucket(None), NOW, &mut a),
            Err(Error::InvalidRequest(
                RequestError::MissingObjectLockConfiguration
            ))
        ));
        // The bucket's default applies when the write names no retention.
        let locked = bucket(Some("Enabled COMPLIANCE Days 1"));
        hold.apply(&locked, NOW, &mut a).unwrap();
        assert_eq!(a.retention, retention(Compliance, NOW + DAY_MILLIS));
        assert_eq!(a.legal_hold, Some(true));
        let named = LockHeaders {
            mode: Some("GOVERNANCE".into()),
            retain_until: Some(NOW + 5),
            legal_hold: None,
        };
        named.apply(&locked, NOW, &mut a).unwrap();
        assert_eq!(a.retention, retention(Governance, NOW + 5));
        let half = LockHeaders {
            mode: Some("GOVERNANCE".into()),
            ..Default::default()
        };
        assert!(matches!(
            half.apply(&locked, NOW, &mut a),
            Err(Error::InvalidRequest(RequestError::LockHeadersIncomplete))
        ));
        let past = LockHeaders {
            retain_until: Some(NOW),
            ..named.clone()
        };
        assert!(matches!(
            past.apply(&locked, NOW, &mut a),
            Err(Error::InvalidArgument(ArgumentError::RetainUntilInPast))
        ));
        let bad_hold = LockHeaders {
            legal_hold: Some("on".into()),
            ..Default::default()
        };
        assert!(bad_hold.apply(&locked, NOW, &mut a).is_err());
    }
}
