//! POST policies of browser form uploads (S3 "POST Policy", "Creating a POST policy"): the
//! base64 JSON document, its conditions, and the check of a form's fields against them.
//!
//! Decisions where the documentation is silent: a condition on a field the form does not send
//! sees the empty string (so `["starts-with", "$f", ""]` holds without the field); several
//! `content-length-range` conditions all apply (their intersection); every form field but the
//! exempt ones must be named by an `eq` / `starts-with` / exact condition.

use base64::Engine as _;
use serde_json::Value;

use crate::records::Millis;

/// Why a policy document is refused (S3's `InvalidPolicyDocument`, 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid Policy: {0}")]
pub struct PolicyDocumentError(pub String);

/// Why a form is refused by a valid policy (S3's `AccessDenied`, 403, with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    /// The condition, written as S3 writes it (`["eq", "$key", "a"]`).
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    /// A field no condition names, in lower case, as S3 reports it (the first one).
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraFields(String),
}

/// One condition of a policy. Field names are kept as the policy writes them (without the
/// `$`), and match form fields case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCondition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`: the file's size in bytes, both bounds included.
    ContentLengthRange { min: u64, max: u64 },
}

impl PostCondition {
    /// The condition as S3 quotes it in a refusal.
    fn describe(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        match self {
            Self::Eq { field, value } => {
                format!("[\"eq\", {}, {}]", q(&format!("${field}")), q(value))
            }
            Self::StartsWith { field, prefix } => format!(
                "[\"starts-with\", {}, {}]",
                q(&format!("${field}")),
                q(prefix)
            ),
            Self::ContentLengthRange { min, max } => {
                format!("[\"content-length-range\", {min}, {max}]")
            }
        }
    }

    /// The form field the condition is about, if any.
    fn field(&self) -> Option<&str> {
        match self {
            Self::Eq { field, .. } | Self::StartsWith { field, .. } => Some(field),
            Self::ContentLengthRange { .. } => None,
        }
    }

    fn holds(&self, value: &str) -> bool {
        match self {
            Self::Eq { value: want, .. } => value == want,
            // A Content-Type that is a comma-separated list passes if each entry does.
            Self::StartsWith { field, prefix } if field.eq_ignore_ascii_case("content-type") => {
                value
                    .split(',')
                    .all(|part| part.trim_start().starts_with(prefix.as_str()))
            }
            Self::StartsWith { prefix, .. } => value.starts_with(prefix.as_str()),
            Self::ContentLengthRange { .. } => true,
        }
    }
}

/// A decoded POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// When the policy stops being valid (epoch milliseconds).
    pub expiration: Millis,
    pub conditions: Vec<PostCondition>,
}

/// Form fields no condition needs to name: the signature and the policy themselves, the file,
/// and the `x-ignore-` ones (S3 "Creating a POST policy", "Conditions").
pub fn exempt_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "x-amz-signature" | "file" | "policy" | "awsaccesskeyid" | "signature"
    ) || lower.starts_with("x-ignore-")
}

fn invalid(m: impl Into<String>) -> PolicyDocumentError {
    PolicyDocumentError(m.into())
}

/// `2013-08-01T12:00:00.000Z`: an ISO 8601 date and time in UTC, as S3 requires it.
fn parse_expiration(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    crate::policy::time::parse_date(s)
}

