//! Access control of buckets and objects as operations on [`Tessera`]: bucket policies,
//! PublicAccessBlock, object ownership, bucket and object ACLs, and the one authorization
//! decision per request ([`Tessera::authorize`]) that combines them with the caller's own
//! IAM policies.
//!
//! Decisions where AWS leaves room, taken here:
//! - a bucket without ownership controls behaves as `ObjectWriter` (ACLs enabled), what S3
//!   did before April 2023 and what ceph/s3-tests expects;
//! - an object another account owns is that account's resource: the bucket owner's account
//!   needs its ACL to grant the action, and the bucket policy can only deny (S3 under
//!   `ObjectWriter`); buckets note when that can happen so the common case reads no object;
//! - an anonymous write (through a public-write ACL or policy) is owned by the bucket owner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::accounts::Principal;
use crate::acl::{self, Acl, CannedAcl, Permission};
use crate::error::{AccessError, Error, Result};
use crate::identities::{s3_resource_arn, AccessRequest};
use crate::policy::{self, Caller, Decision, Policy, PolicyKind, PolicyPrincipal, ResourceAccess};
use crate::records::{now_millis, BucketRecord, BucketSetting, ObjectRecord, ObjectUpdate};
use crate::tessera::Tessera;

/// Who owns the objects written to a bucket, and whether ACLs count (S3's ObjectOwnership).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// The bucket owner owns every object; ACLs are disabled.
    BucketOwnerEnforced,
    /// The bucket owner owns objects written with the `bucket-owner-full-control` ACL.
    BucketOwnerPreferred,
    /// The writer owns the object.
    ObjectWriter,
}

impl ObjectOwnership {
    /// S3's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::ObjectWriter => "ObjectWriter",
        }
    }

    /// Parses S3's spelling.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "BucketOwnerEnforced" => Ok(ObjectOwnership::BucketOwnerEnforced),
            "BucketOwnerPreferred" => Ok(ObjectOwnership::BucketOwnerPreferred),
            "ObjectWriter" => Ok(ObjectOwnership::ObjectWriter),
            other => Err(Error::Access(AccessError::MalformedSetting(format!(
                "ObjectOwnership {other:?} is not one of BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter"
            )))),
        }
    }

    /// The bucket's setting, `ObjectWriter` when none is set.
    pub fn of(bucket: &BucketRecord) -> Self {
        bucket
            .setting(BucketSetting::Ownership)
            .and_then(|s| Self::parse(s).ok())
            .unwrap_or(ObjectOwnership::ObjectWriter)
    }

    /// Whether ACLs take part in authorization.
    pub fn acls_enabled(self) -> bool {
        self != ObjectOwnership::BucketOwnerEnforced
    }
}

/// A bucket's PublicAccessBlock configuration (all false when none is set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// Refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// Public ACL grants count for nothing.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// A public bucket policy grants nothing outside the owning account.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// The stored form: four flags, `1` or `0`, in S3's order.
    pub fn to_stored(self) -> String {
        [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ]
        .iter()
        .map(|&b| if b { '1' } else { '0' })
        .collect()
    }

    /// Reads the stored form; anything else blocks everything (the safe reading).
    pub fn from_stored(s: &str) -> Self {
        let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
        match b.as_slice() {
            [a, b, c, d] => PublicAccessBlock {
                block_public_acls: *a,
                ignore_public_acls: *b,
                block_public_policy: *c,
                restrict_public_buckets: *d,
            },
            _ => PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            },
        }
    }

    /// The bucket's configuration, all false when none is set.
    pub fn of(bucket: &BucketRecord) -> Self {
        bucket
            .setting(BucketSetting::PublicAccessBlock)
            .map(Self::from_stored)
            .unwrap_or_default()
    }
}

/// Parsed bucket policies at most kept; past that the cache starts over.
const POLICY_CACHE_MAX: usize = 1_000;

/// Bucket policies parsed once and reused while their text is unchanged.
#[derive(Default)]
pub(crate) struct PolicyCache {
    by_bucket: Mutex<HashMap<String, (String, Arc<Policy>)>>,
}

impl PolicyCache {
    fn get(&self, bucket: &str, text: &str) -> Option<Arc<Policy>> {
        let map = self.by_bucket.lock().ok()?;
        match map.get(bucket) {
            Some((t, p)) if t == text => Some(p.clone()),
            _ => None,
        }
    }

    fn put(&self, bucket: &str, text: &str, policy: Arc<Policy>) {
        if let Ok(mut map) = self.by_bucket.lock() {
            if map.len() >= POLICY_CACHE_MAX {
                map.clear();
            }
            map.insert(bucket.to_owned(), (text.to_owned(), policy));
        }
    }
}

fn malformed_policy(reason: impl Into<String>) -> Error {
    Error::Access(AccessError::MalformedPolicy(reason.into()))
}

