//! Accounts, users, keys and inline policies as operations on [`Tessera`]: IAM's rules, the
//! root account, authentication through a cache kept valid by the store's auth epoch, and the
//! per-request authorization (ownership, then identity policies of IAM users).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::accounts::{
    self, AccessKey, Account, KeyOwner, KeyStatus, KeyUse, Principal, User, UserPolicy,
};
use crate::error::{Error, Result};
use crate::policy::{Policy, PolicyError, PolicyKind};
use crate::records::now_millis;
use crate::tessera::Tessera;

/// Name of the account created for the configured root key.
pub const ROOT_ACCOUNT_NAME: &str = "root";

/// Entries kept at most; past that the cache starts over (random unknown key ids must not
/// grow it without bound).
const CACHE_MAX: usize = 10_000;

/// A key resolved for authentication: its secret and who it stands for.
#[derive(Clone)]
pub struct ResolvedKey {
    pub secret: String,
    pub principal: Arc<Principal>,
}

/// Identities resolved since the auth epoch last changed.
#[derive(Default)]
pub(crate) struct IdentityCache {
    state: Mutex<CacheState>,
    /// When this process last recorded each key's use (see [`Tessera::note_key_use`]).
    recorded: Mutex<HashMap<String, i64>>,
}

/// A key's last use is written at most this often per key and process (a write per request
/// would cost more than the request).
const KEY_USE_EVERY_MS: i64 = 60_000;

#[derive(Default)]
struct CacheState {
    epoch: Option<u64>,
    /// `None`: the key is unknown or inactive.
    keys: HashMap<String, Option<ResolvedKey>>,
    accounts: Option<Arc<Vec<Account>>>,
}

impl IdentityCache {
    /// Forgets everything if the store's epoch moved since the last look.
    pub(crate) fn sync(&self, epoch: u64) {
        if let Ok(mut s) = self.state.lock() {
            if s.epoch != Some(epoch) {
                s.epoch = Some(epoch);
                s.keys.clear();
                s.accounts = None;
            }
        }
    }

    fn key(&self, id: &str) -> Option<Option<ResolvedKey>> {
        self.state.lock().ok()?.keys.get(id).cloned()
    }

    fn put_key(&self, epoch: u64, id: &str, v: Option<ResolvedKey>) {
        if let Ok(mut s) = self.state.lock() {
            // A lookup that raced with a change must not be cached under the new epoch.
            if s.epoch == Some(epoch) {
                if s.keys.len() >= CACHE_MAX {
                    s.keys.clear();
                }
                s.keys.insert(id.to_owned(), v);
            }
        }
    }
}

/// What one request asks for, to authorize.
#[derive(Clone, Debug)]
pub struct AccessRequest<'a> {
    /// The S3 action, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// The bucket, `None` for ListBuckets.
    pub bucket: Option<&'a str>,
    /// The object key, for object actions.
    pub key: Option<&'a str>,
    /// `x-amz-expected-bucket-owner`.
    pub expected_owner: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// The request's own condition keys (s3:prefix, s3:x-amz-acl, ...) and their values.
    pub conditions: &'a [(String, Vec<String>)],
    /// The multipart upload the request names (`uploadId`), for the initiator's own rights.
    pub upload_id: Option<&'a str>,
    /// The object version the request names (`versionId`): its owner and ACL decide.
    pub version_id: Option<&'a str>,
}

/// The resource ARN of an S3 request.
pub fn s3_resource_arn(bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (None, _) => "arn:aws:s3:::*".to_owned(),
        (Some(b), None) => format!("arn:aws:s3:::{b}"),
        (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
    }
}

fn policy_error(e: PolicyError) -> Error {
    match e {
        PolicyError::Malformed { reason } => Error::MalformedPolicyDocument(reason),
        PolicyError::TooLarge { .. } => Error::LimitExceeded(format!(
            "Maximum policy size of {} bytes exceeded for user",
            accounts::MAX_USER_POLICY_CHARS
        )),
    }
}

