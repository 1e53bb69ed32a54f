//! HTTP preconditions on reads (RFC 7232 as S3 applies them).

use crate::error::{Error, Result};
use crate::records::{Millis, ObjectRecord};

/// `If-*` headers of a GET, HEAD or copy source.
#[derive(Clone, Debug, Default)]
pub struct ReadConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<Millis>,
    pub if_unmodified_since: Option<Millis>,
}

/// Whether an `If-Match`/`If-None-Match` value (a list of ETags, or `*`) names `etag`.
pub fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        let c = candidate.strip_prefix("W/").unwrap_or(candidate);
        c == "*" || c.trim_matches('"') == etag.trim_matches('"')
    })
}

impl ReadConditions {
    /// Evaluates the conditions against `object` as S3 does: If-Match wins over
    /// If-Unmodified-Since, If-None-Match over If-Modified-Since. `PreconditionFailed` -> 412,
    /// `NotModified` -> 304. Dates compare at whole seconds, as HTTP dates carry.
    pub fn check(&self, object: &ObjectRecord) -> Result<()> {
        let modified = object.last_modified.div_euclid(1000);
        match &self.if_match {
            Some(list) => {
                if !etag_list_matches(list, &object.etag) {
                    return Err(Error::PreconditionFailed);
                }
            }
            None => {
                if let Some(t) = self.if_unmodified_since {
                    if modified > t.div_euclid(1000) {
                        return Err(Error::PreconditionFailed);
                    }
                }
            }
        }
        match &self.if_none_match {
            Some(list) => {
                if etag_list_matches(list, &object.etag) {
                    return Err(Error::NotModified);
                }
            }
            None => {
                if let Some(t) = self.if_modified_since {
                    if modified <= t.div_euclid(1000) {
                        return Err(Error::NotModified);
                    }
                }
            }
        }
        Ok(())
    }

    /// The same conditions applied to a copy source: a failed condition is always 412.
    pub fn check_copy_source(&self, object: &ObjectRecord) -> Result<()> {
        match self.check(object) {
            Err(Error::NotModified) => Err(Error::PreconditionFailed),
            other => other,
        }
    }
}
