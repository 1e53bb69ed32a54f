//! Browser form uploads (S3 PostObject, "Browser-Based Uploads Using POST"): a
//! `multipart/form-data` POST to a bucket URL is taken before s3s (which would hold the whole
//! file in memory). The fields before the file are read ([`crate::form`]), the policy's
//! signature verified (SigV4 or, when allowed, SigV2; constant time, secrets from the store) and
//! its conditions checked ([`tessera_core::post_policy`]); then the form becomes a PutObject
//! whose headers are the form's fields and whose body streams the file, marked [`FormUpload`]
//! and handed to the S3 pipeline: authorization as the signer, SSE, checksums, ACLs, tags and
//! metadata are PutObject's own. The policy's `content-length-range` is enforced as the file
//! arrives: a file out of range fails the write, which then stores nothing.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use hyper::body::Frame;
use s3s::{S3Error, S3ErrorCode};
use tessera_core::post_policy::PostPolicy;

use crate::form::{boundary_of, Field, FileStream, FormError, FormReader};
use crate::{limits, responses, sigv2, sigv4, FormUpload, HttpResponse, HttpService};

/// Where a form upload goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormTarget {
    bucket: String,
    /// The bucket is named by the Host header, not the path.
    virtual_host: bool,
}

/// Form fields that become PutObject headers of the same name (lower case).
const HEADER_FIELDS: &[&str] = &[
    "cache-control",
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-md5",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

/// Request headers the PutObject keeps from the POST: the host (addressing), and what policy
/// conditions (aws:Referer, aws:UserAgent) and CORS look at.
const KEPT_HEADERS: &[&str] = &["host", "origin", "referer", "user-agent"];

fn invalid_argument(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message.into())
}

/// S3's refusal of a form missing a field it needs.
fn missing_field(name: &str) -> S3Error {
    invalid_argument(format!(
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    ))
}

/// Percent-encodes all but unreserved characters (and `/` when `keep_slash`).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The form's fields, looked up by name case-insensitively.
struct Form {
    fields: Vec<Field>,
}

impl Form {
    /// Refuses a field sent twice (two `key`s could make the policy check one and the upload
    /// use the other).
    fn new(fields: Vec<Field>) -> Result<Form, S3Error> {
        for (i, f) in fields.iter().enumerate() {
            if fields[..i]
                .iter()
                .any(|g| g.name.eq_ignore_ascii_case(&f.name))
            {
                return Err(invalid_argument(format!(
                    "POST form field '{}' appears more than once.",
                    f.name
                )));
            }
        }
        Ok(Form { fields })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, S3Error> {
        self.get(name).ok_or_else(|| missing_field(name))
    }
}

/// Who signed the form, once verified.
struct Signer {
    access_key: String,
    version: &'static str,
    amz_date: Option<String>,
}

impl HttpService {
    /// The bucket of a browser form upload: a POST with a `multipart/form-data` body to a
    /// bucket URL (`/bucket` path style, or `/` on a virtual host). Other form POSTs are left
    /// to the precheck, which refuses them.
    pub(crate) fn form_upload_target<B>(&self, req: &http::Request<B>) -> Option<FormTarget> {
        if !crate::host::is_form_post(req) {
            return None;
        }
        let path = req.uri().path().trim_start_matches('/');
        let host_bucket = self.host_bucket(req);
        match host_bucket {
            Some(bucket) => path.is_empty().then_some(FormTarget {
                bucket,
                virtual_host: true,
            }),
            None => {
                let bucket = path.strip_suffix('/').unwrap_or(path);
                (!bucket.is_empty() && !bucket.contains('/')).then(|| FormTarget {
                    bucket: bucket.to_owned(),
                    virtual_host: false,
                })
            }
        }
    }

    /// Serves a browser form upload to `target` (see the module documentation).
    pub(crate) fn serve_post_object(
        &self,
        req: http::Request<s3s::Body>,
        target: FormTarget,
    ) -> BoxFuture<'static, Result<HttpResponse, s3s::HttpError>> {
        let this = self.clone();
        Box::pin(async move {
            let started = Instant::now();
            let (req, timed_out) = limits::time_body(req, this.config.body_timeout);
            let outcome = this.post_object(req, &target).await;
            let outcome = if timed_out.fired() {
                // Whatever the form or the write made of the stalled body, S3 answers this.
                Err(limits::request_timeout_error())
            } else {
                outcome
            };
            let resp = match outcome {
                Ok(resp) => resp,
                Err(e) => {
                    let id = crate::pipeline::request_id();
                    let mut resp = e
                        .to_http_response()
                        .map_err(|e| s3s::HttpError::new(Box::new(e)))?;
                    responses::complete_error_body(&mut resp, &id);
                    if let Ok(v) = http::HeaderValue::from_str(&id) {
                        resp.headers_mut().insert("x-amz-request-id", v);
                    }
                    resp
                }
            };
            let mut resp = resp;
            if !resp.status().is_success() && !resp.status().is_redirection() {
                // The body may be left unread: the connection cannot be reused.
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            tracing::info!(
                bucket = %target.bucket,
                status = resp.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "post object"
            );
            Ok(resp)
        })
    }

