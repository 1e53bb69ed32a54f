//! Authentication and authorization of S3 requests: access keys resolved through the store
//! (cached in core, invalidated by the auth epoch), and one decision per request from the
//! operation's S3 action ([`action_of`], the per-operation table), its resource and the
//! caller, made in [`Authorizer::check`] before any handler runs.

use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::S3Result;
use tessera_core::accounts::Principal;
use tessera_core::{AccessRequest, BucketRecord, Error, Tessera};

use crate::conditions::{condition_keys, form_condition_keys};
use crate::errors::to_s3;
use crate::{ClientAddr, FormUpload, PreVerified};

/// Access keys checked by s3s's signature verification, looked up in the store.
pub(crate) struct StoreAuth {
    pub(crate) app: Arc<Tessera>,
}

#[async_trait::async_trait]
impl S3Auth for StoreAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        // No store read for a cached key: the access check confirms it with the request's one.
        let secret = self
            .app
            .secret_for_signature(access_key)
            .await
            .map_err(to_s3)?;
        Ok(SecretKey::from(secret))
    }
}

/// The secret of an active key for Tessera's own signature checks (SigV2, pre-verified SigV4):
/// `Ok(None)` for an unknown or inactive key, `Err` if the store failed.
pub(crate) async fn secret_of(app: &Tessera, access_key: &str) -> S3Result<Option<String>> {
    match app.authenticate(access_key).await {
        Ok(r) => Ok(Some(r.secret)),
        Err(Error::InvalidAccessKeyId) => Ok(None),
        Err(e) => Err(to_s3(e)),
    }
}

/// The S3 action an operation needs (IAM's names; "Actions, resources, and condition keys
/// for Amazon S3"); `versioned`: the request names a `versionId`, which needs the `...Version`
/// action. Operations not listed need the action of their own name.
pub(crate) fn action_of(op: &str, versioned: bool) -> String {
    if versioned {
        let action = match op {
            "GetObject" | "HeadObject" => Some("s3:GetObjectVersion"),
            "GetObjectAttributes" => Some("s3:GetObjectVersionAttributes"),
            "DeleteObject" => Some("s3:DeleteObjectVersion"),
            "GetObjectAcl" => Some("s3:GetObjectVersionAcl"),
            "PutObjectAcl" => Some("s3:PutObjectVersionAcl"),
            "GetObjectTagging" => Some("s3:GetObjectVersionTagging"),
            "PutObjectTagging" => Some("s3:PutObjectVersionTagging"),
            "DeleteObjectTagging" => Some("s3:DeleteObjectVersionTagging"),
            _ => None,
        };
        if let Some(a) = action {
            return a.to_owned();
        }
    }
    let action = match op {
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "s3:PutObject",
        "GetObject" | "HeadObject" | "GetObjectAttributes" => "s3:GetObject",
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "ListParts" => "s3:ListMultipartUploadParts",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "ListBuckets" => "s3:ListAllMyBuckets",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "s3:PutLifecycleConfiguration"
        }
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketTagging" | "DeleteBucketTagging" => "s3:PutBucketTagging",
        "GetBucketTagging" => "s3:GetBucketTagging",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
        "GetBucketCors" => "s3:GetBucketCORS",
        other => return format!("s3:{other}"),
    };
    action.to_owned()
}

/// `bucket`, `key` and version id of an `x-amz-copy-source` value (`bucket/key` or
/// `/bucket/key`, URL-encoded, with an optional `?versionId=`).
fn copy_source(value: &str) -> Option<(String, String, Option<String>)> {
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let (bucket, key) = decoded.split_once('/')?;
    let version = query_param(Some(query), "versionId");
    Some((bucket.to_owned(), key.to_owned(), version))
}

/// The decoded value of a query parameter.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn header<'a>(cx: &'a s3s::access::S3AccessContext<'_>, name: &str) -> Option<&'a str> {
    cx.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The access check s3s runs after authentication: resolves the caller, authorizes the
