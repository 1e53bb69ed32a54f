//! Bucket CORS configuration: the rules as S3's `CORSConfiguration` document has them,
//! validated with S3's errors, their stored form, and how a request is matched against them
//! (a preflight `OPTIONS` by origin, requested method and requested headers; an actual
//! request by origin and method). The first matching rule wins. Put/Get/DeleteBucketCors
//! as operations on [`Tessera`] are here too; the HTTP side (headers, the preflight
//! answer) belongs to the protocol adapter.

use serde::{Deserialize, Serialize};

use crate::error::{ArgumentError, Error, RequestError, Result};
use crate::records::{BucketRecord, BucketSetting};
use crate::tessera::Tessera;

/// Most rules a configuration may have.
pub const MAX_RULES: usize = 100;
/// Largest `CORSConfiguration` document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024;
/// Longest rule ID, in characters.
pub const MAX_ID_CHARS: usize = 255;
/// The methods a rule may allow, as S3 spells them (case matters).
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// One `CORSRule`, its lists in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsRule {
    /// The rule's `ID`, at most [`MAX_ID_CHARS`] characters.
    pub id: Option<String>,
    /// Origins, each with at most one `*` (matching any run of characters, even none).
    pub allowed_origins: Vec<String>,
    /// Some of [`METHODS`].
    pub allowed_methods: Vec<String>,
    /// Header names a preflight may ask for, each with at most one `*`; matched without
    /// regard to case.
    pub allowed_headers: Vec<String>,
    /// Response headers the page's script may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer (`Access-Control-Max-Age`).
    pub max_age_seconds: Option<i32>,
}

/// A bucket's CORS rules, valid by S3's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsConfiguration {
    rules: Vec<CorsRule>,
}

/// A rule that matched a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorsMatch<'a> {
    /// The first rule that matched.
    pub rule: &'a CorsRule,
    /// The origin entry that matched is `*` itself: the answer is `Access-Control-Allow-Origin:
    /// *` (without credentials) rather than the request's origin.
    pub any_origin: bool,
}

/// Whether `value` matches `pattern`, whose one `*` (if any) stands for any run of
/// characters, the empty one included; the rest must match exactly (ASCII case ignored when
/// `ignore_case`).
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.is_char_boundary(prefix.len())
                && value.is_char_boundary(value.len() - suffix.len())
                && eq(prefix, &value[..prefix.len()])
                && eq(suffix, &value[value.len() - suffix.len()..])
        }
    }
}

fn invalid_request(m: String) -> Error {
    Error::InvalidRequest(RequestError::Config(m))
}

impl CorsRule {
    /// Checks the rule as S3 does on a Put: at least one origin and one method (else
    /// MalformedXML), only S3's five methods, at most one `*` per origin and per allowed
    /// header, an ID of at most 255 characters.
    fn validate(&self) -> Result<()> {
        if self.allowed_origins.is_empty() || self.allowed_methods.is_empty() {
            return Err(Error::MalformedXml);
        }
        if let Some(m) = self
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if let Some(o) = self
            .allowed_origins
            .iter()
            .find(|o| o.matches('*').count() > 1)
        {
            return Err(invalid_request(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
        if let Some(h) = self
            .allowed_headers
            .iter()
            .find(|h| h.matches('*').count() > 1)
        {
            return Err(invalid_request(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            )));
        }
        if self
            .id
            .as_ref()
            .is_some_and(|id| id.chars().count() > MAX_ID_CHARS)
        {
            return Err(Error::InvalidArgument(ArgumentError::Config(format!(
                "ID length should not exceed allowed limit of {MAX_ID_CHARS}"
            ))));
        }
        Ok(())
    }

    /// The first origin entry `origin` matches (origins compare case-sensitively, as
    /// browsers serialize them).
    fn origin_entry(&self, origin: &str) -> Option<&str> {
        self.allowed_origins
            .iter()
            .map(String::as_str)
            .find(|p| wildcard_match(p, origin, false))
    }

    /// Whether the rule allows `method` (exactly as S3 spells it).
    pub fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    /// Whether a preflight may ask for header `name` (case ignored).
    pub fn allows_header(&self, name: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|p| wildcard_match(p, name, true))
    }

    fn matches(&self, origin: &str, method: &str) -> Option<CorsMatch<'_>> {
        let entry = self.origin_entry(origin)?;
        self.allows_method(method).then_some(CorsMatch {
            rule: self,
            any_origin: entry == "*",
        })
    }
}

