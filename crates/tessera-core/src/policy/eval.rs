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

/// [`evaluate_with_acl`] without an ACL grant.
pub fn evaluate(
    identity_policies: &[&Policy],
    resource_policy: Option<&Policy>,
    resource_owner_account: Option<&str>,
    ctx: &RequestContext,
) -> Decision {
    evaluate_with_acl(
        identity_policies,
        resource_policy,
        resource_owner_account,
        ctx,
        false,
    )
}

/// Decides one request.
///
/// - `identity_policies`: the caller's IAM user policies (none for root and anonymous).
/// - `resource_policy`: the bucket policy; `resource_owner_account`: the bucket owner's
///   account id (`None` for requests on no resource, like ListBuckets: same-account rules).
/// - `acl_allows`: the caller (its account, a group it is in, or AllUsers) has the needed ACL
///   grant; it counts like a bucket-policy grant to the caller's account, so an IAM user
///   also needs its own policy to allow (S3's user-context check).
///
/// Rules: any applicable Deny wins. Anonymous: only a grant to everyone (policy `*` or a
/// public ACL). Root of the owning account: allowed unless a bucket-policy Deny applies, and
/// always for the bucket-policy actions. Root of another account: needs a grant. IAM user of
/// the owning account: its policy allows, or the bucket policy names it (its ARN or `*`); a
/// grant to the account alone is not enough. IAM user of another account: its policy must
/// allow and a grant (bucket policy or ACL) must reach it.
pub fn evaluate_with_acl(
    identity_policies: &[&Policy],
    resource_policy: Option<&Policy>,
    resource_owner_account: Option<&str>,
    ctx: &RequestContext,
    acl_allows: bool,
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
    let granted = resource_allow != PrincipalMatch::No || acl_allows;
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
    policy.statements().iter().any(|st| {
        st.effect() == Effect::Allow
            && st.grants_to_everyone()
            && !st.conditions().iter().any(|c| c.restricts_public_access())
    })
}