/// request, and hands the caller to the handlers as an `Arc<Principal>` extension.
pub(crate) struct Authorizer {
    pub(crate) app: Arc<Tessera>,
    /// The server's region, recorded with each key's last use.
    pub(crate) region: String,
    /// The listener serves TLS (aws:SecureTransport).
    pub(crate) tls: bool,
    pub(crate) allow_sse_c_over_http: bool,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for Authorizer {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        let pre_verified = cx.extensions_mut().get::<PreVerified>().cloned();
        let form = cx.extensions_mut().get::<FormUpload>().cloned();
        let access_key = match cx.credentials() {
            Some(c) => Some(c.access_key.clone()),
            None => pre_verified
                .as_ref()
                .map(|p| p.access_key.clone())
                .or_else(|| form.as_ref().and_then(|f| f.access_key.clone())),
        };
        // The secret s3s checked the signature with (Tessera's own checks read the store).
        let verified_secret = cx.credentials().map(|c| c.secret_key.expose().to_owned());
        let version_id = query_param(cx.uri().query(), "versionId");
        let action = action_of(cx.s3_op().name(), version_id.is_some());
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let source_ip = cx.extensions_mut().get::<ClientAddr>().map(|a| a.0.ip());
        let conditions = match &form {
            Some(form) => form_condition_keys(cx.headers(), form, tessera_core::now_millis()),
            None => condition_keys(
                cx.s3_op().name(),
                cx.headers(),
                cx.uri().query(),
                pre_verified.as_ref(),
                tessera_core::now_millis(),
            ),
        };
        let upload_id = query_param(cx.uri().query(), "uploadId");
        let request = AccessRequest {
            action: &action,
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            expected_owner: header(cx, "x-amz-expected-bucket-owner"),
            source_ip,
            secure_transport: self.tls,
            conditions: &conditions,
            upload_id: upload_id.as_deref(),
            version_id: version_id.as_deref(),
        };
        // DeleteObjects names its keys in the body: the handler decides each key.
        let (key_id, secret) = (access_key.as_deref(), verified_secret.as_deref());
        let (principal, authorized_bucket) = if cx.s3_op().name() == "DeleteObjects" {
            self.app
                .authenticate_request(key_id, secret, &request)
                .await
        } else {
            self.app.authorize_request(key_id, secret, &request).await
        }
        .map_err(to_s3)?;
        if matches!(cx.s3_op().name(), "CopyObject" | "UploadPartCopy") {
            if let Some((src_bucket, src_key, src_version)) =
                header(cx, "x-amz-copy-source").and_then(copy_source)
            {
                let source = AccessRequest {
                    action: if src_version.is_some() {
                        "s3:GetObjectVersion"
                    } else {
                        "s3:GetObject"
                    },
                    bucket: Some(&src_bucket),
                    key: Some(&src_key),
                    expected_owner: header(cx, "x-amz-source-expected-bucket-owner"),
                    source_ip,
                    secure_transport: request.secure_transport,
                    conditions: &conditions,
                    upload_id: None,
                    version_id: src_version.as_deref(),
                };
                self.app
                    .authorize(principal.as_deref(), &source)
                    .await
                    .map_err(to_s3)?;
            }
        }
        // GetAccessKeyLastUsed: recorded off the request path, at most once a minute per key.
        if let Some(access_key) = access_key.filter(|k| self.app.key_use_due(k)) {
            let app = self.app.clone();
            let region = self.region.clone();
            tokio::spawn(async move {
                if let Err(e) = app.record_key_use(&access_key, "s3", &region).await {
                    tracing::debug!(error = %e, "cannot record an access key's last use");
                }
            });
        }
        let secure_transport = request.secure_transport;
        cx.extensions_mut().insert(Requester {
            principal,
            bucket: authorized_bucket,
            source_ip,
            secure_transport,
            sse_c_allowed: secure_transport || self.allow_sse_c_over_http,
            conditions,
        });
        Ok(())
    }
}

/// What the access check resolved, handed to the handlers as a request extension.
#[derive(Clone)]
pub(crate) struct Requester {
    /// The signer; `None` for an anonymous request.
    pub(crate) principal: Option<Arc<Principal>>,
    /// The request's bucket as read for the decision, if it exists.
    pub(crate) bucket: Option<BucketRecord>,
    /// What the decision saw of the request, for decisions a handler makes per key.
    pub(crate) source_ip: Option<std::net::IpAddr>,
    pub(crate) secure_transport: bool,
    /// SSE-C keys may be sent: over TLS, or over HTTP when the server allows it (test rigs).
    pub(crate) sse_c_allowed: bool,
    pub(crate) conditions: Vec<(String, Vec<String>)>,
}

impl Requester {
    /// Decides `action` on one object of the request's bucket (DeleteObjects' keys).
    pub(crate) async fn authorize_key(
        &self,
        app: &Tessera,
        action: &str,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), Error> {
        let request = AccessRequest {
            action,
            bucket: Some(bucket),
            key: Some(key),
            expected_owner: None,
            source_ip: self.source_ip,
            secure_transport: self.secure_transport,
            conditions: &self.conditions,
            upload_id: None,
            version_id,
        };
        app.authorize(self.principal.as_deref(), &request)
            .await
            .map(|_| ())
    }
}

