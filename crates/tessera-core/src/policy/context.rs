//! What a request brings to evaluation: the caller, the action, the resource ARN and the
//! condition keys (multivalued, case-insensitive names).

use super::matching::Vars;
use super::time::format_iso8601;
use crate::records::Millis;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An unsigned request.
    Anonymous,
    /// The root user of an account.
    Root {
        account_id: String,
        canonical_id: String,
    },
    /// An IAM user of an account.
    User {
        account_id: String,
        canonical_id: String,
        user_name: String,
        /// The unique id (`AIDA...`), the value of aws:userid.
        user_id: String,
        /// `arn:aws:iam::123456789012:user/path/name`.
        arn: String,
    },
}

impl Caller {
    /// The caller's account id, `None` for anonymous.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Root { account_id, .. } | Caller::User { account_id, .. } => Some(account_id),
        }
    }

    /// The canonical user id of the caller's account, `None` for anonymous.
    pub fn canonical_id(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Root { canonical_id, .. } | Caller::User { canonical_id, .. } => {
                Some(canonical_id)
            }
        }
    }
}

/// The values of one condition key in a request, borrowed from the context.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyValues<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> KeyValues<'a> {
    pub(crate) fn is_empty(self) -> bool {
        matches!(self, KeyValues::Many([]))
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (one, many): (Option<&'a str>, &'a [String]) = match self {
            KeyValues::One(s) => (Some(s), &[]),
            KeyValues::Many(v) => (None, v),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

/// One request, as the evaluator sees it. Built once per request; evaluation only reads it.
/// The global keys are derived from the fields (no map, no copies); other keys are set
/// explicitly.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(crate) caller: Caller,
    pub(crate) action: String,
    pub(crate) resource: String,
    /// The request's time; its two text forms are made only if a condition reads them.
    now: Millis,
    current_time: OnceLock<String>,
    epoch_time: OnceLock<String>,
    source_ip: Option<IpAddr>,
    source_ip_text: OnceLock<String>,
    secure_transport: bool,
    /// `arn:aws:iam::<account>:root` for a root caller (a user's ARN is in `caller`).
    root_arn: Option<String>,
    /// Explicitly set keys, lowercased; `None` hides a global key.
    extra: Vec<(String, Option<Vec<String>>)>,
}

impl RequestContext {
    /// A context with the global keys: aws:CurrentTime, aws:EpochTime, aws:SecureTransport,
    /// aws:SourceIp, aws:PrincipalType, aws:PrincipalArn, aws:PrincipalAccount, aws:userid,
    /// aws:username (per "AWS global condition context keys"; aws:userid is the account id
    /// for a root caller and `anonymous` for an anonymous one).
    /// `action` is e.g. `s3:GetObject`; `resource` e.g. `arn:aws:s3:::bucket/key`.
    pub fn new(
        caller: Caller,
        action: impl Into<String>,
        resource: impl Into<String>,
        now: Millis,
        source_ip: Option<IpAddr>,
        secure_transport: bool,
    ) -> Self {
        let root_arn = match &caller {
            Caller::Root { account_id, .. } => Some(format!("arn:aws:iam::{account_id}:root")),
            _ => None,
        };
        RequestContext {
            caller,
            action: action.into(),
            resource: resource.into(),
            now,
            current_time: OnceLock::new(),
            epoch_time: OnceLock::new(),
            source_ip,
            source_ip_text: OnceLock::new(),
            secure_transport,
            root_arn,
            extra: Vec::new(),
        }
    }

    fn put(&mut self, key: &str, values: Option<Vec<String>>) {
        let key = key.to_ascii_lowercase();
        match self.extra.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = values,
            None => self.extra.push((key, values)),
        }
    }

    /// Sets a single-valued key (replacing any value); the name is case-insensitive.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.put(key, Some(vec![value.into()]));
    }

    /// Sets a multivalued key (e.g. a list of tag keys); an empty list is an empty set.
    pub fn set_values(&mut self, key: &str, values: Vec<String>) {
        self.put(key, Some(values));
    }

    /// Builder form of [`RequestContext::set`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Removes a key (a global one too).
    pub fn remove(&mut self, key: &str) {
        self.put(key, None);
    }

    /// The values of a key; `lower_key` must already be lowercase.
    pub(crate) fn values(&self, lower_key: &str) -> Option<KeyValues<'_>> {
        if let Some((_, v)) = self.extra.iter().find(|(k, _)| k == lower_key) {
            return v.as_deref().map(KeyValues::Many);
        }
        let one = match (lower_key, &self.caller) {
            ("aws:currenttime", _) => self.current_time.get_or_init(|| format_iso8601(self.now)),
            ("aws:epochtime", _) => self
                .epoch_time
                .get_or_init(|| self.now.div_euclid(1000).to_string()),
            ("aws:securetransport", _) => {
                if self.secure_transport {
                    "true"
                } else {
                    "false"
                }
            }
            ("aws:sourceip", _) => {
                let ip = self.source_ip?;
                self.source_ip_text.get_or_init(|| ip.to_string())
            }
            ("aws:principaltype", Caller::Anonymous) => "Anonymous",
            ("aws:principaltype", Caller::Root { .. }) => "Account",
            ("aws:principaltype", Caller::User { .. }) => "User",
            ("aws:userid", Caller::Anonymous) => "anonymous",
            ("aws:userid", Caller::Root { account_id, .. }) => account_id,
            ("aws:userid", Caller::User { user_id, .. }) => user_id,
            ("aws:username", Caller::User { user_name, .. }) => user_name,
            ("aws:principalarn", Caller::Root { .. }) => self.root_arn.as_deref()?,
            ("aws:principalarn", Caller::User { arn, .. }) => arn,
            ("aws:principalaccount", caller) => caller.account_id()?,
            _ => return None,
        };
        Some(KeyValues::One(one))
    }

    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The action name.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN.
    pub fn resource(&self) -> &str {
        &self.resource
    }
}

