//! HTTP preconditions on reads (RFC 7232 as S3 applies them).

use crate::error::{Error, Result};
use crate::etag::etag_list_matches;
use crate::records::{Millis, ObjectRecord};

/// `If-*` headers of a GET, HEAD or copy source.
#[derive(Clone, Debug, Default)]
pub struct ReadConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<Millis>,
    pub if_unmodified_since: Option<Millis>,
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
                    return Err(Error::NotModified {
                        etag: object.etag.clone(),
                        last_modified: object.last_modified,
                    });
                }
            }
            None => {
                if let Some(t) = self.if_modified_since {
                    if modified <= t.div_euclid(1000) {
                        return Err(Error::NotModified {
                            etag: object.etag.clone(),
                            last_modified: object.last_modified,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The same conditions applied to a copy source: a failed condition is always 412.
    pub fn check_copy_source(&self, object: &ObjectRecord) -> Result<()> {
        match self.check(object) {
            Err(Error::NotModified { .. }) => Err(Error::PreconditionFailed),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::WriteCondition;

    #[test]
    fn write_conditions() {
        let none_match = WriteCondition {
            if_none_match_any: true,
            ..WriteCondition::default()
        };
        assert!(none_match.check(None).is_ok());
        assert!(matches!(
            none_match.check(Some("e")),
            Err(Error::PreconditionFailed)
        ));
        let if_match = WriteCondition {
            if_match: Some("\"e\"".into()),
            ..WriteCondition::default()
        };
        assert!(if_match.check(Some("e")).is_ok());
        assert!(matches!(
            if_match.check(Some("f")),
            Err(Error::PreconditionFailed)
        ));
        assert!(matches!(if_match.check(None), Err(Error::NoSuchKey)));
    }

    fn object(etag: &str, last_modified: Millis) -> ObjectRecord {
        ObjectRecord {
            bucket: "b".into(),
            key: "k".into(),
            object_id: "o".into(),
            size: 1,
            etag: etag.into(),
            last_modified,
            headers: Default::default(),
            user_metadata: Default::default(),
            owner: String::new(),
            acl: None,
            checksum: None,
            parts_count: None,
            version_id: crate::records::NULL_VERSION.into(),
            sequencer: crate::records::new_sequencer(),
            delete_marker: false,
            attrs: Default::default(),
        }
    }

    #[test]
    fn read_condition_precedence() {
        let o = object("e", 10_500);
        // If-Match true wins over a failing If-Unmodified-Since.
        let c = ReadConditions {
            if_match: Some("e".into()),
            if_unmodified_since: Some(5_000),
            ..Default::default()
        };
        assert!(c.check(&o).is_ok());
        let c = ReadConditions {
            if_unmodified_since: Some(5_000),
            ..Default::default()
        };
        assert!(matches!(c.check(&o), Err(Error::PreconditionFailed)));
        // Same second counts as not modified since.
        let c = ReadConditions {
            if_modified_since: Some(10_000),
            ..Default::default()
        };
        assert!(matches!(c.check(&o), Err(Error::NotModified { .. })));
        // If-None-Match false wins over If-Modified-Since.
        let c = ReadConditions {
            if_none_match: Some("x".into()),
            if_modified_since: Some(20_000),
            ..Default::default()
        };
        assert!(c.check(&o).is_ok());
        assert!(matches!(
            c.check_copy_source(&object("x", 1)),
            Err(Error::PreconditionFailed)
        ));
    }
}
