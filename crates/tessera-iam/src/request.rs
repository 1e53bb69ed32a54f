//! The request side: which service a request is for (from its SigV4 credential scope), and its
//! form-encoded parameters turned into a validated [`IamRequest`].

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::model::{
    AccessKeyStatus, CreateUserInput, DeleteAccessKeyInput, ListAccessKeysInput,
    ListAttachedUserPoliciesInput, ListByPathInput, ListUserPoliciesInput, ListUsersInput, Paging,
    PutUserPolicyInput, UpdateAccessKeyInput, UpdateUserInput, UserPolicyRef,
};

/// The Query API a request is for, told by the service of its SigV4 credential scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// IAM, API version 2010-05-08.
    Iam,
    /// STS, API version 2011-06-15.
    Sts,
}

impl Service {
    /// The `Version` parameter the API requires.
    pub fn version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }

    /// The XML namespace of the API's answers.
    pub fn namespace(self) -> &'static str {
        match self {
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    /// The SigV4 service name and the prefix of the API's actions in policies (`iam`, `sts`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }
}

/// The parts of a SigV4 credential: `AK/date/region/service/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialScope {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The scope's date (`YYYYMMDD`).
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service (`s3`, `iam`, `sts`).
    pub service: String,
}

/// Parses the SigV4 credential of a request, from the `Authorization` header or, for a presigned
/// request, the `X-Amz-Credential` query parameter. Nothing is verified here.
pub fn credential_scope<B>(req: &http::Request<B>) -> Option<CredentialScope> {
    if let Some(value) = req.headers().get(http::header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let rest = value.strip_prefix("AWS4-HMAC-SHA256")?;
        let credential = rest
            .split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))?;
        return parse_credential(credential);
    }
    let query = req.uri().query()?;
    let credential = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Credential")
        .map(|(_, v)| v.into_owned())?;
    parse_credential(&credential)
}