impl Vars for RequestContext {
    /// Only single-valued keys can be policy variables (multivalued ones resolve to nothing).
    fn var(&self, key: &str) -> Option<&str> {
        match self.values(key)? {
            KeyValues::One(one) => Some(one),
            KeyValues::Many([one]) => Some(one),
            KeyValues::Many(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(ctx: &RequestContext, key: &str) -> Option<String> {
        ctx.values(key)
            .map(|v| v.iter().collect::<Vec<_>>().join(","))
    }

    fn ctx(caller: Caller) -> RequestContext {
        RequestContext::new(
            caller,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            1_563_278_400_000,
            Some("2001:db8::1".parse().unwrap()),
            false,
        )
    }

    #[test]
    fn global_keys_of_an_iam_user() {
        let c = ctx(Caller::User {
            account_id: "111122223333".into(),
            canonical_id: "c".into(),
            user_name: "alice".into(),
            user_id: "AIDAALICE".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
        });
        assert_eq!(
            one(&c, "aws:currenttime").as_deref(),
            Some("2019-07-16T12:00:00Z")
        );
        assert_eq!(one(&c, "aws:epochtime").as_deref(), Some("1563278400"));
        assert_eq!(one(&c, "aws:securetransport").as_deref(), Some("false"));
        assert_eq!(one(&c, "aws:sourceip").as_deref(), Some("2001:db8::1"));
        assert_eq!(one(&c, "aws:principaltype").as_deref(), Some("User"));
        assert_eq!(
            one(&c, "aws:principalarn").as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
        assert_eq!(
            one(&c, "aws:principalaccount").as_deref(),
            Some("111122223333")
        );
        assert_eq!(one(&c, "aws:userid").as_deref(), Some("AIDAALICE"));
        assert_eq!(one(&c, "aws:username").as_deref(), Some("alice"));
        assert_eq!(one(&c, "s3:prefix"), None);
    }

    #[test]
    fn global_keys_of_root_and_anonymous() {
        let root = ctx(Caller::Root {
            account_id: "111122223333".into(),
            canonical_id: "c".into(),
        });
        assert_eq!(one(&root, "aws:principaltype").as_deref(), Some("Account"));
        assert_eq!(
            one(&root, "aws:principalarn").as_deref(),
            Some("arn:aws:iam::111122223333:root")
        );
        assert_eq!(one(&root, "aws:userid").as_deref(), Some("111122223333"));
        assert_eq!(one(&root, "aws:username"), None);
        let anon = ctx(Caller::Anonymous);
        assert_eq!(
            one(&anon, "aws:principaltype").as_deref(),
            Some("Anonymous")
        );
        assert_eq!(one(&anon, "aws:userid").as_deref(), Some("anonymous"));
        assert_eq!(one(&anon, "aws:principalaccount"), None);
        assert_eq!(one(&anon, "aws:principalarn"), None);
    }

    #[test]
    fn explicit_keys_are_case_insensitive_and_override_or_hide_global_ones() {
        let mut c = ctx(Caller::Anonymous).with("S3:Prefix", "home/");
        assert_eq!(one(&c, "s3:prefix").as_deref(), Some("home/"));
        c.set("aws:SourceIp", "192.0.2.1");
        assert_eq!(one(&c, "aws:sourceip").as_deref(), Some("192.0.2.1"));
        c.remove("AWS:SOURCEIP");
        assert_eq!(one(&c, "aws:sourceip"), None);
        c.set_values("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(one(&c, "aws:tagkeys").as_deref(), Some("a,b"));
        // Only single-valued keys resolve as policy variables.
        assert_eq!(c.var("aws:tagkeys"), None);
        assert_eq!(c.var("s3:prefix"), Some("home/"));
    }
}
