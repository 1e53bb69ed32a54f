//! What a request brings to evaluation: the caller, the action, the resource ARN and the
//! condition keys (multivalued, case-insensitive names).

use super::matching::Vars;
use super::time::format_iso8601;
use crate::records::Millis;
use std::collections::HashMap;
use std::net::IpAddr;

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

/// One request, as the evaluator sees it. Built once per request; evaluation only reads it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(crate) caller: Caller,
    pub(crate) action: String,
    pub(crate) resource: String,
    keys: HashMap<String, Vec<String>>,
}

impl RequestContext {
    /// A context with the global keys filled in: aws:CurrentTime, aws:EpochTime,
    /// aws:SecureTransport, aws:SourceIp, aws:PrincipalType, aws:PrincipalArn,
    /// aws:PrincipalAccount, aws:userid, aws:username (per "AWS global condition context keys").
    /// `action` is e.g. `s3:GetObject`; `resource` e.g. `arn:aws:s3:::bucket/key`.
    pub fn new(
        caller: Caller,
        action: impl Into<String>,
        resource: impl Into<String>,
        now: Millis,
        source_ip: Option<IpAddr>,
        secure_transport: bool,
    ) -> Self {
        let mut ctx = RequestContext {
            caller,
            action: action.into(),
            resource: resource.into(),
            keys: HashMap::new(),
        };
        ctx.set("aws:CurrentTime", format_iso8601(now));
        ctx.set("aws:EpochTime", now.div_euclid(1000).to_string());
        ctx.set("aws:SecureTransport", secure_transport.to_string());
        if let Some(ip) = source_ip {
            ctx.set("aws:SourceIp", ip.to_string());
        }
        match ctx.caller.clone() {
            Caller::Anonymous => {
                ctx.set("aws:PrincipalType", "Anonymous");
                ctx.set("aws:userid", "anonymous");
            }
            Caller::Root { account_id, .. } => {
                ctx.set("aws:PrincipalType", "Account");
                ctx.set(
                    "aws:PrincipalArn",
                    format!("arn:aws:iam::{account_id}:root"),
                );
                ctx.set("aws:userid", account_id.clone());
                ctx.set("aws:PrincipalAccount", account_id);
            }
            Caller::User {
                account_id,
                user_name,
                user_id,
                arn,
                ..
            } => {
                ctx.set("aws:PrincipalType", "User");
                ctx.set("aws:PrincipalArn", arn);
                ctx.set("aws:PrincipalAccount", account_id);
                ctx.set("aws:userid", user_id);
                ctx.set("aws:username", user_name);
            }
        }
        ctx
    }

    /// Sets a single-valued key (replacing any value); the name is case-insensitive.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.keys
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets a multivalued key (e.g. a list of tag keys); an empty list is an empty set.
    pub fn set_values(&mut self, key: &str, values: Vec<String>) {
        self.keys.insert(key.to_ascii_lowercase(), values);
    }

    /// Builder form of [`RequestContext::set`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_ascii_lowercase());
    }

    /// The values of a key; `lower_key` must already be lowercase.
    pub(crate) fn values(&self, lower_key: &str) -> Option<&[String]> {
        self.keys.get(lower_key).map(Vec::as_slice)
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
        match self.keys.get(key).map(Vec::as_slice) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}
