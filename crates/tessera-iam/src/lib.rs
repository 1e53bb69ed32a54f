//! The IAM and STS Query API adapter, served at the S3 endpoint.
//!
//! A request is for IAM or STS when [`service_of`] says so: a POST (or GET) to `/` whose SigV4
//! credential scope names the service `iam` or `sts`. The server then
//! 1. reads the body with [`read_body`] (bounded by [`MAX_BODY_BYTES`]) under its own timeout,
//! 2. **verifies the SigV4 signature itself** (with the S3 adapter's SigV4 code) and resolves the
//!    access key to a [`Caller`] — this crate parses the credential scope but verifies nothing;
//!    an unknown key or a bad signature is answered with [`auth_error`],
//! 3. calls [`handle`], which parses the form-encoded parameters into an [`IamRequest`], drives
//!    the [`IamBackend`] and answers in IAM's (or STS's) XML.
//!
//! The body must be read before the signature is checked: IAM and STS clients send no
//! `x-amz-content-sha256`, so the payload hash is computed from the body.
//!
//! Tests: unit tests here for parsing and XML; `tests/handle.rs` runs [`handle`] over an
//! in-memory backend (`tests/common`); `tests/clients.rs` serves it with hyper on 127.0.0.1:0
//! and runs `tests/clients.py` (boto3 `iam`/`sts` and the aws cli) from the repository's
//! `.venv` (`scripts/setup-test-env.sh`), skipping with a printed reason when the venv is absent.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod backend;
mod model;
mod request;
mod xml;

use bytes::Bytes;
use http_body_util::BodyExt;

pub use backend::{IamBackend, IamError};
pub use model::{
    AccessKey, AccessKeyLastUsed, AccessKeyStatus, AuthTarget, Caller, CallerKind, CreateUserInput,
    DeleteAccessKeyInput, ListAccessKeysInput, ListAttachedUserPoliciesInput, ListByPathInput,
    ListUserPoliciesInput, ListUsersInput, Page, Paging, PutUserPolicyInput, UpdateAccessKeyInput,
    UpdateUserInput, User, UserPolicy, UserPolicyRef,
};
pub use request::{
    credential_scope, parse_request, service_of, CredentialScope, IamRequest, RequestError, Service,
};

/// The largest request body accepted: a 20 KB policy percent-encoded (up to 3 bytes per
/// character) plus the other parameters must fit.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    #[error("reading the request body: {0}")]
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads a request body of at most `limit` bytes (use [`MAX_BODY_BYTES`]); the caller wraps it
/// in its own timeout. Answer [`BodyError::TooLarge`] with [`body_too_large`].
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Read(e)),
    }
}

/// The 413 answer to a body over [`MAX_BODY_BYTES`].
pub fn body_too_large(service: Service) -> http::Response<Bytes> {
    let err = RequestError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    request_error(service, &err, &new_request_id())
}

/// Authentication failures the server answers before [`handle`], in the API's XML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// 403 InvalidClientTokenId: the access key is unknown or inactive.
    InvalidClientTokenId,
    /// 403 SignatureDoesNotMatch: the signature is wrong.
    SignatureDoesNotMatch,
    /// 400 IncompleteSignature: the Authorization header is malformed.
    IncompleteSignature,
    /// 403 MissingAuthenticationToken: the request is not signed.
    MissingAuthenticationToken,
    /// 403 RequestExpired: the request's date is too far from now.
    RequestExpired,
}

/// The error answer to a failed authentication, with the API's code and status.
pub fn auth_error(service: Service, failure: AuthFailure, message: &str) -> http::Response<Bytes> {
    let (code, status) = match failure {
        AuthFailure::InvalidClientTokenId => ("InvalidClientTokenId", http::StatusCode::FORBIDDEN),
        AuthFailure::SignatureDoesNotMatch => {
            ("SignatureDoesNotMatch", http::StatusCode::FORBIDDEN)
        }
        AuthFailure::IncompleteSignature => ("IncompleteSignature", http::StatusCode::BAD_REQUEST),
        AuthFailure::MissingAuthenticationToken => {
            ("MissingAuthenticationToken", http::StatusCode::FORBIDDEN)
        }
        AuthFailure::RequestExpired => ("RequestExpired", http::StatusCode::FORBIDDEN),
    };
    xml::error(service, status, true, code, message, &new_request_id())
}

/// A fresh request id, UUID-shaped as AWS's.
fn new_request_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn request_error(service: Service, err: &RequestError, request_id: &str) -> http::Response<Bytes> {
    xml::error(
        service,
        err.status(),
        true,
        err.code(),
        &err.to_string(),
        request_id,
    )
}

/// Serves one IAM or STS request of `caller` (already authenticated by the server: see the
/// crate docs) whose body was read with [`read_body`]. Never fails: errors are XML answers.
pub async fn handle(
    req: http::Request<Bytes>,
    caller: &Caller,
    backend: &dyn IamBackend,
) -> http::Response<Bytes> {
    let request_id = new_request_id();
    let Some(service) = service_of(&req) else {
        return xml::error(
            Service::Iam,
            http::StatusCode::BAD_REQUEST,
            true,
            "IncompleteSignature",
            "The request is not signed for the iam or sts service.",
            &request_id,
        );
    };
    let parsed = match parse_request(service, &req) {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::debug!(%request_id, code = err.code(), "iam request refused: {err}");
            return request_error(service, &err, &request_id);
        }
    };
    let action = parsed.action();
    tracing::debug!(%request_id, action, caller = %caller.arn, "iam request");
    match dispatch(parsed, caller, backend).await {
        Ok(result) => xml::success(service, action, result.as_deref(), &request_id),
        Err(err) => {
            match &err {
                IamError::ServiceFailure { source, transient } => {
                    tracing::warn!(%request_id, action, transient, error = %source, "iam backend failure");
                }
                _ => {
                    tracing::debug!(%request_id, action, code = err.code(), "iam request failed: {err}");
                }
            }
            xml::error(
                service,
                err.status(),
                err.is_sender_fault(),
                err.code(),
                &err.client_message(),
                &request_id,
            )
        }
    }
}

