//! The IAM and STS Query API at the S3 endpoint: requests `tessera_iam::service_of` recognizes
//! are taken before s3s, their body read (bounded, timed), their SigV4 signature verified with
//! [`crate::sigv4`], and served by `tessera_iam::handle` over [`CoreIam`], the `IamBackend`
//! over the domain's accounts, users, keys and policies.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tessera_core::accounts::{self, AccessKey, KeyOwner, KeyStatus, Principal, User};
use tessera_core::policy::{self, RequestContext};
use tessera_core::{Error, Tessera};
use tessera_iam::{
    AccessKeyLastUsed, AccessKeyStatus, AuthFailure, AuthTarget, Caller, CallerKind,
    CreateUserInput, DeleteAccessKeyInput, IamBackend, IamError, ListAccessKeysInput,
    ListUserPoliciesInput, ListUsersInput, Page, Paging, PutUserPolicyInput, Service,
    UpdateAccessKeyInput, UpdateUserInput, UserPolicyRef,
};

use crate::{sigv4, HttpResponse, HttpService};

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn iam_error(e: Error) -> IamError {
    match e {
        Error::NoSuchEntity(m) => IamError::NoSuchEntity(m),
        Error::EntityAlreadyExists(m) => IamError::EntityAlreadyExists(m),
        Error::DeleteConflict(m) => IamError::DeleteConflict(m),
        Error::LimitExceeded(m) => IamError::LimitExceeded(m),
        Error::MalformedPolicyDocument(reason) => IamError::MalformedPolicyDocument { reason },
        Error::IdentityValidation(m) => IamError::ValidationError(m),
        Error::AccessDenied => IamError::AccessDenied("Access denied".into()),
        Error::Backend { source, transient } => IamError::ServiceFailure { source, transient },
        other => IamError::ServiceFailure {
            source: Box::new(other),
            transient: false,
        },
    }
}

fn user_out(u: &User) -> tessera_iam::User {
    tessera_iam::User {
        path: u.path.clone(),
        user_name: u.name.clone(),
        user_id: u.user_id.clone(),
        arn: u.arn.clone(),
        create_date: time_of(u.created),
    }
}

fn key_out(k: &AccessKey, with_secret: bool) -> tessera_iam::AccessKey {
    tessera_iam::AccessKey {
        user_name: k.owner.user_name().unwrap_or_default().to_owned(),
        access_key_id: k.access_key_id.clone(),
        status: match k.status {
            KeyStatus::Active => AccessKeyStatus::Active,
            KeyStatus::Inactive => AccessKeyStatus::Inactive,
        },
        secret: with_secret.then(|| k.secret.clone()),
        create_date: time_of(k.created),
    }
}

fn status_in(s: AccessKeyStatus) -> KeyStatus {
    match s {
        AccessKeyStatus::Active => KeyStatus::Active,
        AccessKeyStatus::Inactive => KeyStatus::Inactive,
    }
}

/// One page of `items`, ordered by `name` (the order the marker relies on), after the marker
/// (the last name of the previous page).
fn page<T>(mut items: Vec<T>, paging: &Paging, name: impl Fn(&T) -> String) -> Page<T> {
    items.sort_by_cached_key(|i| name(i));
    let after = paging.marker.clone();
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_ref().is_none_or(|m| name(i) > *m))
        .collect();
    let limit = paging.limit().max(1);
    let next_marker = (rest.len() > limit).then(|| name(&rest[limit - 1]));
    rest.truncate(limit);
    Page {
        items: rest,
        next_marker,
    }
}

/// The IAM operations over the domain, for one verified principal.
pub(crate) struct CoreIam {
    pub(crate) app: Arc<Tessera>,
    pub(crate) principal: Arc<Principal>,
    /// The connection's peer (aws:SourceIp).
    pub(crate) source_ip: Option<std::net::IpAddr>,
    /// The listener serves TLS (aws:SecureTransport).
    pub(crate) secure_transport: bool,
}

impl CoreIam {
    fn account(&self) -> &str {
        &self.principal.account.id
    }

