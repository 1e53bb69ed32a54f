//! The port the IAM adapter drives: [`IamBackend`], and the errors it answers with.

use async_trait::async_trait;

use crate::model::{
    AccessKey, AccessKeyLastUsed, AuthTarget, Caller, CreateUserInput, DeleteAccessKeyInput,
    ListAccessKeysInput, ListUserPoliciesInput, ListUsersInput, Page, PutUserPolicyInput,
    UpdateAccessKeyInput, UpdateUserInput, User, UserPolicy, UserPolicyRef,
};

/// The IAM operations, over the account/user/key model. Every method gets the verified caller:
/// the backend scopes everything to `caller.account_id` and authorizes the action itself
/// (answering [`IamError::AccessDenied`]). Inputs are already validated for syntax.
#[async_trait]
pub trait IamBackend: Send + Sync {
    /// Creates a user in the caller's account; EntityAlreadyExists if the name is taken, LimitExceeded at the quota.
    async fn create_user(&self, caller: &Caller, input: CreateUserInput) -> Result<User, IamError>;

    /// Returns the named user, or the caller itself when `user_name` is `None` (the root: see [`User`]); NoSuchEntity if absent.
    async fn get_user(&self, caller: &Caller, user_name: Option<&str>) -> Result<User, IamError>;

    /// Lists the account's users whose path starts with `path_prefix`, sorted by name, one page at a time.
    async fn list_users(
        &self,
        caller: &Caller,
        input: ListUsersInput,
    ) -> Result<Page<User>, IamError>;

    /// Renames and/or moves a user; NoSuchEntity if absent, EntityAlreadyExists if the new name is taken.
    async fn update_user(&self, caller: &Caller, input: UpdateUserInput) -> Result<(), IamError>;

    /// Deletes a user; DeleteConflict while it still has access keys or inline policies.
    async fn delete_user(&self, caller: &Caller, user_name: &str) -> Result<(), IamError>;

    /// Creates an Active key for the user (the caller when `None`) and returns it with its secret; LimitExceeded past two keys.
    async fn create_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<AccessKey, IamError>;

    /// Lists the user's (the caller's when `None`) keys without secrets, one page at a time.
    async fn list_access_keys(
        &self,
        caller: &Caller,
        input: ListAccessKeysInput,
    ) -> Result<Page<AccessKey>, IamError>;

    /// Sets a key's status; effective from the next request signed with it. NoSuchEntity if the user has no such key.
    async fn update_access_key(
        &self,
        caller: &Caller,
        input: UpdateAccessKeyInput,
    ) -> Result<(), IamError>;

    /// Deletes a key; refused from the next request on. NoSuchEntity if the user has no such key.
    async fn delete_access_key(
        &self,
        caller: &Caller,
        input: DeleteAccessKeyInput,
    ) -> Result<(), IamError>;

    /// Tells when and where a key of the caller's account was last used; NoSuchEntity (or AccessDenied) for a key of another account.
    async fn get_access_key_last_used(
        &self,
        caller: &Caller,
        access_key_id: &str,
    ) -> Result<AccessKeyLastUsed, IamError>;

    /// Adds or replaces an inline policy of a user; MalformedPolicyDocument with the reason if the document is refused.
    async fn put_user_policy(
        &self,
        caller: &Caller,
        input: PutUserPolicyInput,
    ) -> Result<(), IamError>;

    /// Returns an inline policy's document as stored; NoSuchEntity if the user or the policy is absent.
    async fn get_user_policy(
        &self,
        caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<UserPolicy, IamError>;

    /// Lists the names of a user's inline policies, sorted, one page at a time; NoSuchEntity if the user is absent.
    async fn list_user_policies(
        &self,
        caller: &Caller,
        input: ListUserPoliciesInput,
    ) -> Result<Page<String>, IamError>;

    /// Deletes an inline policy; NoSuchEntity if the user or the policy is absent.
    async fn delete_user_policy(
        &self,
        caller: &Caller,
        input: UserPolicyRef,
    ) -> Result<(), IamError>;

    /// Authorizes `action` (`iam:ListGroups`) on `target` for the caller, as the other methods
    /// authorize theirs; for the actions over entities Tessera does not have, which answer empty.
    async fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        target: AuthTarget,
    ) -> Result<(), IamError>;
}

