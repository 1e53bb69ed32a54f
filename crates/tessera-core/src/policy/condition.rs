//! Condition operators, compiled at parse time.
//!
//! Semantics from the IAM User Guide, "IAM JSON policy elements: Condition operators" and
//! "Single-valued vs. multivalued context keys":
//! - several operators in a block, and several keys in one operator, are ANDed;
//! - several values for one key are ORed; for a negated operator (StringNotEquals,
//!   NotIpAddress, ...) the result is the negation of that OR (a NOR: "not any of them");
//! - a key missing from the request makes a positive operator false and a negated one true,
//!   except `...IfExists` (missing key: true) and `Null` (tests presence);
//! - `ForAllValues:` is true when every request value matches (and when the key is missing
//!   or empty); `ForAnyValue:` is true when at least one matches (false when missing or empty).

use super::context::KeyValues;
use super::matching::{Pattern, Syntax, Vars};
use super::time::parse_date;
use super::PolicyError;
use base64::Engine;
use serde_json::Value;
use std::net::IpAddr;

/// The base operator of a condition (negation, IfExists and set qualifier are separate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionOp {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

/// `ForAnyValue:` / `ForAllValues:` before the operator name, for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// Operator names as AWS spells them (case-sensitive), with their negation flag.
const OPERATORS: &[(&str, ConditionOp, bool)] = &[
    ("StringEquals", ConditionOp::StringEquals, false),
    ("StringNotEquals", ConditionOp::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        ConditionOp::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        ConditionOp::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", ConditionOp::StringLike, false),
    ("StringNotLike", ConditionOp::StringLike, true),
    ("NumericEquals", ConditionOp::NumericEquals, false),
    ("NumericNotEquals", ConditionOp::NumericEquals, true),
    ("NumericLessThan", ConditionOp::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        ConditionOp::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", ConditionOp::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        ConditionOp::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", ConditionOp::DateEquals, false),
    ("DateNotEquals", ConditionOp::DateEquals, true),
    ("DateLessThan", ConditionOp::DateLessThan, false),
    ("DateLessThanEquals", ConditionOp::DateLessThanEquals, false),
    ("DateGreaterThan", ConditionOp::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        ConditionOp::DateGreaterThanEquals,
        false,
    ),
    ("Bool", ConditionOp::Bool, false),
    ("BinaryEquals", ConditionOp::BinaryEquals, false),
    ("IpAddress", ConditionOp::IpAddress, false),
    ("NotIpAddress", ConditionOp::IpAddress, true),
    ("ArnEquals", ConditionOp::ArnEquals, false),
    ("ArnNotEquals", ConditionOp::ArnEquals, true),
    ("ArnLike", ConditionOp::ArnLike, false),
    ("ArnNotLike", ConditionOp::ArnLike, true),
    ("Null", ConditionOp::Null, false),
];

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `203.0.113.0/24`, `2001:db8::/32`, or a bare address (a host).
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Narrow enough to count as a restriction for [`super::is_public`].
    pub(crate) fn is_narrow(&self) -> bool {
        self.prefix >= if self.net.is_ipv4() { 8 } else { 32 }
    }
}

/// An ARN pattern matched component by component (the six colon-separated parts), as AWS
/// does for ArnEquals/ArnLike; a value with fewer parts is matched as a whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArnPattern {
    parts: Vec<Pattern>,
    whole: Pattern,
}

impl ArnPattern {
    fn compile(src: &str, variables: bool) -> ArnPattern {
        let whole = Pattern::compile(
            src,
            Syntax {
                wildcards: true,
                variables,
            },
        );
        let parts = whole.split_colons(6);
        ArnPattern { parts, whole }
    }

