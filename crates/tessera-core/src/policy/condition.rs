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
    pub(crate) fn eval(&self, request: Option<&[String]>, vars: &dyn Vars) -> bool {
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
        let passes = |v: &String| self.any_value_matches(v, vars) != self.negated;
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