/// An IAM error, each mapped to IAM's code and HTTP status by [`IamError::code`] and [`IamError::status`].
/// The message is sent to the client: it must not contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// 404 NoSuchEntity: the user, key or policy does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// 409 EntityAlreadyExists: the name is taken.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// 409 DeleteConflict: the entity still has subordinate entities (keys, policies).
    #[error("{0}")]
    DeleteConflict(String),
    /// 409 LimitExceeded: a quota is reached (a third access key, too many users).
    #[error("{0}")]
    LimitExceeded(String),
    /// 400 MalformedPolicyDocument: the policy document is refused, with the reason.
    #[error("{reason}")]
    MalformedPolicyDocument {
        /// Why the document is refused.
        reason: String,
    },
    /// 400 ValidationError: a parameter has a bad value.
    #[error("{0}")]
    ValidationError(String),
    /// 400 InvalidInput: the parameters are inconsistent with the stored state.
    #[error("{0}")]
    InvalidInput(String),
    /// 403 AccessDenied: the caller may not perform the action on the resource.
    #[error("{0}")]
    AccessDenied(String),
    /// 500 ServiceFailure, or 503 ServiceUnavailable when `transient` (clients retry both).
    #[error("service failure: {source}")]
    ServiceFailure {
        /// The underlying failure: logged, never sent to the client.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Whether retrying may succeed (a busy database, a timeout).
        transient: bool,
    },
}

impl IamError {
    /// IAM's error code.
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument { .. } => "MalformedPolicyDocument",
            IamError::ValidationError(_) => "ValidationError",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::ServiceFailure {
                transient: false, ..
            } => "ServiceFailure",
            IamError::ServiceFailure {
                transient: true, ..
            } => "ServiceUnavailable",
        }
    }

    /// The HTTP status IAM answers this error with (botocore's model of each exception).
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            IamError::NoSuchEntity(_) => S::NOT_FOUND,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_) => S::CONFLICT,
            IamError::MalformedPolicyDocument { .. }
            | IamError::ValidationError(_)
            | IamError::InvalidInput(_) => S::BAD_REQUEST,
            IamError::AccessDenied(_) => S::FORBIDDEN,
            IamError::ServiceFailure {
                transient: false, ..
            } => S::INTERNAL_SERVER_ERROR,
            IamError::ServiceFailure {
                transient: true, ..
            } => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The message sent to the client (the source of a service failure stays in the logs).
    pub fn client_message(&self) -> String {
        match self {
            IamError::ServiceFailure {
                transient: false, ..
            } => "The request processing has failed because of an unknown error, exception or failure."
                .to_owned(),
            IamError::ServiceFailure {
                transient: true, ..
            } => "The service is temporarily unavailable; retry the request.".to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the fault is the sender's (`Sender`) or the server's (`Receiver`).
    pub fn is_sender_fault(&self) -> bool {
        !matches!(self, IamError::ServiceFailure { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_iam_model() {
        let failure = |transient| IamError::ServiceFailure {
            source: "database is locked".into(),
            transient,
        };
        let cases: Vec<(IamError, &str, u16, bool)> = vec![
            (
                IamError::NoSuchEntity("x".into()),
                "NoSuchEntity",
                404,
                true,
            ),
            (
                IamError::EntityAlreadyExists("x".into()),
                "EntityAlreadyExists",
                409,
                true,
            ),
            (
                IamError::DeleteConflict("x".into()),
                "DeleteConflict",
                409,
                true,
            ),
            (
                IamError::LimitExceeded("x".into()),
                "LimitExceeded",
                409,
                true,
            ),
            (
                IamError::MalformedPolicyDocument { reason: "x".into() },
                "MalformedPolicyDocument",
                400,
                true,
            ),
            (
                IamError::ValidationError("x".into()),
                "ValidationError",
                400,
                true,
            ),
            (
                IamError::InvalidInput("x".into()),
                "InvalidInput",
                400,
                true,
            ),
            (
                IamError::AccessDenied("x".into()),
                "AccessDenied",
                403,
                true,
            ),
            (failure(false), "ServiceFailure", 500, false),
            (failure(true), "ServiceUnavailable", 503, false),
        ];
        for (err, code, status, sender) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status().as_u16(), status, "{code}");
            assert_eq!(err.is_sender_fault(), sender, "{code}");
        }
    }

    #[test]
    fn service_failure_sources_stay_out_of_the_client_message() {
        let err = IamError::ServiceFailure {
            source: "/var/lib/tessera/meta.db: disk I/O error".into(),
            transient: false,
        };
        assert!(!err.client_message().contains("meta.db"));
        let err = IamError::MalformedPolicyDocument {
            reason: "Policy document should not specify a principal.".into(),
        };
        assert_eq!(
            err.client_message(),
            "Policy document should not specify a principal."
        );
    }
}