/// The domain error of an ACL that cannot be built, resolved or read back.
pub fn acl_error(e: acl::AclError) -> Error {
    use acl::AclError as A;
    match e {
        A::Malformed(m) => Error::Access(AccessError::MalformedAcl(m)),
        A::InvalidArgument(m) => Error::Access(AccessError::InvalidAclArgument(m)),
        A::UnknownCannedAcl(m) => Error::Access(AccessError::InvalidAclArgument(format!(
            "unknown canned ACL {m:?}"
        ))),
        A::UnresolvableEmail(m) => Error::Access(AccessError::UnresolvableGrantByEmailAddress(m)),
        A::CannedAndGrants => {
            Error::InvalidRequest(crate::error::RequestError::CannedAclWithGrants)
        }
        A::Stored(m) => Error::backend(format!("stored ACL: {m}")),
    }
}

/// Whether the ACL is the default one: the owner's full control and nothing else (stored as
/// no ACL at all).
fn is_default(acl: &Acl) -> bool {
    matches!(acl.grants.as_slice(), [g] if *g == acl::Grant::canonical(acl.owner.clone(), Permission::FullControl))
}

/// Whether the caller is the ACL's owner (who may always read and write the ACL).
fn is_owner(acl: &Acl, caller: &Caller) -> bool {
    !acl.owner.is_empty() && caller.canonical_id() == Some(acl.owner.as_str())
}

/// `x-amz-expected-bucket-owner` must name the bucket's owner (a missing bucket is left to
/// the operation).
fn check_expected_owner(bucket: Option<&BucketRecord>, expected: Option<&str>) -> Result<()> {
    match (bucket, expected) {
        (Some(b), Some(e)) if e != b.owner => Err(Error::AccessDenied),
        _ => Ok(()),
    }
}

/// Equality of two secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The evaluation context of a request: the global keys and the request's own.
fn request_context(caller: Caller, req: &AccessRequest<'_>) -> policy::RequestContext {
    let mut ctx = policy::RequestContext::new(
        caller,
        req.action,
        s3_resource_arn(req.bucket, req.key),
        now_millis(),
        req.source_ip,
        req.secure_transport,
    );
    for (k, v) in req.conditions {
        ctx.set_values(k, v.clone());
    }
    ctx
}

/// The caller as the policy evaluator sees it.
pub fn caller_of(principal: Option<&Principal>) -> Caller {
    principal.map_or(Caller::Anonymous, Principal::caller)
}

/// Where an ACL comes from, for what BucketOwnerEnforced allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AclUse {
    /// PutObject, CopyObject, CreateMultipartUpload.
    ObjectWrite,
    /// CreateBucket.
    NewBucket,
    /// PutBucketAcl, PutObjectAcl.
    PutAcl,
}

/// What an object write asks for about ownership and ACL: a canned ACL, grant headers, or
/// neither (the owner alone).
#[derive(Clone, Debug, Default)]
pub struct AclRequest {
    /// `x-amz-acl`.
    pub canned: Option<String>,
    /// `x-amz-grant-*` as (permission, header value).
    pub grants: Vec<(Permission, String)>,
}

impl AclRequest {
    /// Neither a canned ACL nor grants.
    pub fn is_empty(&self) -> bool {
        self.canned.is_none() && self.grants.is_empty()
    }
}

/// The owner and stored ACL of an object being written: decided by the bucket's ownership
/// setting and the request's ACL headers.
#[derive(Clone, Debug, Default)]
pub struct WriteAccess {
    /// Account id of the object's owner.
    pub owner: String,
    /// Stored form of the object's ACL; `None`: the owner alone.
    pub acl: Option<String>,
}

