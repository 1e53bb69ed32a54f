//! The values exchanged with an [`crate::IamBackend`]: the verified caller, the inputs of each
//! operation and the entities the backend answers with.

use std::fmt;
use std::time::SystemTime;

/// Who signed the request, as verified by the caller of [`crate::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The 12-digit account id of the signer's account.
    pub account_id: String,
    /// The signer's ARN (`arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<path><name>`).
    pub arn: String,
    /// The signer's unique id (the account id for the root, `AIDA...` for a user).
    pub user_id: String,
    /// Account root or IAM user.
    pub kind: CallerKind,
}

/// The kind of principal that signed the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// The account's root user.
    Root,
    /// An IAM user of the account.
    User {
        /// The user's name.
        name: String,
    },
}

/// An IAM user as IAM reports it.
///
/// For the account root (GetUser without a name, signed by the root) `path` and `user_name` are
/// empty: the XML then omits them, as IAM does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user's path (`/` or `/a/b/`).
    pub path: String,
    /// The user's name, unique in its account (case-insensitively in IAM).
    pub user_name: String,
    /// The user's stable unique id (`AIDA...`).
    pub user_id: String,
    /// The user's ARN.
    pub arn: String,
    /// When the user was created.
    pub create_date: SystemTime,
}

/// Whether an access key may sign requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKeyStatus {
    /// The key may sign requests.
    Active,
    /// The key is refused.
    Inactive,
}

impl AccessKeyStatus {
    /// The wire form (`Active` / `Inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// An access key. `secret` is only set in the answer of CreateAccessKey.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The user the key belongs to (empty for a key of the account root).
    pub user_name: String,
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// Active or Inactive.
    pub status: AccessKeyStatus,
    /// The secret access key: only returned once, by CreateAccessKey.
    pub secret: Option<String>,
    /// When the key was created.
    pub create_date: SystemTime,
}

// Hand-written so that the secret can never reach a log through `{:?}`.
impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("user_name", &self.user_name)
            .field("access_key_id", &self.access_key_id)
            .field("status", &self.status)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("create_date", &self.create_date)
            .finish()
    }
}

/// When and where an access key was last used; `None` fields are rendered as IAM does for a
/// key never used (no date, `N/A` service and region).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessKeyLastUsed {
    /// The key's owner (empty for a key of the account root).
    pub user_name: String,
    /// When the key last signed a request.
    pub last_used_date: Option<SystemTime>,
    /// The service it was used with (`s3`, `iam`, `sts`).
    pub service_name: Option<String>,
    /// The region it was used in.
    pub region: Option<String>,
}

/// An inline policy of a user: the document is kept as sent (JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPolicy {
    /// The user the policy is embedded in.
    pub user_name: String,
    /// The policy's name, unique per user.
    pub policy_name: String,
    /// The policy document (JSON), as stored.
    pub policy_document: String,
}

/// Paging parameters of a List* request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paging {
    /// The `Marker` of the previous page's answer: the backend's opaque continuation token.
    pub marker: Option<String>,
    /// `MaxItems` (1..=1000); `None` means IAM's default of 100.
    pub max_items: Option<u32>,
}

impl Paging {
    /// IAM's page size when MaxItems is absent.
    pub const DEFAULT_MAX_ITEMS: u32 = 100;

    /// The page size to use.
    pub fn limit(&self) -> usize {
        self.max_items.unwrap_or(Self::DEFAULT_MAX_ITEMS) as usize
    }
}

/// One page of a listing: `next_marker` is set when more items follow (IsTruncated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, in the listing's order.
    pub items: Vec<T>,
    /// The opaque token to pass as `Marker` to get the next page; `None` on the last page.
    /// It must be 1-320 characters of U+0020..=U+00FF, or the client cannot send it back.
    pub next_marker: Option<String>,
}

/// CreateUser's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateUserInput {
    /// The new user's name.
    pub user_name: String,
    /// The new user's path (default `/`).
    pub path: String,
}

/// ListUsers' input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListUsersInput {
    /// Only users whose path starts with this (default `/`: all).
    pub path_prefix: String,
    /// Paging.
    pub paging: Paging,
}

/// UpdateUser's input: renames and/or moves a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateUserInput {
    /// The user to change.
    pub user_name: String,
    /// The new name, if renaming.
    pub new_user_name: Option<String>,
    /// The new path, if moving.
    pub new_path: Option<String>,
}

/// ListAccessKeys' input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListAccessKeysInput {
    /// Whose keys; `None` means the caller's own.
    pub user_name: Option<String>,
    /// Paging.
    pub paging: Paging,
}

/// UpdateAccessKey's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateAccessKeyInput {
    /// The key's owner; `None` means the caller.
    pub user_name: Option<String>,
    /// The key to change.
    pub access_key_id: String,
    /// The new status.
    pub status: AccessKeyStatus,
}

/// DeleteAccessKey's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteAccessKeyInput {
    /// The key's owner; `None` means the caller.
    pub user_name: Option<String>,
    /// The key to delete.
    pub access_key_id: String,
}

/// PutUserPolicy's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutUserPolicyInput {
    /// The user to embed the policy in.
    pub user_name: String,
    /// The policy's name (replaces a policy of the same name).
    pub policy_name: String,
    /// The policy document, URL-decoded JSON text, not yet validated.
    pub policy_document: String,
}

/// Names one inline policy of a user (GetUserPolicy, DeleteUserPolicy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPolicyRef {
    /// The user.
    pub user_name: String,
    /// The policy's name.
    pub policy_name: String,
}

/// ListUserPolicies' input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListUserPoliciesInput {
    /// The user.
    pub user_name: String,
    /// Paging.
    pub paging: Paging,
}

/// What [`crate::IamBackend::authorize`] checks an action on: the listings of entities Tessera
/// does not have (groups, roles, managed policies, OIDC providers) read nothing but need the right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthTarget {
    /// A resource ARN of the caller's account (`arn:aws:iam::123456789012:group/*`).
    Resource(String),
    /// An existing user of the caller's account, authorized on its ARN; NoSuchEntity if absent.
    User(String),
}

/// ListGroups' and ListRoles' input: validated, though there is nothing to filter or page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListByPathInput {
    /// Only entities whose path starts with this (default `/`: all).
    pub path_prefix: String,
    /// Paging.
    pub paging: Paging,
}

/// ListAttachedUserPolicies' input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListAttachedUserPoliciesInput {
    /// The user.
    pub user_name: String,
    /// Only policies whose path starts with this (default `/`: all).
    pub path_prefix: String,
    /// Paging.
    pub paging: Paging,
}
