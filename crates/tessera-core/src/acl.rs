//! S3 access control lists (S3 User Guide, "Access control list (ACL) overview" and
//! "Canned ACL"): the grant model, canned ACLs, `x-amz-grant-*` header values, the test of
//! whether an ACL grants a caller a permission, the action-to-permission tables, and the
//! stored form. Pure domain code: the protocol adapter converts to and from XML.

use serde_json::{json, Value};

use crate::policy::Caller;

/// Why an ACL could not be built, resolved or read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// An access control policy document is malformed (S3: 400 MalformedACLError).
    #[error("malformed ACL: {0}")]
    Malformed(String),
    /// A grant or header value is invalid (S3: 400 InvalidArgument).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A canned ACL name S3 does not know (S3: 400 InvalidArgument).
    #[error("unknown canned ACL: {0}")]
    UnknownCannedAcl(String),
    /// An email grantee matches no account (S3: 400 UnresolvableGrantByEmailAddress).
    #[error("unresolvable grant by email address: {0}")]
    UnresolvableEmail(String),
    /// Both `x-amz-acl` and `x-amz-grant-*` were sent (S3: 400 InvalidRequest).
    #[error("specifying both canned ACLs and header grants is not allowed")]
    CannedAndGrants,
    /// A stored ACL could not be read back (an internal error, not the client's).
    #[error("unreadable stored ACL: {0}")]
    Stored(String),
}

impl AclError {
    /// The S3 error code a client should see.
    pub fn s3_code(&self) -> &'static str {
        match self {
            AclError::Malformed(_) => "MalformedACLError",
            AclError::InvalidArgument(_) | AclError::UnknownCannedAcl(_) => "InvalidArgument",
            AclError::UnresolvableEmail(_) => "UnresolvableGrantByEmailAddress",
            AclError::CannedAndGrants => "InvalidRequest",
            AclError::Stored(_) => "InternalError",
        }
    }
}

/// One ACL permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// READ: list a bucket, read an object.
    Read,
    /// WRITE: create, overwrite and delete objects in a bucket.
    Write,
    /// READ_ACP: read the ACL.
    ReadAcp,
    /// WRITE_ACP: write the ACL.
    WriteAcp,
    /// FULL_CONTROL: all of the above.
    FullControl,
}

impl Permission {
    /// Every permission, in S3's order.
    pub const ALL: [Permission; 5] = [
        Permission::FullControl,
        Permission::Write,
        Permission::WriteAcp,
        Permission::Read,
        Permission::ReadAcp,
    ];

    /// The wire name (`READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    /// Parses a wire name (exact, as S3 does).
    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether holding `self` gives `wanted` (FULL_CONTROL gives everything).
    pub fn implies(self, wanted: Permission) -> bool {
        self == wanted || self == Permission::FullControl
    }
}

/// The predefined groups S3 grants to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Everyone, signed or not.
    AllUsers,
    /// Every signed request.
    AuthenticatedUsers,
    /// The server access log writer.
    LogDelivery,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 3] = [
        Group::AllUsers,
        Group::AuthenticatedUsers,
        Group::LogDelivery,
    ];

    /// The group's URI.
    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Group::AuthenticatedUsers => {
                "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
            }
            Group::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    /// The group a URI names, if any (exact match).
    pub fn from_uri(uri: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.uri() == uri)
    }

    /// A short stable name, used in the stored form.
    pub fn name(self) -> &'static str {
        match self {
            Group::AllUsers => "AllUsers",
            Group::AuthenticatedUsers => "AuthenticatedUsers",
            Group::LogDelivery => "LogDelivery",
        }
    }

    fn from_name(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// An account, by canonical user id.
    CanonicalUser { id: String },
    /// An account, by its email; [`Acl::resolve`] turns it into a canonical user.
    Email(String),
    /// A predefined group.
    Group(Group),
}

/// One grant: a grantee and a permission.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