impl Tessera {
    /// Resolves email grantees and checks canonical ids against the accounts.
    async fn resolve_acl(&self, acl: Acl) -> Result<Acl> {
        let accounts = self.accounts().await?;
        acl.resolve(
            |email| {
                accounts
                    .iter()
                    .find(|a| {
                        a.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .map(|a| a.canonical_id.clone())
            },
            |id| accounts.iter().any(|a| a.canonical_id == id),
        )
        .map_err(acl_error)
    }

    /// Builds the ACL a request asks for (canned or grant headers) for an owner, checked
    /// against the bucket's ownership and PublicAccessBlock. `None` if it asks for nothing.
    async fn requested_acl(
        &self,
        bucket: &BucketRecord,
        owner_canonical: &str,
        req: &AclRequest,
        usage: AclUse,
    ) -> Result<Option<Acl>> {
        if req.is_empty() {
            return Ok(None);
        }
        if req.canned.is_some() && !req.grants.is_empty() {
            return Err(Error::InvalidRequest(
                crate::error::RequestError::CannedAclWithGrants,
            ));
        }
        let bucket_owner = self
            .account_by_id(&bucket.owner)
            .await?
            .map(|a| a.canonical_id)
            .unwrap_or_default();
        let acl = match &req.canned {
            Some(name) => {
                let canned = CannedAcl::parse(name).map_err(acl_error)?;
                Acl::from_canned(canned, owner_canonical, &bucket_owner)
            }
            None => {
                let headers: Vec<(Permission, &str)> =
                    req.grants.iter().map(|(p, v)| (*p, v.as_str())).collect();
                self.resolve_acl(
                    Acl::from_grant_headers(owner_canonical, &headers).map_err(acl_error)?,
                )
                .await?
            }
        };
        self.check_acl_allowed(bucket, &acl, req.canned.as_deref(), usage)?;
        Ok(Some(acl))
    }

    /// Refuses an ACL the bucket's settings do not allow: under BucketOwnerEnforced every
    /// Put*Acl and every object write naming an ACL other than the bucket owner's full
    /// control (AccessControlListNotSupported), a new bucket's ACL other than private
    /// (InvalidBucketAclWithObjectOwnership); a public ACL under BlockPublicAcls.
    fn check_acl_allowed(
        &self,
        bucket: &BucketRecord,
        acl: &Acl,
        canned: Option<&str>,
        usage: AclUse,
    ) -> Result<()> {
        if !ObjectOwnership::of(bucket).acls_enabled() {
            let allowed = match (usage, canned) {
                (AclUse::PutAcl, _) => false,
                (AclUse::ObjectWrite, Some(c)) => c == "bucket-owner-full-control",
                (AclUse::NewBucket, Some(c)) => c == "private",
                // Grants: only the owner's (= the bucket owner's) full control.
                (_, None) => is_default(acl),
            };
            if !allowed {
                return Err(Error::Access(match usage {
                    AclUse::NewBucket => AccessError::InvalidBucketAclWithObjectOwnership,
                    _ => AccessError::AclNotSupported,
                }));
            }
        }
        if acl.is_public() && PublicAccessBlock::of(bucket).block_public_acls {
            return Err(Error::Access(AccessError::PublicAccessBlocked(
                "public ACLs are blocked by the bucket's PublicAccessBlock",
            )));
        }
        Ok(())
    }

    /// The owner and ACL of an object `principal` writes to `bucket` with `req`'s ACL headers.
    pub async fn write_access(
        &self,
        bucket: &BucketRecord,
        principal: Option<&Principal>,
        req: &AclRequest,
    ) -> Result<WriteAccess> {
        let ownership = ObjectOwnership::of(bucket);
        let writer = principal.map(|p| &p.account);
        let owner = match (ownership, writer) {
            (_, None) | (ObjectOwnership::BucketOwnerEnforced, _) => bucket.owner.clone(),
            (ObjectOwnership::BucketOwnerPreferred, Some(_))
                if req.canned.as_deref() == Some("bucket-owner-full-control") =>
            {
                bucket.owner.clone()
            }
            (_, Some(w)) => w.id.clone(),
        };
        let owner_canonical = match writer.filter(|w| w.id == owner) {
            Some(w) => w.canonical_id.clone(),
            None => self
                .account_by_id(&owner)
                .await?
                .map(|a| a.canonical_id)
                .unwrap_or_default(),
        };
        if owner != bucket.owner && bucket.setting(BucketSetting::ForeignObjects).is_none() {
            // Before the object exists, so that no decision misses its owner.
            self.meta
                .put_bucket_setting(
                    &bucket.name,
                    BucketSetting::ForeignObjects,
                    Some("1".into()),
                )
                .await?;
        }
        let acl = self
            .requested_acl(bucket, &owner_canonical, req, AclUse::ObjectWrite)
            .await?
            .filter(|_| ownership.acls_enabled())
            .filter(|a| !is_default(a))
            .map(|a| a.to_stored());
        Ok(WriteAccess { owner, acl })
    }

    /// The settings a new bucket starts with from CreateBucket's ACL headers,
    /// `x-amz-object-ownership` and `x-amz-bucket-object-lock-enabled` (`object_lock`).
    pub async fn new_bucket_settings(
        &self,
        name: &str,
        owner: &crate::accounts::Account,
        acl: &AclRequest,
        ownership: Option<&str>,
        object_lock: bool,
    ) -> Result<Vec<(BucketSetting, String)>> {
        let mut settings = Vec::new();
        if object_lock {
            // Object Lock needs versioning, enabled with it for good.
            let config = crate::lock::ObjectLockConfig::default();
            settings.push((BucketSetting::ObjectLock, config.to_stored()));
            settings.push((BucketSetting::Versioning, "Enabled".to_owned()));
        }
        let mut draft = BucketRecord {
            name: name.to_owned(),
            created: 0,
            region: String::new(),
            owner: owner.id.clone(),
            settings: Default::default(),
        };
        if let Some(o) = ownership {
            let o = ObjectOwnership::parse(o)?;
            settings.push((BucketSetting::Ownership, o.as_str().to_owned()));
            draft.settings.insert(
                BucketSetting::Ownership.as_str().to_owned(),
                o.as_str().to_owned(),
            );
        }
        if let Some(a) = self
            .requested_acl(&draft, &owner.canonical_id, acl, AclUse::NewBucket)
            .await?
        {
            if ObjectOwnership::of(&draft).acls_enabled() && !is_default(&a) {
                settings.push((BucketSetting::Acl, a.to_stored()));
            }
        }
        Ok(settings)
    }

    /// A bucket's ACL: the stored one, or the owner's full control.
    pub async fn bucket_acl(&self, bucket: &BucketRecord) -> Result<Acl> {
        match bucket.setting(BucketSetting::Acl) {
            Some(s) => Acl::from_stored(s).map_err(acl_error),
            None => Ok(Acl::private(&self.canonical_of(&bucket.owner).await?)),
        }
    }

    /// An object's ACL: the stored one, or its owner's full control.
    pub async fn object_acl(&self, object: &ObjectRecord) -> Result<Acl> {
        match &object.acl {
            Some(s) => Acl::from_stored(s).map_err(acl_error),
            None => Ok(Acl::private(&self.canonical_of(&object.owner).await?)),
        }
    }

    /// The canonical id of an account (empty if it is gone).
    pub async fn canonical_of(&self, account_id: &str) -> Result<String> {
        Ok(self
            .account_by_id(account_id)
            .await?
            .map(|a| a.canonical_id)
            .unwrap_or_default())
    }

    /// PutBucketAcl: a canned ACL, grant headers, or a body's ACL (`body`: owner id named in
    /// it and its grants, unresolved).
    pub async fn put_bucket_acl(
        &self,
        bucket: &BucketRecord,
        req: &AclRequest,
        body: Option<(Option<String>, Vec<acl::Grant>)>,
    ) -> Result<()> {
        let owner = self.canonical_of(&bucket.owner).await?;
        let acl = self.acl_of_put(bucket, &owner, req, body).await?;
        let stored = (!is_default(&acl)).then(|| acl.to_stored());
        self.meta
            .put_bucket_setting(&bucket.name, BucketSetting::Acl, stored)
            .await
    }

    /// PutObjectAcl on a version of bucket/key (the one read, guarded by its object id).
    pub async fn put_object_acl(
        &self,
        bucket: &BucketRecord,
        object: &ObjectRecord,
        req: &AclRequest,
        body: Option<(Option<String>, Vec<acl::Grant>)>,
    ) -> Result<()> {
        let owner = self.canonical_of(&object.owner).await?;
        let acl = self.acl_of_put(bucket, &owner, req, body).await?;
        let stored = (!is_default(&acl)).then(|| acl.to_stored());
        self.meta
            .update_object(
                &bucket.name,
                &object.key,
                &object.object_id,
                ObjectUpdate::Acl(stored),
            )
            .await
    }

    /// The ACL a Put*Acl request sets: from headers, or from the body (whose Owner, if named,
    /// must be the resource's owner).
    async fn acl_of_put(
        &self,
        bucket: &BucketRecord,
        owner: &str,
        req: &AclRequest,
        body: Option<(Option<String>, Vec<acl::Grant>)>,
    ) -> Result<Acl> {
        match body {
            Some(_) if !req.is_empty() => Err(Error::InvalidRequest(
                crate::error::RequestError::CannedAclWithGrants,
            )),
            Some((named_owner, grants)) => {
                if named_owner.as_deref().is_some_and(|o| o != owner) {
                    return Err(Error::AccessDenied);
                }
                let acl = self
                    .resolve_acl(Acl {
                        owner: owner.to_owned(),
                        grants,
                    })
                    .await?;
                self.check_acl_allowed(bucket, &acl, None, AclUse::PutAcl)?;
                Ok(acl)
            }
            None => match self
                .requested_acl(bucket, owner, req, AclUse::PutAcl)
                .await?
            {
                Some(acl) => Ok(acl),
                None => Err(Error::Access(AccessError::MalformedAcl(
                    "the request names neither an ACL nor grants".into(),
                ))),
            },
        }
    }

    /// PutBucketPolicy: parsed and checked now (never at evaluation): the document, its
    /// principals (every account and user named must exist), and BlockPublicPolicy.
    /// `confirm_remove_self` (`x-amz-confirm-remove-self-bucket-access: true`): the policy's
    /// Deny may then lock the owner's root out of managing the policy.
    pub async fn put_bucket_policy(
        &self,
        bucket: &BucketRecord,
        document: &str,
        confirm_remove_self: bool,
    ) -> Result<()> {
        let policy = Policy::parse(document, &PolicyKind::bucket(&bucket.name))
            .map_err(|e| malformed_policy(e.to_string()))?;
        for p in policy.principals() {
            self.check_principal(p).await?;
        }
        if policy::is_public(&policy) && PublicAccessBlock::of(bucket).block_public_policy {
            return Err(Error::Access(AccessError::PublicAccessBlocked(
                "public policies are blocked by the bucket's PublicAccessBlock",
            )));
        }
        let lockout = |on: bool| {
            self.meta.put_bucket_setting(
                &bucket.name,
                BucketSetting::PolicySelfLockout,
                on.then(|| "1".to_owned()),
            )
        };
        // Ordered so that a crash between the two writes leaves the root its exemption.
        if !confirm_remove_self {
            lockout(false).await?;
        }
        self.meta
            .put_bucket_setting(
                &bucket.name,
                BucketSetting::Policy,
                Some(document.to_owned()),
            )
            .await?;
        if confirm_remove_self {
            lockout(true).await?;
        }
        Ok(())
    }

    /// Refuses a principal naming an account or user that does not exist (S3: "Invalid
    /// principal in policy").
    async fn check_principal(&self, p: &PolicyPrincipal) -> Result<()> {
        let accounts = self.accounts().await?;
        let ok = match p {
            PolicyPrincipal::Any | PolicyPrincipal::Service(_) => true,
            PolicyPrincipal::Account(id) => accounts.iter().any(|a| &a.id == id),
            PolicyPrincipal::CanonicalUser(c) => accounts.iter().any(|a| &a.canonical_id == c),
            PolicyPrincipal::User { account_id, arn } => match arn.rsplit_once('/') {
                Some((_, name)) if accounts.iter().any(|a| &a.id == account_id) => self
                    .meta
                    .get_user(account_id, name)
                    .await?
                    .is_some_and(|u| u.arn == *arn),
                _ => false,
            },
            PolicyPrincipal::OtherArn { .. } | PolicyPrincipal::Federated(_) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(malformed_policy("Invalid principal in policy"))
        }
    }

    /// GetBucketPolicy: the document as stored.
    pub fn bucket_policy(&self, bucket: &BucketRecord) -> Result<String> {
        bucket
            .setting(BucketSetting::Policy)
            .map(str::to_owned)
            .ok_or(Error::Access(AccessError::NoSuchBucketPolicy))
    }

    /// DeleteBucketPolicy (no error when there is none, as S3).
    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Policy, None)
            .await?;
        self.meta
            .put_bucket_setting(bucket, BucketSetting::PolicySelfLockout, None)
            .await
    }

