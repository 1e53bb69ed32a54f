//! An in-memory `IamBackend` for the tests of this crate (not a production store): one account,
//! its root, users with at most two keys each, inline policies kept as JSON text.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use tessera_iam::{
    AccessKey, AccessKeyLastUsed, AccessKeyStatus, AuthTarget, Caller, CallerKind, CreateUserInput,
    DeleteAccessKeyInput, IamBackend, IamError, ListAccessKeysInput, ListUserPoliciesInput,
    ListUsersInput, Page, Paging, PutUserPolicyInput, UpdateAccessKeyInput, UpdateUserInput, User,
    UserPolicy, UserPolicyRef,
};

pub const ACCOUNT: &str = "123456789012";
pub const ROOT_KEY: &str = "AKIAROOTEXAMPLE00001";
pub const ROOT_SECRET: &str = "rootsecretrootsecretrootsecretrootsecret";
const MAX_KEYS_PER_USER: usize = 2;

/// The root's pseudo user name in the key table.
const ROOT: &str = "";

struct MemUser {
    user: User,
    policies: BTreeMap<String, String>,
}

struct MemKey {
    key: AccessKey,
    secret: String,
    last_used: Option<(SystemTime, String, String)>,
}

#[derive(Default)]
struct State {
    /// Users by lower-cased name: IAM names are unique case-insensitively.
    users: BTreeMap<String, MemUser>,
    /// Keys by id.
    keys: BTreeMap<String, MemKey>,
    next_id: u64,
}

pub struct MemBackend {
    created: SystemTime,
    state: Mutex<State>,
}

impl Default for MemBackend {
    fn default() -> Self {
        Self::new()
    }
}

pub fn root_caller() -> Caller {
    Caller {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        user_id: ACCOUNT.into(),
        kind: CallerKind::Root,
    }
}

fn page<T: Clone>(sorted: impl Iterator<Item = (String, T)>, paging: &Paging) -> Page<T> {
    let limit = paging.limit();
    let mut items: Vec<(String, T)> = sorted
        .filter(|(k, _)| paging.marker.as_ref().is_none_or(|m| k > m))
        .take(limit + 1)
        .collect();
    let next_marker = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next_marker,
    }
}

impl MemBackend {
    pub fn new() -> Self {
        let backend = MemBackend {
            created: SystemTime::now(),
            state: Mutex::new(State::default()),
        };
        backend.state.lock().unwrap().keys.insert(
            ROOT_KEY.into(),
            MemKey {
                key: AccessKey {
                    user_name: ROOT.into(),
                    access_key_id: ROOT_KEY.into(),
                    status: AccessKeyStatus::Active,
                    secret: None,
                    create_date: backend.created,
                },
                secret: ROOT_SECRET.into(),
                last_used: None,
            },
        );
        backend
    }

    /// The caller an Active key stands for (what the server does after verifying the signature),
    /// recording the key's last use.
    pub fn caller_for_key(
        &self,
        access_key_id: &str,
        service: &str,
        region: &str,
    ) -> Option<Caller> {
        let mut st = self.state.lock().unwrap();
        let k = st.keys.get_mut(access_key_id)?;
        if k.key.status != AccessKeyStatus::Active {
            return None;
        }
        k.last_used = Some((SystemTime::now(), service.into(), region.into()));
        let user_name = k.key.user_name.clone();
        if user_name == ROOT {
            return Some(root_caller());
        }
        let u = &st.users.get(&user_name.to_lowercase())?.user;
        Some(Caller {
            account_id: ACCOUNT.into(),
            arn: u.arn.clone(),
            user_id: u.user_id.clone(),
            kind: CallerKind::User {
                name: u.user_name.clone(),
            },
        })
    }

    /// The secret of a key, for a client to sign with.
    pub fn secret_of(&self, access_key_id: &str) -> Option<String> {
        let st = self.state.lock().unwrap();
        st.keys.get(access_key_id).map(|k| k.secret.clone())
    }

    fn arn(path: &str, name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:user{path}{name}")
    }

    /// The user a request is about: the named one, or the caller itself.
    fn subject(caller: &Caller, user_name: Option<&str>) -> String {
        match (user_name, &caller.kind) {
            (Some(name), _) => name.to_owned(),
            (None, CallerKind::User { name }) => name.clone(),
            (None, CallerKind::Root) => ROOT.to_owned(),
        }
    }

    /// The root may do anything; a user only manages itself (its keys, GetUser).
    fn authorize(
        caller: &Caller,
        action: &str,
        subject: &str,
        self_service: bool,
    ) -> Result<(), IamError> {
        match &caller.kind {
            CallerKind::Root => Ok(()),
            CallerKind::User { name } if self_service && name == subject => Ok(()),
            CallerKind::User { .. } => Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: iam:{action} on resource: user {subject}",
                caller.arn
            ))),
        }
    }

    fn no_such_user(name: &str) -> IamError {
        IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
    }
}

