//! The policy document: parsing, validation (refusing as S3 / IAM do, at Put time), and the
//! per-statement matching used by evaluation.
//!
//! Grammar: IAM User Guide, "IAM JSON policy element reference" and "Grammar of the IAM JSON
//! policy language". Limits: S3 "Bucket policy examples" (20 KB bucket policy) and IAM
//! "IAM and AWS STS quotas" (inline user policies: 2,048 characters, whitespace excluded).

use super::actions::{resource_scopes, s3_action_scopes, Scope};
use super::condition::Condition;
use super::context::{Caller, RequestContext};
use super::matching::{NoVars, Pattern, Syntax};
use super::PolicyError;
use serde_json::{Map, Value};

/// S3's limit on a bucket policy document, in bytes (20 KB).
pub const BUCKET_POLICY_MAX_BYTES: usize = 20 * 1024;

/// IAM's limit on a user's inline policies, in characters not counting whitespace. IAM
/// applies it to the aggregate of one user's inline policies; the caller passes what remains.
pub const USER_INLINE_POLICY_MAX_CHARS: usize = 2048;

/// What the document is attached to; decides the required fields and the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// A bucket policy (resource-based): needs Principal, and its resources must name `bucket`.
    /// `max_bytes` defaults to [`BUCKET_POLICY_MAX_BYTES`].
    Bucket { bucket: String, max_bytes: usize },
    /// An IAM user policy (identity-based): must not have Principal. `max_chars` (whitespace
    /// excluded) defaults to [`USER_INLINE_POLICY_MAX_CHARS`].
    Identity { max_chars: usize },
}

impl PolicyKind {
    /// A bucket policy for `bucket` with S3's size limit.
    pub fn bucket(bucket: &str) -> Self {
        PolicyKind::Bucket {
            bucket: bucket.to_string(),
            max_bytes: BUCKET_POLICY_MAX_BYTES,
        }
    }

    /// An identity policy with IAM's inline user policy limit.
    pub fn identity() -> Self {
        PolicyKind::Identity {
            max_chars: USER_INLINE_POLICY_MAX_CHARS,
        }
    }
}

/// The policy language version. Without `Version`, 2008-10-17 semantics (no variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A principal named in `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyPrincipal {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included (nothing to check for existence).
    Any,
    /// An account: `"123456789012"` or `arn:aws:iam::123456789012:root` (the same thing).
    Account(String),
    /// An IAM user ARN.
    User { account_id: String, arn: String },
    /// Another IAM ARN (role, assumed role, ...): Tessera has none, the caller refuses it.
    OtherArn { account_id: String, arn: String },
    /// `{"CanonicalUser": id}`: an account by canonical user id.
    CanonicalUser(String),
    /// `{"Service": name}`: never matches a Tessera caller.
    Service(String),
    /// `{"Federated": name}`: never matches a Tessera caller.
    Federated(String),
}

/// How a statement's principal element matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    No,
    /// Through the caller's account (account id, root ARN or canonical id): an IAM user of
    /// that account still needs its own identity policy to allow.
    ViaAccount,
    /// The caller itself (its user ARN, `*`, or not excluded by NotPrincipal).
    Direct,
}

#[derive(Debug, Clone, PartialEq)]
struct Principals {
    not: bool,
    list: Vec<PolicyPrincipal>,
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    principals: Option<Principals>,
    not_action: bool,
    actions: Vec<Pattern>,
    not_resource: bool,
    resources: Vec<Pattern>,
    conditions: Vec<Condition>,
}

/// A parsed and validated policy, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    version: Version,
    id: Option<String>,
    statements: Vec<Statement>,
    /// Computed once at parse time: see [`super::is_public`].
    public: bool,
}

fn malformed(reason: impl Into<String>) -> PolicyError {
    PolicyError::malformed(reason)
}

const INVALID_PRINCIPAL: &str = "Invalid principal in policy";
const INVALID_RESOURCE: &str = "Policy has invalid resource";
const INVALID_ACTION: &str = "Policy has invalid action";
/// IAM's MalformedPolicyDocument message for JSON and structure errors.
const IAM_SYNTAX: &str = "Syntax errors in policy.";

