//! Object Lock: the bucket's configuration, the retention and legal hold of versions, the lock
//! headers of writes and reads, and the governance bypass. Authorization of the operation
//! itself already ran (the bucket comes from the access check).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use tessera_core::lock::{
    self as domain, new_retention, parse_legal_hold, LockHeaders, ObjectLockConfig,
    RetentionChange, RetentionMode, RetentionPeriod,
};
use tessera_core::{now_millis, Error, ObjectAttrs, ObjectRecord, Tessera};

use crate::auth::{bucket, requester};
use crate::convert;
use crate::errors::to_s3;

/// Whether a removal or retention change may bypass GOVERNANCE: the request asks for it
/// (`x-amz-bypass-governance-retention: true`) and the caller has s3:BypassGovernanceRetention
/// on the object. Asked for without the permission: no bypass (a locked version stays).
pub(crate) async fn bypass_governance(
    app: &Tessera,
    ext: &http::Extensions,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    asked: Option<bool>,
) -> S3Result<bool> {
    if asked != Some(true) {
        return Ok(false);
    }
    let allowed = requester(ext)?
        .authorize_key(app, "s3:BypassGovernanceRetention", bucket, key, version_id)
        .await;
    match allowed {
        Ok(()) => Ok(true),
        Err(Error::AccessDenied) => Ok(false),
        Err(e) => Err(to_s3(e)),
    }
}

/// Applies a write's lock headers (or the bucket's default retention) to the new version's
/// `attrs`. Naming a retention needs s3:PutObjectRetention, a legal hold
/// s3:PutObjectLegalHold, as on S3.
pub(crate) async fn lock_in(
    app: &Tessera,
    ext: &http::Extensions,
    key: &str,
    mode: Option<ObjectLockMode>,
    retain_until: Option<ObjectLockRetainUntilDate>,
    legal_hold: Option<ObjectLockLegalHoldStatus>,
    attrs: &mut ObjectAttrs,
) -> S3Result<()> {
    let headers = LockHeaders {
        mode: mode.map(|m| m.as_str().to_owned()),
        retain_until: retain_until.as_ref().map(convert::millis),
        legal_hold: legal_hold.map(|s| s.as_str().to_owned()),
    };
    let requester = requester(ext)?;
    // A missing bucket: the write itself reports NoSuchBucket.
    let Some(bucket) = &requester.bucket else {
        return Ok(());
    };
    headers.apply(bucket, now_millis(), attrs).map_err(to_s3)?;
    let mut needed = Vec::new();
    if headers.mode.is_some() {
        needed.push("s3:PutObjectRetention");
    }
    if headers.legal_hold.is_some() {
        needed.push("s3:PutObjectLegalHold");
    }
    for action in needed {
        requester
            .authorize_key(app, action, &bucket.name, key, None)
            .await
            .map_err(to_s3)?;
    }
    Ok(())
}

/// The lock a GET / HEAD reports: each part only to a caller allowed to read it
/// (s3:GetObjectRetention, s3:GetObjectLegalHold), as S3.
pub(crate) struct LockOut {
    pub mode: Option<ObjectLockMode>,
    pub retain_until: Option<ObjectLockRetainUntilDate>,
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

/// The lock headers of a read of `object`.
pub(crate) async fn lock_out(
    app: &Tessera,
    ext: &http::Extensions,
    object: &ObjectRecord,
) -> S3Result<LockOut> {
    let mut out = LockOut {
        mode: None,
        retain_until: None,
        legal_hold: None,
    };
    let requester = requester(ext)?;
    let version = Some(object.version_id.as_str());
    let may = |action: &'static str| async move {
        requester
            .authorize_key(app, action, &object.bucket, &object.key, version)
            .await
            .is_ok()
    };
    if let Some(r) = object.attrs.retention {
        if may("s3:GetObjectRetention").await {
            out.mode = Some(ObjectLockMode::from(r.mode.as_str().to_owned()));
            out.retain_until = Some(convert::ts(r.retain_until));
        }
    }
    if let Some(on) = object.attrs.legal_hold {
        if may("s3:GetObjectLegalHold").await {
            out.legal_hold = Some(legal_hold_out(on));
        }
    }
    Ok(out)
}