impl CorsConfiguration {
    /// A configuration from its rules in order: 1 to 100 of them (else MalformedXML), each
    /// valid.
    pub fn new(rules: Vec<CorsRule>) -> Result<Self> {
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(Error::MalformedXml);
        }
        for rule in &rules {
            rule.validate()?;
        }
        Ok(Self { rules })
    }

    /// The rules in order.
    pub fn rules(&self) -> &[CorsRule] {
        &self.rules
    }

    /// The rule answering a preflight from `origin` for `method` with the requested
    /// `headers` (every one must be allowed by the same rule), if any.
    pub fn preflight<S: AsRef<str>>(
        &self,
        origin: &str,
        method: &str,
        headers: &[S],
    ) -> Option<CorsMatch<'_>> {
        self.rules.iter().find_map(|r| {
            let m = r.matches(origin, method)?;
            headers
                .iter()
                .all(|h| r.allows_header(h.as_ref()))
                .then_some(m)
        })
    }

    /// The rule covering an actual request from `origin` with `method`, if any (a request's
    /// own headers are not checked).
    pub fn actual(&self, origin: &str, method: &str) -> Option<CorsMatch<'_>> {
        self.rules.iter().find_map(|r| r.matches(origin, method))
    }

    /// The stored form (versioned JSON, [`crate::records::rules_to_stored`]).
    pub fn to_stored(&self) -> String {
        crate::records::rules_to_stored(&self.rules)
    }

    /// Reads the stored form back (not revalidated: it was valid when stored).
    pub fn from_stored(s: &str) -> Result<Self> {
        Ok(Self {
            rules: crate::records::rules_from_stored(s, "CORS configuration")?,
        })
    }

    /// The bucket's configuration, if it has one that reads back (else logged, `None`).
    pub fn of(bucket: &BucketRecord) -> Option<Self> {
        crate::records::bucket_rules(bucket, BucketSetting::Cors, "CORS configuration")
            .map(|rules| Self { rules })
    }
}