fn no_user(name: &str) -> Error {
    Error::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

impl Tessera {
    /// The accounts, first created first, cached until the auth epoch moves.
    pub async fn accounts(&self) -> Result<Arc<Vec<Account>>> {
        let epoch = self.meta.auth_epoch().await?;
        self.identities.sync(epoch);
        if let Some(a) = self
            .identities
            .state
            .lock()
            .ok()
            .and_then(|s| s.accounts.clone())
        {
            return Ok(a);
        }
        let list = Arc::new(self.meta.list_accounts().await?);
        if let Ok(mut s) = self.identities.state.lock() {
            if s.epoch == Some(epoch) {
                s.accounts = Some(list.clone());
            }
        }
        Ok(list)
    }

    /// The account with this id, from the cached list.
    pub async fn account_by_id(&self, id: &str) -> Result<Option<Account>> {
        Ok(self.accounts().await?.iter().find(|a| a.id == id).cloned())
    }

    /// The account named `name_or_id` (its name or its 12-digit id); `NoSuchEntity` if none.
    pub async fn find_account(&self, name_or_id: &str) -> Result<Account> {
        let all = self.meta.list_accounts().await?;
        all.into_iter()
            .find(|a| a.id == name_or_id || a.name == name_or_id)
            .ok_or_else(|| Error::NoSuchEntity(format!("no account {name_or_id:?}")))
    }

    /// Makes sure the first account exists and that `access_key_id`/`secret` is its active
    /// root key (the configured key always works; a changed one replaces the stored one).
    pub async fn ensure_root_account(&self, access_key_id: &str, secret: &str) -> Result<Account> {
        let accounts = self.meta.list_accounts().await?;
        let now = now_millis();
        let Some(root) = accounts.into_iter().next() else {
            let account = Account {
                id: accounts::new_account_id(),
                name: ROOT_ACCOUNT_NAME.to_owned(),
                email: None,
                canonical_id: accounts::new_canonical_id(),
                created: now,
            };
            let key = root_key(&account.id, access_key_id, secret, now);
            self.meta.create_account(account.clone(), Some(key)).await?;
            tracing::info!(account = %account.id, "root account created");
            return Ok(account);
        };
        let current = self.meta.get_access_key(access_key_id).await?;
        let owner = KeyOwner::Root {
            account_id: root.id.clone(),
        };
        let up_to_date = current.as_ref().is_some_and(|k| {
            k.owner == owner && k.secret == secret && k.status == KeyStatus::Active
        });
        if !up_to_date {
            self.meta
                .set_root_key(root_key(&root.id, access_key_id, secret, now))
                .await?;
            tracing::info!(account = %root.id, "root key of the root account updated");
        }
        Ok(root)
    }

    /// Creates an account with a root key (`keys`, else generated). Returns both.
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<String>,
        keys: Option<(String, String)>,
    ) -> Result<(Account, AccessKey)> {
        accounts::validate_account_name(name)?;
        if let Some((ak, sk)) = &keys {
            accounts::validate_key_pair(ak, sk)?;
        }
        let now = now_millis();
        let account = Account {
            id: accounts::new_account_id(),
            name: name.to_owned(),
            email,
            canonical_id: accounts::new_canonical_id(),
            created: now,
        };
        let (ak, sk) =
            keys.unwrap_or_else(|| (accounts::new_access_key_id(), accounts::new_secret()));
        let key = root_key(&account.id, &ak, &sk, now);
        self.meta
            .create_account(account.clone(), Some(key.clone()))
            .await?;
        Ok((account, key))
    }

    /// Deletes an account by name or id; refused while it owns buckets, and for the root
    /// account (the configured key would bring it back empty).
    pub async fn delete_account(&self, name_or_id: &str) -> Result<Account> {
        let account = self.find_account(name_or_id).await?;
        let first = self.meta.list_accounts().await?.into_iter().next();
        if first.is_some_and(|f| f.id == account.id) {
            return Err(Error::DeleteConflict(
                "the root account cannot be deleted".into(),
            ));
        }
        self.meta.delete_account(&account.id).await?;
        Ok(account)
    }

    /// Creates an IAM user in `account_id`.
    pub async fn create_user(&self, account_id: &str, name: &str, path: &str) -> Result<User> {
        accounts::validate_user_name(name)?;
        accounts::validate_path(path)?;
        let user = User {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            path: path.to_owned(),
            user_id: accounts::new_user_id(),
            arn: accounts::user_arn(account_id, path, name),
            created: now_millis(),
        };
        self.meta.create_user(user.clone()).await?;
        Ok(user)
    }

    /// The user; `NoSuchEntity` if missing.
    pub async fn user(&self, account_id: &str, name: &str) -> Result<User> {
        self.meta
            .get_user(account_id, name)
            .await?
            .ok_or_else(|| no_user(name))
    }

    /// The account's users, by name.
    pub async fn list_users(&self, account_id: &str) -> Result<Vec<User>> {
        self.meta.list_users(account_id).await
    }

    /// Renames and/or moves a user (IAM's UpdateUser); its keys and policies follow it.
    pub async fn update_user(
        &self,
        account_id: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<User> {
        let current = self.user(account_id, name).await?;
        let name_after = new_name.unwrap_or(&current.name);
        let path_after = new_path.unwrap_or(&current.path);
        accounts::validate_user_name(name_after)?;
        accounts::validate_path(path_after)?;
        let updated = User {
            name: name_after.to_owned(),
            path: path_after.to_owned(),
            arn: accounts::user_arn(account_id, path_after, name_after),
            ..current
        };
        self.meta
            .update_user(account_id, name, updated.clone())
            .await?;
        Ok(updated)
    }

    /// Deletes a user; `DeleteConflict` while it has keys or policies.
    pub async fn delete_user(&self, account_id: &str, name: &str) -> Result<()> {
        self.meta.delete_user(account_id, name).await
    }

    /// A new active key for a user (at most two per user).
    pub async fn create_user_key(&self, account_id: &str, user_name: &str) -> Result<AccessKey> {
        let user = self.user(account_id, user_name).await?;
        let key = AccessKey {
            access_key_id: accounts::new_access_key_id(),
            secret: accounts::new_secret(),
            status: KeyStatus::Active,
            owner: KeyOwner::User {
                account_id: account_id.to_owned(),
                user_name: user.name,
            },
            created: now_millis(),
            last_used: None,
        };
        self.meta.create_access_key(key.clone()).await?;
        Ok(key)
    }

    /// A user's keys, oldest first.
    pub async fn list_user_keys(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<AccessKey>> {
        self.list_keys(&user_key_owner(account_id, user_name)).await
    }

    /// The key `id` of `owner`; `NoSuchEntity` if `owner` has no such key.
    pub async fn key_of(&self, owner: &KeyOwner, id: &str) -> Result<AccessKey> {
        match self.meta.get_access_key(id).await? {
            Some(k) if owners_match(&k.owner, owner) => Ok(k),
            _ => Err(Error::NoSuchEntity(format!(
                "The Access Key with id {id} cannot be found."
            ))),
        }
    }

    /// A new active root key of an account (no quota on root keys).
    pub async fn create_root_key(&self, account_id: &str) -> Result<AccessKey> {
        let key = root_key(
            account_id,
            &accounts::new_access_key_id(),
            &accounts::new_secret(),
            now_millis(),
        );
        self.meta.create_access_key(key.clone()).await?;
        Ok(key)
    }

    /// The keys of `owner`, oldest first (a user's: `NoSuchEntity` if the user is missing).
    pub async fn list_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
        if let KeyOwner::User {
            account_id,
            user_name,
        } = owner
        {
            self.user(account_id, user_name).await?;
        }
        self.meta.list_access_keys(owner).await
    }

    /// Sets the status of a key of `owner`.
    pub async fn set_key_status(
        &self,
        owner: &KeyOwner,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.key_of(owner, id).await?;
        self.meta.set_access_key_status(id, status).await
    }

    /// Deletes a key of `owner`.
    pub async fn delete_key(&self, owner: &KeyOwner, id: &str) -> Result<()> {
        self.key_of(owner, id).await?;
        self.meta.delete_access_key(id).await
    }

    /// The key `id` if it belongs to account `account_id` (GetAccessKeyLastUsed).
    pub async fn account_key(&self, account_id: &str, id: &str) -> Result<AccessKey> {
        match self.meta.get_access_key(id).await? {
            Some(k) if k.owner.account_id() == account_id => Ok(k),
            _ => Err(Error::NoSuchEntity(format!(
                "The Access Key with id {id} cannot be found."
            ))),
        }
    }

    /// Sets the status of a user's key.
    pub async fn set_user_key_status(
        &self,
        account_id: &str,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let owner = user_key_owner(account_id, user_name);
        self.user(account_id, user_name).await?;
        self.set_key_status(&owner, id, status).await
    }

    /// Deletes a user's key.
    pub async fn delete_user_key(&self, account_id: &str, user_name: &str, id: &str) -> Result<()> {
        let owner = user_key_owner(account_id, user_name);
        self.user(account_id, user_name).await?;
        self.delete_key(&owner, id).await
    }

    /// Adds or replaces an inline user policy, validated as an identity policy first.
    pub async fn put_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
        document: &str,
    ) -> Result<()> {
        accounts::validate_policy_name(name)?;
        Policy::parse(document, &PolicyKind::identity()).map_err(policy_error)?;
        self.meta
            .put_user_policy(
                account_id,
                user_name,
                UserPolicy {
                    name: name.to_owned(),
                    document: document.to_owned(),
                },
            )
            .await
    }

    /// A user's inline policies, by name.
    pub async fn list_user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Result<Vec<UserPolicy>> {
        self.meta.list_user_policies(account_id, user_name).await
    }

    /// One inline policy; `NoSuchEntity` if missing.
    pub async fn user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
    ) -> Result<UserPolicy> {
        self.list_user_policies(account_id, user_name)
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::NoSuchEntity(format!("The user policy with name {name} cannot be found."))
            })
    }

    /// Deletes an inline policy.
    pub async fn delete_user_policy(
        &self,
        account_id: &str,
        user_name: &str,
        name: &str,
    ) -> Result<()> {
        self.meta
            .delete_user_policy(account_id, user_name, name)
            .await
    }

    /// Records that a key signed a request, for GetAccessKeyLastUsed.
    pub async fn record_key_use(
        &self,
        access_key_id: &str,
        service: &str,
        region: &str,
    ) -> Result<()> {
        self.meta
            .record_key_use(
                access_key_id,
                KeyUse {
                    at: now_millis(),
                    service: service.to_owned(),
                    region: region.to_owned(),
                },
            )
            .await
    }

    /// Records a key's use like [`Tessera::record_key_use`], but at most once a minute per key
    /// in this process; returns whether it wrote.
    pub async fn note_key_use(
        &self,
        access_key_id: &str,
        service: &str,
        region: &str,
    ) -> Result<bool> {
        let due = self.key_use_due(access_key_id);
        if due {
            self.record_key_use(access_key_id, service, region).await?;
        }
        Ok(due)
    }

    /// Whether a key's use is due to be recorded (at most once a minute per key in this
    /// process); a `true` answer counts as recorded, so the caller must record it.
    pub fn key_use_due(&self, access_key_id: &str) -> bool {
        let now = now_millis();
        match self.identities.recorded.lock() {
            Ok(mut seen) => {
                let due = seen
                    .get(access_key_id)
                    .is_none_or(|last| now - last >= KEY_USE_EVERY_MS);
                if due {
                    if seen.len() >= CACHE_MAX {
                        seen.clear();
                    }
                    seen.insert(access_key_id.to_owned(), now);
                }
                due
            }
            Err(_) => false,
        }
    }

    /// The secret and principal of an active key; `InvalidAccessKeyId` for an unknown,
    /// deleted or inactive one. Cached; one epoch read per call, so a change made by any
    /// process applies from the next request on.
    pub async fn authenticate(&self, access_key_id: &str) -> Result<ResolvedKey> {
        let epoch = self.meta.auth_epoch().await?;
        self.authenticate_at(epoch, access_key_id).await
    }

    /// [`Tessera::authenticate`] with the store's epoch already read.
    pub(crate) async fn authenticate_at(
        &self,
        epoch: u64,
        access_key_id: &str,
    ) -> Result<ResolvedKey> {
        self.identities.sync(epoch);
        let resolved = match self.identities.key(access_key_id) {
            Some(v) => v,
            None => {
                let v = self.resolve_key(access_key_id).await?;
                self.identities.put_key(epoch, access_key_id, v.clone());
                v
            }
        };
        resolved.ok_or(Error::InvalidAccessKeyId)
    }

    /// The secret of a key as last resolved, without reading the auth epoch: for checking a
    /// signature before the request's one read ([`Tessera::authorize_request`] then confirms
    /// the key under the current epoch and that the secret is still the one checked).
    /// Falls back to [`Tessera::authenticate`] when the key is not cached.
    pub async fn secret_for_signature(&self, access_key_id: &str) -> Result<String> {
        match self.identities.key(access_key_id) {
            Some(Some(resolved)) => Ok(resolved.secret),
            _ => Ok(self.authenticate(access_key_id).await?.secret),
        }
    }

    async fn resolve_key(&self, access_key_id: &str) -> Result<Option<ResolvedKey>> {
        let Some(key) = self.meta.get_access_key(access_key_id).await? else {
            return Ok(None);
        };
        if key.status != KeyStatus::Active {
            return Ok(None);
        }
        let Some(account) = self
            .meta
            .list_accounts()
            .await?
            .into_iter()
            .find(|a| a.id == key.owner.account_id())
        else {
            return Ok(None);
        };
        let (user, policies) = match &key.owner {
            KeyOwner::Root { .. } => (None, Vec::new()),
            KeyOwner::User { user_name, .. } => {
                let Some(user) = self.meta.get_user(&account.id, user_name).await? else {
                    return Ok(None);
                };
                let docs = self.meta.list_user_policies(&account.id, user_name).await?;
                let mut parsed = Vec::with_capacity(docs.len());
                for d in docs {
                    match Policy::parse(&d.document, &PolicyKind::identity()) {
                        Ok(p) => parsed.push(p),
                        // Validated at Put; a stored one that no longer parses grants nothing.
                        Err(e) => {
                            tracing::warn!(user = %user.arn, policy = %d.name, error = %e, "stored user policy does not parse; ignored")
                        }
                    }
                }
                (Some(user), parsed)
            }
        };
        Ok(Some(ResolvedKey {
            secret: key.secret,
            principal: Arc::new(Principal {
                account,
                user,
                policies,
                access_key_id: access_key_id.to_owned(),
            }),
        }))
    }
}

fn user_key_owner(account_id: &str, user_name: &str) -> KeyOwner {
    KeyOwner::User {
        account_id: account_id.to_owned(),
        user_name: user_name.to_owned(),
    }
}

/// Same owner; user names compare ignoring ASCII case, as IAM's.
fn owners_match(a: &KeyOwner, b: &KeyOwner) -> bool {
    a.account_id() == b.account_id()
        && match (a.user_name(), b.user_name()) {
            (None, None) => true,
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => false,
        }
}

fn root_key(account_id: &str, access_key_id: &str, secret: &str, now: i64) -> AccessKey {
    AccessKey {
        access_key_id: access_key_id.to_owned(),
        secret: secret.to_owned(),
        status: KeyStatus::Active,
        owner: KeyOwner::Root {
            account_id: account_id.to_owned(),
        },
        created: now,
        last_used: None,
    }
}