    fn matches(&self, value: &str, vars: &dyn Vars) -> bool {
        if self.parts.len() < 6 {
            return self.whole.matches(value, vars, false);
        }
        let mut n = 0;
        for (i, piece) in value.splitn(6, ':').enumerate() {
            if !self.parts[i].matches(piece, vars, false) {
                return false;
            }
            n += 1;
        }
        n == 6
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    Strings(Vec<Pattern>),
    Numbers(Vec<f64>),
    Dates(Vec<i64>),
    Bools(Vec<bool>),
    Binary(Vec<String>),
    Cidrs(Vec<Cidr>),
    Arns(Vec<ArnPattern>),
}

/// One `operator: { key: values }` entry, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    op: ConditionOp,
    negated: bool,
    if_exists: bool,
    qualifier: SetQualifier,
    /// Lowercased: condition keys are case-insensitive.
    key: String,
    values: Values,
}

fn bad_value(op: &str, key: &str) -> PolicyError {
    PolicyError::malformed(format!("Invalid Condition value for {op} on key {key}"))
}

/// A condition value as text: strings as-is, numbers and booleans in their JSON spelling.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Parses one operator block (`"StringEquals": {"s3:prefix": ["a", "b"]}`) into one
    /// condition per key. `variables`: the policy is Version 2012-10-17.
    pub(crate) fn parse_block(
        name: &str,
        body: &Value,
        variables: bool,
    ) -> Result<Vec<Condition>, PolicyError> {
        let unknown = || PolicyError::malformed(format!("Invalid Condition type : {name}"));
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let &(_, op, negated) = OPERATORS
            .iter()
            .find(|(n, _, _)| *n == base)
            .ok_or_else(unknown)?;
        if op == ConditionOp::Null && (if_exists || qualifier != SetQualifier::None) {
            return Err(unknown());
        }
        let Value::Object(keys) = body else {
            return Err(PolicyError::malformed(format!(
                "Invalid Condition block for {name}"
            )));
        };
        let mut out = Vec::with_capacity(keys.len());
        for (key, raw) in keys {
            if key.is_empty() {
                return Err(PolicyError::malformed(
                    "Policy has an invalid condition key",
                ));
            }
            let texts = match raw {
                Value::Array(items) => items.iter().map(scalar_text).collect::<Option<Vec<_>>>(),
                scalar => scalar_text(scalar).map(|t| vec![t]),
            }
            .ok_or_else(|| bad_value(name, key))?;
            let values =
                compile_values(op, &texts, variables).ok_or_else(|| bad_value(name, key))?;
            out.push(Condition {
                op,
                negated,
                if_exists,
                qualifier,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
        Ok(out)
    }

    /// The base operator.
    pub fn op(&self) -> ConditionOp {
        self.op
    }

    /// The negated form (StringNotEquals, NotIpAddress, ...).
    pub fn negated(&self) -> bool {
        self.negated
    }

    /// The `...IfExists` form.
    pub fn if_exists(&self) -> bool {
        self.if_exists
    }

    /// The set qualifier.
    pub fn qualifier(&self) -> SetQualifier {
        self.qualifier
    }

    /// The condition key, lowercased.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Evaluates against the request's values for the key (`None`: the key is missing).
    pub(crate) fn eval(&self, request: Option<KeyValues<'_>>, vars: &dyn Vars) -> bool {
        let request = request.filter(|v| !v.is_empty());
        if let Values::Bools(want) = &self.values {
            if self.op == ConditionOp::Null {
                return want.iter().any(|&null| null == request.is_none());
            }
        }
        let Some(request) = request else {
            return match self.qualifier {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => self.if_exists,
                SetQualifier::None => self.if_exists || self.negated,
            };
        };
        // Each request value: does it pass the (possibly negated) operator?
        let passes = |v: &str| self.any_value_matches(v, vars) != self.negated;
        match self.qualifier {
            SetQualifier::ForAllValues => request.iter().all(passes),
            SetQualifier::ForAnyValue => request.iter().any(passes),
            // A plain operator on several request values: the positive match is over any of
            // them, then negated as a whole.
            SetQualifier::None => {
                request.iter().any(|v| self.any_value_matches(v, vars)) != self.negated
            }
        }
    }

    /// Does the request value `v` match at least one policy value (positive sense)?
    fn any_value_matches(&self, v: &str, vars: &dyn Vars) -> bool {
        use ConditionOp as Op;
        match &self.values {
            Values::Strings(ps) => {
                let fold = self.op == Op::StringEqualsIgnoreCase;
                ps.iter().any(|p| p.matches(v, vars, fold))
            }
            Values::Numbers(ns) => {
                let Some(x) = v.trim().parse::<f64>().ok().filter(|x| x.is_finite()) else {
                    return false;
                };
                ns.iter().any(|&n| compare(self.op, x.partial_cmp(&n)))
            }
            Values::Dates(ds) => {
                let Some(x) = parse_date(v) else {
                    return false;
                };
                ds.iter().any(|&d| compare(self.op, Some(x.cmp(&d))))
            }
            Values::Bools(bs) => {
                let x = if v.eq_ignore_ascii_case("true") {
                    true
                } else if v.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return false;
                };
                bs.contains(&x)
            }
            Values::Binary(bs) => bs.iter().any(|b| b == v),
            Values::Cidrs(cs) => match v.trim().parse::<IpAddr>() {
                Ok(ip) => cs.iter().any(|c| c.contains(ip)),
                Err(_) => false,
            },
            Values::Arns(ps) => ps.iter().any(|p| p.matches(v, vars)),
        }
    }

    /// True when this condition limits a statement to fixed identities or networks, as
    /// S3's "The meaning of public" requires: a positive operator (no IfExists, no
    /// ForAllValues) on one of the listed keys, with fixed values (no wildcard, no variable).
    pub(crate) fn restricts_public_access(&self) -> bool {
        const FIXED_KEYS: &[&str] = &[
            "aws:sourcearn",
            "aws:sourcevpc",
            "aws:sourcevpce",
            "aws:sourceowner",
            "aws:sourceaccount",
            "aws:principalaccount",
            "aws:principalarn",
            "aws:principalorgid",
            "aws:userid",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ];
        if self.negated || self.if_exists || self.qualifier == SetQualifier::ForAllValues {
            return false;
        }
        match &self.values {
            Values::Cidrs(cs) => self.key == "aws:sourceip" && cs.iter().all(Cidr::is_narrow),
            Values::Strings(ps) if FIXED_KEYS.contains(&self.key.as_str()) => {
                ps.iter().all(Pattern::is_fixed)
            }
            Values::Arns(ps) if FIXED_KEYS.contains(&self.key.as_str()) => {
                ps.iter().all(|p| p.whole.is_fixed())
            }
            _ => false,
        }
    }
}

fn compare(op: ConditionOp, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use ConditionOp as Op;
    match (op, ord) {
        (_, None) => false,
        (Op::NumericEquals | Op::DateEquals, Some(o)) => o == Equal,
        (Op::NumericLessThan | Op::DateLessThan, Some(o)) => o == Less,
        (Op::NumericLessThanEquals | Op::DateLessThanEquals, Some(o)) => o != Greater,
        (Op::NumericGreaterThan | Op::DateGreaterThan, Some(o)) => o == Greater,
        (Op::NumericGreaterThanEquals | Op::DateGreaterThanEquals, Some(o)) => o != Less,
        _ => false,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Compiles the policy values of one key; `None` when a value does not fit the operator.
fn compile_values(op: ConditionOp, texts: &[String], variables: bool) -> Option<Values> {
    use ConditionOp as Op;
    Some(match op {
        Op::StringEquals | Op::StringEqualsIgnoreCase | Op::StringLike => {
            let syntax = Syntax {
                wildcards: op == Op::StringLike,
                variables,
            };
            Values::Strings(texts.iter().map(|t| Pattern::compile(t, syntax)).collect())
        }
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThan
        | Op::NumericGreaterThanEquals => Values::Numbers(
            texts
                .iter()
                .map(|t| t.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect::<Option<_>>()?,
        ),
        Op::DateEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => {
            Values::Dates(texts.iter().map(|t| parse_date(t)).collect::<Option<_>>()?)
        }
        Op::Bool | Op::Null => {
            Values::Bools(texts.iter().map(|t| parse_bool(t)).collect::<Option<_>>()?)
        }
        Op::BinaryEquals => {
            // Normalized so that the request's base64 text compares as a string.
            let engine = base64::engine::general_purpose::STANDARD;
            Values::Binary(
                texts
                    .iter()
                    .map(|t| engine.decode(t.trim()).ok().map(|b| engine.encode(b)))
                    .collect::<Option<_>>()?,
            )
        }
        Op::IpAddress => Values::Cidrs(
            texts
                .iter()
                .map(|t| Cidr::parse(t))
                .collect::<Option<_>>()?,
        ),
        Op::ArnEquals | Op::ArnLike => Values::Arns(
            texts
                .iter()
                .map(|t| ArnPattern::compile(t, variables))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::matching::NoVars;
    use serde_json::json;

    fn cond(op: &str, key: &str, values: Value) -> Condition {
        Condition::parse_block(op, &json!({ key: values }), true)
            .unwrap()
            .remove(0)
    }

    fn eval(c: &Condition, request: Option<&[&str]>) -> bool {
        let owned: Option<Vec<String>> = request.map(|r| r.iter().map(|s| s.to_string()).collect());
        c.eval(owned.as_deref().map(KeyValues::Many), &NoVars)
    }

    fn reason(op: &str, body: Value) -> String {
        match Condition::parse_block(op, &body, true) {
            Err(PolicyError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn string_equals_is_case_sensitive_and_ors_values() {
        let c = cond(
            "StringEquals",
            "s3:x-amz-acl",
            json!(["private", "public-read"]),
        );
        assert!(eval(&c, Some(&["public-read"])));
        assert!(eval(&c, Some(&["private"])));
        assert!(!eval(&c, Some(&["Private"])));
        assert!(!eval(&c, Some(&["authenticated-read"])));
    }

    #[test]
    fn string_equals_does_not_treat_star_as_wildcard() {
        let c = cond("StringEquals", "s3:prefix", json!("home/*"));
        assert!(eval(&c, Some(&["home/*"])));
        assert!(!eval(&c, Some(&["home/alice"])));
    }

    #[test]
    fn string_not_equals_with_several_values_is_a_nor() {
        // IAM User Guide, Condition operators: with several values a negated operator holds
        // only when the request value equals none of them.
        let c = cond(
            "StringNotEquals",
            "aws:PrincipalTag/role",
            json!(["audit", "security"]),
        );
        assert!(!eval(&c, Some(&["audit"])));
        assert!(!eval(&c, Some(&["security"])));
        assert!(eval(&c, Some(&["dev"])));
    }

    #[test]
    fn string_equals_ignore_case_and_its_negation() {
        let c = cond("StringEqualsIgnoreCase", "aws:username", json!("Alice"));
        assert!(eval(&c, Some(&["ALICE"])));
        assert!(!eval(&c, Some(&["alicia"])));
        let n = cond("StringNotEqualsIgnoreCase", "aws:username", json!("Alice"));
        assert!(!eval(&n, Some(&["alice"])));
        assert!(eval(&n, Some(&["bob"])));
    }

    #[test]
    fn string_like_and_not_like_use_wildcards() {
        let c = cond("StringLike", "s3:prefix", json!(["home/*", "pub??"]));
        assert!(eval(&c, Some(&["home/"])));
        assert!(eval(&c, Some(&["home/a/b"])));
        assert!(eval(&c, Some(&["pub01"])));
        assert!(!eval(&c, Some(&["pub1"])));
        let n = cond("StringNotLike", "s3:prefix", json!("home/*"));
        assert!(!eval(&n, Some(&["home/x"])));
        assert!(eval(&n, Some(&["other/x"])));
    }

    #[test]
    fn missing_key_makes_positive_operators_false() {
        for (op, v) in [
            ("StringEquals", json!("a")),
            ("StringEqualsIgnoreCase", json!("a")),
            ("StringLike", json!("*")),
            ("NumericEquals", json!(1)),
            ("NumericLessThan", json!(1)),
            ("DateGreaterThan", json!("2020-01-01")),
            ("Bool", json!(true)),
            ("BinaryEquals", json!("QmluYXJ5")),
            ("IpAddress", json!("0.0.0.0/0")),
            ("ArnEquals", json!("arn:aws:iam::123456789012:root")),
            ("ArnLike", json!("*")),
        ] {
            assert!(!eval(&cond(op, "k", v), None), "{op}");
        }
    }

    #[test]
    fn missing_key_makes_negated_operators_true() {
        // IAM User Guide, Condition operators: "If the policy condition requires that the key
        // is not matched, such as StringNotLike or ArnNotLike, and the right key is not
        // present, the condition is true."
        for (op, v) in [
            ("StringNotEquals", json!("a")),
            ("StringNotEqualsIgnoreCase", json!("a")),
            ("StringNotLike", json!("*")),
            ("NumericNotEquals", json!(1)),
            ("DateNotEquals", json!("2020-01-01")),
            ("NotIpAddress", json!("10.0.0.0/8")),
            ("ArnNotEquals", json!("arn:aws:iam::123456789012:root")),
            ("ArnNotLike", json!("*")),
        ] {
            assert!(eval(&cond(op, "k", v), None), "{op}");
        }
    }

    #[test]
    fn if_exists_is_true_when_the_key_is_missing_and_tests_it_otherwise() {
        let c = cond("StringEqualsIfExists", "s3:x-amz-acl", json!("private"));
        assert!(eval(&c, None));
        assert!(eval(&c, Some(&[])));
        assert!(eval(&c, Some(&["private"])));
        assert!(!eval(&c, Some(&["public-read"])));
        let n = cond("NumericLessThanIfExists", "s3:max-keys", json!(10));
        assert!(eval(&n, None));
        assert!(eval(&n, Some(&["9"])));
        assert!(!eval(&n, Some(&["10"])));
        let ip = cond("NotIpAddressIfExists", "aws:SourceIp", json!("10.0.0.0/8"));
        assert!(eval(&ip, None));
        assert!(!eval(&ip, Some(&["10.1.2.3"])));
        assert!(eval(&ip, Some(&["192.0.2.1"])));
        let d = cond(
            "DateLessThanIfExists",
            "aws:CurrentTime",
            json!("2030-01-01"),
        );
        assert!(eval(&d, None));
        let b = cond("BoolIfExists", "aws:SecureTransport", json!("true"));
        assert!(eval(&b, None));
        assert!(!eval(&b, Some(&["false"])));
        let a = cond("ArnLikeIfExists", "aws:SourceArn", json!("arn:aws:s3:::b*"));
        assert!(eval(&a, None));
        assert!(!eval(&a, Some(&["arn:aws:s3:::x"])));
    }

    #[test]
    fn numeric_operators_compare_integers_and_decimals() {
        let cases = [
            ("NumericEquals", "10", [false, true, false]),
            ("NumericNotEquals", "10", [true, false, true]),
            ("NumericLessThan", "10", [true, false, false]),
            ("NumericLessThanEquals", "10", [true, true, false]),
            ("NumericGreaterThan", "10", [false, false, true]),
            ("NumericGreaterThanEquals", "10", [false, true, true]),
        ];
        for (op, v, want) in cases {
            let c = cond(op, "s3:max-keys", json!(v));
            for (input, w) in ["9.5", "10", "11"].iter().zip(want) {
                assert_eq!(eval(&c, Some(&[input])), w, "{op} {input}");
            }
        }
        // JSON numbers are accepted as values too.
        assert!(eval(
            &cond("NumericEquals", "k", json!(2.5)),
            Some(&["2.50"])
        ));
        // A request value that is not a number matches nothing.
        assert!(!eval(
            &cond("NumericLessThan", "k", json!(5)),
            Some(&["abc"])
        ));
    }

    #[test]
    fn date_operators_accept_iso8601_and_epoch_seconds() {
        let noon = "2019-07-16T12:00:00Z";
        let cases = [
            ("DateEquals", [false, true, false]),
            ("DateNotEquals", [true, false, true]),
            ("DateLessThan", [true, false, false]),
            ("DateLessThanEquals", [true, true, false]),
            ("DateGreaterThan", [false, false, true]),
            ("DateGreaterThanEquals", [false, true, true]),
        ];
        for (op, want) in cases {
            let c = cond(op, "aws:CurrentTime", json!(noon));
            for (input, w) in ["2019-07-16T11:59:59Z", "1563278400", "2019-07-17"]
                .iter()
                .zip(want)
            {
                assert_eq!(eval(&c, Some(&[input])), w, "{op} {input}");
            }
        }
        // The policy value may be epoch seconds too.
        let e = cond("DateEquals", "aws:EpochTime", json!(1563278400));
        assert!(eval(&e, Some(&["2019-07-16T14:00:00+02:00"])));
    }

    #[test]
    fn bool_matches_true_and_false_case_insensitively() {
        let c = cond("Bool", "aws:SecureTransport", json!("false"));
        assert!(eval(&c, Some(&["false"])));
        assert!(eval(&c, Some(&["FALSE"])));
        assert!(!eval(&c, Some(&["true"])));
        assert!(!eval(&c, Some(&["yes"])));
        assert!(eval(&cond("Bool", "k", json!(true)), Some(&["true"])));
    }

    #[test]
    fn ip_address_matches_ipv4_and_ipv6_cidrs() {
        // S3 User Guide, Bucket policy examples, "Restricting access to specific IP
        // addresses": 54.240.143.0/24 allowed except 54.240.143.188, and IPv6 2600:1f18::/32.
        let allow = cond(
            "IpAddress",
            "aws:SourceIp",
            json!(["54.240.143.0/24", "2600:1f18::/32"]),
        );
        let except = cond("NotIpAddress", "aws:SourceIp", json!("54.240.143.188/32"));
        let both = |ip: &str| eval(&allow, Some(&[ip])) && eval(&except, Some(&[ip]));
        assert!(both("54.240.143.1"));
        assert!(!both("54.240.143.188"));
        assert!(!both("54.240.144.1"));
        assert!(both("2600:1f18:abcd::1"));
        assert!(!both("2600:1f19::1"));
        // A bare address is a /32; a v4 network never matches a v6 address.
        let host = cond("IpAddress", "aws:SourceIp", json!("192.0.2.7"));
        assert!(eval(&host, Some(&["192.0.2.7"])));
        assert!(!eval(&host, Some(&["192.0.2.8"])));
        assert!(!eval(&host, Some(&["::1"])));
        // An IPv4-mapped IPv6 request address counts as IPv4.
        assert!(eval(&host, Some(&["::ffff:192.0.2.7"])));
        assert!(eval(
            &cond("IpAddress", "k", json!("0.0.0.0/0")),
            Some(&["8.8.8.8"])
        ));
    }

    #[test]
    fn null_tests_presence() {
        let absent = cond("Null", "aws:TokenIssueTime", json!("true"));
        assert!(eval(&absent, None));
        assert!(eval(&absent, Some(&[])));
        assert!(!eval(&absent, Some(&["x"])));
        let present = cond("Null", "aws:TokenIssueTime", json!(false));
        assert!(!eval(&present, None));
        assert!(eval(&present, Some(&["x"])));
    }

    #[test]
    fn arn_operators_match_component_by_component() {
        let any_root = cond("ArnLike", "aws:PrincipalArn", json!("arn:aws:iam::*:root"));
        assert!(eval(&any_root, Some(&["arn:aws:iam::123456789012:root"])));
        assert!(!eval(
            &any_root,
            Some(&["arn:aws:iam::123456789012:user/root"])
        ));
        // `*` stays inside its component: it cannot swallow the region and account.
        let c = cond(
            "ArnLike",
            "aws:SourceArn",
            json!("arn:aws:sns:*:123456789012:topic"),
        );
        assert!(eval(
            &c,
            Some(&["arn:aws:sns:us-east-1:123456789012:topic"])
        ));
        assert!(!eval(
            &c,
            Some(&["arn:aws:sns:us-east-1:999:123456789012:topic"])
        ));
        // The resource part keeps its own colons.
        let r = cond(
            "ArnEquals",
            "aws:SourceArn",
            json!("arn:aws:s3:::bucket/a:b"),
        );
        assert!(eval(&r, Some(&["arn:aws:s3:::bucket/a:b"])));
        assert!(!eval(&r, Some(&["arn:aws:s3:::bucket/a"])));
        let n = cond("ArnNotLike", "aws:SourceArn", json!("arn:aws:s3:::logs-*"));
        assert!(!eval(&n, Some(&["arn:aws:s3:::logs-1"])));
        assert!(eval(&n, Some(&["arn:aws:s3:::data"])));
        let ne = cond("ArnNotEquals", "aws:SourceArn", json!("arn:aws:s3:::data"));
        assert!(!eval(&ne, Some(&["arn:aws:s3:::data"])));
        assert!(eval(&ne, Some(&["arn:aws:s3:::other"])));
    }

    #[test]
    fn binary_equals_compares_base64_values() {
        let c = cond("BinaryEquals", "k", json!("QmluYXJ5VmFsdWVJbkJhc2U2NA=="));
        assert!(eval(&c, Some(&["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])));
        assert!(!eval(&c, Some(&["QmluYXJ5"])));
    }

    #[test]
    fn for_any_value_needs_one_matching_request_value() {
        let c = cond(
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            json!(["env", "team"]),
        );
        assert!(eval(&c, Some(&["x", "team"])));
        assert!(!eval(&c, Some(&["x", "y"])));
        // Missing key or empty set: false.
        assert!(!eval(&c, None));
        assert!(!eval(&c, Some(&[])));
        let ie = cond(
            "ForAnyValue:StringEqualsIfExists",
            "aws:TagKeys",
            json!("env"),
        );
        assert!(eval(&ie, None));
    }

    #[test]
    fn for_all_values_needs_every_request_value_to_match() {
        // IAM User Guide, "Single-valued vs. multivalued context keys": ForAllValues is also
        // true when the key is missing from the request.
        let c = cond(
            "ForAllValues:StringLike",
            "aws:TagKeys",
            json!(["env*", "team"]),
        );
        assert!(eval(&c, Some(&["env-a", "team"])));
        assert!(!eval(&c, Some(&["env-a", "cost"])));
        assert!(eval(&c, None));
        assert!(eval(&c, Some(&[])));
    }

    #[test]
    fn set_qualifiers_with_negated_operators_apply_per_request_value() {
        let all = cond(
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            json!(["secret", "admin"]),
        );
        assert!(eval(&all, Some(&["env", "team"])));
        assert!(!eval(&all, Some(&["env", "admin"])));
        assert!(eval(&all, None));
        let any = cond(
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            json!("secret"),
        );
        assert!(eval(&any, Some(&["secret", "env"])));
        assert!(!eval(&any, Some(&["secret"])));
        assert!(!eval(&any, None));
        // A single request value given as one string behaves as a one-element set.
        assert!(!any.eval(Some(KeyValues::One("secret")), &NoVars));
        assert!(any.eval(Some(KeyValues::One("env")), &NoVars));
    }

    #[test]
    fn plain_operator_on_several_request_values_matches_any_of_them() {
        let c = cond("StringEquals", "k", json!("a"));
        assert!(eval(&c, Some(&["b", "a"])));
        let n = cond("StringNotEquals", "k", json!("a"));
        assert!(!eval(&n, Some(&["b", "a"])));
        assert!(eval(&n, Some(&["b", "c"])));
    }

    #[test]
    fn several_keys_in_one_operator_become_separate_conditions() {
        let v = Condition::parse_block(
            "StringEquals",
            &json!({"s3:prefix": "a", "S3:Delimiter": "/"}),
            true,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        // Condition keys are case-insensitive: stored lowercased.
        assert!(v.iter().any(|c| c.key() == "s3:delimiter"));
    }

    /// A value each operator accepts.
    fn sample_value(op: ConditionOp) -> Value {
        use ConditionOp as Op;
        match op {
            Op::NumericEquals
            | Op::NumericLessThan
            | Op::NumericLessThanEquals
            | Op::NumericGreaterThan
            | Op::NumericGreaterThanEquals => json!(5),
            Op::DateEquals
            | Op::DateLessThan
            | Op::DateLessThanEquals
            | Op::DateGreaterThan
            | Op::DateGreaterThanEquals => json!("2020-01-01T00:00:00Z"),
            Op::Bool | Op::Null => json!("true"),
            Op::BinaryEquals => json!("QmluYXJ5"),
            Op::IpAddress => json!("10.0.0.0/8"),
            _ => json!("x"),
        }
    }

    #[test]
    fn every_operator_has_an_if_exists_form_true_on_a_missing_key() {
        for (name, op, negated) in OPERATORS
            .iter()
            .filter(|(_, op, _)| *op != ConditionOp::Null)
        {
            let c = cond(&format!("{name}IfExists"), "k", sample_value(*op));
            assert!(
                c.if_exists() && c.negated() == *negated && c.op() == *op,
                "{name}"
            );
            assert!(eval(&c, None), "{name}IfExists on a missing key");
        }
    }

    #[test]
    fn every_operator_takes_both_set_qualifiers() {
        for (name, op, _) in OPERATORS
            .iter()
            .filter(|(_, op, _)| *op != ConditionOp::Null)
        {
            let any = cond(&format!("ForAnyValue:{name}"), "k", sample_value(*op));
            let all = cond(&format!("ForAllValues:{name}"), "k", sample_value(*op));
            assert_eq!(any.qualifier(), SetQualifier::ForAnyValue);
            assert_eq!(all.qualifier(), SetQualifier::ForAllValues);
            assert!(!eval(&any, Some(&[])), "ForAnyValue:{name} on an empty set");
            assert!(eval(&all, Some(&[])), "ForAllValues:{name} on an empty set");
        }
    }

    #[test]
    fn unknown_operator_is_refused() {
        assert_eq!(
            reason("StringEqualz", json!({"k": "v"})),
            "Invalid Condition type : StringEqualz"
        );
        assert_eq!(
            reason("stringequals", json!({"k": "v"})),
            "Invalid Condition type : stringequals"
        );
        assert_eq!(
            reason("ForSomeValues:StringEquals", json!({"k": "v"})),
            "Invalid Condition type : ForSomeValues:StringEquals"
        );
    }

    #[test]
    fn null_has_no_if_exists_or_set_form() {
        assert_eq!(
            reason("NullIfExists", json!({"k": "true"})),
            "Invalid Condition type : NullIfExists"
        );
        assert_eq!(
            reason("ForAllValues:Null", json!({"k": "true"})),
            "Invalid Condition type : ForAllValues:Null"
        );
    }

    #[test]
    fn values_that_do_not_fit_the_operator_are_refused() {
        for (op, v) in [
            ("NumericEquals", json!("ten")),
            ("DateEquals", json!("yesterday")),
            ("IpAddress", json!("10.0.0.0/33")),
            ("IpAddress", json!("host.example")),
            ("Bool", json!("yes")),
            ("Null", json!("maybe")),
            ("BinaryEquals", json!("***")),
            ("StringEquals", json!({"nested": 1})),
            ("StringEquals", json!(null)),
        ] {
            assert_eq!(
                reason(op, json!({ "k": v })),
                format!("Invalid Condition value for {op} on key k")
            );
        }
        assert_eq!(
            reason("StringEquals", json!("not-an-object")),
            "Invalid Condition block for StringEquals"
        );
    }

    #[test]
    fn cidr_narrowness_for_public_test() {
        assert!(Cidr::parse("10.0.0.0/8").is_some_and(|c| c.is_narrow()));
        assert!(Cidr::parse("0.0.0.0/1").is_some_and(|c| !c.is_narrow()));
        assert!(Cidr::parse("2001:db8::/32").is_some_and(|c| c.is_narrow()));
        assert!(Cidr::parse("::/0").is_some_and(|c| !c.is_narrow()));
    }
}