fn legal_hold_out(on: bool) -> ObjectLockLegalHoldStatus {
    ObjectLockLegalHoldStatus::from_static(if on {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    })
}

/// PutObjectLockConfiguration.
pub async fn put_object_lock_configuration(
    app: &Tessera,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let b = bucket(&req.extensions)?;
    let config = req
        .input
        .object_lock_configuration
        .ok_or_else(|| to_s3(Error::MalformedXml))?;
    let default_retention = match config.rule {
        None => None,
        Some(rule) => {
            let d = rule
                .default_retention
                .ok_or_else(|| to_s3(Error::MalformedXml))?;
            Some(
                domain::DefaultRetention::parse(
                    d.mode.as_ref().map(|m| m.as_str()),
                    d.days,
                    d.years,
                )
                .map_err(to_s3)?,
            )
        }
    };
    app.put_object_lock_configuration(
        &b,
        config.object_lock_enabled.as_ref().map(|e| e.as_str()),
        default_retention,
    )
    .await
    .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

/// GetObjectLockConfiguration.
pub async fn get_object_lock_configuration(
    app: &Tessera,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let b = bucket(&req.extensions)?;
    let config: ObjectLockConfig = app.object_lock_configuration(&b).map_err(to_s3)?;
    let rule = config.default_retention.map(|d| {
        let (days, years) = match d.period {
            RetentionPeriod::Days(n) => (Some(n), None),
            RetentionPeriod::Years(n) => (None, Some(n)),
        };
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        ObjectLockRule {
            default_retention: Some(DefaultRetention {
                days: days.map(int),
                years: years.map(int),
                mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_owned())),
            }),
        }
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

/// PutObjectRetention: an empty Retention removes it (GOVERNANCE only with the bypass).
pub async fn put_object_retention(
    app: &Tessera,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let b = bucket(&req.extensions)?;
    let i = req.input;
    let retention = match i.retention.map(|r| (r.mode, r.retain_until_date)) {
        None | Some((None, None)) => None,
        // In the body a mode outside the schema's enumeration is a document that does not
        // validate (MalformedXML), unlike the header's InvalidArgument.
        Some((Some(mode), _)) if RetentionMode::parse(mode.as_str()).is_none() => {
            return Err(to_s3(Error::MalformedXml))
        }
        Some((Some(mode), Some(until))) => Some(
            new_retention(mode.as_str(), convert::millis(&until), now_millis()).map_err(to_s3)?,
        ),
        Some(_) => return Err(to_s3(Error::MalformedXml)),
    };
    let version = i.version_id.as_deref();
    let bypass = bypass_governance(
        app,
        &req.extensions,
        &i.bucket,
        &i.key,
        version,
        i.bypass_governance_retention,
    )
    .await?;
    let change = RetentionChange {
        retention,
        bypass_governance: bypass,
    };
    app.put_object_retention(&b, &i.key, version, change)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

/// GetObjectRetention.
pub async fn get_object_retention(
    app: &Tessera,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let b = bucket(&req.extensions)?;
    let i = req.input;
    let r = app
        .object_retention(&b, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(r.mode.as_str().to_owned())),
            retain_until_date: Some(convert::ts(r.retain_until)),
        }),
    }))
}

/// PutObjectLegalHold.
pub async fn put_object_legal_hold(
    app: &Tessera,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let b = bucket(&req.extensions)?;
    let i = req.input;
    // A body without a valid Status does not validate against S3's schema.
    let on = i
        .legal_hold
        .and_then(|h| h.status)
        .and_then(|s| parse_legal_hold(s.as_str()).ok())
        .ok_or_else(|| to_s3(Error::MalformedXml))?;
    app.put_object_legal_hold(&b, &i.key, i.version_id.as_deref(), on)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

/// GetObjectLegalHold.
pub async fn get_object_legal_hold(
    app: &Tessera,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let b = bucket(&req.extensions)?;
    let i = req.input;
    let on = app
        .object_legal_hold(&b, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(legal_hold_out(on)),
        }),
    }))
}