    async fn post_object(
        &self,
        req: http::Request<s3s::Body>,
        target: &FormTarget,
    ) -> Result<HttpResponse, S3Error> {
        let boundary = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(boundary_of)
            .ok_or_else(|| FormError::Malformed.to_s3())?;
        let (parts, body) = req.into_parts();
        let mut reader = FormReader::new(body, &boundary);
        let (fields, file) = reader.read_fields().await.map_err(|e| e.to_s3())?;
        let form = Form::new(fields)?;
        let signer = self.verify_form_signature(&form).await?;
        let policy = match form.get("policy") {
            Some(p) => Some(PostPolicy::from_base64(p).map_err(|e| {
                S3Error::with_message(S3ErrorCode::InvalidPolicyDocument, e.to_string())
            })?),
            None => None,
        };
        let key = form.require("key")?.replace("${filename}", &file.filename);
        if key.is_empty() {
            return Err(invalid_argument(
                "User key must have a length greater than 0.",
            ));
        }
        let (min, max) = match &policy {
            Some(policy) => {
                let checked: Vec<(&str, &str)> = form
                    .fields
                    .iter()
                    .map(|f| {
                        let value = if f.name.eq_ignore_ascii_case("key") {
                            key.as_str()
                        } else {
                            f.value.as_str()
                        };
                        (f.name.as_str(), value)
                    })
                    .collect();
                policy
                    .check(&checked, &target.bucket, tessera_core::now_millis())
                    .map_err(|v| S3Error::with_message(S3ErrorCode::AccessDenied, v.to_string()))?;
                policy.length_range().unwrap_or((0, u64::MAX))
            }
            None => (0, u64::MAX),
        };
        let put = self.put_request(
            &parts,
            target,
            &form,
            &key,
            signer,
            reader.into_file_stream(),
            min,
            max,
        )?;
        let resp = self.handle(put).await.map_err(|e| {
            tracing::warn!(error = ?e, "post object: the write failed to answer");
            S3Error::with_message(
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.",
            )
        })?;
        if !resp.status().is_success() {
            return Ok(resp);
        }
        Ok(self.success_response(resp, &parts, target, &form, &key))
    }