/// A length bound: a non-negative integer, as a JSON number or a string of digits.
fn length_bound(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

fn condition_of(v: &Value) -> Result<PostCondition, PolicyDocumentError> {
    match v {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((field, value)), None) = (entries.next(), entries.next()) else {
                return Err(invalid(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            };
            let Value::String(value) = value else {
                return Err(invalid(format!(
                    "Invalid Simple-Condition: value of '{field}' must be a string."
                )));
            };
            Ok(PostCondition::Eq {
                field: field.clone(),
                value: value.clone(),
            })
        }
        Value::Array(items) => {
            let op = items
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("Invalid Condition: {v}")))?
                .to_ascii_lowercase();
            if items.len() != 3 {
                return Err(invalid(format!(
                    "Invalid Condition: wrong number of arguments: {v}"
                )));
            }
            match op.as_str() {
                "eq" | "starts-with" => {
                    let field = items[1]
                        .as_str()
                        .and_then(|f| f.strip_prefix('$'))
                        .filter(|f| !f.is_empty())
                        .ok_or_else(|| {
                            invalid(format!("Invalid Condition: field must start with '$': {v}"))
                        })?
                        .to_owned();
                    let value = items[2]
                        .as_str()
                        .ok_or_else(|| {
                            invalid(format!("Invalid Condition: value must be a string: {v}"))
                        })?
                        .to_owned();
                    Ok(if op == "eq" {
                        PostCondition::Eq { field, value }
                    } else {
                        PostCondition::StartsWith {
                            field,
                            prefix: value,
                        }
                    })
                }
                "content-length-range" => {
                    match (length_bound(&items[1]), length_bound(&items[2])) {
                        (Some(min), Some(max)) if min <= max => {
                            Ok(PostCondition::ContentLengthRange { min, max })
                        }
                        _ => Err(invalid(format!(
                            "Invalid content-length-range condition: {v}"
                        ))),
                    }
                }
                other => Err(invalid(format!(
                    "Invalid Condition: unknown operation '{other}'"
                ))),
            }
        }
        _ => Err(invalid(format!("Invalid Condition: {v}"))),
    }
}