fn parse_credential(credential: &str) -> Option<CredentialScope> {
    // Split from the right: the four scope fields never contain '/'.
    let mut parts = credential.rsplitn(5, '/');
    let terminator = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let date = parts.next()?;
    let access_key_id = parts.next()?;
    if terminator != "aws4_request" || access_key_id.is_empty() {
        return None;
    }
    Some(CredentialScope {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

/// Tells whether a request is for the IAM or STS Query API rather than S3: a POST (or GET) to
/// `/` whose SigV4 credential scope names the service `iam` or `sts`.
pub fn service_of<B>(req: &http::Request<B>) -> Option<Service> {
    if req.uri().path() != "/" || !matches!(*req.method(), http::Method::POST | http::Method::GET) {
        return None;
    }
    match credential_scope(req)?.service.as_str() {
        "iam" => Some(Service::Iam),
        "sts" => Some(Service::Sts),
        _ => None,
    }
}

/// One IAM or STS action with its validated parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IamRequest {
    /// CreateUser.
    CreateUser(CreateUserInput),
    /// GetUser; no name means the caller.
    GetUser {
        /// The user, or `None` for the caller.
        user_name: Option<String>,
    },
    /// ListUsers.
    ListUsers(ListUsersInput),
    /// UpdateUser.
    UpdateUser(UpdateUserInput),
    /// DeleteUser.
    DeleteUser {
        /// The user to delete.
        user_name: String,
    },
    /// CreateAccessKey; no name means the caller.
    CreateAccessKey {
        /// The key's owner, or `None` for the caller.
        user_name: Option<String>,
    },
    /// ListAccessKeys.
    ListAccessKeys(ListAccessKeysInput),
    /// UpdateAccessKey.
    UpdateAccessKey(UpdateAccessKeyInput),
    /// DeleteAccessKey.
    DeleteAccessKey(DeleteAccessKeyInput),
    /// GetAccessKeyLastUsed.
    GetAccessKeyLastUsed {
        /// The key.
        access_key_id: String,
    },
    /// PutUserPolicy.
    PutUserPolicy(PutUserPolicyInput),
    /// GetUserPolicy.
    GetUserPolicy(UserPolicyRef),
    /// ListUserPolicies.
    ListUserPolicies(ListUserPoliciesInput),
    /// DeleteUserPolicy.
    DeleteUserPolicy(UserPolicyRef),
    /// ListGroups: Tessera has no groups.
    ListGroups(ListByPathInput),
    /// ListRoles: Tessera has no roles.
    ListRoles(ListByPathInput),
    /// ListOpenIDConnectProviders: Tessera has no OIDC providers.
    ListOpenIDConnectProviders,
    /// ListAttachedUserPolicies: Tessera has no managed policies.
    ListAttachedUserPolicies(ListAttachedUserPoliciesInput),
    /// ListGroupsForUser: Tessera has no groups.
    ListGroupsForUser {
        /// The user.
        user_name: String,
        /// Paging.
        paging: Paging,
    },
    /// STS GetCallerIdentity.
    GetCallerIdentity,
}

impl IamRequest {
    /// The action's name (`CreateUser`); with [`IamRequest::service`] it gives the policy action `iam:CreateUser`.
    pub fn action(&self) -> &'static str {
        match self {
            IamRequest::CreateUser(_) => "CreateUser",
            IamRequest::GetUser { .. } => "GetUser",
            IamRequest::ListUsers(_) => "ListUsers",
            IamRequest::UpdateUser(_) => "UpdateUser",
            IamRequest::DeleteUser { .. } => "DeleteUser",
            IamRequest::CreateAccessKey { .. } => "CreateAccessKey",
            IamRequest::ListAccessKeys(_) => "ListAccessKeys",
            IamRequest::UpdateAccessKey(_) => "UpdateAccessKey",
            IamRequest::DeleteAccessKey(_) => "DeleteAccessKey",
            IamRequest::GetAccessKeyLastUsed { .. } => "GetAccessKeyLastUsed",
            IamRequest::PutUserPolicy(_) => "PutUserPolicy",
            IamRequest::GetUserPolicy(_) => "GetUserPolicy",
            IamRequest::ListUserPolicies(_) => "ListUserPolicies",
            IamRequest::DeleteUserPolicy(_) => "DeleteUserPolicy",
            IamRequest::ListGroups(_) => "ListGroups",
            IamRequest::ListRoles(_) => "ListRoles",
            IamRequest::ListOpenIDConnectProviders => "ListOpenIDConnectProviders",
            IamRequest::ListAttachedUserPolicies(_) => "ListAttachedUserPolicies",
            IamRequest::ListGroupsForUser { .. } => "ListGroupsForUser",
            IamRequest::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// The API the action belongs to.
    pub fn service(&self) -> Service {
        match self {
            IamRequest::GetCallerIdentity => Service::Sts,
            _ => Service::Iam,
        }
    }
}

/// Why a request could not be turned into an [`IamRequest`]; each maps to an AWS Query API error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// 400 MissingAction: no `Action` parameter.
    #[error("The request must contain the parameter Action.")]
    MissingAction,
    /// 400 InvalidAction: the action does not exist in this API (or this version).
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction {
        /// The action asked for.
        action: String,
        /// The version asked for.
        version: String,
    },
    /// 400 MissingParameter: a required parameter is absent.
    #[error("The request must contain the parameter {0}")]
    MissingParameter(&'static str),
    /// 400 ValidationError: a parameter's value breaks IAM's constraints (message in IAM's words).
    #[error("{0}")]
    Validation(String),
    /// 400 MalformedQueryString: the body or the query string is not a well-formed form encoding.
    #[error("{0}")]
    MalformedQueryString(String),
    /// 413 RequestEntityTooLarge: the body is larger than [`crate::MAX_BODY_BYTES`].
    #[error("The request body is larger than {limit} bytes.")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 405 MethodNotAllowed: the Query API takes GET and POST only.
    #[error("The Query API accepts GET and POST only.")]
    MethodNotAllowed,
}

impl RequestError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::MissingAction => "MissingAction",
            RequestError::InvalidAction { .. } => "InvalidAction",
            RequestError::MissingParameter(_) => "MissingParameter",
            RequestError::Validation(_) => "ValidationError",
            RequestError::MalformedQueryString(_) => "MalformedQueryString",
            RequestError::BodyTooLarge { .. } => "RequestEntityTooLarge",
            RequestError::MethodNotAllowed => "MethodNotAllowed",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        match self {
            RequestError::BodyTooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::MethodNotAllowed => http::StatusCode::METHOD_NOT_ALLOWED,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

/// Parses a Query API request whose body was already read (at most [`crate::MAX_BODY_BYTES`]):
/// parameters come from the query string and, for a POST, from the form-encoded body.
pub fn parse_request(
    service: Service,
    req: &http::Request<Bytes>,
) -> Result<IamRequest, RequestError> {
    let body = match *req.method() {
        http::Method::POST => req.body().as_ref(),
        http::Method::GET => &[][..],
        _ => return Err(RequestError::MethodNotAllowed),
    };
    if body.len() > crate::MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge {
            limit: crate::MAX_BODY_BYTES,
        });
    }
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        params.add_form(query.as_bytes(), true)?;
    }
    params.add_form(body, false)?;
    parse_params(service, &params)
}

/// The parameters of one request, by name.
#[derive(Debug, Default)]
pub(crate) struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Adds the pairs of a form encoding; a name given twice is refused (which value would win is ambiguous).
    pub(crate) fn add_form(&mut self, form: &[u8], is_query: bool) -> Result<(), RequestError> {
        if std::str::from_utf8(form).is_err() {
            return Err(RequestError::MalformedQueryString(
                "The parameters are not valid UTF-8.".to_owned(),
            ));
        }
        for (k, v) in form_urlencoded::parse(form) {
            // A presigned GET carries its signature in the query: not an action parameter.
            if is_query && k.starts_with("X-Amz-") {
                continue;
            }
            if k.is_empty() {
                continue;
            }
            if self.map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(RequestError::MalformedQueryString(format!(
                    "The parameter {k} appears more than once."
                )));
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    fn required(&self, name: &'static str) -> Result<&str, RequestError> {
        self.get(name).ok_or(RequestError::MissingParameter(name))
    }
}

/// Turns the parameters into an [`IamRequest`] of `service`.
pub(crate) fn parse_params(service: Service, p: &Params) -> Result<IamRequest, RequestError> {
    let action = p.get("Action").ok_or(RequestError::MissingAction)?;
    let version = p.required("Version")?;
    let unknown = || RequestError::InvalidAction {
        action: action.to_owned(),
        version: version.to_owned(),
    };
    if version != service.version() {
        return Err(unknown());
    }
    let request = match (service, action) {
        (Service::Sts, "GetCallerIdentity") => IamRequest::GetCallerIdentity,
        (Service::Sts, _) => return Err(unknown()),
        (Service::Iam, "CreateUser") => IamRequest::CreateUser(CreateUserInput {
            user_name: new_user_name(p.required("UserName")?, "userName")?,
            path: match p.get("Path") {
                Some(path) => validate_path(path, "path")?,
                None => "/".to_owned(),
            },
        }),
        (Service::Iam, "GetUser") => IamRequest::GetUser {
            user_name: opt_user_name(p)?,
        },
        (Service::Iam, "ListUsers") => IamRequest::ListUsers(ListUsersInput {
            path_prefix: path_prefix(p)?,
            paging: paging(p)?,
        }),
        (Service::Iam, "UpdateUser") => IamRequest::UpdateUser(UpdateUserInput {
            user_name: existing_user_name(p.required("UserName")?, "userName")?,
            new_user_name: p
                .get("NewUserName")
                .map(|n| new_user_name(n, "newUserName"))
                .transpose()?,
            new_path: p
                .get("NewPath")
                .map(|n| validate_path(n, "newPath"))
                .transpose()?,
        }),
        (Service::Iam, "DeleteUser") => IamRequest::DeleteUser {
            user_name: existing_user_name(p.required("UserName")?, "userName")?,
        },
        (Service::Iam, "CreateAccessKey") => IamRequest::CreateAccessKey {
            user_name: opt_user_name(p)?,
        },
        (Service::Iam, "ListAccessKeys") => IamRequest::ListAccessKeys(ListAccessKeysInput {
            user_name: opt_user_name(p)?,
            paging: paging(p)?,
        }),
        (Service::Iam, "UpdateAccessKey") => IamRequest::UpdateAccessKey(UpdateAccessKeyInput {
            user_name: opt_user_name(p)?,
            access_key_id: access_key_id(p.required("AccessKeyId")?)?,
            status: status(p.required("Status")?)?,
        }),
        (Service::Iam, "DeleteAccessKey") => IamRequest::DeleteAccessKey(DeleteAccessKeyInput {
            user_name: opt_user_name(p)?,
            access_key_id: access_key_id(p.required("AccessKeyId")?)?,
        }),
        (Service::Iam, "GetAccessKeyLastUsed") => IamRequest::GetAccessKeyLastUsed {
            access_key_id: access_key_id(p.required("AccessKeyId")?)?,
        },
        (Service::Iam, "PutUserPolicy") => IamRequest::PutUserPolicy(PutUserPolicyInput {
            user_name: existing_user_name(p.required("UserName")?, "userName")?,
            policy_name: policy_name(p.required("PolicyName")?)?,
            policy_document: policy_document(p.required("PolicyDocument")?)?,
        }),
        (Service::Iam, "GetUserPolicy") => IamRequest::GetUserPolicy(policy_ref(p)?),
        (Service::Iam, "ListUserPolicies") => IamRequest::ListUserPolicies(ListUserPoliciesInput {
            user_name: existing_user_name(p.required("UserName")?, "userName")?,
            paging: paging(p)?,
        }),
        (Service::Iam, "DeleteUserPolicy") => IamRequest::DeleteUserPolicy(policy_ref(p)?),
        (Service::Iam, "ListGroups") => IamRequest::ListGroups(ListByPathInput {
            path_prefix: path_prefix(p)?,
            paging: paging(p)?,
        }),
        (Service::Iam, "ListRoles") => IamRequest::ListRoles(ListByPathInput {
            path_prefix: path_prefix(p)?,
            paging: paging(p)?,
        }),
        (Service::Iam, "ListOpenIDConnectProviders") => IamRequest::ListOpenIDConnectProviders,
        (Service::Iam, "ListAttachedUserPolicies") => {
            IamRequest::ListAttachedUserPolicies(ListAttachedUserPoliciesInput {
                // userNameType here (1-64), not existingUserNameType: IAM's model says so.
                user_name: new_user_name(p.required("UserName")?, "userName")?,
                path_prefix: match p.get("PathPrefix") {
                    Some(prefix) => validate_policy_path(prefix, "pathPrefix")?,
                    None => "/".to_owned(),
                },
                paging: paging(p)?,
            })
        }
        (Service::Iam, "ListGroupsForUser") => IamRequest::ListGroupsForUser {
            user_name: existing_user_name(p.required("UserName")?, "userName")?,
            paging: paging(p)?,
        },
        (Service::Iam, _) => return Err(unknown()),
    };
    Ok(request)
}

const NAME_PATTERN: &str = r"[\w+=,.@-]+";

/// IAM's message for a broken constraint, as its API answers it.
fn invalid(value: &str, field: &str, constraint: &str) -> RequestError {
    // Echo a bounded prefix: the message must stay small whatever was sent.
    let shown: String = value.chars().take(128).collect();
    RequestError::Validation(format!(
        "1 validation error detected: Value '{shown}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), RequestError> {
    let len = value.chars().count();
    if len < min {
        return Err(invalid(
            value,
            field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(invalid(
            value,
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn validate_name(value: &str, field: &str, max: usize) -> Result<String, RequestError> {
    check_length(value, field, 1, max)?;
    if !value.chars().all(is_name_char) {
        return Err(invalid(
            value,
            field,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(value.to_owned())
}

/// A name for a new user (userNameType: 1-64).
fn new_user_name(value: &str, field: &str) -> Result<String, RequestError> {
    validate_name(value, field, 64)
}

/// A name of an existing user (existingUserNameType: 1-128).
fn existing_user_name(value: &str, field: &str) -> Result<String, RequestError> {
    validate_name(value, field, 128)
}

fn opt_user_name(p: &Params) -> Result<Option<String>, RequestError> {
    p.get("UserName")
        .map(|n| existing_user_name(n, "userName"))
        .transpose()
}

fn policy_name(value: &str) -> Result<String, RequestError> {
    validate_name(value, "policyName", 128)
}

fn policy_ref(p: &Params) -> Result<UserPolicyRef, RequestError> {
    Ok(UserPolicyRef {
        user_name: existing_user_name(p.required("UserName")?, "userName")?,
        policy_name: policy_name(p.required("PolicyName")?)?,
    })
}

/// pathType: `/` or `/.../` of printable ASCII, at most 512.
fn validate_path(value: &str, field: &str) -> Result<String, RequestError> {
    check_length(value, field, 1, 512)?;
    let printable = |c: char| ('\u{21}'..='\u{7e}').contains(&c);
    let ok = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.chars().all(printable));
    if !ok {
        return Err(invalid(
            value,
            field,
            r"Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        ));
    }
    Ok(value.to_owned())
}

/// pathPrefixType: `/` then printable ASCII, at most 512.
fn validate_path_prefix(value: &str) -> Result<String, RequestError> {
    check_length(value, "pathPrefix", 1, 512)?;
    let ok = value.starts_with('/') && value.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c));
    if !ok {
        return Err(invalid(
            value,
            "pathPrefix",
            r"Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*",
        ));
    }
    Ok(value.to_owned())
}

/// The optional `PathPrefix` of ListUsers, ListGroups, ListRoles (default `/`).
fn path_prefix(p: &Params) -> Result<String, RequestError> {
    match p.get("PathPrefix") {
        Some(prefix) => validate_path_prefix(prefix),
        None => Ok("/".to_owned()),
    }
}

/// policyPathType: `/`, or `/`-separated segments of `[A-Za-z0-9.,+@=_-]` ending in `/`, at most 512.
fn validate_policy_path(value: &str, field: &str) -> Result<String, RequestError> {
    check_length(value, field, 1, 512)?;
    let segment_char = |c: char| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c);
    // Between the leading and the trailing '/', every segment is non-empty ("//" is refused).
    let ok = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value[1..value.len() - 1]
                .split('/')
                .all(|seg| !seg.is_empty() && seg.chars().all(segment_char)));
    if !ok {
        return Err(invalid(
            value,
            field,
            r"Member must satisfy regular expression pattern: ((/[A-Za-z0-9\.,\+@=_-]+)*)/",
        ));
    }
    Ok(value.to_owned())
}

fn paging(p: &Params) -> Result<Paging, RequestError> {
    let marker = match p.get("Marker") {
        Some(m) => {
            check_length(m, "marker", 1, 320)?;
            if !m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c)) {
                return Err(invalid(
                    m,
                    "marker",
                    r"Member must satisfy regular expression pattern: [\u0020-\u00FF]+",
                ));
            }
            Some(m.to_owned())
        }
        None => None,
    };
    let max_items = match p.get("MaxItems") {
        Some(raw) => {
            let n: i64 = raw
                .parse()
                .map_err(|_| invalid(raw, "maxItems", "Member must be an integer"))?;
            if n < 1 {
                return Err(invalid(
                    raw,
                    "maxItems",
                    "Member must have value greater than or equal to 1",
                ));
            }
            if n > 1000 {
                return Err(invalid(
                    raw,
                    "maxItems",
                    "Member must have value less than or equal to 1000",
                ));
            }
            Some(n as u32)
        }
        None => None,
    };
    Ok(Paging { marker, max_items })
}

/// accessKeyIdType: 16-128 word characters.
fn access_key_id(value: &str) -> Result<String, RequestError> {
    check_length(value, "accessKeyId", 16, 128)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(
            value,
            "accessKeyId",
            r"Member must satisfy regular expression pattern: [\w]+",
        ));
    }
    Ok(value.to_owned())
}

fn status(value: &str) -> Result<AccessKeyStatus, RequestError> {
    match value {
        "Active" => Ok(AccessKeyStatus::Active),
        "Inactive" => Ok(AccessKeyStatus::Inactive),
        _ => Err(invalid(
            value,
            "status",
            "Member must satisfy enum value set: [Active, Inactive]",
        )),
    }
}

/// policyDocumentType: 1-131072 characters, no control character but tab, LF and CR; the
/// policy module judges the content.
fn policy_document(value: &str) -> Result<String, RequestError> {
    let len = value.chars().count();
    if len == 0 || len > 131_072 {
        let constraint = if len == 0 {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 131072"
        };
        return Err(RequestError::Validation(format!(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: {constraint}"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(RequestError::Validation(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: \
             Member must not contain control characters other than tab, line feed and carriage return"
                .to_owned(),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> http::Request<Bytes> {
        http::Request::post("/")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    fn iam(body: &str) -> Result<IamRequest, RequestError> {
        parse_request(Service::Iam, &post(body))
    }

    #[test]
    fn credential_scope_from_the_authorization_header() {
        let req = http::Request::post("/")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=abcd",
            )
            .body(())
            .unwrap();
        let scope = credential_scope(&req).unwrap();
        assert_eq!(scope.access_key_id, "AKIDEXAMPLE");
        assert_eq!(scope.date, "20261201");
        assert_eq!(scope.region, "us-east-1");
        assert_eq!(scope.service, "iam");
        assert_eq!(service_of(&req), Some(Service::Iam));
    }

    #[test]
    fn service_of_tells_iam_and_sts_from_s3() {
        let signed = |method: &str, path: &str, service: &str| {
            http::Request::builder()
                .method(method)
                .uri(path)
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/{service}/aws4_request,SignedHeaders=host,Signature=00"
                    ),
                )
                .body(())
                .unwrap()
        };
        assert_eq!(service_of(&signed("POST", "/", "sts")), Some(Service::Sts));
        assert_eq!(service_of(&signed("GET", "/", "iam")), Some(Service::Iam));
        assert_eq!(service_of(&signed("POST", "/", "s3")), None);
        assert_eq!(service_of(&signed("GET", "/", "s3")), None);
        assert_eq!(service_of(&signed("POST", "/bucket", "iam")), None);
        assert_eq!(service_of(&signed("PUT", "/", "iam")), None);
        // A SigV2 or unsigned request is never IAM.
        let v2 = http::Request::post("/")
            .header("authorization", "AWS AK:sig")
            .body(())
            .unwrap();
        assert_eq!(service_of(&v2), None);
        assert_eq!(
            service_of(&http::Request::post("/").body(()).unwrap()),
            None
        );
        // A malformed credential is not a scope.
        let bad = http::Request::post("/")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20261201/iam/aws4_request, Signature=00",
            )
            .body(())
            .unwrap();
        assert_eq!(service_of(&bad), None);
    }

    #[test]
    fn presigned_get_scope_and_parameters_from_the_query() {
        let req = http::Request::get(
            "/?Action=ListUsers&Version=2010-05-08&MaxItems=5\
             &X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fiam%2Faws4_request&X-Amz-Signature=00",
        )
        .body(Bytes::new())
        .unwrap();
        assert_eq!(service_of(&req), Some(Service::Iam));
        assert_eq!(
            parse_request(Service::Iam, &req).unwrap(),
            IamRequest::ListUsers(ListUsersInput {
                path_prefix: "/".into(),
                paging: Paging {
                    marker: None,
                    max_items: Some(5)
                }
            })
        );
    }

    #[test]
    fn create_user_with_defaults_and_with_a_path() {
        assert_eq!(
            iam("Action=CreateUser&Version=2010-05-08&UserName=alice").unwrap(),
            IamRequest::CreateUser(CreateUserInput {
                user_name: "alice".into(),
                path: "/".into()
            })
        );
        assert_eq!(
            iam("Action=CreateUser&Version=2010-05-08&UserName=a.b%2Bc%3Dd%2Ce%40f-g_h&Path=%2Fteam%2Fops%2F")
                .unwrap(),
            IamRequest::CreateUser(CreateUserInput {
                user_name: "a.b+c=d,e@f-g_h".into(),
                path: "/team/ops/".into()
            })
        );
    }

    #[test]
    fn names_are_validated_as_iam_does() {
        let err = iam("Action=CreateUser&Version=2010-05-08&UserName=bad%20name").unwrap_err();
        assert_eq!(err.code(), "ValidationError");
        assert_eq!(
            err.to_string(),
            r"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );
        let long = "a".repeat(65);
        let err = iam(&format!(
            "Action=CreateUser&Version=2010-05-08&UserName={long}"
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("length less than or equal to 64"),
            "{err}"
        );
        // An existing user's name may be up to 128 characters (existingUserNameType).
        assert!(iam(&format!(
            "Action=GetUser&Version=2010-05-08&UserName={long}"
        ))
        .is_ok());
        let err = iam("Action=CreateUser&Version=2010-05-08&UserName=").unwrap_err();
        assert!(
            err.to_string().contains("greater than or equal to 1"),
            "{err}"
        );
        let err = iam("Action=CreateUser&Version=2010-05-08&UserName=%C3%A9t%C3%A9").unwrap_err();
        assert_eq!(err.code(), "ValidationError");
    }

    #[test]
    fn paths_are_validated() {
        for bad in ["team", "/team", "team/", "//", "/a b/"] {
            let body = format!(
                "Action=CreateUser&Version=2010-05-08&UserName=u&Path={}",
                bad.replace('/', "%2F").replace(' ', "+")
            );
            assert_eq!(iam(&body).unwrap_err().code(), "ValidationError", "{bad}");
        }
        assert!(iam("Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fteam").is_ok());
        assert_eq!(
            iam("Action=ListUsers&Version=2010-05-08&PathPrefix=team")
                .unwrap_err()
                .code(),
            "ValidationError"
        );
    }

    #[test]
    fn paging_bounds() {
        assert_eq!(
            iam("Action=ListUsers&Version=2010-05-08&MaxItems=1000&Marker=abc").unwrap(),
            IamRequest::ListUsers(ListUsersInput {
                path_prefix: "/".into(),
                paging: Paging {
                    marker: Some("abc".into()),
                    max_items: Some(1000)
                }
            })
        );
        for bad in ["0", "1001", "-1", "ten", ""] {
            let err = iam(&format!(
                "Action=ListUsers&Version=2010-05-08&MaxItems={bad}"
            ))
            .unwrap_err();
            assert_eq!(err.code(), "ValidationError", "{bad}");
        }
        let err = iam("Action=ListUsers&Version=2010-05-08&Marker=").unwrap_err();
        assert_eq!(err.code(), "ValidationError");
    }

    #[test]
    fn access_key_parameters() {
        assert_eq!(
            iam("Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Inactive")
                .unwrap(),
            IamRequest::UpdateAccessKey(UpdateAccessKeyInput {
                user_name: None,
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                status: AccessKeyStatus::Inactive
            })
        );
        let err = iam("Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Expired")
            .unwrap_err();
        assert_eq!(err.code(), "ValidationError");
        let err = iam("Action=DeleteAccessKey&Version=2010-05-08&AccessKeyId=short").unwrap_err();
        assert!(
            err.to_string().contains("greater than or equal to 16"),
            "{err}"
        );
        let err = iam("Action=GetAccessKeyLastUsed&Version=2010-05-08").unwrap_err();
        assert_eq!(err, RequestError::MissingParameter("AccessKeyId"));
    }

    #[test]
    fn policy_document_is_url_decoded_and_kept_as_text() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let encoded: String = form_urlencoded::byte_serialize(doc.as_bytes()).collect();
        let req = iam(&format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=all&PolicyDocument={encoded}"
        ))
        .unwrap();
        assert_eq!(
            req,
            IamRequest::PutUserPolicy(PutUserPolicyInput {
                user_name: "alice".into(),
                policy_name: "all".into(),
                policy_document: doc.into()
            })
        );
        let err = iam("Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p&PolicyDocument=%00")
            .unwrap_err();
        assert_eq!(err.code(), "ValidationError");
        let err =
            iam("Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p").unwrap_err();
        assert_eq!(err, RequestError::MissingParameter("PolicyDocument"));
    }

    #[test]
    fn action_and_version_errors() {
        assert_eq!(
            iam("Version=2010-05-08").unwrap_err(),
            RequestError::MissingAction
        );
        assert_eq!(
            iam("Action=CreateUser&UserName=a").unwrap_err(),
            RequestError::MissingParameter("Version")
        );
        let err = iam("Action=CreateRole&Version=2010-05-08").unwrap_err();
        assert_eq!(err.code(), "InvalidAction");
        assert_eq!(
            err.to_string(),
            "Could not find operation CreateRole for version 2010-05-08"
        );
        assert_eq!(
            iam("Action=CreateUser&Version=2011-06-15&UserName=a")
                .unwrap_err()
                .code(),
            "InvalidAction"
        );
        // STS actions only on the STS service, and the other way round.
        assert_eq!(
            iam("Action=GetCallerIdentity&Version=2010-05-08")
                .unwrap_err()
                .code(),
            "InvalidAction"
        );
        assert_eq!(
            parse_request(
                Service::Sts,
                &post("Action=GetCallerIdentity&Version=2011-06-15")
            )
            .unwrap(),
            IamRequest::GetCallerIdentity
        );
        assert_eq!(
            parse_request(Service::Sts, &post("Action=ListUsers&Version=2011-06-15"))
                .unwrap_err()
                .code(),
            "InvalidAction"
        );
        assert_eq!(
            iam("Action=DeleteUser&Version=2010-05-08").unwrap_err(),
            RequestError::MissingParameter("UserName")
        );
    }

    #[test]
    fn duplicate_parameters_and_bad_encodings_are_refused() {
        let err = iam("Action=GetUser&Version=2010-05-08&UserName=a&UserName=b").unwrap_err();
        assert_eq!(err.code(), "MalformedQueryString");
        let req = http::Request::post("/?Action=GetUser")
            .body(Bytes::from_static(b"Action=GetUser&Version=2010-05-08"))
            .unwrap();
        assert_eq!(
            parse_request(Service::Iam, &req).unwrap_err().code(),
            "MalformedQueryString"
        );
        let req = http::Request::post("/")
            .body(Bytes::from_static(
                b"Action=GetUser&Version=2010-05-08&UserName=\xff",
            ))
            .unwrap();
        assert_eq!(
            parse_request(Service::Iam, &req).unwrap_err().code(),
            "MalformedQueryString"
        );
    }

    #[test]
    fn oversized_bodies_and_other_methods_are_refused() {
        let body = format!(
            "Action=GetUser&Version=2010-05-08&Pad={}",
            "x".repeat(crate::MAX_BODY_BYTES)
        );
        let err = iam(&body).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        let req = http::Request::put("/").body(Bytes::new()).unwrap();
        assert_eq!(
            parse_request(Service::Iam, &req).unwrap_err().status(),
            http::StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn get_parameters_come_from_the_query_string() {
        let req = http::Request::get("/?Action=GetUser&Version=2010-05-08&UserName=bob")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            parse_request(Service::Iam, &req).unwrap(),
            IamRequest::GetUser {
                user_name: Some("bob".into())
            }
        );
    }

    #[test]
    fn listings_of_absent_entities_parse_and_validate() {
        let all = ListByPathInput {
            path_prefix: "/".into(),
            paging: Paging::default(),
        };
        assert_eq!(
            iam("Action=ListGroups&Version=2010-05-08").unwrap(),
            IamRequest::ListGroups(all.clone())
        );
        assert_eq!(
            iam("Action=ListRoles&Version=2010-05-08").unwrap(),
            IamRequest::ListRoles(all)
        );
        assert_eq!(
            iam("Action=ListGroups&Version=2010-05-08&PathPrefix=%2Fs3-tests%2F&MaxItems=7&Marker=m")
                .unwrap(),
            IamRequest::ListGroups(ListByPathInput {
                path_prefix: "/s3-tests/".into(),
                paging: Paging {
                    marker: Some("m".into()),
                    max_items: Some(7)
                }
            })
        );
        assert_eq!(
            iam("Action=ListOpenIDConnectProviders&Version=2010-05-08").unwrap(),
            IamRequest::ListOpenIDConnectProviders
        );
        assert_eq!(
            iam("Action=ListAttachedUserPolicies&Version=2010-05-08&UserName=alice&PathPrefix=%2Fteam%2F")
                .unwrap(),
            IamRequest::ListAttachedUserPolicies(ListAttachedUserPoliciesInput {
                user_name: "alice".into(),
                path_prefix: "/team/".into(),
                paging: Paging::default()
            })
        );
        assert_eq!(
            iam("Action=ListGroupsForUser&Version=2010-05-08&UserName=alice&MaxItems=1").unwrap(),
            IamRequest::ListGroupsForUser {
                user_name: "alice".into(),
                paging: Paging {
                    marker: None,
                    max_items: Some(1)
                }
            }
        );
        // The same constraints as ListUsers: pathPrefixType, MaxItems 1..=1000, a non-empty Marker.
        for bad in [
            "Action=ListGroups&PathPrefix=team",
            "Action=ListRoles&PathPrefix=",
            "Action=ListRoles&MaxItems=0",
            "Action=ListGroups&MaxItems=1001",
            "Action=ListGroups&Marker=",
            "Action=ListGroupsForUser&UserName=a&MaxItems=x",
            "Action=ListGroupsForUser&UserName=bad%20name",
            "Action=ListAttachedUserPolicies&UserName=a&MaxItems=-1",
        ] {
            let err = iam(&format!("{bad}&Version=2010-05-08")).unwrap_err();
            assert_eq!(err.code(), "ValidationError", "{bad}");
        }
        for action in ["ListAttachedUserPolicies", "ListGroupsForUser"] {
            assert_eq!(
                iam(&format!("Action={action}&Version=2010-05-08")).unwrap_err(),
                RequestError::MissingParameter("UserName")
            );
        }
        // ListAttachedUserPolicies' UserName is userNameType (at most 64), ListGroupsForUser's 128.
        let long = "a".repeat(65);
        assert!(iam(&format!(
            "Action=ListAttachedUserPolicies&Version=2010-05-08&UserName={long}"
        ))
        .is_err());
        assert!(iam(&format!(
            "Action=ListGroupsForUser&Version=2010-05-08&UserName={long}"
        ))
        .is_ok());
    }

    #[test]
    fn attached_policy_path_prefix_is_a_policy_path() {
        let parse = |prefix: &str| {
            let encoded: String = form_urlencoded::byte_serialize(prefix.as_bytes()).collect();
            iam(&format!(
                "Action=ListAttachedUserPolicies&Version=2010-05-08&UserName=u&PathPrefix={encoded}"
            ))
        };
        for good in ["/", "/a/", "/a.b,c+d@e=f_g-h/", "/x/y/z/"] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a/", "/a", "//", "/a//b/", "/a b/", "/a!/", "/é/"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), "ValidationError", "{bad}");
        }
        assert!(parse(&format!("/{}/", "a".repeat(510))).is_ok());
        assert!(parse(&format!("/{}/", "a".repeat(511))).is_err());
    }

    #[test]
    fn group_and_role_writes_stay_unknown() {
        for action in [
            "CreateGroup",
            "CreateRole",
            "AddUserToGroup",
            "AttachUserPolicy",
        ] {
            let err = iam(&format!("Action={action}&Version=2010-05-08")).unwrap_err();
            assert_eq!(err.code(), "InvalidAction", "{action}");
        }
    }

    #[test]
    fn every_action_parses() {
        let cases = [
            ("GetUser", "", "GetUser"),
            ("ListUsers", "", "ListUsers"),
            (
                "UpdateUser",
                "&UserName=a&NewUserName=b&NewPath=%2Fx%2F",
                "UpdateUser",
            ),
            ("DeleteUser", "&UserName=a", "DeleteUser"),
            ("CreateAccessKey", "", "CreateAccessKey"),
            ("ListAccessKeys", "&UserName=a&MaxItems=1", "ListAccessKeys"),
            (
                "DeleteAccessKey",
                "&AccessKeyId=AKIAIOSFODNN7EXAMPLE",
                "DeleteAccessKey",
            ),
            ("GetUserPolicy", "&UserName=a&PolicyName=p", "GetUserPolicy"),
            ("ListUserPolicies", "&UserName=a", "ListUserPolicies"),
            ("ListGroups", "", "ListGroups"),
            ("ListRoles", "", "ListRoles"),
            (
                "ListOpenIDConnectProviders",
                "",
                "ListOpenIDConnectProviders",
            ),
            (
                "ListAttachedUserPolicies",
                "&UserName=a",
                "ListAttachedUserPolicies",
            ),
            ("ListGroupsForUser", "&UserName=a", "ListGroupsForUser"),
            (
                "DeleteUserPolicy",
                "&UserName=a&PolicyName=p",
                "DeleteUserPolicy",
            ),
        ];
        for (action, rest, expected) in cases {
            let req = iam(&format!("Action={action}&Version=2010-05-08{rest}")).unwrap();
            assert_eq!(req.action(), expected);
            assert_eq!(req.service(), Service::Iam);
        }
    }
}