    /// GetBucketPolicyStatus: whether the bucket policy is public.
    pub fn bucket_policy_is_public(&self, bucket: &BucketRecord) -> Result<bool> {
        let text = self.bucket_policy(bucket)?;
        Ok(self
            .parsed_policy(&bucket.name, &text)
            .is_some_and(|p| policy::is_public(&p)))
    }

    /// PutPublicAccessBlock.
    pub async fn put_public_access_block(
        &self,
        bucket: &str,
        pab: PublicAccessBlock,
    ) -> Result<()> {
        self.meta
            .put_bucket_setting(
                bucket,
                BucketSetting::PublicAccessBlock,
                Some(pab.to_stored()),
            )
            .await
    }

    /// GetPublicAccessBlock.
    pub fn public_access_block(&self, bucket: &BucketRecord) -> Result<PublicAccessBlock> {
        bucket
            .setting(BucketSetting::PublicAccessBlock)
            .map(PublicAccessBlock::from_stored)
            .ok_or(Error::Access(
                AccessError::NoSuchPublicAccessBlockConfiguration,
            ))
    }

    /// DeletePublicAccessBlock.
    pub async fn delete_public_access_block(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::PublicAccessBlock, None)
            .await
    }

    /// PutBucketOwnershipControls: BucketOwnerEnforced is refused while the bucket ACL grants
    /// to anyone but the owner.
    pub async fn put_ownership(&self, bucket: &BucketRecord, o: ObjectOwnership) -> Result<()> {
        if o == ObjectOwnership::BucketOwnerEnforced && !is_default(&self.bucket_acl(bucket).await?)
        {
            return Err(Error::Access(
                AccessError::InvalidBucketAclWithObjectOwnership,
            ));
        }
        self.meta
            .put_bucket_setting(
                &bucket.name,
                BucketSetting::Ownership,
                Some(o.as_str().to_owned()),
            )
            .await
    }

    /// GetBucketOwnershipControls.
    pub fn ownership(&self, bucket: &BucketRecord) -> Result<ObjectOwnership> {
        bucket
            .setting(BucketSetting::Ownership)
            .map(ObjectOwnership::parse)
            .transpose()?
            .ok_or(Error::Access(AccessError::NoSuchOwnershipControls))
    }

    /// DeleteBucketOwnershipControls.
    pub async fn delete_ownership(&self, bucket: &str) -> Result<()> {
        self.meta
            .put_bucket_setting(bucket, BucketSetting::Ownership, None)
            .await
    }

    /// The bucket policy parsed (cached by text); `None` if it no longer parses (it was
    /// checked at Put, so only a changed parser could do that: it then grants nothing).
    fn parsed_policy(&self, bucket: &str, text: &str) -> Option<Arc<Policy>> {
        if let Some(p) = self.policies.get(bucket, text) {
            return Some(p);
        }
        match Policy::parse(text, &PolicyKind::bucket(bucket)) {
            Ok(p) => {
                let p = Arc::new(p);
                self.policies.put(bucket, text, p.clone());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(bucket, error = %e, "stored bucket policy does not parse; ignored");
                None
            }
        }
    }

    /// Decides one request before it runs, once: the caller (`None`: anonymous), the action on
    /// the resource, the bucket policy, the ACLs (while the bucket's ownership allows them),
    /// PublicAccessBlock and the caller's IAM policies, with AWS's evaluation logic
    /// ([`policy::evaluate_with`]). `x-amz-expected-bucket-owner` must match. A missing bucket
    /// is left to the operation (NoSuchBucket). Returns the bucket if it exists.
    pub async fn authorize(
        &self,
        principal: Option<&Principal>,
        req: &AccessRequest<'_>,
    ) -> Result<Option<BucketRecord>> {
        let bucket = match req.bucket {
            Some(name) => self.meta.get_bucket(name).await?,
            None => None,
        };
        self.decide(principal, req, bucket).await
    }

    /// Authenticates and authorizes a request with one store read (the auth epoch and the
    /// bucket together): the key (`None`: anonymous) must still be active under the current
    /// epoch and, if a signature was checked with `verified_secret`, still have that secret;
    /// then [`Tessera::authorize`]'s decision. Returns the principal and the bucket.
    pub async fn authorize_request(
        &self,
        access_key: Option<&str>,
        verified_secret: Option<&str>,
        req: &AccessRequest<'_>,
    ) -> Result<(Option<Arc<Principal>>, Option<BucketRecord>)> {
        let (principal, bucket) = self
            .authenticate_request(access_key, verified_secret, req)
            .await?;
        let bucket = self.decide(principal.as_deref(), req, bucket).await?;
        Ok((principal, bucket))
    }

    /// The first half of [`Tessera::authorize_request`], for requests decided per key later
    /// (DeleteObjects): the one read, the key confirmed, `x-amz-expected-bucket-owner` checked.
    pub async fn authenticate_request(
        &self,
        access_key: Option<&str>,
        verified_secret: Option<&str>,
        req: &AccessRequest<'_>,
    ) -> Result<(Option<Arc<Principal>>, Option<BucketRecord>)> {
        let (epoch, bucket) = self.meta.epoch_and_bucket(req.bucket).await?;
        check_expected_owner(bucket.as_ref(), req.expected_owner)?;
        let principal = match access_key {
            None => None,
            Some(key) => {
                let resolved = self.authenticate_at(epoch, key).await?;
                if let Some(checked) = verified_secret {
                    // The key id was deleted and made again with another secret meanwhile.
                    if !constant_time_eq(checked.as_bytes(), resolved.secret.as_bytes()) {
                        return Err(Error::InvalidAccessKeyId);
                    }
                }
                Some(resolved.principal)
            }
        };
        Ok((principal, bucket))
    }

    /// The decision of [`Tessera::authorize`] over the bucket as read.
    async fn decide(
        &self,
        principal: Option<&Principal>,
        req: &AccessRequest<'_>,
        bucket: Option<BucketRecord>,
    ) -> Result<Option<BucketRecord>> {
        let creating = req.action == "s3:CreateBucket";
        check_expected_owner(bucket.as_ref(), req.expected_owner)?;
        let caller = caller_of(principal);
        if let (Some(b), Some(p)) = (&bucket, principal) {
            if p.account.id == b.owner && !creating {
                if let Some(denied) = self.foreign_object_denies(b, p, req).await? {
                    return if denied {
                        Err(Error::AccessDenied)
                    } else {
                        Ok(bucket)
                    };
                }
            }
        }
        // The owner's root needs no evaluation without a bucket policy: the common case, fast.
        if let (Some(p), Some(b)) = (principal, &bucket) {
            if p.user.is_none()
                && p.account.id == b.owner
                && b.setting(BucketSetting::Policy).is_none()
            {
                return Ok(bucket);
            }
        }
        if principal.is_none() && req.bucket.is_some() && bucket.is_none() && !creating {
            return Ok(None);
        }
        let mut ctx = request_context(caller.clone(), req);
        let identity: Vec<&Policy> = principal
            .map(|p| p.policies.iter().collect())
            .unwrap_or_default();
        // A name taken by another account is CreateBucket's BucketAlreadyExists, not a
        // cross-account request: only the caller's own policies count.
        let target = bucket.as_ref().filter(|_| !creating);
        let Some(b) = target else {
            let allowed = match principal {
                None => false,
                Some(p) if p.user.is_none() => true,
                Some(_) => policy::evaluate(&identity, None, None, &ctx).is_allowed(),
            };
            return if allowed {
                Ok(bucket)
            } else {
                Err(Error::AccessDenied)
            };
        };
        let resource_policy = b
            .setting(BucketSetting::Policy)
            .and_then(|t| self.parsed_policy(&b.name, t));
        // s3:ExistingObjectTag/<key>: read the object's tags only when a policy asks.
        let tag_key = "s3:existingobjecttag/";
        if let Some(key) = req.key {
            if identity.iter().any(|p| p.uses_condition_key(tag_key))
                || resource_policy
                    .as_deref()
                    .is_some_and(|p| p.uses_condition_key(tag_key))
            {
                if let Some(o) = self
                    .version_for_access(&b.name, key, req.version_id)
                    .await?
                {
                    for (k, v) in &o.attrs.tags {
                        ctx.set_values(&format!("s3:ExistingObjectTag/{k}"), vec![v.clone()]);
                    }
                }
            }
        }
        let pab = PublicAccessBlock::of(b);
        let mut access = ResourceAccess {
            acl_allows: false,
            restrict_public_buckets: pab.restrict_public_buckets,
            self_lockout_confirmed: b.setting(BucketSetting::PolicySelfLockout).is_some(),
        };
        let decide = |access: ResourceAccess| {
            policy::evaluate_with(
                &identity,
                resource_policy.as_deref(),
                Some(&b.owner),
                &ctx,
                access,
            )
        };
        match decide(access) {
            Decision::Allow => return Ok(bucket),
            Decision::ExplicitDeny => return Err(Error::AccessDenied),
            Decision::ImplicitDeny => {}
        }
        if ObjectOwnership::of(b).acls_enabled() {
            access.acl_allows = self
                .acl_grants(
                    b,
                    req.key,
                    req.version_id,
                    req.action,
                    &caller,
                    pab.ignore_public_acls,
                )
                .await?;
            if access.acl_allows && decide(access).is_allowed() {
                return Ok(bucket);
            }
        }
        // The initiator of an upload (and its account's root) may list its parts and abort it
        // unless a policy denies it (user guide, "Multipart upload API and permissions").
        if matches!(
            req.action,
            "s3:AbortMultipartUpload" | "s3:ListMultipartUploadParts"
        ) {
            if let (Some(p), Some(id)) = (principal, req.upload_id) {
                if let Some(u) = self.meta.get_upload(id).await? {
                    let own = u.initiator == p.arn()
                        || (p.user.is_none()
                            && u.initiator.split(':').nth(4) == Some(p.account.id.as_str()));
                    if own && u.bucket == b.name && req.key == Some(u.key.as_str()) {
                        return Ok(bucket);
                    }
                }
            }
        }
        // A missing key is 404 to a caller who may list the bucket (it could learn as much by
        // listing), 403 to anyone else: S3's rule for GetObject / HeadObject.
        if req.action == "s3:GetObject" {
            if let Some(key) = req.key {
                if self
                    .version_for_access(&b.name, key, req.version_id)
                    .await?
                    .is_none()
                {
                    // As a listing of exactly this key would (its prefix is the key).
                    let mut conditions = req.conditions.to_vec();
                    conditions.push(("s3:prefix".to_owned(), vec![key.to_owned()]));
                    let list = AccessRequest {
                        action: "s3:ListBucket",
                        key: None,
                        conditions: &conditions,
                        ..req.clone()
                    };
                    if Box::pin(self.authorize(principal, &list)).await.is_ok() {
                        return Ok(bucket);
                    }
                }
            }
        }
        Err(Error::AccessDenied)
    }

    /// For a caller of the bucket owner's account acting on an object another account owns
    /// (only possible once the bucket has [`BucketSetting::ForeignObjects`]): the object is
    /// that account's resource, so its ACL must grant the action (and the caller's own
    /// policies allow it); the bucket policy can only deny. `None` when the rule does not
    /// apply, else whether the request is denied.
    async fn foreign_object_denies(
        &self,
        b: &BucketRecord,
        principal: &Principal,
        req: &AccessRequest<'_>,
    ) -> Result<Option<bool>> {
        let (Some(key), Some(permission)) = (req.key, acl::object_permission(req.action)) else {
            return Ok(None);
        };
        if b.setting(BucketSetting::ForeignObjects).is_none() {
            return Ok(None);
        }
        let Some(object) = self
            .version_for_access(&b.name, key, req.version_id)
            .await?
        else {
            return Ok(None);
        };
        if object.owner == b.owner || object.owner.is_empty() {
            return Ok(None);
        }
        let ctx = request_context(principal.caller(), req);
        let identity: Vec<&Policy> = principal.policies.iter().collect();
        let resource_policy = b
            .setting(BucketSetting::Policy)
            .and_then(|t| self.parsed_policy(&b.name, t));
        if let Some(p) = &resource_policy {
            if policy::evaluate(&[], Some(p), Some(&b.owner), &ctx) == Decision::ExplicitDeny {
                return Ok(Some(true));
            }
        }
        let pab = PublicAccessBlock::of(b);
        let acl = self.object_acl(&object).await?;
        let caller = principal.caller();
        let access = ResourceAccess {
            acl_allows: acl.grants(&caller, permission, pab.ignore_public_acls)
                || (is_owner(&acl, &caller)
                    && matches!(permission, Permission::ReadAcp | Permission::WriteAcp)),
            ..ResourceAccess::default()
        };
        let decision = policy::evaluate_with(&identity, None, Some(&object.owner), &ctx, access);
        Ok(Some(!decision.is_allowed()))
    }

    /// The version a request on bucket/key acts on, for its owner and ACL: the named one or
    /// the current one; `None` when missing or a delete marker (which has no ACL).
    async fn version_for_access(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectRecord>> {
        let found = match version_id {
            Some(v) if crate::versions::check_version_id(v).is_ok() => {
                self.meta.get_object_version(bucket, key, v).await?
            }
            Some(_) => None,
            None => self.meta.get_object(bucket, key).await?,
        };
        Ok(found.filter(|o| !o.delete_marker))
    }

    /// Whether the bucket's or the object's ACL grants `action` to the caller.
    async fn acl_grants(
        &self,
        bucket: &BucketRecord,
        key: Option<&str>,
        version_id: Option<&str>,
        action: &str,
        caller: &Caller,
        ignore_public: bool,
    ) -> Result<bool> {
        if let (Some(key), Some(permission)) = (key, acl::object_permission(action)) {
            let Some(object) = self
                .version_for_access(&bucket.name, key, version_id)
                .await?
            else {
                return Ok(false);
            };
            let acl = self.object_acl(&object).await?;
            return Ok(acl.grants(caller, permission, ignore_public)
                || (is_owner(&acl, caller)
                    && matches!(permission, Permission::ReadAcp | Permission::WriteAcp)));
        }
        match acl::bucket_permission(action) {
            Some(permission) => {
                let acl = self.bucket_acl(bucket).await?;
                Ok(acl.grants(caller, permission, ignore_public))
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_access_block_stored_form() {
        let pab = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        assert_eq!(pab.to_stored(), "1010");
        assert_eq!(PublicAccessBlock::from_stored("1010"), pab);
        // Anything unreadable blocks everything.
        let all = PublicAccessBlock::from_stored("garbage");
        assert!(all.block_public_acls && all.ignore_public_acls);
        assert!(all.block_public_policy && all.restrict_public_buckets);
    }

    #[test]
    fn ownership_names_and_default() {
        for o in [
            ObjectOwnership::BucketOwnerEnforced,
            ObjectOwnership::BucketOwnerPreferred,
            ObjectOwnership::ObjectWriter,
        ] {
            assert_eq!(ObjectOwnership::parse(o.as_str()).unwrap(), o);
        }
        assert!(ObjectOwnership::parse("bucketownerenforced").is_err());
        let mut b = BucketRecord {
            name: "b".into(),
            created: 0,
            region: "r".into(),
            owner: "111122223333".into(),
            settings: Default::default(),
        };
        assert_eq!(ObjectOwnership::of(&b), ObjectOwnership::ObjectWriter);
        assert!(ObjectOwnership::of(&b).acls_enabled());
        b.settings.insert(
            BucketSetting::Ownership.as_str().into(),
            "BucketOwnerEnforced".into(),
        );
        assert!(!ObjectOwnership::of(&b).acls_enabled());
    }

    #[test]
    fn default_acl_and_owner() {
        let acl = Acl::private("c1");
        assert!(is_default(&acl));
        let public = Acl::from_canned(CannedAcl::PublicRead, "c1", "c1");
        assert!(!is_default(&public));
        let owner = Caller::Root {
            account_id: "111122223333".into(),
            canonical_id: "c1".into(),
        };
        assert!(is_owner(&acl, &owner));
        assert!(!is_owner(&acl, &Caller::Anonymous));
    }
}