impl Grant {
    /// A grant to a canonical user.
    pub fn canonical(id: impl Into<String>, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::CanonicalUser { id: id.into() },
            permission,
        }
    }

    /// A grant to a group.
    pub fn group(group: Group, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::Group(group),
            permission,
        }
    }
}

/// The canned ACLs of `x-amz-acl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    /// Every canned ACL.
    pub const ALL: [CannedAcl; 8] = [
        CannedAcl::Private,
        CannedAcl::PublicRead,
        CannedAcl::PublicReadWrite,
        CannedAcl::AuthenticatedRead,
        CannedAcl::AwsExecRead,
        CannedAcl::BucketOwnerRead,
        CannedAcl::BucketOwnerFullControl,
        CannedAcl::LogDeliveryWrite,
    ];

    /// The header value (`private`, `public-read`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
            CannedAcl::PublicReadWrite => "public-read-write",
            CannedAcl::AuthenticatedRead => "authenticated-read",
            CannedAcl::AwsExecRead => "aws-exec-read",
            CannedAcl::BucketOwnerRead => "bucket-owner-read",
            CannedAcl::BucketOwnerFullControl => "bucket-owner-full-control",
            CannedAcl::LogDeliveryWrite => "log-delivery-write",
        }
    }

    /// Parses an `x-amz-acl` value (exact, as S3 does).
    pub fn parse(s: &str) -> Result<CannedAcl, AclError> {
        CannedAcl::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| AclError::UnknownCannedAcl(s.to_owned()))
    }
}

/// An access control list: the resource owner and the grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Canonical user id of the owner.
    pub owner: String,
    pub grants: Vec<Grant>,
}

/// Version of the stored form written by [`Acl::to_stored`].
const STORED_VERSION: u64 = 1;

impl Acl {
    /// The default ACL: the owner has FULL_CONTROL.
    pub fn private(owner: impl Into<String>) -> Acl {
        Acl::from_canned(CannedAcl::Private, &owner.into(), "")
    }

    /// The ACL a canned ACL stands for. `bucket_owner` matters only to the
    /// `bucket-owner-*` ACLs; pass the owner itself for a bucket (S3 then ignores them).
    pub fn from_canned(canned: CannedAcl, owner: &str, bucket_owner: &str) -> Acl {
        // Order: group grants, the owner's FULL_CONTROL, then the bucket owner's grant. S3
        // documents no order; this is the one ceph/s3-tests (and RGW) expect.
        let mut grants = Vec::with_capacity(3);
        // A grant to the owner again would only repeat FULL_CONTROL.
        let bucket_owner_differs = !bucket_owner.is_empty() && bucket_owner != owner;
        let mut bucket_owner_grant = None;
        match canned {
            // aws-exec-read's extra grant is to AWS's EC2 account, which Tessera does not have.
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => grants.push(Grant::group(Group::AllUsers, Permission::Read)),
            CannedAcl::PublicReadWrite => {
                grants.push(Grant::group(Group::AllUsers, Permission::Read));
                grants.push(Grant::group(Group::AllUsers, Permission::Write));
            }
            CannedAcl::AuthenticatedRead => {
                grants.push(Grant::group(Group::AuthenticatedUsers, Permission::Read))
            }
            CannedAcl::BucketOwnerRead => {
                bucket_owner_grant =
                    bucket_owner_differs.then(|| Grant::canonical(bucket_owner, Permission::Read));
            }
            CannedAcl::BucketOwnerFullControl => {
                bucket_owner_grant = bucket_owner_differs
                    .then(|| Grant::canonical(bucket_owner, Permission::FullControl));
            }
            CannedAcl::LogDeliveryWrite => {
                grants.push(Grant::group(Group::LogDelivery, Permission::Write));
                grants.push(Grant::group(Group::LogDelivery, Permission::ReadAcp));
            }
        }
        grants.push(Grant::canonical(owner, Permission::FullControl));
        grants.extend(bucket_owner_grant);
        Acl {
            owner: owner.to_owned(),
            grants,
        }
    }