/// A string or a non-empty array of strings; `None` for anything else.
fn string_list(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(Value::as_str).collect::<Option<Vec<_>>>()
        }
        _ => None,
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An `AWS` principal value: `*`, an account id, or an IAM ARN with an account id.
/// AWS allows no partial wildcard in a principal ("*" alone only).
fn aws_principal(s: &str) -> Option<PolicyPrincipal> {
    if s == "*" {
        return Some(PolicyPrincipal::Any);
    }
    if s.contains(['*', '?']) {
        return None;
    }
    if is_account_id(s) {
        return Some(PolicyPrincipal::Account(s.to_string()));
    }
    let rest = s.strip_prefix("arn:aws:")?;
    let mut parts = rest.splitn(4, ':');
    let (service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if !matches!(service, "iam" | "sts") || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let account_id = account.to_string();
    Some(if service == "iam" && resource == "root" {
        PolicyPrincipal::Account(account_id)
    } else if service == "iam" && resource.len() > 5 && resource.starts_with("user/") {
        PolicyPrincipal::User {
            account_id,
            arn: s.to_string(),
        }
    } else if resource.is_empty() {
        return None;
    } else {
        PolicyPrincipal::OtherArn {
            account_id,
            arn: s.to_string(),
        }
    })
}

fn parse_principals(v: &Value, not: bool) -> Result<Principals, PolicyError> {
    let bad = || malformed(INVALID_PRINCIPAL);
    let mut list = Vec::new();
    match v {
        Value::String(s) if s == "*" => list.push(PolicyPrincipal::Any),
        Value::Object(map) if !map.is_empty() => {
            for (kind, values) in map {
                for s in string_list(values).ok_or_else(bad)? {
                    let p = match kind.as_str() {
                        "AWS" => aws_principal(s).ok_or_else(bad)?,
                        _ if s.is_empty() || s.contains('*') => return Err(bad()),
                        "CanonicalUser" => PolicyPrincipal::CanonicalUser(s.to_string()),
                        "Service" => PolicyPrincipal::Service(s.to_string()),
                        "Federated" => PolicyPrincipal::Federated(s.to_string()),
                        _ => return Err(bad()),
                    };
                    list.push(p);
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(Principals { not, list })
}

/// `*` or `service:action` with wildcards; a bucket policy accepts only `s3:` actions.
fn parse_action(s: &str, kind: &PolicyKind) -> Option<Pattern> {
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    if s == "*" {
        return Some(Pattern::compile(s, syntax));
    }
    let (service, name) = s.split_once(':')?;
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_'));
    let bucket_ok = match kind {
        PolicyKind::Bucket { .. } => service.eq_ignore_ascii_case("s3"),
        PolicyKind::Identity { .. } => true,
    };
    (service_ok && name_ok && bucket_ok).then(|| Pattern::compile(s, syntax))
}

/// A resource ARN pattern; in a bucket policy it must be an S3 ARN naming that bucket.
fn parse_resource(s: &str, kind: &PolicyKind, variables: bool) -> Option<Pattern> {
    let syntax = Syntax {
        wildcards: true,
        variables,
    };
    match kind {
        PolicyKind::Bucket { bucket, .. } => {
            let path = s.strip_prefix("arn:aws:s3:::")?;
            let bucket_part = path.split('/').next().unwrap_or(path);
            Pattern::compile(bucket_part, syntax)
                .matches(bucket, &NoVars, false)
                .then(|| Pattern::compile(s, syntax))
        }
        PolicyKind::Identity { .. } => {
            (s == "*" || s.starts_with("arn:")).then(|| Pattern::compile(s, syntax))
        }
    }
}

impl Policy {
    /// Parses and validates `json` as a policy of `kind`; the error carries S3's reason.
    pub fn parse(json: &str, kind: &PolicyKind) -> Result<Policy, PolicyError> {
        match kind {
            PolicyKind::Bucket { max_bytes, .. } if json.len() > *max_bytes => {
                return Err(PolicyError::TooLarge { limit: *max_bytes });
            }
            PolicyKind::Identity { max_chars }
                if json.chars().filter(|c| !c.is_whitespace()).count() > *max_chars =>
            {
                return Err(PolicyError::TooLarge { limit: *max_chars });
            }
            _ => {}
        }
        let identity = matches!(kind, PolicyKind::Identity { .. });
        // IAM answers every structural error with one message; S3 names the problem.
        let syntax = |s3: String| malformed(if identity { IAM_SYNTAX.to_string() } else { s3 });
        // S3 wants `{` as the very first byte; IAM tolerates leading whitespace.
        let start = if identity { json.trim_start() } else { json };
        if !start.starts_with('{') {
            return Err(syntax(
                "Policies must be valid JSON and the first byte must be '{'".into(),
            ));
        }
        let invalid = || syntax("This policy contains invalid Json".into());
        let doc: Value = serde_json::from_str(json).map_err(|_| invalid())?;
        let Value::Object(top) = doc else {
            return Err(invalid());
        };
        for field in top.keys() {
            if !matches!(field.as_str(), "Version" | "Id" | "Statement") {
                return Err(syntax(format!("Unknown field {field}")));
            }
        }
        let version = match top.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(_) => return Err(malformed("Policy has an invalid version")),
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(malformed("Policy has an invalid Id")),
        };
        let raw = match top.get("Statement") {
            None => return Err(malformed("Missing required field Statement")),
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(_) => return Err(malformed("Policy has an invalid Statement")),
        };
        if raw.is_empty() {
            return Err(malformed("Could not parse the policy: Statement is empty!"));
        }
        let mut statements = Vec::with_capacity(raw.len());
        for v in raw {
            let Value::Object(st) = v else {
                return Err(malformed("Policy has an invalid Statement"));
            };
            statements.push(parse_statement(st, kind, version)?);
        }
        if matches!(kind, PolicyKind::Identity { .. }) {
            let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
            sids.sort_unstable();
            if sids.windows(2).any(|w| w[0] == w[1]) {
                return Err(malformed(
                    "Statement IDs (SID) in a single policy must be unique.",
                ));
            }
        }
        let public = statements.iter().any(Statement::is_public_grant);
        Ok(Policy {
            version,
            id,
            statements,
            public,
        })
    }

    /// The language version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether the policy is public (S3's test for PublicAccessBlock and GetBucketPolicyStatus).
    pub(crate) fn public(&self) -> bool {
        self.public
    }

    /// The statements, in document order.
    /// Whether a condition of any statement names a key starting with `prefix` (lowercase):
    /// whether evaluating the policy needs a key that costs a read (an object's tags).
    pub fn uses_condition_key(&self, prefix: &str) -> bool {
        self.statements()
            .iter()
            .any(|s| s.conditions().iter().any(|c| c.key().starts_with(prefix)))
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Every principal named in Principal or NotPrincipal, for the caller to check that each
    /// exists (else: MalformedPolicy "Invalid principal in policy").
    pub fn principals(&self) -> impl Iterator<Item = &PolicyPrincipal> {
        self.statements
            .iter()
            .filter_map(|s| s.principals.as_ref())
            .flat_map(|p| p.list.iter())
    }
}

fn parse_statement(
    st: &Map<String, Value>,
    kind: &PolicyKind,
    version: Version,
) -> Result<Statement, PolicyError> {
    let identity = matches!(kind, PolicyKind::Identity { .. });
    for field in st.keys() {
        if !matches!(
            field.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(if identity {
                IAM_SYNTAX.to_string()
            } else {
                format!("Unknown field {field}")
            }));
        }
    }
    let variables = version == Version::V2012_10_17;
    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) => {
            if identity && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(malformed("Statement IDs (SID) must be alpha-numeric."));
            }
            Some(s.clone())
        }
        Some(_) => return Err(malformed("Policy has an invalid Sid")),
    };
    let effect = match st.get("Effect") {
        None => return Err(malformed("Missing required field Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(e) => {
            return Err(malformed(format!(
                "Invalid effect: {}",
                e.as_str().unwrap_or_default()
            )))
        }
    };

    let principals = match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                "Statement can not have both Principal and NotPrincipal",
            ))
        }
        (Some(_), _) | (_, Some(_)) if identity => {
            return Err(malformed("Policy document should not specify a principal."))
        }
        (Some(p), None) => Some(parse_principals(p, false)?),
        (None, Some(p)) => Some(parse_principals(p, true)?),
        (None, None) if !identity => return Err(malformed("Missing required field Principal")),
        (None, None) => None,
    };

    let (not_action, raw_actions) = match (st.get("Action"), st.get("NotAction")) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                "Statement can not have both Action and NotAction",
            ))
        }
        (Some(a), None) => (false, a),
        (None, Some(a)) => (true, a),
        (None, None) if identity => {
            return Err(malformed("Policy statement must contain actions."))
        }
        (None, None) => return Err(malformed("Missing required field Action")),
    };
    let actions = string_list(raw_actions)
        .ok_or_else(|| malformed(INVALID_ACTION))?
        .into_iter()
        .map(|a| parse_action(a, kind).ok_or_else(|| malformed(INVALID_ACTION)))
        .collect::<Result<Vec<_>, _>>()?;

    let (not_resource, raw_resources) = match (st.get("Resource"), st.get("NotResource")) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                "Statement can not have both Resource and NotResource",
            ))
        }
        (Some(r), None) => (false, r),
        (None, Some(r)) => (true, r),
        (None, None) if identity => {
            return Err(malformed("Policy statement must contain resources."))
        }
        (None, None) => return Err(malformed("Missing required field Resource")),
    };
    let resource_texts = string_list(raw_resources).ok_or_else(|| malformed(INVALID_RESOURCE))?;
    let resources = resource_texts
        .iter()
        .map(|r| parse_resource(r, kind, variables).ok_or_else(|| malformed(INVALID_RESOURCE)))
        .collect::<Result<Vec<_>, _>>()?;
    if matches!(kind, PolicyKind::Bucket { .. }) {
        check_s3_actions(
            &actions,
            (!not_action && !not_resource).then_some(&resource_texts),
        )?;
    }

    let mut conditions = Vec::new();
    match st.get("Condition") {
        None => {}
        Some(Value::Object(block)) => {
            for (op, body) in block {
                conditions.extend(Condition::parse_block(op, body, variables)?);
            }
        }
        Some(_) => return Err(malformed("Policy has an invalid condition block")),
    }

    Ok(Statement {
        sid,
        effect,
        principals,
        not_action,
        actions,
        not_resource,
        resources,
        conditions,
    })
}