/// What the access check resolved; an internal error if the check did not run.
pub(crate) fn requester(ext: &http::Extensions) -> S3Result<&Requester> {
    ext.get::<Requester>().ok_or_else(|| {
        to_s3(Error::Internal(
            "request reached a handler without an access decision".into(),
        ))
    })
}

/// The signer, for operations only a signed request can reach (authorization refuses the
/// anonymous caller every action on no bucket, and creating buckets).
pub(crate) fn principal(ext: &http::Extensions) -> S3Result<Arc<Principal>> {
    requester(ext)?
        .principal
        .clone()
        .ok_or_else(|| to_s3(Error::AccessDenied))
}

/// The caller, `None` when anonymous.
pub(crate) fn caller(ext: &http::Extensions) -> S3Result<Option<Arc<Principal>>> {
    Ok(requester(ext)?.principal.clone())
}

/// The request's bucket as the access check read it: `NoSuchBucket` if it does not exist.
pub(crate) fn bucket(ext: &http::Extensions) -> S3Result<BucketRecord> {
    requester(ext)?
        .bucket
        .clone()
        .ok_or_else(|| to_s3(Error::NoSuchBucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_of_operations() {
        let plain = |op| action_of(op, false);
        assert_eq!(plain("UploadPart"), "s3:PutObject");
        assert_eq!(plain("CompleteMultipartUpload"), "s3:PutObject");
        assert_eq!(plain("HeadObject"), "s3:GetObject");
        assert_eq!(plain("ListObjectsV2"), "s3:ListBucket");
        assert_eq!(plain("ListParts"), "s3:ListMultipartUploadParts");
        assert_eq!(plain("ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(plain("GetBucketPolicy"), "s3:GetBucketPolicy");
        assert_eq!(
            plain("DeleteBucketLifecycle"),
            "s3:PutLifecycleConfiguration"
        );
        assert_eq!(
            plain("GetBucketLifecycleConfiguration"),
            "s3:GetLifecycleConfiguration"
        );
        assert_eq!(plain("DeleteBucketTagging"), "s3:PutBucketTagging");
        assert_eq!(
            plain("DeletePublicAccessBlock"),
            "s3:PutBucketPublicAccessBlock"
        );
        assert_eq!(plain("GetObjectAcl"), "s3:GetObjectAcl");
        assert_eq!(plain("PutBucketVersioning"), "s3:PutBucketVersioning");
        assert_eq!(
            plain("PutObjectLockConfiguration"),
            "s3:PutBucketObjectLockConfiguration"
        );
        assert_eq!(
            plain("GetObjectLockConfiguration"),
            "s3:GetBucketObjectLockConfiguration"
        );
        // Retention and legal hold keep their action with a versionId.
        assert_eq!(
            action_of("PutObjectRetention", true),
            "s3:PutObjectRetention"
        );
        assert_eq!(
            action_of("GetObjectRetention", true),
            "s3:GetObjectRetention"
        );
        assert_eq!(
            action_of("PutObjectLegalHold", true),
            "s3:PutObjectLegalHold"
        );
        assert_eq!(
            action_of("GetObjectLegalHold", false),
            "s3:GetObjectLegalHold"
        );
        // A versionId asks for the version action; operations without one keep theirs.
        assert_eq!(action_of("GetObject", true), "s3:GetObjectVersion");
        assert_eq!(action_of("HeadObject", true), "s3:GetObjectVersion");
        assert_eq!(action_of("DeleteObject", true), "s3:DeleteObjectVersion");
        assert_eq!(action_of("PutObjectAcl", true), "s3:PutObjectVersionAcl");
        assert_eq!(
            action_of("GetObjectTagging", true),
            "s3:GetObjectVersionTagging"
        );
        assert_eq!(
            action_of("ListObjectVersions", true),
            "s3:ListBucketVersions"
        );
        for op in ["PutBucketEncryption", "DeleteBucketEncryption"] {
            assert_eq!(plain(op), "s3:PutEncryptionConfiguration");
        }
        assert_eq!(
            plain("GetBucketEncryption"),
            "s3:GetEncryptionConfiguration"
        );
        for op in ["PutBucketCors", "DeleteBucketCors"] {
            assert_eq!(plain(op), "s3:PutBucketCORS");
        }
        assert_eq!(plain("GetBucketCors"), "s3:GetBucketCORS");
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            copy_source("/src/a%20b/c.txt?versionId=1"),
            Some(("src".into(), "a b/c.txt".into(), Some("1".into())))
        );
        assert_eq!(copy_source("src/k"), Some(("src".into(), "k".into(), None)));
        assert_eq!(copy_source("nokey"), None);
        assert_eq!(copy_source("b/%zz"), Some(("b".into(), "%zz".into(), None)));
    }
}