    /// The ACL of `x-amz-grant-*` headers: exactly the listed grants, in header order. S3
    /// adds no implicit FULL_CONTROL for the owner here (the owner keeps its implicit
    /// right to read and write the ACL, which callers check apart from the grants).
    pub fn from_grant_headers(
        owner: &str,
        headers: &[(Permission, &str)],
    ) -> Result<Acl, AclError> {
        let mut grants = Vec::new();
        for &(permission, value) in headers {
            for grantee in parse_grantee_list(value)? {
                grants.push(Grant {
                    grantee,
                    permission,
                });
            }
        }
        Ok(Acl {
            owner: owner.to_owned(),
            grants,
        })
    }

    /// The ACL a write asks for through `x-amz-acl` or `x-amz-grant-*`, `None` when it
    /// sends neither (the caller then applies its default). Sending both is an error.
    pub fn from_request_headers(
        canned: Option<&str>,
        grant_headers: &[(Permission, &str)],
        owner: &str,
        bucket_owner: &str,
    ) -> Result<Option<Acl>, AclError> {
        match (canned, grant_headers.is_empty()) {
            (Some(_), false) => Err(AclError::CannedAndGrants),
            (Some(c), true) => Ok(Some(Acl::from_canned(
                CannedAcl::parse(c)?,
                owner,
                bucket_owner,
            ))),
            (None, false) => Acl::from_grant_headers(owner, grant_headers).map(Some),
            (None, true) => Ok(None),
        }
    }

    /// Replaces email grantees by canonical users and checks that every canonical user
    /// exists. `email_to_id` maps an email to its account's canonical id; `id_exists` says
    /// whether a canonical id belongs to an account.
    pub fn resolve(
        self,
        email_to_id: impl Fn(&str) -> Option<String>,
        id_exists: impl Fn(&str) -> bool,
    ) -> Result<Acl, AclError> {
        let mut grants = Vec::with_capacity(self.grants.len());
        for grant in self.grants {
            let grantee = match grant.grantee {
                Grantee::Email(email) => match email_to_id(&email) {
                    Some(id) => Grantee::CanonicalUser { id },
                    None => return Err(AclError::UnresolvableEmail(email)),
                },
                Grantee::CanonicalUser { id } => {
                    if !id_exists(&id) {
                        return Err(AclError::InvalidArgument(format!("Invalid id: {id}")));
                    }
                    Grantee::CanonicalUser { id }
                }
                group @ Grantee::Group(_) => group,
            };
            grants.push(Grant {
                grantee,
                permission: grant.permission,
            });
        }
        Ok(Acl {
            owner: self.owner,
            grants,
        })
    }

    /// Whether some grant gives `caller` the `permission`. With `ignore_public`
    /// (IgnorePublicAcls) grants to AllUsers and AuthenticatedUsers count for nothing.
    /// Ownership is not a grant: the owner's implicit rights are the caller's to check.
    pub fn grants(&self, caller: &Caller, permission: Permission, ignore_public: bool) -> bool {
        self.grants.iter().any(|g| {
            g.permission.implies(permission)
                && match &g.grantee {
                    Grantee::CanonicalUser { id } => caller.canonical_id() == Some(id.as_str()),
                    Grantee::Group(Group::AllUsers) => !ignore_public,
                    Grantee::Group(Group::AuthenticatedUsers) => {
                        !ignore_public && !matches!(caller, Caller::Anonymous)
                    }
                    // Tessera has no log delivery principal; nobody signs as it.
                    Grantee::Group(Group::LogDelivery) => false,
                    // Unresolved emails never match: resolution happens before storing.
                    Grantee::Email(_) => false,
                }
        })
    }