    /// Verifies the form's policy signature; `None` for an anonymous form (no policy, no
    /// signature fields).
    async fn verify_form_signature(&self, form: &Form) -> Result<Option<Signer>, S3Error> {
        let v4 = ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"]
            .iter()
            .any(|n| form.get(n).is_some());
        let v2 = ["awsaccesskeyid", "signature"]
            .iter()
            .any(|n| form.get(n).is_some());
        let Some(policy) = form.get("policy") else {
            if v4 || v2 {
                return Err(missing_field("policy"));
            }
            return Ok(None);
        };
        let unknown_key = || {
            S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        };
        let mismatch = || {
            S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
        };
        if v4 || !v2 {
            let algorithm = form.require("x-amz-algorithm")?;
            if algorithm != "AWS4-HMAC-SHA256" {
                return Err(invalid_argument(format!(
                    "The x-amz-algorithm '{algorithm}' is not supported; use AWS4-HMAC-SHA256."
                )));
            }
            let credential = form.require("x-amz-credential")?;
            let amz_date = form.require("x-amz-date")?;
            let signature = form.require("x-amz-signature")?;
            let mut scope = credential.splitn(5, '/');
            let (Some(access_key), Some(day), Some(region), Some(service), Some("aws4_request")) = (
                scope.next(),
                scope.next(),
                scope.next(),
                scope.next(),
                scope.next(),
            ) else {
                return Err(invalid_argument(format!(
                    "Error parsing the X-Amz-Credential parameter: '{credential}'"
                )));
            };
            if region != self.config.region {
                return Err(invalid_argument(format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{}'",
                    self.config.region
                )));
            }
            if service != "s3" {
                return Err(invalid_argument(format!(
                    "Error parsing the X-Amz-Credential parameter; incorrect service '{service}'. This endpoint belongs to 's3'."
                )));
            }
            if sigv4::parse_amz_date(amz_date).is_none()
                || !amz_date.starts_with(day)
                || day.len() != 8
            {
                return Err(invalid_argument(format!(
                    "Invalid x-amz-date '{amz_date}' for the credential date '{day}'"
                )));
            }
            let secret = crate::auth::secret_of(&self.app, access_key)
                .await?
                .ok_or_else(unknown_key)?;
            if !sigv4::post_policy_signature_matches(
                &secret, day, region, service, policy, signature,
            ) {
                return Err(mismatch());
            }
            return Ok(Some(Signer {
                access_key: access_key.to_owned(),
                version: "AWS4-HMAC-SHA256",
                amz_date: Some(amz_date.to_owned()),
            }));
        }
        if !self.config.allow_sigv2 {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "AWS Signature Version 2 is disabled on this server; use Signature Version 4",
            ));
        }
        let access_key = form.require("AWSAccessKeyId")?;
        let signature = form.require("signature")?;
        let secret = crate::auth::secret_of(&self.app, access_key)
            .await?
            .ok_or_else(unknown_key)?;
        if !sigv2::post_policy_signature_matches(&secret, policy, signature) {
            return Err(mismatch());
        }
        Ok(Some(Signer {
            access_key: access_key.to_owned(),
            version: "AWS",
            amz_date: None,
        }))
    }

    /// The PutObject the form stands for: the form's fields as its headers, the file as its
    /// body (held to `min..=max` bytes), marked [`FormUpload`].
    #[allow(clippy::too_many_arguments)]
    fn put_request(
        &self,
        post: &http::request::Parts,
        target: &FormTarget,
        form: &Form,
        key: &str,
        signer: Option<Signer>,
        file: FileStream,
        min: u64,
        max: u64,
    ) -> Result<http::Request<s3s::Body>, S3Error> {
        let path = if target.virtual_host {
            format!("/{}", encode(key, true))
        } else {
            format!("/{}/{}", target.bucket, encode(key, true))
        };
        let mut uri = post.uri.clone().into_parts();
        uri.path_and_query = Some(
            path.parse()
                .map_err(|_| invalid_argument("The key cannot be used in a request path."))?,
        );
        let uri = http::Uri::from_parts(uri)
            .map_err(|_| invalid_argument("The key cannot be used in a request path."))?;
        let mut headers = http::HeaderMap::new();
        for name in KEPT_HEADERS {
            if let Some(v) = post.headers.get(*name) {
                headers.insert(*name, v.clone());
            }
        }
        let header_value = |name: &str, value: &str| {
            http::HeaderValue::from_str(value).map_err(|_| {
                invalid_argument(format!(
                    "The value of form field '{name}' is not a valid header value."
                ))
            })
        };
        for field in &form.fields {
            let lower = field.name.to_ascii_lowercase();
            let header = if lower == "acl" {
                Some("x-amz-acl".to_owned())
            } else if HEADER_FIELDS.contains(&lower.as_str()) || lower.starts_with("x-amz-meta-") {
                Some(lower.clone())
            } else {
                None
            };
            let Some(header) = header else {
                continue;
            };
            let name = http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                invalid_argument(format!("Invalid form field name '{}'.", field.name))
            })?;
            headers.insert(name, header_value(&field.name, &field.value)?);
        }
        if let Some(tagging) = form.get("tagging").or_else(|| form.get("x-amz-tagging")) {
            headers.insert(
                "x-amz-tagging",
                header_value("tagging", &tagging_header(tagging)?)?,
            );
        }
        let mut put = http::Request::new(s3s::Body::http_body(http_body_util::StreamBody::new(
            SizedFile {
                file,
                min,
                max,
                seen: 0,
                done: false,
            },
        )));
        *put.method_mut() = http::Method::PUT;
        *put.uri_mut() = uri;
        *put.version_mut() = post.version;
        *put.headers_mut() = headers;
        put.extensions_mut().insert(FormUpload {
            signature_version: signer.as_ref().map(|s| s.version),
            amz_date: signer.as_ref().and_then(|s| s.amz_date.clone()),
            access_key: signer.map(|s| s.access_key),
        });
        Ok(put)
    }

    /// The answer to a stored form upload: a 303 to `success_action_redirect` (or `redirect`)
    /// when it is a URL, else `success_action_status` 200, 201 (with a PostResponse document)
    /// or 204 (the default, and for any other value). ETag and Location as S3.
    fn success_response(
        &self,
        put: HttpResponse,
        post: &http::request::Parts,
        target: &FormTarget,
        form: &Form,
        key: &str,
    ) -> HttpResponse {
        let (mut parts, _) = put.into_parts();
        let etag = parts
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let host = post
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| post.uri.authority().map(http::uri::Authority::as_str))
            .unwrap_or_default();
        let scheme = if self.config.tls { "https" } else { "http" };
        let location = if target.virtual_host {
            format!("{scheme}://{host}/{}", encode(key, true))
        } else {
            format!("{scheme}://{host}/{}/{}", target.bucket, encode(key, true))
        };
        parts.headers.remove(http::header::CONTENT_LENGTH);
        parts.headers.remove(http::header::CONTENT_TYPE);
        let redirect = form
            .get("success_action_redirect")
            .or_else(|| form.get("redirect"))
            .filter(|url| {
                url.parse::<http::Uri>()
                    .is_ok_and(|u| u.scheme().is_some() && u.authority().is_some())
            });
        let (status, body, location) = if let Some(url) = redirect {
            let sep = if url.contains('?') { '&' } else { '?' };
            let to = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                encode(&target.bucket, false),
                encode(key, false),
                encode(&etag, false)
            );
            (http::StatusCode::SEE_OTHER, String::new(), to)
        } else {
            match form.get("success_action_status") {
                Some("200") => (http::StatusCode::OK, String::new(), location),
                Some("201") => {
                    let doc = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                        xml_escape(&location),
                        xml_escape(&target.bucket),
                        xml_escape(key),
                        xml_escape(&etag)
                    );
                    parts.headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/xml"),
                    );
                    (http::StatusCode::CREATED, doc, location)
                }
                _ => (http::StatusCode::NO_CONTENT, String::new(), location),
            }
        };
        parts.status = status;
        if let Ok(v) = http::HeaderValue::from_str(&location) {
            parts.headers.insert(http::header::LOCATION, v);
        }
        if status != http::StatusCode::NO_CONTENT {
            parts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(body.len()),
            );
        }
        http::Response::from_parts(parts, s3s::Body::from(body))
    }
}