/// S3's checks on a bucket policy's actions: each names at least one S3 action, and (for
/// Action with Resource) each applies to at least one of the statement's resources.
fn check_s3_actions(actions: &[Pattern], resources: Option<&Vec<&str>>) -> Result<(), PolicyError> {
    let (bucket, object) = resources.map_or((true, true), |rs| {
        rs.iter().fold((false, false), |(b, o), r| {
            let (rb, ro) = resource_scopes(r);
            (b || rb, o || ro)
        })
    });
    for action in actions {
        let scopes = s3_action_scopes(action).ok_or_else(|| malformed(INVALID_ACTION))?;
        let applies = (scopes[Scope::Bucket as usize] && bucket)
            || (scopes[Scope::Object as usize] && object);
        if resources.is_some() && !applies {
            return Err(malformed(
                "Action does not apply to any resource(s) in statement",
            ));
        }
    }
    Ok(())
}

impl Statement {
    /// The `Sid` element.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or Deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The compiled conditions (all must hold).
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Action names are case-insensitive (`s3:getobject` is `s3:GetObject`).
    pub(crate) fn matches_action(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|p| p.matches(action, &NoVars, true))
            != self.not_action
    }

    /// Resource ARNs are case-sensitive; variables resolve from the request.
    pub(crate) fn matches_resource(&self, ctx: &RequestContext) -> bool {
        self.resources
            .iter()
            .any(|p| p.matches(&ctx.resource, ctx, false))
            != self.not_resource
    }

    /// All conditions hold (AND of operators and keys).
    pub(crate) fn conditions_hold(&self, ctx: &RequestContext) -> bool {
        self.conditions
            .iter()
            .all(|c| c.eval(ctx.values(c.key()), ctx))
    }

    /// Whether the principal element applies to `caller` (identity policies: always Direct).
    /// NotPrincipal excludes a caller only when all its identities are listed: an IAM user is
    /// its user ARN and its account (IAM User Guide, "AWS JSON policy elements: NotPrincipal").
    pub(crate) fn principal_match(&self, caller: &Caller) -> PrincipalMatch {
        let Some(p) = &self.principals else {
            return PrincipalMatch::Direct;
        };
        let account_listed = |account: &str, canonical: &str| {
            p.list.iter().any(|e| match e {
                PolicyPrincipal::Account(a) => a == account,
                PolicyPrincipal::CanonicalUser(c) => c == canonical,
                _ => false,
            })
        };
        let any = p.list.contains(&PolicyPrincipal::Any);
        let user_listed = |arn: &str| {
            p.list
                .iter()
                .any(|e| matches!(e, PolicyPrincipal::User { arn: a, .. } if a == arn))
        };
        if p.not {
            let excluded = any
                || match caller {
                    Caller::Anonymous => false,
                    Caller::Root {
                        account_id,
                        canonical_id,
                    } => account_listed(account_id, canonical_id),
                    Caller::User {
                        account_id,
                        canonical_id,
                        arn,
                        ..
                    } => user_listed(arn) && account_listed(account_id, canonical_id),
                };
            return if excluded {
                PrincipalMatch::No
            } else {
                PrincipalMatch::Direct
            };
        }
        if any {
            return PrincipalMatch::Direct;
        }
        match caller {
            Caller::Anonymous => PrincipalMatch::No,
            Caller::Root {
                account_id,
                canonical_id,
            } => {
                if account_listed(account_id, canonical_id) {
                    PrincipalMatch::ViaAccount
                } else {
                    PrincipalMatch::No
                }
            }
            Caller::User {
                account_id,
                canonical_id,
                arn,
                ..
            } => {
                if user_listed(arn) {
                    PrincipalMatch::Direct
                } else if account_listed(account_id, canonical_id) {
                    PrincipalMatch::ViaAccount
                } else {
                    PrincipalMatch::No
                }
            }
        }
    }

    /// An Allow to everyone (`*`, or a NotPrincipal, which names only whom it leaves out)
    /// that no condition pins to fixed sources or identities.
    fn is_public_grant(&self) -> bool {
        let to_everyone = match &self.principals {
            None => false,
            Some(p) => p.not || p.list.contains(&PolicyPrincipal::Any),
        };
        self.effect == Effect::Allow
            && to_everyone
            && !self
                .conditions
                .iter()
                .any(Condition::restricts_public_access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bucket_reason(doc: Value) -> String {
        match Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")) {
            Err(PolicyError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn identity_reason(doc: Value) -> String {
        match Policy::parse(&doc.to_string(), &PolicyKind::identity()) {
            Err(PolicyError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    /// A valid bucket-policy statement with `patch` merged in (a null value removes a field).
    fn statement(patch: Value) -> Value {
        let mut st = json!({
            "Sid": "S1",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::mybucket/*"
        });
        if let (Value::Object(base), Value::Object(patch)) = (&mut st, patch) {
            for (k, v) in patch {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    base.insert(k, v);
                }
            }
        }
        st
    }

    fn bucket_doc(patch: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [statement(patch)]})
    }

    fn identity_doc(patch: Value) -> Value {
        let mut st = statement(patch);
        if let Value::Object(m) = &mut st {
            m.remove("Principal");
        }
        json!({"Version": "2012-10-17", "Statement": [st]})
    }

    #[test]
    fn valid_bucket_policy_parses_with_version_and_id() {
        // S3 User Guide, "Bucket policy examples": read-only permission for anonymous users.
        let doc = r#"{
          "Version": "2012-10-17",
          "Id": "P1",
          "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": ["arn:aws:s3:::mybucket/*"]
          }]
        }"#;
        let p = Policy::parse(doc, &PolicyKind::bucket("mybucket")).unwrap();
        assert_eq!(p.version(), Version::V2012_10_17);
        assert_eq!(p.id(), Some("P1"));
        assert_eq!(p.statements().len(), 1);
        assert_eq!(p.statements()[0].sid(), Some("PublicRead"));
        assert_eq!(p.statements()[0].effect(), Effect::Allow);
    }

    #[test]
    fn missing_version_means_2008_semantics() {
        let doc = json!({"Statement": statement(json!({}))});
        let p = Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).unwrap();
        assert_eq!(p.version(), Version::V2008_10_17);
        let old = json!({"Version": "2008-10-17", "Statement": statement(json!({}))});
        assert!(Policy::parse(&old.to_string(), &PolicyKind::bucket("mybucket")).is_ok());
    }

    #[test]
    fn statement_may_be_a_single_object() {
        let doc = json!({"Version": "2012-10-17", "Statement": statement(json!({}))});
        let p = Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).unwrap();
        assert_eq!(p.statements().len(), 1);
    }

    #[test]
    fn invalid_json_is_refused() {
        // Messages as S3 gives them (also reproduced by versitygw's PutBucketPolicy).
        let first = "Policies must be valid JSON and the first byte must be '{'";
        let invalid = "This policy contains invalid Json";
        for (doc, want) in [
            ("", first),
            ("not json", first),
            ("[1]", first),
            (" {}", first),
            ("{\"Version\": ", invalid),
            ("{\"Statement\": [}", invalid),
        ] {
            match Policy::parse(doc, &PolicyKind::bucket("mybucket")) {
                Err(PolicyError::Malformed { reason }) => assert_eq!(reason, want, "{doc}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_top_level_field_is_refused() {
        let doc =
            json!({"Version": "2012-10-17", "Statment": [], "Statement": statement(json!({}))});
        assert_eq!(bucket_reason(doc), "Unknown field Statment");
    }

    #[test]
    fn identity_policy_syntax_errors_use_iam_wording() {
        for doc in ["not json", "{\"Version\": ", "[]"] {
            match Policy::parse(doc, &PolicyKind::identity()) {
                Err(PolicyError::Malformed { reason }) => {
                    assert_eq!(reason, "Syntax errors in policy.", "{doc}")
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
        assert_eq!(
            identity_reason(identity_doc(json!({"Actions": "s3:*"}))),
            "Syntax errors in policy."
        );
    }

    #[test]
    fn unknown_statement_field_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Actions": "s3:*"}))),
            "Unknown field Actions"
        );
    }

    #[test]
    fn unknown_version_is_refused() {
        let doc = json!({"Version": "2012-10-18", "Statement": statement(json!({}))});
        assert_eq!(bucket_reason(doc), "Policy has an invalid version");
    }

    #[test]
    fn missing_statement_is_refused() {
        assert_eq!(
            bucket_reason(json!({"Version": "2012-10-17"})),
            "Missing required field Statement"
        );
    }

    #[test]
    fn empty_statement_list_is_refused() {
        assert_eq!(
            bucket_reason(json!({"Version": "2012-10-17", "Statement": []})),
            "Could not parse the policy: Statement is empty!"
        );
    }

    #[test]
    fn missing_effect_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Effect": null}))),
            "Missing required field Effect"
        );
    }

    #[test]
    fn unknown_effect_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Effect": "allow"}))),
            "Invalid effect: allow"
        );
    }

    #[test]
    fn action_and_not_action_together_are_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"NotAction": "s3:PutObject"}))),
            "Statement can not have both Action and NotAction"
        );
    }

    #[test]
    fn neither_action_nor_not_action_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Action": null}))),
            "Missing required field Action"
        );
        assert_eq!(
            identity_reason(identity_doc(json!({"Action": null}))),
            "Policy statement must contain actions."
        );
    }

    #[test]
    fn action_without_service_prefix_is_refused() {
        for a in [
            json!("GetObject"),
            json!(":GetObject"),
            json!("s3:"),
            json!([]),
            json!(7),
        ] {
            assert_eq!(
                bucket_reason(bucket_doc(json!({ "Action": a }))),
                "Policy has invalid action"
            );
        }
    }

    #[test]
    fn bucket_policy_accepts_only_s3_actions() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Action": "iam:CreateUser"}))),
            "Policy has invalid action"
        );
        assert!(Policy::parse(
            &identity_doc(json!({"Action": "iam:CreateUser", "Resource": "*"})).to_string(),
            &PolicyKind::identity()
        )
        .is_ok());
    }

    #[test]
    fn unknown_s3_action_in_a_bucket_policy_is_refused() {
        // S3 refuses a misspelled action (s3:ListObjects is not an action; s3:ListBucket is).
        for a in [
            "s3:ListObjects",
            "s3:GetObjekt",
            "s3:Foo*",
            "s3:CanonicalUserGetBucketPolicy",
        ] {
            assert_eq!(
                bucket_reason(bucket_doc(json!({ "Action": a }))),
                "Policy has invalid action",
                "{a}"
            );
        }
        // Names are case-insensitive; wildcards need to match one real action.
        for a in ["s3:getobject", "s3:GetOb*", "s3:*", "*", "s3:GetObject?cl"] {
            let doc = bucket_doc(json!({ "Action": a }));
            assert!(
                Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).is_ok(),
                "{a}"
            );
        }
        // Identity policies take any well-formed name, as IAM does.
        let idp = identity_doc(json!({"Action": "s3:ListObjects", "Resource": "*"}));
        assert!(Policy::parse(&idp.to_string(), &PolicyKind::identity()).is_ok());
    }

    #[test]
    fn action_that_applies_to_none_of_the_resources_is_refused() {
        let reason = "Action does not apply to any resource(s) in statement";
        // The classic mistake: s3:ListBucket on the objects only.
        let list_on_objects = bucket_doc(
            json!({"Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::mybucket/*"}),
        );
        assert_eq!(bucket_reason(list_on_objects), reason);
        let object_actions_on_bucket = bucket_doc(
            json!({"Action": ["s3:GetOb*", "s3:GetObject?cl"], "Resource": "arn:aws:s3:::mybucket"}),
        );
        assert_eq!(bucket_reason(object_actions_on_bucket), reason);
        let account_action = bucket_doc(json!({"Action": "s3:ListAllMyBuckets"}));
        assert_eq!(bucket_reason(account_action), reason);
        // Each action applies to one of the resources: accepted.
        let both = bucket_doc(json!({"Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::mybucket", "arn:aws:s3:::mybucket/*"]}));
        assert!(Policy::parse(&both.to_string(), &PolicyKind::bucket("mybucket")).is_ok());
        // A trailing star on the bucket covers its objects too.
        let star = bucket_doc(json!({"Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": "arn:aws:s3:::mybucket*"}));
        assert!(Policy::parse(&star.to_string(), &PolicyKind::bucket("mybucket")).is_ok());
        // NotAction and NotResource are not checked for applicability.
        let not_action = bucket_doc(json!({"Action": null, "NotAction": "s3:ListBucket"}));
        assert!(Policy::parse(&not_action.to_string(), &PolicyKind::bucket("mybucket")).is_ok());
        let not_resource = bucket_doc(json!({"Action": "s3:ListBucket", "Resource": null,
            "NotResource": "arn:aws:s3:::mybucket/*"}));
        assert!(Policy::parse(&not_resource.to_string(), &PolicyKind::bucket("mybucket")).is_ok());
    }

    #[test]
    fn bucket_policy_without_principal_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Principal": null}))),
            "Missing required field Principal"
        );
    }

    #[test]
    fn identity_policy_with_principal_is_refused() {
        let mut doc = identity_doc(json!({}));
        doc["Statement"][0]["Principal"] = json!("*");
        assert_eq!(
            identity_reason(doc),
            "Policy document should not specify a principal."
        );
        let mut not = identity_doc(json!({}));
        not["Statement"][0]["NotPrincipal"] = json!({"AWS": "123456789012"});
        assert_eq!(
            identity_reason(not),
            "Policy document should not specify a principal."
        );
    }

    #[test]
    fn principal_and_not_principal_together_are_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"NotPrincipal": {"AWS": "123456789012"}}))),
            "Statement can not have both Principal and NotPrincipal"
        );
    }

    #[test]
    fn partial_wildcards_and_malformed_principals_are_refused() {
        for p in [
            json!({"AWS": "arn:aws:iam::123456789012:user/*"}),
            json!({"AWS": "arn:aws:iam::*:root"}),
            json!({"AWS": "12345"}),
            json!({"AWS": "alice"}),
            json!({"AWS": "arn:aws:iam::12345678901x:root"}),
            json!({"AWS": []}),
            json!({"Martian": "x"}),
            json!({"CanonicalUser": "*"}),
            json!({}),
            json!("alice"),
            json!(["*"]),
        ] {
            assert_eq!(
                bucket_reason(bucket_doc(json!({ "Principal": p.clone() }))),
                "Invalid principal in policy",
                "{p}"
            );
        }
    }

    #[test]
    fn principals_lists_every_named_principal_and_account_forms_agree() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            statement(json!({"Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:root"]}})),
            statement(json!({"Principal": {"AWS": "arn:aws:iam::444455556666:user/dev/alice",
                                           "CanonicalUser": "79a59df900b949e55d96a1e698fbace"}})),
            statement(json!({"Principal": null, "NotPrincipal": {"Service": "logging.s3.amazonaws.com"}})),
            statement(json!({"Principal": {"AWS": "arn:aws:iam::444455556666:role/r"}})),
        ]});
        let p = Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).unwrap();
        let all: Vec<_> = p.principals().cloned().collect();
        assert_eq!(
            all,
            vec![
                PolicyPrincipal::Account("111122223333".into()),
                PolicyPrincipal::Account("111122223333".into()),
                PolicyPrincipal::User {
                    account_id: "444455556666".into(),
                    arn: "arn:aws:iam::444455556666:user/dev/alice".into()
                },
                PolicyPrincipal::CanonicalUser("79a59df900b949e55d96a1e698fbace".into()),
                PolicyPrincipal::Service("logging.s3.amazonaws.com".into()),
                PolicyPrincipal::OtherArn {
                    account_id: "444455556666".into(),
                    arn: "arn:aws:iam::444455556666:role/r".into()
                },
            ]
        );
    }

    #[test]
    fn missing_resource_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Resource": null}))),
            "Missing required field Resource"
        );
        // IAM's own wording for identity policies.
        assert_eq!(
            identity_reason(identity_doc(json!({"Resource": null}))),
            "Policy statement must contain resources."
        );
    }

    #[test]
    fn resource_of_another_bucket_is_refused() {
        for r in [
            json!("arn:aws:s3:::otherbucket/*"),
            json!(["arn:aws:s3:::mybucket/*", "arn:aws:s3:::mybucket2"]),
            json!("mybucket/*"),
            json!("*"),
            json!("arn:aws:sqs:::mybucket"),
            json!([]),
        ] {
            assert_eq!(
                bucket_reason(bucket_doc(json!({ "Resource": r.clone() }))),
                "Policy has invalid resource",
                "{r}"
            );
        }
    }

    #[test]
    fn resource_naming_the_bucket_through_wildcards_is_accepted() {
        for r in [
            "arn:aws:s3:::mybucket",
            "arn:aws:s3:::my*/logs/*",
            "arn:aws:s3:::*",
            "arn:aws:s3:::mybucke?",
        ] {
            let doc = bucket_doc(json!({ "Action": "s3:*", "Resource": r }));
            assert!(
                Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).is_ok(),
                "{r}"
            );
        }
    }

    #[test]
    fn identity_resource_must_be_an_arn_or_star() {
        assert_eq!(
            identity_reason(identity_doc(json!({"Resource": "mybucket/*"}))),
            "Policy has invalid resource"
        );
        for r in ["*", "arn:aws:s3:::any/*"] {
            assert!(Policy::parse(
                &identity_doc(json!({ "Resource": r })).to_string(),
                &PolicyKind::identity()
            )
            .is_ok());
        }
    }

    #[test]
    fn unknown_condition_operator_is_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(
                json!({"Condition": {"StringEqualsX": {"k": "v"}}})
            )),
            "Invalid Condition type : StringEqualsX"
        );
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Condition": "x"}))),
            "Policy has an invalid condition block"
        );
    }

    #[test]
    fn bucket_policy_over_20_kb_is_refused() {
        let base = bucket_doc(json!({})).to_string();
        // Pad with spaces inside the object: still valid JSON, counted as bytes.
        let pad = |n: usize| format!("{{{}{}", " ".repeat(n), &base[1..]);
        let at_limit = pad(BUCKET_POLICY_MAX_BYTES - base.len());
        assert_eq!(at_limit.len(), 20480);
        assert!(Policy::parse(&at_limit, &PolicyKind::bucket("mybucket")).is_ok());
        let over = pad(BUCKET_POLICY_MAX_BYTES - base.len() + 1);
        assert_eq!(
            Policy::parse(&over, &PolicyKind::bucket("mybucket")),
            Err(PolicyError::TooLarge { limit: 20480 })
        );
    }

    #[test]
    fn identity_size_counts_characters_without_whitespace() {
        let base = identity_doc(json!({"Resource": "*"})).to_string();
        let spaced = format!("{{{}{}", " ".repeat(5000), &base[1..]);
        assert!(Policy::parse(&spaced, &PolicyKind::identity()).is_ok());
        let leading = format!("\n  {base}");
        assert!(Policy::parse(&leading, &PolicyKind::identity()).is_ok());
        let small = PolicyKind::Identity {
            max_chars: base.len() - 1,
        };
        assert_eq!(
            Policy::parse(&base, &small),
            Err(PolicyError::TooLarge {
                limit: base.len() - 1
            })
        );
    }

    #[test]
    fn identity_sids_must_be_alphanumeric_and_unique() {
        assert_eq!(
            identity_reason(identity_doc(json!({"Sid": "read only"}))),
            "Statement IDs (SID) must be alpha-numeric."
        );
        let st = identity_doc(json!({}))["Statement"][0].clone();
        let doc = json!({"Version": "2012-10-17", "Statement": [st.clone(), st]});
        assert_eq!(
            identity_reason(doc),
            "Statement IDs (SID) in a single policy must be unique."
        );
        // Bucket policies take any Sid text.
        assert!(Policy::parse(
            &bucket_doc(json!({"Sid": "read only"})).to_string(),
            &PolicyKind::bucket("mybucket")
        )
        .is_ok());
    }

    #[test]
    fn non_string_scalars_in_fields_are_refused() {
        assert_eq!(
            bucket_reason(bucket_doc(json!({"Sid": 1}))),
            "Policy has an invalid Sid"
        );
        assert_eq!(
            bucket_reason(
                json!({"Version": "2012-10-17", "Id": 5, "Statement": statement(json!({}))})
            ),
            "Policy has an invalid Id"
        );
        assert_eq!(
            bucket_reason(json!({"Version": "2012-10-17", "Statement": ["x"]})),
            "Policy has an invalid Statement"
        );
    }
}