    /// Whether the ACL grants anything to AllUsers or AuthenticatedUsers.
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| {
            matches!(
                g.grantee,
                Grantee::Group(Group::AllUsers | Group::AuthenticatedUsers)
            )
        })
    }

    /// The compact, versioned JSON form kept in the metadata store:
    /// `{"v":1,"owner":"..","grants":[["id","<canonical>","READ"],["group","AllUsers","READ"]]}`.
    pub fn to_stored(&self) -> String {
        let grants: Vec<Value> = self
            .grants
            .iter()
            .map(|g| {
                let (kind, value) = match &g.grantee {
                    Grantee::CanonicalUser { id } => ("id", id.as_str()),
                    Grantee::Email(email) => ("email", email.as_str()),
                    Grantee::Group(group) => ("group", group.name()),
                };
                json!([kind, value, g.permission.as_str()])
            })
            .collect();
        json!({"v": STORED_VERSION, "owner": self.owner, "grants": grants}).to_string()
    }

    /// Reads back [`Acl::to_stored`]'s form.
    pub fn from_stored(s: &str) -> Result<Acl, AclError> {
        let bad = |why: &str| AclError::Stored(why.to_owned());
        let v: Value = serde_json::from_str(s).map_err(|e| AclError::Stored(e.to_string()))?;
        if v.get("v").and_then(Value::as_u64) != Some(STORED_VERSION) {
            return Err(bad("unknown version"));
        }
        let owner = v
            .get("owner")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no owner"))?
            .to_owned();
        let list = v
            .get("grants")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no grants"))?;
        let mut grants = Vec::with_capacity(list.len());
        for item in list {
            let parts: Option<Vec<&str>> = item
                .as_array()
                .and_then(|a| a.iter().map(Value::as_str).collect());
            let [kind, value, perm] = parts.as_deref().unwrap_or_default() else {
                return Err(bad("grant is not [kind, value, permission]"));
            };
            let permission = Permission::parse(perm).ok_or_else(|| bad("unknown permission"))?;
            let grantee = match *kind {
                "id" => Grantee::CanonicalUser {
                    id: (*value).to_owned(),
                },
                "email" => Grantee::Email((*value).to_owned()),
                "group" => {
                    Grantee::Group(Group::from_name(value).ok_or_else(|| bad("unknown group"))?)
                }
                _ => return Err(bad("unknown grantee kind")),
            };
            grants.push(Grant {
                grantee,
                permission,
            });
        }
        Ok(Acl { owner, grants })
    }
}

/// Parses one `x-amz-grant-*` value: comma-separated `type=value` pairs, the value quoted
/// or not, with `type` one of `id`, `emailAddress`, `uri`.
fn parse_grantee_list(value: &str) -> Result<Vec<Grantee>, AclError> {
    let bad = || AclError::InvalidArgument(format!("Argument format not recognized: {value}"));
    let mut out = Vec::new();
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        let after = after.trim_start();
        // A quoted value may hold commas; an unquoted one ends at the next comma.
        let (val, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(bad)?;
            (&quoted[..end], quoted[end + 1..].trim_start())
        } else {
            match after.find(',') {
                Some(i) => (after[..i].trim_end(), &after[i..]),
                None => (after.trim_end(), ""),
            }
        };
        if val.is_empty() {
            return Err(bad());
        }
        let grantee =
            if key.eq_ignore_ascii_case("id") {
                Grantee::CanonicalUser { id: val.to_owned() }
            } else if key.eq_ignore_ascii_case("emailAddress") {
                Grantee::Email(val.to_owned())
            } else if key.eq_ignore_ascii_case("uri") {
                Grantee::Group(Group::from_uri(val).ok_or_else(|| {
                    AclError::InvalidArgument(format!("Invalid group uri: {val}"))
                })?)
            } else {
                return Err(bad());
            };
        out.push(grantee);
        rest = match tail.strip_prefix(',') {
            Some(next) if !next.trim().is_empty() => next.trim_start(),
            Some(_) => return Err(bad()),
            None if tail.is_empty() => "",
            None => return Err(bad()),
        };
    }
    Ok(out)
}