/// The `x-amz-tagging` header (`k=v&k2=v2`) of a form's `tagging` field, a `Tagging` XML
/// document as in PutObjectTagging.
fn tagging_header(xml: &str) -> Result<String, S3Error> {
    use s3s::xml::Deserialize as _;
    let malformed = || crate::errors::to_s3(tessera_core::Error::MalformedXml);
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging = s3s::dto::Tagging::deserialize(&mut d).map_err(|_| malformed())?;
    d.expect_eof().map_err(|_| malformed())?;
    let tags = crate::service::tagging::tags_in(&tagging.tag_set)?;
    Ok(tags
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// The file of a form, held to the policy's `content-length-range`: one byte past `max` fails
/// it with EntityTooLarge, an end before `min` with EntityTooSmall (errors the write reports,
/// storing nothing).
struct SizedFile {
    file: FileStream,
    min: u64,
    max: u64,
    seen: u64,
    done: bool,
}

impl Stream for SizedFile {
    type Item = Result<Frame<Bytes>, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let fail = |this: &mut SizedFile, e: S3Error| {
            this.done = true;
            Poll::Ready(Some(Err(Box::new(e) as s3s::StdError)))
        };
        match this.file.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen = this.seen.saturating_add(chunk.len() as u64);
                if this.seen > this.max {
                    return fail(
                        this,
                        S3Error::with_message(
                            S3ErrorCode::EntityTooLarge,
                            "Your proposed upload exceeds the maximum allowed size",
                        ),
                    );
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(FormError::Read(e)))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Err(e))) => fail(this, e.to_s3()),
            Poll::Ready(None) if this.seen < this.min => fail(
                this,
                S3Error::with_message(
                    S3ErrorCode::EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size",
                ),
            ),
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_case_insensitive_and_unique() {
        let field = |n: &str, v: &str| Field {
            name: n.into(),
            value: v.into(),
        };
        let form = Form::new(vec![field("Key", "k"), field("X-Amz-Meta-A", "1")]).unwrap();
        assert_eq!(form.get("key"), Some("k"));
        assert_eq!(form.get("x-amz-meta-a"), Some("1"));
        assert!(form.require("policy").is_err());
        let e = Form::new(vec![field("key", "a"), field("KEY", "b")])
            .err()
            .unwrap();
        assert_eq!(e.code(), &S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn tagging_documents_become_the_header() {
        let xml = "<Tagging><TagSet><Tag><Key>a b</Key><Value>1&amp;2</Value></Tag>\
                   <Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>";
        assert_eq!(tagging_header(xml).unwrap(), "a%20b=1%262&c=");
        assert!(tagging_header("<Tagging>").is_err());
        assert!(tagging_header("a=b").is_err());
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("a b/c\"d", true), "a%20b/c%22d");
        assert_eq!(encode("\"e\"", false), "%22e%22");
        assert_eq!(xml_escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
