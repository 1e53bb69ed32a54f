//! Accounts, IAM users, access keys and inline user policies: the model, IAM's naming and
//! quota rules, and the ids AWS formats (account id, canonical id, user id, access key id).
//! Storage lives behind [`crate::MetaStore`]; the operations are on [`crate::Tessera`]
//! (`identities.rs`).

use crate::error::{Error, Result};
use crate::ids::Millis;
use crate::policy::Caller;

/// An account: owns buckets, has a root user with access keys, and IAM users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// 12 decimal digits.
    pub id: String,
    /// Unique name, also the display name in Owner fields.
    pub name: String,
    pub email: Option<String>,
    /// 64 lowercase hex chars: the canonical user id of S3's Owner fields and ACLs.
    pub canonical_id: String,
    pub created: Millis,
}

/// An IAM user of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub account_id: String,
    /// Unique in its account (IAM compares names case-insensitively; so does Tessera).
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AIDA` + 17 uppercase letters and digits.
    pub user_id: String,
    /// `arn:aws:iam::<account>:user<path><name>`.
    pub arn: String,
    pub created: Millis,
}

/// Whether a key may sign requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    /// IAM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    /// Parses IAM's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

/// Whose key it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    /// The account's root user.
    Root { account_id: String },
    /// An IAM user.
    User {
        account_id: String,
        user_name: String,
    },
}

impl KeyOwner {
    /// The owner's account.
    pub fn account_id(&self) -> &str {
        match self {
            KeyOwner::Root { account_id } | KeyOwner::User { account_id, .. } => account_id,
        }
    }

    /// The user's name, `None` for the root user.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            KeyOwner::Root { .. } => None,
            KeyOwner::User { user_name, .. } => Some(user_name),
        }
    }
}

/// When, for which service and in which region a key last signed a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    pub at: Millis,
    pub service: String,
    pub region: String,
}

/// An access key and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret: String,
    pub status: KeyStatus,
    pub owner: KeyOwner,
    pub created: Millis,
    pub last_used: Option<KeyUse>,
}

// Hand-written so that a debug print never shows the secret.
impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field("status", &self.status)
            .field("owner", &self.owner)
            .field("created", &self.created)
            .field("last_used", &self.last_used)
            .finish()
    }
}

/// An inline policy of a user, as stored (the document text as given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPolicy {
    pub name: String,
    pub document: String,
}

/// At most this many access keys per IAM user (IAM's quota).
pub const MAX_KEYS_PER_USER: usize = 2;

/// Aggregate size of a user's inline policies, whitespace excluded (IAM's quota).
pub const MAX_USER_POLICY_CHARS: usize = crate::policy::USER_INLINE_POLICY_MAX_CHARS;

/// The size IAM counts for a policy document: characters other than whitespace.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// The characters IAM allows in user and policy names: letters, digits and `+=,.@_-`.
fn iam_name_chars(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// Checks an IAM user name (1 to 64 of `[\w+=,.@-]`).
pub fn validate_user_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || !iam_name_chars(name) {
        return Err(Error::IdentityValidation(format!(
            "user name {name:?} must be 1 to 64 letters, digits or +=,.@_-"
        )));
    }
    Ok(())
}

/// Checks an inline policy name (1 to 128 of `[\w+=,.@-]`).
pub fn validate_policy_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || !iam_name_chars(name) {
        return Err(Error::IdentityValidation(format!(
            "policy name {name:?} must be 1 to 128 letters, digits or +=,.@_-"
        )));
    }
    Ok(())
}

/// Checks an IAM path: `/`, or `/` then segments each ending in `/`, at most 512 chars of
/// printable ASCII.
pub fn validate_path(path: &str) -> Result<()> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && !path.contains("//")
        && path.chars().all(|c| ('!'..='~').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::IdentityValidation(format!(
            "path {path:?} must begin and end with / and hold printable ASCII"
        )))
    }
}

/// Checks an account name: 1 to 64 of `[a-z0-9._-]` (lowercase, so display names are
/// unambiguous), not 12 digits (that would read as an account id).
pub fn validate_account_name(name: &str) -> Result<()> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if name.is_empty() || name.len() > 64 || !chars_ok || is_account_id(name) {
        return Err(Error::IdentityValidation(format!(
            "account name {name:?} must be 1 to 64 lowercase letters, digits or ._- and not 12 digits"
        )));
    }
    Ok(())
}

/// Checks an access key id (16 to 128 of `[A-Za-z0-9]`) and a secret (16 to 128 printable ASCII,
/// no space), for keys given explicitly.
pub fn validate_key_pair(access_key_id: &str, secret: &str) -> Result<()> {
    let id_ok = (16..=128).contains(&access_key_id.len())
        && access_key_id.chars().all(|c| c.is_ascii_alphanumeric());
    let secret_ok =
        (16..=128).contains(&secret.len()) && secret.chars().all(|c| c.is_ascii_graphic());
    if !id_ok {
        return Err(Error::IdentityValidation(
            "access key id must be 16 to 128 letters or digits".into(),
        ));
    }
    if !secret_ok {
        return Err(Error::IdentityValidation(
            "secret key must be 16 to 128 printable ASCII characters without spaces".into(),
        ));
    }
    Ok(())
}

/// Whether `s` has the form of an account id (12 digits).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_from(alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| {
            let i = usize::from(rand::random::<u8>()) % alphabet.len();
            char::from(alphabet[i])
        })
        .collect()
}

/// A fresh account id: 12 digits, not starting with 0 (so it never loses digits as a number).
pub fn new_account_id() -> String {
    let n = 100_000_000_000u64 + rand::random::<u64>() % 900_000_000_000;
    n.to_string()
}

/// A fresh canonical user id: 64 lowercase hex chars.
pub fn new_canonical_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A fresh IAM user id: `AIDA` + 17 uppercase letters and digits.
pub fn new_user_id() -> String {
    format!("AIDA{}", random_from(UPPER_ALNUM, 17))
}

/// A fresh access key id: `AKIA` + 16 uppercase letters and digits (20 chars, as AWS's).
pub fn new_access_key_id() -> String {
    format!("AKIA{}", random_from(UPPER_ALNUM, 16))
}

/// A fresh secret access key: 40 chars of the base64 alphabet (as AWS's), 240 random bits.
pub fn new_secret() -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 64 divides 256: each byte picks uniformly.
    random_from(B64, 40)
}

/// The ARN of a user.
pub fn user_arn(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:user{path}{name}")
}

/// The ARN of an account's root user.
pub fn root_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:root")
}

/// Who signed a request, resolved from its access key: what authorization and the Owner /
/// Initiator fields need.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account: Account,
    /// `None` for the account's root user.
    pub user: Option<User>,
    /// The user's inline policies, parsed (empty for root).
    pub policies: Vec<crate::policy::Policy>,
    pub access_key_id: String,
}

impl Principal {
    /// The caller as the policy evaluator sees it.
    pub fn caller(&self) -> Caller {
        match &self.user {
            None => Caller::Root {
                account_id: self.account.id.clone(),
                canonical_id: self.account.canonical_id.clone(),
            },
            Some(u) => Caller::User {
                account_id: self.account.id.clone(),
                canonical_id: self.account.canonical_id.clone(),
                user_name: u.name.clone(),
                user_id: u.user_id.clone(),
                arn: u.arn.clone(),
            },
        }
    }

    /// The ARN of the signer: the user's, or the account root's.
    pub fn arn(&self) -> String {
        match &self.user {
            Some(u) => u.arn.clone(),
            None => root_arn(&self.account.id),
        }
    }

    /// aws:userid: the user id, or the account id for root.
    pub fn user_id(&self) -> &str {
        match &self.user {
            Some(u) => &u.user_id,
            None => &self.account.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_aws_shapes() {
        let a = new_account_id();
        assert!(is_account_id(&a) && !a.starts_with('0'), "{a}");
        let c = new_canonical_id();
        assert_eq!(c.len(), 64);
        assert!(c
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let u = new_user_id();
        assert_eq!(u.len(), 21);
        assert!(u.starts_with("AIDA"));
        let k = new_access_key_id();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        let s = new_secret();
        assert_eq!(s.len(), 40);
        validate_key_pair(&k, &s).unwrap();
        assert_ne!(new_secret(), s);
    }

    #[test]
    fn names_and_paths() {
        validate_user_name("alice+ops@example.com").unwrap();
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("a b").is_err());
        assert!(validate_user_name(&"x".repeat(65)).is_err());
        validate_policy_name("ReadOnly").unwrap();
        assert!(validate_policy_name("read/only").is_err());
        validate_path("/").unwrap();
        validate_path("/team/ops/").unwrap();
        assert!(validate_path("team/").is_err());
        assert!(validate_path("/team").is_err());
        assert!(validate_path("/a//b/").is_err());
        validate_account_name("alt-1").unwrap();
        assert!(validate_account_name("Alt").is_err());
        assert!(validate_account_name("123456789012").is_err());
        assert!(validate_key_pair("short", "0123456789abcdef").is_err());
        assert!(validate_key_pair("AKIAEXAMPLEEXAMPLE", "has space in it!!").is_err());
    }

    #[test]
    fn arns_and_policy_size() {
        assert_eq!(
            user_arn("123456789012", "/ops/", "bob"),
            "arn:aws:iam::123456789012:user/ops/bob"
        );
        assert_eq!(root_arn("123456789012"), "arn:aws:iam::123456789012:root");
        assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
    }

    #[test]
    fn key_debug_hides_the_secret() {
        let k = AccessKey {
            access_key_id: "AKIAEXAMPLE".into(),
            secret: "very-secret-value".into(),
            status: KeyStatus::Active,
            owner: KeyOwner::Root {
                account_id: "123456789012".into(),
            },
            created: 0,
            last_used: None,
        };
        assert!(!format!("{k:?}").contains("very-secret"));
    }
}