/// Runs one request against the backend; the result is the `<XResult>` body, if the action has one.
async fn dispatch(
    req: IamRequest,
    caller: &Caller,
    backend: &dyn IamBackend,
) -> Result<Option<String>, IamError> {
    // The policy action (`iam:ListGroups`) of the listings authorized through `authorize`.
    let policy_action = format!("{}:{}", req.service().name(), req.action());
    let account = &caller.account_id;
    let element = |f: &dyn Fn(&mut xml::Xml)| {
        let mut x = xml::Xml::new();
        f(&mut x);
        Some(x.into_string())
    };
    Ok(match req {
        IamRequest::CreateUser(input) => {
            let u = backend.create_user(caller, input).await?;
            element(&|x| xml::user(x, "User", &u))
        }
        IamRequest::GetUser { user_name } => {
            let u = backend.get_user(caller, user_name.as_deref()).await?;
            element(&|x| xml::user(x, "User", &u))
        }
        IamRequest::ListUsers(input) => {
            Some(xml::list_users(&backend.list_users(caller, input).await?))
        }
        IamRequest::UpdateUser(input) => {
            backend.update_user(caller, input).await?;
            None
        }
        IamRequest::DeleteUser { user_name } => {
            backend.delete_user(caller, &user_name).await?;
            None
        }
        IamRequest::CreateAccessKey { user_name } => {
            let k = backend
                .create_access_key(caller, user_name.as_deref())
                .await?;
            element(&|x| xml::access_key(x, "AccessKey", &k))
        }
        IamRequest::ListAccessKeys(input) => Some(xml::list_access_keys(
            &backend.list_access_keys(caller, input).await?,
        )),
        IamRequest::UpdateAccessKey(input) => {
            backend.update_access_key(caller, input).await?;
            None
        }
        IamRequest::DeleteAccessKey(input) => {
            backend.delete_access_key(caller, input).await?;
            None
        }
        IamRequest::GetAccessKeyLastUsed { access_key_id } => Some(xml::access_key_last_used(
            &backend
                .get_access_key_last_used(caller, &access_key_id)
                .await?,
        )),
        IamRequest::PutUserPolicy(input) => {
            backend.put_user_policy(caller, input).await?;
            None
        }
        IamRequest::GetUserPolicy(input) => Some(xml::user_policy(
            &backend.get_user_policy(caller, input).await?,
        )),
        IamRequest::ListUserPolicies(input) => Some(xml::list_user_policies(
            &backend.list_user_policies(caller, input).await?,
        )),
        IamRequest::DeleteUserPolicy(input) => {
            backend.delete_user_policy(caller, input).await?;
            None
        }
        // Tessera has no groups, roles, managed policies or OIDC providers: once authorized
        // (and the user found), every listing is truthfully empty.
        IamRequest::ListGroups(input) => {
            let arn = format!("arn:aws:iam::{account}:group{}*", input.path_prefix);
            backend
                .authorize(caller, &policy_action, AuthTarget::Resource(arn))
                .await?;
            Some(xml::empty_listing("Groups", true))
        }
        IamRequest::ListRoles(input) => {
            let arn = format!("arn:aws:iam::{account}:role{}*", input.path_prefix);
            backend
                .authorize(caller, &policy_action, AuthTarget::Resource(arn))
                .await?;
            Some(xml::empty_listing("Roles", true))
        }
        IamRequest::ListOpenIDConnectProviders => {
            let arn = format!("arn:aws:iam::{account}:oidc-provider/*");
            backend
                .authorize(caller, &policy_action, AuthTarget::Resource(arn))
                .await?;
            Some(xml::empty_listing("OpenIDConnectProviderList", false))
        }
        IamRequest::ListAttachedUserPolicies(input) => {
            backend
                .authorize(caller, &policy_action, AuthTarget::User(input.user_name))
                .await?;
            Some(xml::empty_listing("AttachedPolicies", true))
        }
        IamRequest::ListGroupsForUser { user_name, .. } => {
            backend
                .authorize(caller, &policy_action, AuthTarget::User(user_name))
                .await?;
            Some(xml::empty_listing("Groups", true))
        }
        // The verified caller is the whole answer: no backend call, no permission needed (as AWS).
        IamRequest::GetCallerIdentity => Some(xml::caller_identity(caller)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_shaped_and_fresh() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
    }

    #[tokio::test]
    async fn read_body_enforces_the_limit() {
        let ok = read_body(http_body_util::Full::new(Bytes::from_static(b"abc")), 3)
            .await
            .unwrap();
        assert_eq!(ok, "abc");
        let err = read_body(http_body_util::Full::new(Bytes::from_static(b"abcd")), 3)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit: 3 }));
        assert_eq!(body_too_large(Service::Iam).status(), 413);
    }

    #[test]
    fn auth_errors_have_the_api_codes() {
        let resp = auth_error(
            Service::Sts,
            AuthFailure::InvalidClientTokenId,
            "unknown key",
        );
        assert_eq!(resp.status(), 403);
        let body = std::str::from_utf8(resp.body()).unwrap();
        assert!(body.contains("<Code>InvalidClientTokenId</Code>"), "{body}");
        assert!(
            body.contains("https://sts.amazonaws.com/doc/2011-06-15/"),
            "{body}"
        );
        assert_eq!(
            auth_error(Service::Iam, AuthFailure::IncompleteSignature, "x").status(),
            400
        );
    }
}