fn user_mut<'a>(st: &'a mut State, name: &str) -> Result<&'a mut MemUser, IamError> {
    st.users
        .get_mut(&name.to_lowercase())
        .ok_or_else(|| MemBackend::no_such_user(name))
}

/// The canonical name of an existing user (or the root), to own keys.
fn owner(st: &State, subject: &str) -> Result<String, IamError> {
    if subject == ROOT {
        return Ok(ROOT.to_owned());
    }
    st.users
        .get(&subject.to_lowercase())
        .map(|u| u.user.user_name.clone())
        .ok_or_else(|| MemBackend::no_such_user(subject))
}

fn user_key<'a>(st: &'a mut State, owner: &str, id: &str) -> Result<&'a mut MemKey, IamError> {
    st.keys
        .get_mut(id)
        .filter(|k| k.key.user_name == owner)
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
        })
}

#[async_trait]
impl IamBackend for MemBackend {
    async fn create_user(&self, caller: &Caller, input: CreateUserInput) -> Result<User, IamError> {
        Self::authorize(caller, "CreateUser", &input.user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let key = input.user_name.to_lowercase();
        if st.users.contains_key(&key) {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                input.user_name
            )));
        }
        st.next_id += 1;
        let user = User {
            arn: Self::arn(&input.path, &input.user_name),
            path: input.path,
            user_id: format!("AIDA{:016}", st.next_id),
            user_name: input.user_name,
            create_date: SystemTime::now(),
        };
        st.users.insert(
            key,
            MemUser {
                user: user.clone(),
                policies: BTreeMap::new(),
            },
        );
        Ok(user)
    }

    async fn get_user(&self, caller: &Caller, user_name: Option<&str>) -> Result<User, IamError> {
        let subject = Self::subject(caller, user_name);
        Self::authorize(caller, "GetUser", &subject, true)?;
        if subject == ROOT {
            return Ok(User {
                path: String::new(),
                user_name: String::new(),
                user_id: caller.user_id.clone(),
                arn: caller.arn.clone(),
                create_date: self.created,
            });
        }
        let mut st = self.state.lock().unwrap();
        Ok(user_mut(&mut st, &subject)?.user.clone())
    }

    async fn list_users(
        &self,
        caller: &Caller,
        input: ListUsersInput,
    ) -> Result<Page<User>, IamError> {
        Self::authorize(caller, "ListUsers", "", false)?;
        let st = self.state.lock().unwrap();
        let users = st
            .users
            .iter()
            .filter(|(_, u)| u.user.path.starts_with(&input.path_prefix))
            .map(|(k, u)| (k.clone(), u.user.clone()));
        Ok(page(users, &input.paging))
    }

    async fn update_user(&self, caller: &Caller, input: UpdateUserInput) -> Result<(), IamError> {
        Self::authorize(caller, "UpdateUser", &input.user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let old_key = input.user_name.to_lowercase();
        let old_name = user_mut(&mut st, &input.user_name)?.user.user_name.clone();
        let new_name = input
            .new_user_name
            .clone()
            .unwrap_or_else(|| old_name.clone());
        let new_key = new_name.to_lowercase();
        if new_key != old_key && st.users.contains_key(&new_key) {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {new_name} already exists."
            )));
        }
        let Some(mut u) = st.users.remove(&old_key) else {
            return Err(Self::no_such_user(&input.user_name));
        };
        if let Some(path) = input.new_path {
            u.user.path = path;
        }
        u.user.user_name = new_name.clone();
        u.user.arn = Self::arn(&u.user.path, &new_name);
        st.users.insert(new_key, u);
        for k in st.keys.values_mut().filter(|k| k.key.user_name == old_name) {
            k.key.user_name = new_name.clone();
        }
        Ok(())
    }

    async fn delete_user(&self, caller: &Caller, user_name: &str) -> Result<(), IamError> {
        Self::authorize(caller, "DeleteUser", user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let name = user_mut(&mut st, user_name)?.user.user_name.clone();
        if st.keys.values().any(|k| k.key.user_name == name) {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        if !user_mut(&mut st, user_name)?.policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        st.users.remove(&user_name.to_lowercase());
        Ok(())
    }

    async fn create_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<AccessKey, IamError> {
        let subject = Self::subject(caller, user_name);
        Self::authorize(caller, "CreateAccessKey", &subject, true)?;
        let mut st = self.state.lock().unwrap();
        let owner = owner(&st, &subject)?;
        if st
            .keys
            .values()
            .filter(|k| k.key.user_name == owner)
            .count()
            >= MAX_KEYS_PER_USER
        {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        st.next_id += 1;
        let id = format!("AKIA{:016}", st.next_id);
        let secret = format!("secret{:034}", st.next_id);
        let key = AccessKey {
            user_name: owner,
            access_key_id: id.clone(),
            status: AccessKeyStatus::Active,
            secret: None,
            create_date: SystemTime::now(),
        };
        st.keys.insert(
            id,
            MemKey {
                key: key.clone(),
                secret: secret.clone(),
                last_used: None,
            },
        );
        Ok(AccessKey {
            secret: Some(secret),
            ..key
        })
    }

    async fn list_access_keys(
        &self,
        caller: &Caller,
        input: ListAccessKeysInput,
    ) -> Result<Page<AccessKey>, IamError> {
        let subject = Self::subject(caller, input.user_name.as_deref());
        Self::authorize(caller, "ListAccessKeys", &subject, true)?;
        let st = self.state.lock().unwrap();
        let owner = owner(&st, &subject)?;
        let keys = st
            .keys
            .iter()
            .filter(|(_, k)| k.key.user_name == owner)
            .map(|(id, k)| (id.clone(), k.key.clone()));
        Ok(page(keys, &input.paging))
    }

    async fn update_access_key(
        &self,
        caller: &Caller,
        input: UpdateAccessKeyInput,
    ) -> Result<(), IamError> {
        let subject = Self::subject(caller, input.user_name.as_deref());
        Self::authorize(caller, "UpdateAccessKey", &subject, true)?;
        let mut st = self.state.lock().unwrap();
        let owner = owner(&st, &subject)?;
        user_key(&mut st, &owner, &input.access_key_id)?.key.status = input.status;
        Ok(())
    }

    async fn delete_access_key(
        &self,
        caller: &Caller,
        input: DeleteAccessKeyInput,
    ) -> Result<(), IamError> {
        let subject = Self::subject(caller, input.user_name.as_deref());
        Self::authorize(caller, "DeleteAccessKey", &subject, true)?;
        let mut st = self.state.lock().unwrap();
        let owner = owner(&st, &subject)?;
        user_key(&mut st, &owner, &input.access_key_id)?;
        st.keys.remove(&input.access_key_id);
        Ok(())
    }

    async fn get_access_key_last_used(
        &self,
        caller: &Caller,
        access_key_id: &str,
    ) -> Result<AccessKeyLastUsed, IamError> {
        let st = self.state.lock().unwrap();
        let k = st.keys.get(access_key_id).ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            ))
        })?;
        Self::authorize(caller, "GetAccessKeyLastUsed", &k.key.user_name, true)?;
        Ok(AccessKeyLastUsed {
            user_name: k.key.user_name.clone(),
            last_used_date: k.last_used.as_ref().map(|(t, _, _)| *t),
            service_name: k.last_used.as_ref().map(|(_, s, _)| s.clone()),
            region: k.last_used.as_ref().map(|(_, _, r)| r.clone()),
        })
    }

    async fn put_user_policy(
        &self,
        caller: &Caller,
        input: PutUserPolicyInput,
    ) -> Result<(), IamError> {
        Self::authorize(caller, "PutUserPolicy", &input.user_name, false)?;
        // Validating the policy language is the policy module's job: here any JSON object will do.
        match serde_json::from_str::<serde_json::Value>(&input.policy_document) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(IamError::MalformedPolicyDocument {
                    reason: "The policy document must be a JSON object.".into(),
                })
            }
            Err(e) => {
                return Err(IamError::MalformedPolicyDocument {
                    reason: format!("Syntax errors in policy: {e}"),
                })
            }
        }
        let mut st = self.state.lock().unwrap();
        user_mut(&mut st, &input.user_name)?
            .policies
            .insert(input.policy_name, input.policy_document);
        Ok(())
    }

    async fn get_user_policy(
        &self,
        caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<UserPolicy, IamError> {
        Self::authorize(caller, "GetUserPolicy", &input.user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let u = user_mut(&mut st, &input.user_name)?;
        let document = u.policies.get(&input.policy_name).ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The user policy with name {} cannot be found.",
                input.policy_name
            ))
        })?;
        Ok(UserPolicy {
            user_name: u.user.user_name.clone(),
            policy_name: input.policy_name,
            policy_document: document.clone(),
        })
    }

    async fn list_user_policies(
        &self,
        caller: &Caller,
        input: ListUserPoliciesInput,
    ) -> Result<Page<String>, IamError> {
        Self::authorize(caller, "ListUserPolicies", &input.user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let u = user_mut(&mut st, &input.user_name)?;
        let names = u.policies.keys().map(|n| (n.clone(), n.clone()));
        Ok(page(names, &input.paging))
    }

    async fn delete_user_policy(
        &self,
        caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<(), IamError> {
        Self::authorize(caller, "DeleteUserPolicy", &input.user_name, false)?;
        let mut st = self.state.lock().unwrap();
        let u = user_mut(&mut st, &input.user_name)?;
        u.policies.remove(&input.policy_name).ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The user policy with name {} cannot be found.",
                input.policy_name
            ))
        })?;
        Ok(())
    }

    async fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        target: AuthTarget,
    ) -> Result<(), IamError> {
        let action = action.strip_prefix("iam:").unwrap_or(action);
        match target {
            AuthTarget::Resource(arn) => Self::authorize(caller, action, &arn, false),
            AuthTarget::User(name) => {
                Self::authorize(caller, action, &name, false)?;
                let mut st = self.state.lock().unwrap();
                user_mut(&mut st, &name).map(|_| ())
            }
        }
    }
}