/// The permission a bucket ACL must grant for `action` (S3 User Guide, "Mapping of ACL
/// permissions and access policy permissions"); `None` when bucket ACLs do not grant it.
pub fn bucket_permission(action: &str) -> Option<Permission> {
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            Permission::Read
        }
        // Tessera authorizes every multipart write as s3:PutObject.
        "s3:PutObject"
        | "s3:DeleteObject"
        | "s3:DeleteObjectVersion"
        | "s3:AbortMultipartUpload" => Permission::Write,
        "s3:GetBucketAcl" => Permission::ReadAcp,
        "s3:PutBucketAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

/// The permission an object ACL must grant for `action`; `None` when object ACLs do not
/// grant it (WRITE on an object means nothing in S3).
pub fn object_permission(action: &str) -> Option<Permission> {
    Some(match action {
        // GetObjectAttributes needs READ on the object (S3 API reference).
        "s3:GetObject"
        | "s3:GetObjectVersion"
        | "s3:GetObjectAttributes"
        | "s3:GetObjectVersionAttributes" => Permission::Read,
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => Permission::ReadAcp,
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "owner-canonical";
    const BUCKET_OWNER: &str = "bucket-owner-canonical";
    const OTHER: &str = "other-canonical";

    fn root(canonical: &str) -> Caller {
        Caller::Root {
            account_id: format!("acct-{canonical}"),
            canonical_id: canonical.to_owned(),
        }
    }

    fn user(canonical: &str) -> Caller {
        Caller::User {
            account_id: format!("acct-{canonical}"),
            canonical_id: canonical.to_owned(),
            user_name: "alice".into(),
            user_id: "AIDAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
        }
    }

    #[test]
    fn permission_and_group_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("read"), None);
        assert_eq!(Permission::FullControl.as_str(), "FULL_CONTROL");
        assert_eq!(Permission::ReadAcp.as_str(), "READ_ACP");
        for g in Group::ALL {
            assert_eq!(Group::from_uri(g.uri()), Some(g));
            assert_eq!(Group::from_name(g.name()), Some(g));
        }
        assert_eq!(
            Group::LogDelivery.uri(),
            "http://acs.amazonaws.com/groups/s3/LogDelivery"
        );
        assert_eq!(
            Group::from_uri("http://acs.amazonaws.com/groups/global/Nobody"),
            None
        );
    }

    #[test]
    fn canned_names_parse_and_unknown_is_an_error() {
        for c in CannedAcl::ALL {
            assert_eq!(CannedAcl::parse(c.as_str()), Ok(c));
        }
        let err = CannedAcl::parse("public").unwrap_err();
        assert_eq!(err, AclError::UnknownCannedAcl("public".into()));
        assert_eq!(err.s3_code(), "InvalidArgument");
    }

    #[test]
    fn canned_expansions() {
        let fc = Grant::canonical(OWNER, Permission::FullControl);
        let g = |c| Acl::from_canned(c, OWNER, BUCKET_OWNER).grants;
        assert_eq!(g(CannedAcl::Private), vec![fc.clone()]);
        assert_eq!(g(CannedAcl::AwsExecRead), vec![fc.clone()]);
        assert_eq!(
            g(CannedAcl::PublicRead),
            vec![Grant::group(Group::AllUsers, Permission::Read), fc.clone()]
        );
        assert_eq!(
            g(CannedAcl::PublicReadWrite),
            vec![
                Grant::group(Group::AllUsers, Permission::Read),
                Grant::group(Group::AllUsers, Permission::Write),
                fc.clone()
            ]
        );
        assert_eq!(
            g(CannedAcl::AuthenticatedRead),
            vec![
                Grant::group(Group::AuthenticatedUsers, Permission::Read),
                fc.clone()
            ]
        );
        assert_eq!(
            g(CannedAcl::BucketOwnerRead),
            vec![fc.clone(), Grant::canonical(BUCKET_OWNER, Permission::Read)]
        );
        assert_eq!(
            g(CannedAcl::BucketOwnerFullControl),
            vec![
                fc.clone(),
                Grant::canonical(BUCKET_OWNER, Permission::FullControl)
            ]
        );
        assert_eq!(
            g(CannedAcl::LogDeliveryWrite),
            vec![
                Grant::group(Group::LogDelivery, Permission::Write),
                Grant::group(Group::LogDelivery, Permission::ReadAcp),
                fc.clone()
            ]
        );
        let acl = Acl::from_canned(CannedAcl::Private, OWNER, BUCKET_OWNER);
        assert_eq!(acl.owner, OWNER);
        assert_eq!(
            Acl::private(OWNER),
            Acl::from_canned(CannedAcl::Private, OWNER, OWNER)
        );
    }

    #[test]
    fn bucket_owner_canned_acls_add_nothing_when_the_owner_owns_the_bucket() {
        for c in [
            CannedAcl::BucketOwnerRead,
            CannedAcl::BucketOwnerFullControl,
        ] {
            assert_eq!(
                Acl::from_canned(c, OWNER, OWNER).grants,
                vec![Grant::canonical(OWNER, Permission::FullControl)]
            );
        }
    }

    #[test]
    fn grant_headers_parse() {
        let acl = Acl::from_grant_headers(
            OWNER,
            &[
                (
                    Permission::Read,
                    r#"id="79a59df9", emailAddress="a@b.com" ,uri="http://acs.amazonaws.com/groups/global/AllUsers""#,
                ),
                (Permission::WriteAcp, "  id = abc  "),
                (Permission::FullControl, r#"id="x,y""#),
            ],
        )
        .unwrap();
        assert_eq!(acl.owner, OWNER);
        assert_eq!(
            acl.grants,
            vec![
                Grant::canonical("79a59df9", Permission::Read),
                Grant {
                    grantee: Grantee::Email("a@b.com".into()),
                    permission: Permission::Read
                },
                Grant::group(Group::AllUsers, Permission::Read),
                Grant::canonical("abc", Permission::WriteAcp),
                Grant::canonical("x,y", Permission::FullControl),
            ]
        );
    }

    #[test]
    fn grant_headers_add_no_owner_grant() {
        let acl = Acl::from_grant_headers(OWNER, &[(Permission::Read, "id=someone")]).unwrap();
        assert_eq!(
            acl.grants,
            vec![Grant::canonical("someone", Permission::Read)]
        );
    }

    #[test]
    fn malformed_grant_headers_are_errors() {
        for bad in [
            "",
            "   ",
            "id",
            "id=",
            r#"id="""#,
            r#"id="abc"#,
            r#"id="abc" x"#,
            "id=a,",
            "id=a,,id=b",
            "name=x",
            r#"uri="http://example.com/group""#,
            "=x",
        ] {
            let err = Acl::from_grant_headers(OWNER, &[(Permission::Read, bad)]).unwrap_err();
            assert!(
                matches!(err, AclError::InvalidArgument(_)),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn request_headers_choose_canned_or_grants() {
        assert_eq!(Acl::from_request_headers(None, &[], OWNER, OWNER), Ok(None));
        assert_eq!(
            Acl::from_request_headers(Some("public-read"), &[], OWNER, OWNER)
                .unwrap()
                .unwrap(),
            Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER)
        );
        let grants = [(Permission::Read, "id=x")];
        assert_eq!(
            Acl::from_request_headers(None, &grants, OWNER, OWNER)
                .unwrap()
                .unwrap()
                .grants,
            vec![Grant::canonical("x", Permission::Read)]
        );
        let err = Acl::from_request_headers(Some("private"), &grants, OWNER, OWNER).unwrap_err();
        assert_eq!(err, AclError::CannedAndGrants);
        assert_eq!(err.s3_code(), "InvalidRequest");
        assert!(matches!(
            Acl::from_request_headers(Some("nope"), &[], OWNER, OWNER),
            Err(AclError::UnknownCannedAcl(_))
        ));
    }

    #[test]
    fn resolve_turns_emails_into_canonical_users() {
        let acl = Acl::from_grant_headers(
            OWNER,
            &[(
                Permission::Read,
                r#"emailAddress="a@b.com", id="other-canonical", uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers""#,
            )],
        )
        .unwrap();
        let email_to_id = |e: &str| (e == "a@b.com").then(|| "a-canonical".to_owned());
        let exists = |id: &str| id == OTHER;
        let resolved = acl.clone().resolve(email_to_id, exists).unwrap();
        assert_eq!(
            resolved.grants,
            vec![
                Grant::canonical("a-canonical", Permission::Read),
                Grant::canonical(OTHER, Permission::Read),
                Grant::group(Group::AuthenticatedUsers, Permission::Read),
            ]
        );

        let err = acl.clone().resolve(|_| None, exists).unwrap_err();
        assert_eq!(err, AclError::UnresolvableEmail("a@b.com".into()));
        assert_eq!(err.s3_code(), "UnresolvableGrantByEmailAddress");

        let err = acl.resolve(email_to_id, |_| false).unwrap_err();
        assert!(matches!(&err, AclError::InvalidArgument(m) if m.contains("Invalid id")));
    }

    #[test]
    fn grants_matrix() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![
                Grant::canonical(OWNER, Permission::FullControl),
                Grant::canonical(OTHER, Permission::Read),
            ],
        };
        for p in Permission::ALL {
            assert!(acl.grants(&root(OWNER), p, false), "{p:?}");
            assert!(acl.grants(&user(OWNER), p, false), "{p:?}");
        }
        assert!(acl.grants(&root(OTHER), Permission::Read, false));
        assert!(acl.grants(&user(OTHER), Permission::Read, false));
        assert!(!acl.grants(&root(OTHER), Permission::Write, false));
        assert!(!acl.grants(&root(OTHER), Permission::ReadAcp, false));
        assert!(!acl.grants(&root("third"), Permission::Read, false));
        assert!(!acl.grants(&Caller::Anonymous, Permission::Read, false));
        // ignore_public leaves canonical grants alone.
        assert!(acl.grants(&root(OTHER), Permission::Read, true));
    }

    #[test]
    fn group_grants_and_ignore_public() {
        let all = Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER);
        let auth = Acl::from_canned(CannedAcl::AuthenticatedRead, OWNER, OWNER);
        for caller in [Caller::Anonymous, root(OTHER), user(OTHER)] {
            assert!(all.grants(&caller, Permission::Read, false));
            assert!(!all.grants(&caller, Permission::Read, true));
            assert!(!all.grants(&caller, Permission::Write, false));
        }
        assert!(!auth.grants(&Caller::Anonymous, Permission::Read, false));
        for caller in [root(OTHER), user(OTHER)] {
            assert!(auth.grants(&caller, Permission::Read, false));
            assert!(!auth.grants(&caller, Permission::Read, true));
        }
        let logs = Acl::from_canned(CannedAcl::LogDeliveryWrite, OWNER, OWNER);
        assert!(!logs.grants(&root(OTHER), Permission::Write, false));
        assert!(!logs.grants(&Caller::Anonymous, Permission::Write, false));
    }

    #[test]
    fn full_control_implies_everything() {
        for p in Permission::ALL {
            assert!(Permission::FullControl.implies(p));
            assert!(p.implies(p));
        }
        assert!(!Permission::Write.implies(Permission::Read));
        assert!(!Permission::Read.implies(Permission::FullControl));
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![Grant::group(Group::AllUsers, Permission::FullControl)],
        };
        for p in Permission::ALL {
            assert!(acl.grants(&Caller::Anonymous, p, false));
        }
    }

    #[test]
    fn unresolved_email_grants_match_nobody() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![Grant {
                grantee: Grantee::Email("a@b.com".into()),
                permission: Permission::Read,
            }],
        };
        assert!(!acl.grants(&root(OTHER), Permission::Read, false));
    }

    #[test]
    fn is_public() {
        let c = |canned| Acl::from_canned(canned, OWNER, BUCKET_OWNER).is_public();
        assert!(!c(CannedAcl::Private));
        assert!(c(CannedAcl::PublicRead));
        assert!(c(CannedAcl::PublicReadWrite));
        assert!(c(CannedAcl::AuthenticatedRead));
        assert!(!c(CannedAcl::BucketOwnerFullControl));
        assert!(!c(CannedAcl::LogDeliveryWrite));
    }

    #[test]
    fn stored_form_round_trips() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![
                Grant::canonical(OWNER, Permission::FullControl),
                Grant::group(Group::AllUsers, Permission::Read),
                Grant::group(Group::LogDelivery, Permission::WriteAcp),
                Grant {
                    grantee: Grantee::Email("a\"b@c.com".into()),
                    permission: Permission::Write,
                },
                Grant::canonical("x", Permission::ReadAcp),
            ],
        };
        let stored = acl.to_stored();
        assert_eq!(Acl::from_stored(&stored), Ok(acl));
        assert_eq!(
            Acl::from_canned(CannedAcl::PublicRead, "o", "o").to_stored(),
            r#"{"grants":[["group","AllUsers","READ"],["id","o","FULL_CONTROL"]],"owner":"o","v":1}"#
        );
        let empty = Acl {
            owner: OWNER.into(),
            grants: vec![],
        };
        assert_eq!(Acl::from_stored(&empty.to_stored()), Ok(empty));
    }

    #[test]
    fn bad_stored_forms_are_errors() {
        for bad in [
            "",
            "[]",
            r#"{"v":2,"owner":"o","grants":[]}"#,
            r#"{"v":1,"grants":[]}"#,
            r#"{"v":1,"owner":"o"}"#,
            r#"{"v":1,"owner":"o","grants":[["id","x"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["id","x","READ","extra"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["id","x","read"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["group","Everyone","READ"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["who","x","READ"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["id",1,"READ"]]}"#,
            r#"{"v":1,"owner":"o","grants":[["id",1,"x","READ"]]}"#,
            r#"{"v":1,"owner":"o","grants":[{"id":"x"}]}"#,
        ] {
            let err = Acl::from_stored(bad).unwrap_err();
            assert!(matches!(err, AclError::Stored(_)), "{bad}");
            assert_eq!(err.s3_code(), "InternalError");
        }
    }

    #[test]
    fn bucket_action_table() {
        for a in [
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:ListBucketMultipartUploads",
        ] {
            assert_eq!(bucket_permission(a), Some(Permission::Read), "{a}");
        }
        for a in [
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
            "s3:AbortMultipartUpload",
        ] {
            assert_eq!(bucket_permission(a), Some(Permission::Write), "{a}");
        }
        assert_eq!(
            bucket_permission("s3:GetBucketAcl"),
            Some(Permission::ReadAcp)
        );
        assert_eq!(
            bucket_permission("s3:PutBucketAcl"),
            Some(Permission::WriteAcp)
        );
        for a in [
            "s3:GetObject",
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "s3:GetBucketPolicy",
        ] {
            assert_eq!(bucket_permission(a), None, "{a}");
        }
    }

    #[test]
    fn object_action_table() {
        for a in [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectAttributes",
            "s3:GetObjectVersionAttributes",
        ] {
            assert_eq!(object_permission(a), Some(Permission::Read), "{a}");
        }
        for a in ["s3:GetObjectAcl", "s3:GetObjectVersionAcl"] {
            assert_eq!(object_permission(a), Some(Permission::ReadAcp), "{a}");
        }
        for a in ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"] {
            assert_eq!(object_permission(a), Some(Permission::WriteAcp), "{a}");
        }
        for a in [
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:ListMultipartUploadParts",
            "s3:GetObjectTagging",
        ] {
            assert_eq!(object_permission(a), None, "{a}");
        }
    }
}