impl PostPolicy {
    /// Decodes the `policy` form field: base64 of a UTF-8 JSON document with `expiration` and
    /// `conditions` (names case-sensitive, as S3).
    pub fn from_base64(field: &str) -> Result<PostPolicy, PolicyDocumentError> {
        let compact: String = field.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let json = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| invalid("Invalid Base64 encoding of the policy."))?;
        PostPolicy::from_json(&json)
    }

    /// Parses the JSON document of a policy.
    pub fn from_json(json: &[u8]) -> Result<PostPolicy, PolicyDocumentError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| invalid(format!("Invalid JSON: {e}")))?;
        let Value::Object(doc) = doc else {
            return Err(invalid("The policy must be a JSON object."));
        };
        let expiration = match doc.get("expiration") {
            None => return Err(invalid("Policy missing expiration.")),
            Some(Value::String(s)) => parse_expiration(s)
                .ok_or_else(|| invalid(format!("Invalid 'expiration' value: '{s}'")))?,
            Some(other) => return Err(invalid(format!("Invalid 'expiration' value: '{other}'"))),
        };
        let conditions = match doc.get("conditions") {
            None => return Err(invalid("Policy missing conditions.")),
            Some(Value::Array(list)) => list
                .iter()
                .map(condition_of)
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(invalid("The 'conditions' value must be a list.")),
        };
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// The file sizes the policy allows, `(min, max)` inclusive; `None` if it does not say.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match c {
            PostCondition::ContentLengthRange { min, max } => Some(match acc {
                None => (*min, *max),
                Some((lo, hi)) => (lo.max(*min), hi.min(*max)),
            }),
            _ => acc,
        })
    }

    /// Checks the form against the policy at `now`: not expired, every condition met, every
    /// field but the exempt ones named by a condition. `fields` are (name as sent, value),
    /// with `key` already carrying the file name in place of `${filename}`; `bucket` is the
    /// bucket the form was posted to, the value a `bucket` condition sees.
    pub fn check(
        &self,
        fields: &[(&str, &str)],
        bucket: &str,
        now: Millis,
    ) -> Result<(), PolicyViolation> {
        if now >= self.expiration {
            return Err(PolicyViolation::Expired);
        }
        let value_of = |name: &str| -> &str {
            if name.eq_ignore_ascii_case("bucket") {
                return bucket;
            }
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or("", |(_, v)| v)
        };
        for c in &self.conditions {
            if let Some(field) = c.field() {
                if !c.holds(value_of(field)) {
                    return Err(PolicyViolation::ConditionFailed(c.describe()));
                }
            }
        }
        let extra = fields
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !exempt_field(n))
            .find(|n| {
                !self
                    .conditions
                    .iter()
                    .any(|c| c.field().is_some_and(|f| n.eq_ignore_ascii_case(f)))
            });
        match extra {
            Some(name) => Err(PolicyViolation::ExtraFields(name.to_ascii_lowercase())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000; // 2023-11-14T22:13:20Z

    fn policy(json: &str) -> PostPolicy {
        PostPolicy::from_json(json.as_bytes()).unwrap()
    }

    fn refused(json: &str) -> String {
        PostPolicy::from_json(json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_every_condition_form() {
        let p = policy(
            r#"{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [
                {"Bucket": "b"}, ["eq", "$Key", "k"], ["StArTs-WiTh", "$x-amz-meta-a", ""],
                ["content-length-range", 1, "10"]]}"#,
        );
        assert_eq!(p.expiration, 1_893_456_000_000);
        assert_eq!(
            p.conditions,
            vec![
                PostCondition::Eq {
                    field: "Bucket".into(),
                    value: "b".into()
                },
                PostCondition::Eq {
                    field: "Key".into(),
                    value: "k".into()
                },
                PostCondition::StartsWith {
                    field: "x-amz-meta-a".into(),
                    prefix: "".into()
                },
                PostCondition::ContentLengthRange { min: 1, max: 10 },
            ]
        );
        assert_eq!(p.length_range(), Some((1, 10)));
    }

    #[test]
    fn base64_is_decoded_and_checked() {
        let doc = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[]}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
        let wrapped = format!("{}\r\n{}", &b64[..10], &b64[10..]);
        assert_eq!(
            PostPolicy::from_base64(&wrapped).unwrap().conditions,
            vec![]
        );
        assert!(PostPolicy::from_base64("not base64!").is_err());
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert!(refused("{").starts_with("Invalid Policy: Invalid JSON"));
        assert_eq!(
            refused("[]"),
            "Invalid Policy: The policy must be a JSON object."
        );
        assert_eq!(
            refused(r#"{"conditions": []}"#),
            "Invalid Policy: Policy missing expiration."
        );
        // Names are case-sensitive.
        assert_eq!(
            refused(r#"{"EXPIRATION": "2030-01-01T00:00:00Z", "conditions": []}"#),
            "Invalid Policy: Policy missing expiration."
        );
        assert_eq!(
            refused(r#"{"expiration": "2030-01-01T00:00:00Z", "CONDITIONS": []}"#),
            "Invalid Policy: Policy missing conditions."
        );
        for date in [
            "2030-01-01 00:00:00.123+00:00",
            "2030-01-01",
            "1893456000",
            "2030-01-01T00:00:00",
            "2030-02-30T00:00:00Z",
        ] {
            let doc = format!(r#"{{"expiration": "{date}", "conditions": []}}"#);
            assert!(
                refused(&doc).contains("Invalid 'expiration' value"),
                "{date}"
            );
        }
        let with = |c: &str| {
            refused(&format!(
                r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": [{c}]}}"#
            ))
        };
        assert!(with("{}").contains("exactly one property"));
        assert!(with(r#"{"a": "1", "b": "2"}"#).contains("exactly one property"));
        assert!(with(r#"{"a": 1}"#).contains("must be a string"));
        assert!(with(r#"["content-length-range", 0]"#).contains("wrong number"));
        assert!(with(r#"["content-length-range", -1, 0]"#).contains("content-length-range"));
        assert!(with(r#"["content-length-range", 5, 1]"#).contains("content-length-range"));
        assert!(with(r#"["eq", "key", "a"]"#).contains("must start with '$'"));
        assert!(with(r#"["ends-with", "$key", "a"]"#).contains("unknown operation"));
        assert!(with(r#""key""#).contains("Invalid Condition"));
    }

    fn check(p: &PostPolicy, fields: &[(&str, &str)]) -> Result<(), PolicyViolation> {
        p.check(fields, "b", NOW)
    }

    #[test]
    fn conditions_are_checked_in_order() {
        let p = policy(
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [
                {"bucket": "b"}, ["starts-with", "$key", "user/"], {"acl": "private"},
                ["starts-with", "$Content-Type", "image/"], ["eq", "$x-amz-meta-a", ""]]}"#,
        );
        let ok = [
            ("key", "user/x"),
            ("ACL", "private"),
            ("content-type", "image/png, image/jpeg"),
            ("x-amz-signature", "s"),
            ("Policy", "p"),
            ("x-ignore-me", "1"),
        ];
        assert_eq!(check(&p, &ok), Ok(()));
        assert_eq!(
            p.check(&ok, "other", NOW),
            Err(PolicyViolation::ConditionFailed(
                r#"["eq", "$bucket", "b"]"#.into()
            ))
        );
        let mut bad = ok;
        bad[0] = ("key", "other/x");
        assert_eq!(
            check(&p, &bad).unwrap_err().to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]"#
        );
        let mut bad = ok;
        bad[2] = ("content-type", "image/png,text/html");
        assert_eq!(
            check(&p, &bad),
            Err(PolicyViolation::ConditionFailed(
                r#"["starts-with", "$Content-Type", "image/"]"#.into()
            ))
        );
        assert!(matches!(
            check(&p, &bad),
            Err(PolicyViolation::ConditionFailed(_))
        ));
        let mut bad = ok.to_vec();
        bad.push(("x-amz-meta-a", "x"));
        assert!(matches!(
            check(&p, &bad),
            Err(PolicyViolation::ConditionFailed(c)) if c.contains("x-amz-meta-a")
        ));
    }

    #[test]
    fn every_field_needs_a_condition() {
        let p = policy(
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "$key", ""]]}"#,
        );
        assert_eq!(check(&p, &[("Key", "k"), ("file", "")]), Ok(()));
        assert_eq!(
            check(
                &p,
                &[("key", "k"), ("X-Amz-Meta-A", "1"), ("acl", "private")]
            ),
            Err(PolicyViolation::ExtraFields("x-amz-meta-a".into()))
        );
        assert_eq!(
            PolicyViolation::ExtraFields("acl".into()).to_string(),
            "Invalid according to Policy: Extra input fields: acl"
        );
        // A starts-with "" holds for a field the form does not send.
        let p = policy(
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "$tagging", ""]]}"#,
        );
        assert_eq!(check(&p, &[]), Ok(()));
    }

    #[test]
    fn expiry_and_length_ranges() {
        let p = policy(
            r#"{"expiration": "2023-11-14T22:13:20Z", "conditions": [
                ["content-length-range", 0, 100], ["content-length-range", 10, 1000]]}"#,
        );
        assert_eq!(p.check(&[], "b", NOW), Err(PolicyViolation::Expired));
        assert_eq!(p.check(&[], "b", NOW - 1), Ok(()));
        assert_eq!(p.length_range(), Some((10, 100)));
        let p = policy(r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": []}"#);
        assert_eq!(p.length_range(), None);
    }

    #[test]
    fn exempt_fields() {
        for f in [
            "x-amz-signature",
            "FILE",
            "policy",
            "AWSAccessKeyId",
            "Signature",
            "x-ignore-a",
        ] {
            assert!(exempt_field(f), "{f}");
        }
        for f in ["key", "x-amz-credential", "bucket", "x-amz-meta-a"] {
            assert!(!exempt_field(f), "{f}");
        }
    }
}