    /// The account root may do anything in its account; an IAM user what its policies allow.
    fn allow(&self, action: &str, resource: &str) -> Result<(), IamError> {
        if self.principal.user.is_none() {
            return Ok(());
        }
        let ctx = RequestContext::new(
            self.principal.caller(),
            action,
            resource,
            tessera_core::now_millis(),
            self.source_ip,
            self.secure_transport,
        );
        let identity: Vec<&policy::Policy> = self.principal.policies.iter().collect();
        if policy::evaluate(&identity, None, None, &ctx).is_allowed() {
            Ok(())
        } else {
            Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource}",
                self.principal.arn()
            )))
        }
    }

    /// The named user, authorized for `action` on its ARN.
    async fn user_for(&self, action: &str, name: &str) -> Result<User, IamError> {
        // Authorized on the ARN of the default path before the lookup, so that a caller
        // without the right learns nothing about which users exist.
        let probe = accounts::user_arn(self.account(), "/", name);
        let found = self.app.user(self.account(), name).await;
        match found {
            Ok(u) => {
                self.allow(action, &u.arn)?;
                Ok(u)
            }
            Err(e) => {
                self.allow(action, &probe)?;
                Err(iam_error(e))
            }
        }
    }

    /// Whose keys: the named user's, or the caller's own.
    async fn key_owner(&self, action: &str, user_name: Option<&str>) -> Result<KeyOwner, IamError> {
        match user_name {
            Some(name) => {
                let u = self.user_for(action, name).await?;
                Ok(KeyOwner::User {
                    account_id: u.account_id,
                    user_name: u.name,
                })
            }
            None => {
                self.allow(action, &self.principal.arn())?;
                Ok(match &self.principal.user {
                    None => KeyOwner::Root {
                        account_id: self.account().to_owned(),
                    },
                    Some(u) => KeyOwner::User {
                        account_id: u.account_id.clone(),
                        user_name: u.name.clone(),
                    },
                })
            }
        }
    }
}

#[async_trait::async_trait]
impl IamBackend for CoreIam {
    async fn create_user(
        &self,
        _caller: &Caller,
        input: CreateUserInput,
    ) -> Result<tessera_iam::User, IamError> {
        let arn = accounts::user_arn(self.account(), &input.path, &input.user_name);
        self.allow("iam:CreateUser", &arn)?;
        let u = self
            .app
            .create_user(self.account(), &input.user_name, &input.path)
            .await
            .map_err(iam_error)?;
        Ok(user_out(&u))
    }

