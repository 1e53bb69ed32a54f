//! AWS's evaluation logic over compiled policies (IAM User Guide, "Policy evaluation logic",
//! "Policy evaluation for requests within a single account", "Cross-account policy
//! evaluation logic"), and S3's "public" test for bucket policies.

use super::context::{Caller, RequestContext};
use super::document::{Effect, Policy, PrincipalMatch};

/// The outcome of one authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A Deny statement applied: nothing can override it.
    ExplicitDeny,
    /// Allowed.
    Allow,
    /// Nothing allowed the request (the default).
    ImplicitDeny,
}

impl Decision {
    /// True only for [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// The bucket-owner root may always manage the bucket policy, even against its Deny
/// (S3 API reference, PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy).
const ROOT_LOCKOUT_EXEMPT: &[&str] = &[
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

/// (any Deny applied, best Allow principal match) for one policy.
fn scan(policy: &Policy, ctx: &RequestContext) -> (bool, PrincipalMatch) {
    let mut allow = PrincipalMatch::No;
    for st in policy.statements() {
        // Cheapest tests first; nothing here allocates.
        if !st.matches_action(&ctx.action) {
            continue;
        }
        let principal = st.principal_match(&ctx.caller);
        if principal == PrincipalMatch::No || !st.matches_resource(ctx) || !st.conditions_hold(ctx)
        {
            continue;
        }
        match st.effect() {
            Effect::Deny => return (true, allow),
            Effect::Allow => allow = allow.max(principal),
        }
    }
    (false, allow)
}

/// What the bucket brings to a decision besides its policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceAccess {
    /// The caller (its account, a group it is in, or AllUsers) has the needed ACL grant.
    /// Counts like a bucket-policy grant to the caller's account. With IgnorePublicAcls the
    /// caller leaves AllUsers / AuthenticatedUsers grants out of it.
    pub acl_allows: bool,
    /// PublicAccessBlock RestrictPublicBuckets: when the bucket policy is public, it grants
    /// nothing to anonymous callers or other accounts ("public and cross-account access within
    /// any public bucket policy, including non-public delegation to specific accounts, is
    /// blocked": S3 API reference, PublicAccessBlockConfiguration).
    pub restrict_public_buckets: bool,
    /// The policy was put with `x-amz-confirm-remove-self-bucket-access`: the owner's root
    /// loses its right to manage the bucket policy against the policy's Deny.
    pub self_lockout_confirmed: bool,
}

/// [`evaluate_with`] without an ACL grant or PublicAccessBlock.
pub fn evaluate(
    identity_policies: &[&Policy],
    resource_policy: Option<&Policy>,
    resource_owner_account: Option<&str>,
    ctx: &RequestContext,
) -> Decision {
    evaluate_with(
        identity_policies,
        resource_policy,
        resource_owner_account,
        ctx,
        ResourceAccess::default(),
    )
}

/// [`evaluate_with`] with only an ACL grant.
pub fn evaluate_with_acl(
    identity_policies: &[&Policy],
    resource_policy: Option<&Policy>,
    resource_owner_account: Option<&str>,
    ctx: &RequestContext,
    acl_allows: bool,
) -> Decision {
    evaluate_with(
        identity_policies,
        resource_policy,
        resource_owner_account,
        ctx,
        ResourceAccess {
            acl_allows,
            ..ResourceAccess::default()
        },
    )
}

/// Decides one request.
///
/// - `identity_policies`: the caller's IAM user policies (none for root and anonymous).
/// - `resource_policy`: the bucket policy; `resource_owner_account`: the bucket owner's
///   account id (`None` for requests on no resource, like ListBuckets: same-account rules).
/// - `access`: the ACL grant and RestrictPublicBuckets ([`ResourceAccess`]); an ACL grant
///   counts like a bucket-policy grant to the caller's account, so an IAM user also needs
///   its own policy to allow (S3's user-context check).
///
/// Rules: any applicable Deny wins. Anonymous: only a grant to everyone (policy `*` or a
/// public ACL). Root of the owning account: allowed unless a bucket-policy Deny applies, and
/// always for the bucket-policy actions. Root of another account: needs a grant. IAM user of
/// the owning account: its policy allows, or the bucket policy names it (its ARN or `*`); a
/// grant to the account alone is not enough. IAM user of another account: its policy must
/// allow and a grant (bucket policy or ACL) must reach it.
pub fn evaluate_with(
    identity_policies: &[&Policy],
    resource_policy: Option<&Policy>,
    resource_owner_account: Option<&str>,
    ctx: &RequestContext,
    access: ResourceAccess,
) -> Decision {
    let caller = &ctx.caller;
    let same_account = match (resource_owner_account, caller.account_id()) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(owner), Some(account)) => owner == account,
    };
    if let Caller::Root { .. } = caller {
        if same_account
            && resource_owner_account.is_some()
            && !access.self_lockout_confirmed
            && ROOT_LOCKOUT_EXEMPT
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&ctx.action))
        {
            return Decision::Allow;
        }
    }
    let mut identity_allow = false;
    for policy in identity_policies {
        let (deny, allow) = scan(policy, ctx);
        if deny {
            return Decision::ExplicitDeny;
        }
        identity_allow |= allow != PrincipalMatch::No;
    }
    let (deny, resource_allow) = match resource_policy {
        Some(policy) => scan(policy, ctx),
        None => (false, PrincipalMatch::No),
    };
    if deny {
        return Decision::ExplicitDeny;
    }
    // Only the owning account keeps what a public policy grants under RestrictPublicBuckets.
    let resource_allow = match resource_policy {
        Some(policy)
            if access.restrict_public_buckets
                && policy.public()
                && resource_owner_account.is_some()
                && !same_account =>
        {
            PrincipalMatch::No
        }
        _ => resource_allow,
    };
    let granted = resource_allow != PrincipalMatch::No || access.acl_allows;
    let allowed = match caller {
        Caller::Anonymous => granted,
        Caller::Root { .. } => same_account || granted,
        Caller::User { .. } if same_account => {
            identity_allow || resource_allow == PrincipalMatch::Direct
        }
        Caller::User { .. } => identity_allow && granted,
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether a bucket policy is public (S3 User Guide, "The meaning of public"): some Allow
/// statement grants to everyone (`*`, or through NotPrincipal) without a condition that
/// pins it to fixed values of aws:SourceIp (a CIDR of at least /8 for IPv4, /32 for IPv6),
/// aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
/// aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalOrgID, aws:userid or
/// s3:x-amz-server-side-encryption-aws-kms-key-id.
pub fn is_public(policy: &Policy) -> bool {
    policy.public()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyKind, RequestContext};
    use serde_json::{json, Value};

    /// The bucket owner's account and another account.
    const OWNER: &str = "111122223333";
    const OTHER: &str = "444455556666";
    /// 2019-07-16T12:00:00Z.
    const NOW: i64 = 1_563_278_400_000;
    const OBJ: &str = "arn:aws:s3:::mybucket/home/alice/notes.txt";

    fn root(account: &str) -> Caller {
        Caller::Root {
            account_id: account.into(),
            canonical_id: format!("canon{account}"),
        }
    }

    fn user(account: &str, name: &str) -> Caller {
        Caller::User {
            account_id: account.into(),
            canonical_id: format!("canon{account}"),
            user_name: name.into(),
            user_id: format!("AIDA{}", name.to_uppercase()),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
        }
    }

    fn ctx(caller: Caller, action: &str, resource: &str) -> RequestContext {
        RequestContext::new(
            caller,
            action,
            resource,
            NOW,
            Some("192.0.2.10".parse().unwrap()),
            true,
        )
    }

    fn bucket_policy(statements: Value) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Statement": statements});
        Policy::parse(&doc.to_string(), &PolicyKind::bucket("mybucket")).unwrap()
    }

    fn user_policy(statements: Value) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Statement": statements});
        Policy::parse(&doc.to_string(), &PolicyKind::identity()).unwrap()
    }

    fn allow_to(principal: Value) -> Policy {
        bucket_policy(json!([{
            "Effect": "Allow", "Principal": principal,
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"
        }]))
    }

    fn user_allows_get() -> Policy {
        user_policy(json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]))
    }

    /// (name, request, identity policies, bucket policy, expected decision).
    type Case<'a> = (
        &'a str,
        &'a RequestContext,
        &'a [&'a Policy],
        Option<&'a Policy>,
        Decision,
    );

    fn decide(ids: &[&Policy], rp: Option<&Policy>, c: &RequestContext) -> Decision {
        evaluate(ids, rp, Some(OWNER), c)
    }

    #[test]
    fn same_account_user_without_any_policy_is_implicitly_denied() {
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        assert_eq!(decide(&[], None, &c), Decision::ImplicitDeny);
    }

    #[test]
    fn same_account_user_allowed_by_its_own_policy() {
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        assert_eq!(decide(&[&user_allows_get()], None, &c), Decision::Allow);
        let put = ctx(user(OWNER, "alice"), "s3:PutObject", OBJ);
        assert_eq!(
            decide(&[&user_allows_get()], None, &put),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn same_account_user_allowed_by_bucket_policy_naming_its_arn() {
        // IAM User Guide, "Policy evaluation for requests within a single account": either
        // the identity-based or the resource-based policy allowing is enough.
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let rp = allow_to(json!({"AWS": format!("arn:aws:iam::{OWNER}:user/alice")}));
        assert_eq!(decide(&[], Some(&rp), &c), Decision::Allow);
        let bob = ctx(user(OWNER, "bob"), "s3:GetObject", OBJ);
        assert_eq!(decide(&[], Some(&rp), &bob), Decision::ImplicitDeny);
    }

    #[test]
    fn same_account_user_allowed_by_bucket_policy_to_everyone() {
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        assert_eq!(
            decide(&[], Some(&allow_to(json!("*"))), &c),
            Decision::Allow
        );
    }

    #[test]
    fn bucket_policy_naming_only_the_account_does_not_reach_its_users_alone() {
        // IAM User Guide, "AWS JSON policy elements: Principal" (AWS account principals): a
        // grant to the account delegates to the account's own identity policies.
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let rp = allow_to(json!({"AWS": OWNER}));
        assert_eq!(decide(&[], Some(&rp), &c), Decision::ImplicitDeny);
        assert_eq!(
            decide(&[&user_allows_get()], Some(&rp), &c),
            Decision::Allow
        );
    }

    #[test]
    fn owner_root_is_allowed_without_policies() {
        let c = ctx(root(OWNER), "s3:DeleteBucket", "arn:aws:s3:::mybucket");
        assert_eq!(decide(&[], None, &c), Decision::Allow);
        // Requests on no resource (ListBuckets, CreateBucket) follow the same-account rule.
        let list = ctx(root(OWNER), "s3:ListAllMyBuckets", "*");
        assert_eq!(evaluate(&[], None, None, &list), Decision::Allow);
        let alice = ctx(user(OWNER, "alice"), "s3:ListAllMyBuckets", "*");
        assert_eq!(evaluate(&[], None, None, &alice), Decision::ImplicitDeny);
    }

    #[test]
    fn bucket_policy_deny_applies_to_owner_root() {
        let rp = bucket_policy(json!([{
            "Effect": "Deny", "Principal": {"AWS": OWNER},
            "Action": "s3:*", "Resource": ["arn:aws:s3:::mybucket", "arn:aws:s3:::mybucket/*"]
        }]));
        let c = ctx(root(OWNER), "s3:GetObject", OBJ);
        assert_eq!(decide(&[], Some(&rp), &c), Decision::ExplicitDeny);
    }

    #[test]
    fn owner_root_can_always_manage_the_bucket_policy() {
        // S3 API reference, PutBucketPolicy: the bucket owner's root can Get/Put/Delete the
        // bucket policy even if the policy denies it (no lockout).
        let rp = bucket_policy(json!([{
            "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": "arn:aws:s3:::mybucket"
        }]));
        let b = "arn:aws:s3:::mybucket";
        for action in [
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
        ] {
            let c = ctx(root(OWNER), action, b);
            assert_eq!(decide(&[], Some(&rp), &c), Decision::Allow, "{action}");
        }
        let c = ctx(root(OWNER), "s3:PutBucketAcl", b);
        assert_eq!(decide(&[], Some(&rp), &c), Decision::ExplicitDeny);
        // Not for another account's root, nor for the owner's IAM users.
        let other = ctx(root(OTHER), "s3:PutBucketPolicy", b);
        assert_eq!(decide(&[], Some(&rp), &other), Decision::ExplicitDeny);
        let alice = ctx(user(OWNER, "alice"), "s3:PutBucketPolicy", b);
        assert_eq!(decide(&[], Some(&rp), &alice), Decision::ExplicitDeny);
        // Put with x-amz-confirm-remove-self-bucket-access: the root locked itself out.
        let confirmed = ResourceAccess {
            self_lockout_confirmed: true,
            ..ResourceAccess::default()
        };
        let c = ctx(root(OWNER), "s3:GetBucketPolicy", b);
        assert_eq!(
            evaluate_with(&[], Some(&rp), Some(OWNER), &c, confirmed),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn cross_account_matrix() {
        // IAM User Guide, "Cross-account policy evaluation logic": both sides must allow.
        let by_account = allow_to(json!({"AWS": OTHER}));
        let by_root_arn = allow_to(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}));
        let by_user_arn = allow_to(json!({"AWS": format!("arn:aws:iam::{OTHER}:user/carol")}));
        let by_canonical = allow_to(json!({"CanonicalUser": format!("canon{OTHER}")}));
        let to_owner_only = allow_to(json!({"AWS": OWNER}));
        let idp = user_allows_get();
        let carol = ctx(user(OTHER, "carol"), "s3:GetObject", OBJ);
        let other_root = ctx(root(OTHER), "s3:GetObject", OBJ);
        let cases: [Case<'_>; 12] = [
            ("user, nothing", &carol, &[], None, Decision::ImplicitDeny),
            (
                "user, own policy only",
                &carol,
                &[&idp],
                None,
                Decision::ImplicitDeny,
            ),
            (
                "user, bucket policy only",
                &carol,
                &[],
                Some(&by_user_arn),
                Decision::ImplicitDeny,
            ),
            (
                "user, both by ARN",
                &carol,
                &[&idp],
                Some(&by_user_arn),
                Decision::Allow,
            ),
            (
                "user, both by account",
                &carol,
                &[&idp],
                Some(&by_account),
                Decision::Allow,
            ),
            (
                "user, both by canonical",
                &carol,
                &[&idp],
                Some(&by_canonical),
                Decision::Allow,
            ),
            (
                "user, grant to others",
                &carol,
                &[&idp],
                Some(&to_owner_only),
                Decision::ImplicitDeny,
            ),
            (
                "root, nothing",
                &other_root,
                &[],
                None,
                Decision::ImplicitDeny,
            ),
            (
                "root, by account",
                &other_root,
                &[],
                Some(&by_account),
                Decision::Allow,
            ),
            (
                "root, by root ARN",
                &other_root,
                &[],
                Some(&by_root_arn),
                Decision::Allow,
            ),
            (
                "root, by canonical",
                &other_root,
                &[],
                Some(&by_canonical),
                Decision::Allow,
            ),
            (
                "root, by a user ARN",
                &other_root,
                &[],
                Some(&by_user_arn),
                Decision::ImplicitDeny,
            ),
        ];
        for (name, c, ids, rp, want) in cases {
            assert_eq!(decide(ids, rp, c), want, "{name}");
        }
    }

    #[test]
    fn anonymous_is_allowed_only_by_a_grant_to_everyone() {
        let anon = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        assert_eq!(decide(&[], None, &anon), Decision::ImplicitDeny);
        assert_eq!(
            decide(&[], Some(&allow_to(json!("*"))), &anon),
            Decision::Allow
        );
        assert_eq!(
            decide(&[], Some(&allow_to(json!({"AWS": "*"}))), &anon),
            Decision::Allow
        );
        assert_eq!(
            decide(&[], Some(&allow_to(json!({"AWS": OWNER}))), &anon),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn acl_grant_counts_like_a_grant_to_the_account() {
        let anon = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        assert_eq!(
            evaluate_with_acl(&[], None, Some(OWNER), &anon, true),
            Decision::Allow
        );
        let other_root = ctx(root(OTHER), "s3:GetObject", OBJ);
        assert_eq!(
            evaluate_with_acl(&[], None, Some(OWNER), &other_root, true),
            Decision::Allow
        );
        // A cross-account IAM user also needs its own account's permission.
        let carol = ctx(user(OTHER, "carol"), "s3:GetObject", OBJ);
        assert_eq!(
            evaluate_with_acl(&[], None, Some(OWNER), &carol, true),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate_with_acl(&[&user_allows_get()], None, Some(OWNER), &carol, true),
            Decision::Allow
        );
        // An explicit deny still wins over the ACL.
        let deny = bucket_policy(json!([{"Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"}]));
        assert_eq!(
            evaluate_with_acl(&[], Some(&deny), Some(OWNER), &anon, true),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn restrict_public_buckets_blocks_outsiders_of_a_public_policy() {
        let restrict = ResourceAccess {
            restrict_public_buckets: true,
            ..ResourceAccess::default()
        };
        // Public (grants to `*`) and also delegating to another account.
        let rp = bucket_policy(json!([
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"},
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::mybucket/*"}
        ]));
        let anon = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        let other_root = ctx(root(OTHER), "s3:PutObject", OBJ);
        let alice = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let run = |c: &RequestContext, a| evaluate_with(&[], Some(&rp), Some(OWNER), c, a);
        assert_eq!(run(&anon, ResourceAccess::default()), Decision::Allow);
        assert_eq!(run(&anon, restrict), Decision::ImplicitDeny);
        assert_eq!(run(&other_root, ResourceAccess::default()), Decision::Allow);
        assert_eq!(run(&other_root, restrict), Decision::ImplicitDeny);
        // The owner's own users keep their access.
        assert_eq!(run(&alice, restrict), Decision::Allow);
        // A policy that is not public keeps its cross-account grants.
        let private = allow_to(json!({"AWS": OTHER}));
        let other_get = ctx(root(OTHER), "s3:GetObject", OBJ);
        assert_eq!(
            evaluate_with(&[], Some(&private), Some(OWNER), &other_get, restrict),
            Decision::Allow
        );
    }

    #[test]
    fn explicit_deny_beats_allow_wherever_it_is() {
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let deny_id = user_policy(json!([{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]));
        let deny_rp = bucket_policy(json!([{"Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"}]));
        let allow_rp = allow_to(json!("*"));
        assert_eq!(
            decide(&[&user_allows_get()], Some(&deny_rp), &c),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&[&deny_id], Some(&allow_rp), &c),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&[&user_allows_get(), &deny_id], None, &c),
            Decision::ExplicitDeny
        );
        // Within one policy, order does not matter.
        let both = bucket_policy(json!([
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::mybucket/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"}
        ]));
        assert_eq!(decide(&[], Some(&both), &c), Decision::ExplicitDeny);
    }

    #[test]
    fn action_names_match_case_insensitively_with_wildcards() {
        let p = user_policy(
            json!([{"Effect": "Allow", "Action": ["s3:Get*", "s3:List?ucket"], "Resource": "*"}]),
        );
        for (action, want) in [
            ("s3:GetObject", Decision::Allow),
            ("S3:GETOBJECTACL", Decision::Allow),
            ("s3:listbucket", Decision::Allow),
            ("s3:ListBuckets", Decision::ImplicitDeny),
            ("s3:PutObject", Decision::ImplicitDeny),
        ] {
            let c = ctx(user(OWNER, "alice"), action, OBJ);
            assert_eq!(decide(&[&p], None, &c), want, "{action}");
        }
        let all = user_policy(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]));
        let c = ctx(user(OWNER, "alice"), "iam:CreateUser", "*");
        assert_eq!(decide(&[&all], None, &c), Decision::Allow);
    }

    #[test]
    fn resource_matching_is_case_sensitive() {
        let p = user_policy(json!([{"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::mybucket/Home/*"}]));
        let upper = ctx(
            user(OWNER, "alice"),
            "s3:GetObject",
            "arn:aws:s3:::mybucket/Home/x",
        );
        let lower = ctx(
            user(OWNER, "alice"),
            "s3:GetObject",
            "arn:aws:s3:::mybucket/home/x",
        );
        assert_eq!(decide(&[&p], None, &upper), Decision::Allow);
        assert_eq!(decide(&[&p], None, &lower), Decision::ImplicitDeny);
    }

    #[test]
    fn not_action_allows_everything_but_the_listed_actions() {
        let p =
            user_policy(json!([{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}]));
        let get = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let del = ctx(user(OWNER, "alice"), "s3:DeleteObject", OBJ);
        assert_eq!(decide(&[&p], None, &get), Decision::Allow);
        assert_eq!(decide(&[&p], None, &del), Decision::ImplicitDeny);
    }

    #[test]
    fn not_resource_deny_applies_outside_the_listed_resources() {
        let allow = user_policy(json!([
            {"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "OnlyHome", "Effect": "Deny", "Action": "s3:*",
             "NotResource": "arn:aws:s3:::mybucket/home/*"}
        ]));
        let inside = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let outside = ctx(
            user(OWNER, "alice"),
            "s3:GetObject",
            "arn:aws:s3:::mybucket/etc/x",
        );
        assert_eq!(decide(&[&allow], None, &inside), Decision::Allow);
        assert_eq!(decide(&[&allow], None, &outside), Decision::ExplicitDeny);
    }

    #[test]
    fn not_principal_deny_spares_only_fully_listed_callers() {
        // IAM User Guide, "AWS JSON policy elements: NotPrincipal": to spare a user, list both
        // its ARN and its account; listing only the user still denies it through its account.
        let deny_all_but = |list: Value| {
            bucket_policy(json!([
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"},
                {"Effect": "Deny", "NotPrincipal": {"AWS": list}, "Action": "s3:*", "Resource": "arn:aws:s3:::mybucket/*"}
            ]))
        };
        let alice_arn = format!("arn:aws:iam::{OWNER}:user/alice");
        let full = deny_all_but(json!([alice_arn, format!("arn:aws:iam::{OWNER}:root")]));
        let only_user = deny_all_but(json!([alice_arn]));
        let alice = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let bob = ctx(user(OWNER, "bob"), "s3:GetObject", OBJ);
        let owner_root = ctx(root(OWNER), "s3:GetObject", OBJ);
        let anon = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        assert_eq!(decide(&[], Some(&full), &alice), Decision::Allow);
        assert_eq!(decide(&[], Some(&full), &owner_root), Decision::Allow);
        assert_eq!(decide(&[], Some(&full), &bob), Decision::ExplicitDeny);
        assert_eq!(decide(&[], Some(&full), &anon), Decision::ExplicitDeny);
        assert_eq!(
            decide(&[], Some(&only_user), &alice),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn username_variable_scopes_a_home_prefix() {
        // IAM User Guide, "IAM policy elements: Variables and tags": a per-user folder.
        let p = user_policy(json!([
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::mybucket",
             "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::mybucket/home/${aws:username}/*"}
        ]));
        let alice = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        let bob = ctx(user(OWNER, "bob"), "s3:GetObject", OBJ);
        assert_eq!(decide(&[&p], None, &alice), Decision::Allow);
        assert_eq!(decide(&[&p], None, &bob), Decision::ImplicitDeny);
        let list = |name: &str, prefix: &str| {
            ctx(user(OWNER, name), "s3:ListBucket", "arn:aws:s3:::mybucket")
                .with("s3:prefix", prefix)
        };
        assert_eq!(
            decide(&[&p], None, &list("alice", "home/alice/")),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&p], None, &list("alice", "home/bob/")),
            Decision::ImplicitDeny
        );
        // No s3:prefix at all: StringLike on a missing key is false.
        let bare = ctx(
            user(OWNER, "alice"),
            "s3:ListBucket",
            "arn:aws:s3:::mybucket",
        );
        assert_eq!(decide(&[&p], None, &bare), Decision::ImplicitDeny);
    }

    #[test]
    fn variables_are_literal_text_in_version_2008() {
        let doc = json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/home/${aws:username}/*"}]});
        let p = Policy::parse(&doc.to_string(), &PolicyKind::identity()).unwrap();
        let c = ctx(user(OWNER, "alice"), "s3:GetObject", OBJ);
        assert_eq!(decide(&[&p], None, &c), Decision::ImplicitDeny);
        let literal = ctx(
            user(OWNER, "alice"),
            "s3:GetObject",
            "arn:aws:s3:::mybucket/home/${aws:username}/x",
        );
        assert_eq!(decide(&[&p], None, &literal), Decision::Allow);
    }

    #[test]
    fn unresolvable_variable_matches_nothing() {
        // The root user has no aws:username.
        let rp = bucket_policy(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::mybucket/home/${aws:username}/*"}]),
        );
        let c = ctx(root(OTHER), "s3:GetObject", "arn:aws:s3:::mybucket/home//x");
        assert_eq!(decide(&[], Some(&rp), &c), Decision::ImplicitDeny);
        // In a negated condition the unresolved value matches nothing, so the NOT holds.
        let deny = bucket_policy(
            json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::mybucket/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "${aws:nosuchkey}"}}}]),
        );
        assert_eq!(decide(&[], Some(&deny), &c), Decision::ExplicitDeny);
    }

    #[test]
    fn principal_variables_resolve_from_the_context() {
        let p = user_policy(json!([{"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::mybucket/${aws:PrincipalAccount}/${aws:userid}/*"}]));
        let c = ctx(
            user(OWNER, "alice"),
            "s3:GetObject",
            &format!("arn:aws:s3:::mybucket/{OWNER}/AIDAALICE/x"),
        );
        assert_eq!(decide(&[&p], None, &c), Decision::Allow);
    }

    #[test]
    fn secure_transport_deny_blocks_plain_http() {
        // S3 User Guide, "Bucket policy examples": deny requests not made over HTTPS.
        let rp = bucket_policy(json!([
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"},
            {"Sid": "RestrictToTLSRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::mybucket", "arn:aws:s3:::mybucket/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        ]));
        let https = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        let http = RequestContext::new(Caller::Anonymous, "s3:GetObject", OBJ, NOW, None, false);
        assert_eq!(decide(&[], Some(&rp), &https), Decision::Allow);
        assert_eq!(decide(&[], Some(&rp), &http), Decision::ExplicitDeny);
    }

    #[test]
    fn source_ip_and_current_time_come_from_the_context() {
        let rp = bucket_policy(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::mybucket/*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": "192.0.2.0/24"},
                "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}
            }}]),
        );
        let c = ctx(Caller::Anonymous, "s3:GetObject", OBJ);
        assert_eq!(decide(&[], Some(&rp), &c), Decision::Allow);
        let elsewhere = RequestContext::new(
            Caller::Anonymous,
            "s3:GetObject",
            OBJ,
            NOW,
            Some("198.51.100.1".parse().unwrap()),
            true,
        );
        assert_eq!(decide(&[], Some(&rp), &elsewhere), Decision::ImplicitDeny);
        let later = RequestContext::new(
            Caller::Anonymous,
            "s3:GetObject",
            OBJ,
            1_600_000_000_000,
            Some("192.0.2.10".parse().unwrap()),
            true,
        );
        assert_eq!(decide(&[], Some(&rp), &later), Decision::ImplicitDeny);
    }

    #[test]
    fn multivalued_request_key_with_set_qualifier() {
        let p = user_policy(
            json!([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["env", "team"]}}}]),
        );
        let mut c = ctx(user(OWNER, "alice"), "s3:PutObject", OBJ);
        c.set_values("s3:RequestObjectTagKeys", vec!["env".into()]);
        assert_eq!(decide(&[&p], None, &c), Decision::Allow);
        c.set_values("s3:RequestObjectTagKeys", vec!["env".into(), "cost".into()]);
        assert_eq!(decide(&[&p], None, &c), Decision::ImplicitDeny);
        c.remove("s3:RequestObjectTagKeys");
        assert_eq!(decide(&[&p], None, &c), Decision::Allow);
    }

    #[test]
    fn condition_keys_in_the_context_are_case_insensitive() {
        let p = user_policy(
            json!([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
            "Condition": {"StringEquals": {"S3:X-Amz-Acl": "private"}}}]),
        );
        let c = ctx(user(OWNER, "alice"), "s3:PutObject", OBJ).with("s3:x-amz-acl", "private");
        assert_eq!(decide(&[&p], None, &c), Decision::Allow);
        let other = ctx(user(OWNER, "alice"), "s3:PutObject", OBJ).with("S3:X-AMZ-ACL", "Private");
        assert_eq!(decide(&[&p], None, &other), Decision::ImplicitDeny);
    }

    #[test]
    fn twenty_statement_policy_decides_on_the_matching_statement() {
        // The size #7 benchmarks: 19 statements that do not apply, then the grant.
        let mut sts: Vec<Value> = (0..19)
            .map(|i| {
                json!({"Sid": format!("S{i}"), "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:user/u{i}")},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": format!("arn:aws:s3:::mybucket/p{i}/*"),
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
            })
            .collect();
        sts.push(
            json!({"Sid": "Last", "Effect": "Allow", "Principal": {"AWS": OTHER},
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::mybucket/*"}),
        );
        let rp = bucket_policy(Value::Array(sts));
        assert_eq!(rp.statements().len(), 20);
        let c = ctx(root(OTHER), "s3:PutObject", OBJ);
        assert_eq!(decide(&[], Some(&rp), &c), Decision::Allow);
        let get = ctx(root(OTHER), "s3:GetObject", OBJ);
        assert_eq!(decide(&[], Some(&rp), &get), Decision::ImplicitDeny);
    }

    #[test]
    fn public_policy_grants_to_everyone_without_a_fixed_restriction() {
        let with_cond = |cond: Value| {
            bucket_policy(
                json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::mybucket/*", "Condition": cond}]),
            )
        };
        assert!(is_public(&allow_to(json!("*"))));
        assert!(is_public(&allow_to(json!({"AWS": "*"}))));
        assert!(!is_public(&allow_to(json!({"AWS": OTHER}))));
        assert!(!is_public(&with_cond(
            json!({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
        )));
        assert!(is_public(&with_cond(
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})
        )));
        assert!(is_public(&with_cond(
            json!({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
        )));
        assert!(!is_public(&with_cond(
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1"}})
        )));
        assert!(!is_public(&with_cond(
            json!({"StringEquals": {"aws:PrincipalAccount": OTHER}})
        )));
        assert!(!is_public(&with_cond(
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}})
        )));
        assert!(is_public(&with_cond(
            json!({"StringLike": {"aws:SourceVpc": "vpc-*"}})
        )));
        assert!(is_public(&with_cond(
            json!({"StringEquals": {"s3:prefix": "public/"}})
        )));
        assert!(is_public(&with_cond(
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}})
        )));
        // A Deny to everyone is not public, and NotPrincipal with Allow is.
        let deny = bucket_policy(
            json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::mybucket/*"}]),
        );
        assert!(!is_public(&deny));
        let not_principal =
            bucket_policy(json!([{"Effect": "Allow", "NotPrincipal": {"AWS": OTHER},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"}]));
        assert!(is_public(&not_principal));
    }
}