/// The header names of an `Access-Control-Request-Headers` value: comma-separated, trimmed,
/// lower-cased, empty items skipped, in the order given.
pub fn requested_headers(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

impl Tessera {
    /// PutBucketCors: replaces the whole configuration.
    pub async fn put_bucket_cors(&self, bucket: &str, config: &CorsConfiguration) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Cors, Some(config.to_stored()))
            .await
    }

    /// GetBucketCors: `NoSuchCorsConfiguration` when there is none.
    pub fn bucket_cors(&self, bucket: &BucketRecord) -> Result<CorsConfiguration> {
        bucket
            .setting(BucketSetting::Cors)
            .map(CorsConfiguration::from_stored)
            .transpose()?
            .ok_or(Error::NoSuchCorsConfiguration)
    }

    /// DeleteBucketCors (idempotent).
    pub async fn delete_bucket_cors(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Cors, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    fn config(rules: Vec<CorsRule>) -> CorsConfiguration {
        CorsConfiguration::new(rules).unwrap()
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidRequest(RequestError::Config(m)) => m,
            Error::InvalidArgument(ArgumentError::Config(m)) => m,
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn wildcards_match_anywhere_in_the_pattern_and_the_empty_run() {
        assert!(wildcard_match("*suffix", "foo.suffix", false));
        assert!(wildcard_match("*suffix", "suffix", false));
        assert!(!wildcard_match("*suffix", "foo.suffix.get", false));
        assert!(wildcard_match("start*end", "startend", false));
        assert!(wildcard_match("start*end", "start12end", false));
        assert!(!wildcard_match("start*end", "0start12end", false));
        assert!(!wildcard_match("start*end", "startén", false));
        assert!(wildcard_match("prefix*", "prefix.suffix", false));
        assert!(!wildcard_match("prefix*", "bla.prefix", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match(
            "http://*.example.com",
            "http://a.b.example.com",
            false
        ));
        assert!(!wildcard_match(
            "http://*.example.com",
            "https://a.example.com",
            false
        ));
        assert!(!wildcard_match(
            "http://*.example.com",
            "http://a.example.com/",
            false
        ));
        // Overlapping prefix and suffix do not share characters.
        assert!(!wildcard_match("ab*ba", "aba", false));
        assert!(wildcard_match("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard_match("x-amz-*", "X-Amz-Date", false));
        assert!(wildcard_match("Content-Type", "content-type", true));
    }

    #[test]
    fn validation_follows_s3() {
        assert!(matches!(
            CorsConfiguration::new(vec![]),
            Err(Error::MalformedXml)
        ));
        let many = vec![rule(&["*"], &["GET"]); MAX_RULES + 1];
        assert!(matches!(
            CorsConfiguration::new(many),
            Err(Error::MalformedXml)
        ));
        assert!(CorsConfiguration::new(vec![rule(&["*"], &["GET"]); MAX_RULES]).is_ok());
        assert!(matches!(
            CorsConfiguration::new(vec![rule(&[], &["GET"])]),
            Err(Error::MalformedXml)
        ));
        assert!(matches!(
            CorsConfiguration::new(vec![rule(&["*"], &[])]),
            Err(Error::MalformedXml)
        ));
        for bad in ["PATCH", "OPTIONS", "get", ""] {
            let e = CorsConfiguration::new(vec![rule(&["*"], &["GET", bad])]).unwrap_err();
            assert_eq!(
                message(e),
                format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {bad}"
                )
            );
        }
        let e = CorsConfiguration::new(vec![rule(&["*example*.com"], &["GET"])]).unwrap_err();
        assert_eq!(
            message(e),
            "AllowedOrigin \"*example*.com\" can not have more than one wildcard."
        );
        let mut r = rule(&["*"], &["GET"]);
        r.allowed_headers = vec!["x-*-*".into()];
        let e = CorsConfiguration::new(vec![r]).unwrap_err();
        assert_eq!(
            message(e),
            "AllowedHeader \"x-*-*\" can not have more than one wildcard."
        );
        let mut r = rule(&["*"], &["GET"]);
        r.id = Some("i".repeat(MAX_ID_CHARS + 1));
        assert!(matches!(
            CorsConfiguration::new(vec![r.clone()]),
            Err(Error::InvalidArgument(_))
        ));
        r.id = Some("i".repeat(MAX_ID_CHARS));
        assert!(CorsConfiguration::new(vec![r]).is_ok());
        // An empty origin is accepted (and matches only an empty Origin).
        assert!(CorsConfiguration::new(vec![rule(&[""], &["GET"])]).is_ok());
        let all: Vec<&str> = METHODS.to_vec();
        assert!(CorsConfiguration::new(vec![rule(&["*"], &all)]).is_ok());
    }

    #[test]
    fn first_matching_rule_wins() {
        let mut second = rule(&["http://*.example.com"], &["GET", "PUT"]);
        second.id = Some("second".into());
        let mut third = rule(&["*"], &["GET"]);
        third.id = Some("third".into());
        let c = config(vec![
            rule(&["http://a.example.com"], &["HEAD"]),
            second,
            third,
        ]);
        let m = c.actual("http://a.example.com", "GET").unwrap();
        assert_eq!(m.rule.id.as_deref(), Some("second"));
        assert!(!m.any_origin);
        let m = c.actual("http://elsewhere", "GET").unwrap();
        assert_eq!(m.rule.id.as_deref(), Some("third"));
        assert!(m.any_origin);
        assert!(c.actual("http://elsewhere", "PUT").is_none());
        assert!(c.actual("http://a.example.com", "DELETE").is_none());
        // A method must be spelled as S3 does.
        assert!(c.actual("http://a.example.com", "get").is_none());
    }

    #[test]
    fn preflight_needs_every_requested_header_in_one_rule() {
        let mut r = rule(&["http://app.test"], &["PUT"]);
        r.allowed_headers = vec!["Content-Type".into(), "x-amz-*".into()];
        let c = config(vec![r]);
        let ok = |h: &[&str]| c.preflight("http://app.test", "PUT", h).is_some();
        assert!(ok(&[]));
        assert!(ok(&["content-type"]));
        assert!(ok(&["content-type", "x-amz-date", "x-amz-content-sha256"]));
        assert!(!ok(&["content-type", "authorization"]));
        assert!(c
            .preflight("http://app.test", "GET", &[] as &[&str])
            .is_none());
        assert!(c
            .preflight("http://other.test", "PUT", &[] as &[&str])
            .is_none());

        // A rule without AllowedHeader allows no requested header; `*` allows any.
        let c = config(vec![rule(&["*"], &["GET"])]);
        assert!(c.preflight("o", "GET", &["x-amz-meta-header2"]).is_none());
        let mut any = rule(&["*"], &["GET"]);
        any.allowed_headers = vec!["*".into()];
        let c = config(vec![any]);
        assert!(c
            .preflight("o", "GET", &["x-amz-meta-header2", "range"])
            .is_some());
    }

    #[test]
    fn requested_headers_are_split_trimmed_and_lowercased() {
        assert_eq!(
            requested_headers("Content-Type, x-amz-date,,X-Amz-Meta-A ,"),
            vec!["content-type", "x-amz-date", "x-amz-meta-a"]
        );
        assert!(requested_headers(" , ").is_empty());
    }

    #[test]
    fn stored_form_round_trips() {
        let mut r = rule(&["http://*.example.com", "https://x"], &["GET", "PUT"]);
        r.id = Some("web".into());
        r.allowed_headers = vec!["*".into()];
        r.expose_headers = vec!["ETag".into(), "x-amz-request-id".into()];
        r.max_age_seconds = Some(3000);
        let c = config(vec![r, rule(&["*"], &["HEAD"])]);
        let back = CorsConfiguration::from_stored(&c.to_stored()).unwrap();
        assert_eq!(back, c);
        assert!(CorsConfiguration::from_stored("{\"v\":9,\"rules\":[]}").is_err());
        assert!(CorsConfiguration::from_stored("nonsense").is_err());
    }
}