    async fn get_user(
        &self,
        _caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<tessera_iam::User, IamError> {
        match user_name {
            Some(name) => Ok(user_out(&self.user_for("iam:GetUser", name).await?)),
            None => match &self.principal.user {
                Some(u) => Ok(user_out(u)),
                None => Ok(tessera_iam::User {
                    path: String::new(),
                    user_name: String::new(),
                    user_id: self.account().to_owned(),
                    arn: accounts::root_arn(self.account()),
                    create_date: time_of(self.principal.account.created),
                }),
            },
        }
    }

    async fn list_users(
        &self,
        _caller: &Caller,
        input: ListUsersInput,
    ) -> Result<Page<tessera_iam::User>, IamError> {
        self.allow(
            "iam:ListUsers",
            &format!("arn:aws:iam::{}:user{}*", self.account(), input.path_prefix),
        )?;
        let users = self
            .app
            .list_users(self.account())
            .await
            .map_err(iam_error)?;
        let users: Vec<tessera_iam::User> = users
            .iter()
            .filter(|u| u.path.starts_with(&input.path_prefix))
            .map(user_out)
            .collect();
        // IAM lists users by name regardless of case (names are unique ignoring case).
        Ok(page(users, &input.paging, |u| {
            u.user_name.to_ascii_lowercase()
        }))
    }

    async fn update_user(&self, _caller: &Caller, input: UpdateUserInput) -> Result<(), IamError> {
        let u = self.user_for("iam:UpdateUser", &input.user_name).await?;
        self.app
            .update_user(
                self.account(),
                &u.name,
                input.new_user_name.as_deref(),
                input.new_path.as_deref(),
            )
            .await
            .map_err(iam_error)?;
        Ok(())
    }

    async fn delete_user(&self, _caller: &Caller, user_name: &str) -> Result<(), IamError> {
        let u = self.user_for("iam:DeleteUser", user_name).await?;
        self.app
            .delete_user(self.account(), &u.name)
            .await
            .map_err(iam_error)
    }

    async fn create_access_key(
        &self,
        _caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<tessera_iam::AccessKey, IamError> {
        let key = match self.key_owner("iam:CreateAccessKey", user_name).await? {
            KeyOwner::Root { account_id } => self.app.create_root_key(&account_id).await,
            KeyOwner::User {
                account_id,
                user_name,
            } => self.app.create_user_key(&account_id, &user_name).await,
        }
        .map_err(iam_error)?;
        Ok(key_out(&key, true))
    }

    async fn list_access_keys(
        &self,
        _caller: &Caller,
        input: ListAccessKeysInput,
    ) -> Result<Page<tessera_iam::AccessKey>, IamError> {
        let owner = self
            .key_owner("iam:ListAccessKeys", input.user_name.as_deref())
            .await?;
        let keys = self.app.list_keys(&owner).await.map_err(iam_error)?;
        let keys = keys.iter().map(|k| key_out(k, false)).collect();
        Ok(page(keys, &input.paging, |k| k.access_key_id.clone()))
    }

    async fn update_access_key(
        &self,
        _caller: &Caller,
        input: UpdateAccessKeyInput,
    ) -> Result<(), IamError> {
        let owner = self
            .key_owner("iam:UpdateAccessKey", input.user_name.as_deref())
            .await?;
        self.app
            .set_key_status(&owner, &input.access_key_id, status_in(input.status))
            .await
            .map_err(iam_error)
    }

    async fn delete_access_key(
        &self,
        _caller: &Caller,
        input: DeleteAccessKeyInput,
    ) -> Result<(), IamError> {
        let owner = self
            .key_owner("iam:DeleteAccessKey", input.user_name.as_deref())
            .await?;
        self.app
            .delete_key(&owner, &input.access_key_id)
            .await
            .map_err(iam_error)
    }

    async fn get_access_key_last_used(
        &self,
        _caller: &Caller,
        access_key_id: &str,
    ) -> Result<AccessKeyLastUsed, IamError> {
        let key = self
            .app
            .account_key(self.account(), access_key_id)
            .await
            .map_err(iam_error)?;
        let owner_arn = match key.owner.user_name() {
            Some(name) => {
                self.app
                    .user(self.account(), name)
                    .await
                    .map_err(iam_error)?
                    .arn
            }
            None => accounts::root_arn(self.account()),
        };
        self.allow("iam:GetAccessKeyLastUsed", &owner_arn)?;
        Ok(AccessKeyLastUsed {
            user_name: key.owner.user_name().unwrap_or_default().to_owned(),
            last_used_date: key.last_used.as_ref().map(|u| time_of(u.at)),
            service_name: key.last_used.as_ref().map(|u| u.service.clone()),
            region: key.last_used.as_ref().map(|u| u.region.clone()),
        })
    }

    async fn put_user_policy(
        &self,
        _caller: &Caller,
        input: PutUserPolicyInput,
    ) -> Result<(), IamError> {
        let u = self.user_for("iam:PutUserPolicy", &input.user_name).await?;
        self.app
            .put_user_policy(
                self.account(),
                &u.name,
                &input.policy_name,
                &input.policy_document,
            )
            .await
            .map_err(iam_error)
    }

    async fn get_user_policy(
        &self,
        _caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<tessera_iam::UserPolicy, IamError> {
        let u = self.user_for("iam:GetUserPolicy", &input.user_name).await?;
        let p = self
            .app
            .user_policy(self.account(), &u.name, &input.policy_name)
            .await
            .map_err(iam_error)?;
        Ok(tessera_iam::UserPolicy {
            user_name: u.name,
            policy_name: p.name,
            policy_document: p.document,
        })
    }

    async fn list_user_policies(
        &self,
        _caller: &Caller,
        input: ListUserPoliciesInput,
    ) -> Result<Page<String>, IamError> {
        let u = self
            .user_for("iam:ListUserPolicies", &input.user_name)
            .await?;
        let names = self
            .app
            .list_user_policies(self.account(), &u.name)
            .await
            .map_err(iam_error)?
            .into_iter()
            .map(|p| p.name)
            .collect();
        Ok(page(names, &input.paging, Clone::clone))
    }

    async fn delete_user_policy(
        &self,
        _caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<(), IamError> {
        let u = self
            .user_for("iam:DeleteUserPolicy", &input.user_name)
            .await?;
        self.app
            .delete_user_policy(self.account(), &u.name, &input.policy_name)
            .await
            .map_err(iam_error)
    }

    async fn authorize(
        &self,
        _caller: &Caller,
        action: &str,
        target: AuthTarget,
    ) -> Result<(), IamError> {
        match target {
            AuthTarget::Resource(arn) => self.allow(action, &arn),
            // As GetUser: authorized on the user's ARN, NoSuchEntity if absent.
            AuthTarget::User(name) => self.user_for(action, &name).await.map(|_| ()),
        }
    }
}

fn caller_of(p: &Principal) -> Caller {
    Caller {
        account_id: p.account.id.clone(),
        arn: p.arn(),
        user_id: p.user_id().to_owned(),
        kind: match &p.user {
            None => CallerKind::Root,
            Some(u) => CallerKind::User {
                name: u.name.clone(),
            },
        },
    }
}

fn respond(resp: http::Response<Bytes>) -> HttpResponse {
    resp.map(s3s::Body::from)
}

/// A 503 for a store failure met before the request could be handled.
fn unavailable() -> HttpResponse {
    let mut resp = http::Response::new(s3s::Body::empty());
    *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    resp
}

impl HttpService {
    /// Serves one IAM or STS request: read the body, verify the signature, handle.
    pub(crate) async fn serve_iam(
        &self,
        req: http::Request<s3s::Body>,
        service: Service,
    ) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let read = tokio::time::timeout(
            self.config.body_timeout,
            tessera_iam::read_body(body, tessera_iam::MAX_BODY_BYTES),
        )
        .await;
        let body = match read {
            Ok(Ok(b)) => b,
            Ok(Err(tessera_iam::BodyError::TooLarge { .. })) => {
                return respond(tessera_iam::body_too_large(service))
            }
            Ok(Err(tessera_iam::BodyError::Read(_))) | Err(_) => {
                return respond(tessera_iam::auth_error(
                    service,
                    AuthFailure::IncompleteSignature,
                    "The request body could not be read.",
                ))
            }
        };
        let signed = sigv4::SignedParts {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            authority: parts.uri.authority().map(http::uri::Authority::as_str),
        };
        let Some(access_key) = sigv4::access_key_of(&signed) else {
            return respond(tessera_iam::auth_error(
                service,
                AuthFailure::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        };
        let resolved = match self.app.authenticate(&access_key).await {
            Ok(r) => r,
            Err(Error::InvalidAccessKeyId) => {
                return respond(tessera_iam::auth_error(
                    service,
                    AuthFailure::InvalidClientTokenId,
                    "The security token included in the request is invalid.",
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, "iam: cannot resolve the access key");
                return unavailable();
            }
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let secret = resolved.secret.clone();
        let verified = sigv4::verify_with_body(&signed, &body, |_| Some(secret.clone()), now);
        if let Err(e) = verified {
            let (failure, message) = match e {
                sigv4::VerifyError::Expired | sigv4::VerifyError::TimeSkewed => (
                    AuthFailure::RequestExpired,
                    "Request has expired or its date is too far from the server's time.",
                ),
                sigv4::VerifyError::UnknownAccessKey => (
                    AuthFailure::InvalidClientTokenId,
                    "The security token included in the request is invalid.",
                ),
                sigv4::VerifyError::SignatureDoesNotMatch => (
                    AuthFailure::SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided.",
                ),
            };
            return respond(tessera_iam::auth_error(service, failure, message));
        }
        let service_name = match service {
            Service::Iam => "iam",
            Service::Sts => "sts",
        };
        if let Err(e) = self
            .app
            .record_key_use(&access_key, service_name, &self.config.region)
            .await
        {
            tracing::warn!(error = %e, "iam: cannot record the key's last use");
        }
        let caller = caller_of(&resolved.principal);
        let backend = CoreIam {
            app: self.app.clone(),
            principal: resolved.principal,
            source_ip: self.client.map(|a| a.ip()),
            secure_transport: self.config.tls,
        };
        let req = http::Request::from_parts(parts, body);
        respond(tessera_iam::handle(req, &caller, &backend).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_marker() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let paging = Paging {
            marker: None,
            max_items: Some(2),
        };
        let p = page(items.clone(), &paging, Clone::clone);
        assert_eq!(p.items, ["a", "b"]);
        assert_eq!(p.next_marker.as_deref(), Some("b"));
        let paging = Paging {
            marker: p.next_marker,
            max_items: Some(2),
        };
        let p = page(items, &paging, Clone::clone);
        assert_eq!(p.items, ["c"]);
        assert_eq!(p.next_marker, None);
    }
}
