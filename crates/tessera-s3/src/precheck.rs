//! Checks run on a request before s3s sees it: presigned URL bounds, `x-amz-content-sha256`,
//! header size, unsigned `x-amz-*` headers, unparseable Range headers, and SigV2.

use s3s::{S3Error, S3ErrorCode};

use crate::{sigv2, sigv4, unsupported, HttpService, PreVerified};

/// Largest request header section accepted (S3 documents 8 KB; some headroom for clients).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Longest validity of a presigned URL, as S3: 7 days.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// Removes a request's SigV4 signature: the Authorization header, or a presigned URL's
/// `X-Amz-*` authentication parameters.
fn strip_sigv4<B>(req: &mut http::Request<B>) {
    req.headers_mut().remove(http::header::AUTHORIZATION);
    let Some(query) = req.uri().query() else {
        return;
    };
    const AUTH_PARAMS: [&str; 8] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    ];
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !AUTH_PARAMS.contains(&p.split_once('=').map_or(*p, |(k, _)| k)))
        .collect();
    let path_and_query = if kept.is_empty() {
        req.uri().path().to_owned()
    } else {
        format!("{}?{}", req.uri().path(), kept.join("&"))
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

fn verify_error(e: sigv4::VerifyError) -> S3Error {
    match e {
        sigv4::VerifyError::SignatureDoesNotMatch => S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        sigv4::VerifyError::UnknownAccessKey => S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        sigv4::VerifyError::Expired => {
            S3Error::with_message(S3ErrorCode::AccessDenied, "Request has expired")
        }
        sigv4::VerifyError::TimeSkewed => S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ),
    }
}

impl HttpService {
    /// Whether the request's path names an object key (not just a bucket, nor the root).
    pub(crate) fn names_object<B>(&self, req: &http::Request<B>) -> bool {
        let path = req.uri().path().trim_start_matches('/');
        if self.host_bucket(req).is_some() {
            !path.is_empty()
        } else {
            path.split_once('/').is_some_and(|(_, key)| !key.is_empty())
        }
    }

    /// S3 ignores a Range header it cannot parse (`bytes=5-2`, `lines=0-5`) and serves the whole
    /// object; s3s refuses it. Under SigV2 or without a signature the header is simply dropped
    /// (SigV2 does not sign it). A SigV4 signature covers it, so the request is verified here,
    /// then handed to s3s without the header and without its signature, marked [`PreVerified`].
    async fn drop_unparseable_range<B>(
        &self,
        req: &mut http::Request<B>,
        auth: &sigv4::AuthKind,
    ) -> Result<(), S3Error> {
        let Some(range) = req.headers().get(http::header::RANGE) else {
            return Ok(());
        };
        if s3s::dto::Range::parse(range.to_str().unwrap_or_default()).is_ok() {
            return Ok(());
        }
        let bodyless = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
        match auth {
            sigv4::AuthKind::Anonymous | sigv4::AuthKind::SigV2 => {}
            sigv4::AuthKind::V4Header(_) | sigv4::AuthKind::V4Presigned(_) if !bodyless => {
                // Ignored by every operation but GET and HEAD: leave the signed header alone.
                return Ok(());
            }
            sigv4::AuthKind::V4Header(_) | sigv4::AuthKind::V4Presigned(_) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let parts = sigv4::SignedParts {
                    method: req.method().as_str(),
                    raw_path: req.uri().path(),
                    query: req.uri().query(),
                    headers: req.headers(),
                    authority: req.uri().authority().map(http::uri::Authority::as_str),
                };
                let secret = match sigv4::access_key_of(&parts) {
                    Some(ak) => crate::auth::secret_of(&self.app, &ak).await?,
                    None => None,
                };
                let secret_for = |_: &str| secret.clone();
                let access_key =
                    sigv4::verify_bodyless(&parts, secret_for, now).map_err(verify_error)?;
                // The stripped signature's kind and date stay known to the condition keys.
                let presigned = matches!(auth, sigv4::AuthKind::V4Presigned(_));
                let amz_date = if presigned {
                    req.uri()
                        .query()
                        .and_then(|q| query_param(q, "X-Amz-Date"))
                        .map(str::to_owned)
                } else {
                    req.headers()
                        .get("x-amz-date")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                strip_sigv4(req);
                req.extensions_mut().insert(PreVerified {
                    access_key,
                    presigned,
                    amz_date,
                });
            }
        }
        req.headers_mut().remove(http::header::RANGE);
        Ok(())
    }

    /// Checks s3s leaves to us, run before s3s sees the request: presigned URL expiry bounds,
    /// the form of `x-amz-content-sha256`, Range headers S3 would ignore, and SigV2 (verified
    /// here in constant time; refused when switched off).
    pub(crate) async fn precheck<B>(&self, req: &mut http::Request<B>) -> Result<(), S3Error> {
        // Form uploads to a bucket were taken before (post_object); s3s must not see another
        // form (it would read it whole): a form to the service or to an object is refused.
        if crate::host::is_form_post(req) {
            return Err(S3Error::with_message(
                S3ErrorCode::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            ));
        }
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("RequestHeaderSectionTooLarge".into()),
                "Your request header section exceeds the maximum allowed size.",
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return Err(e);
        }
        if let Some(q) = req.uri().query() {
            if let Some(expires) = query_param(q, "X-Amz-Expires") {
                check_presigned_expires(expires)?;
            }
        }
        if let Some(v) = req.headers().get("x-amz-content-sha256") {
            if !valid_content_sha256(v.as_bytes()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
                ));
            }
        }
        let auth = sigv4::check_request(req.uri().query(), req.headers()).map_err(sigv4_error)?;
        self.drop_unparseable_range(req, &auth).await?;
        unsupported::refuse_unimplemented_protection(req.headers())?;
        // Reads decrypt as the object says: S3 refuses the write-side header on them.
        if matches!(*req.method(), http::Method::GET | http::Method::HEAD)
            && req.headers().contains_key("x-amz-server-side-encryption")
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-server-side-encryption header is not supported for this operation.",
            ));
        }
        let v2_key = sigv2::detect(&sigv2::SigV2Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: req.headers(),
            bucket_from_host: None,
        })
        .map(|(_, access_key)| access_key);
        let Some(v2_key) = v2_key else {
            return Ok(());
        };
        if !self.config.allow_sigv2 {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "AWS Signature Version 2 is disabled on this server; use Signature Version 4",
            ));
        }
        let Some(secret) = crate::auth::secret_of(&self.app, &v2_key).await? else {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            ));
        };
        let verified = {
            let v2 = sigv2::SigV2Request {
                method: req.method().as_str(),
                path: req.uri().path(),
                query: req.uri().query(),
                headers: req.headers(),
                bucket_from_host: None,
            };
            sigv2::verify_allowing_bucket_slash(&v2, &secret, std::time::SystemTime::now())
                .map_err(sigv2_error)?
        };
        if verified.append_slash_to_path {
            // Clients sign path-style bucket requests as `/bucket/` but send `/bucket`.
            let mut parts = req.uri().clone().into_parts();
            let path_and_query = match req.uri().query() {
                Some(q) => format!("{}/?{q}", req.uri().path()),
                None => format!("{}/", req.uri().path()),
            };
            parts.path_and_query = path_and_query.parse().ok();
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        Ok(())
    }
}

/// The bounds S3 puts on `X-Amz-Expires`: a whole number of seconds, at most a week; a URL that
/// lives 0 seconds has already expired.
pub(crate) fn check_presigned_expires(expires: &str) -> Result<(), S3Error> {
    let query_error =
        |m: &'static str| S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, m);
    match expires.parse::<i64>() {
        Err(_) => Err(query_error("X-Amz-Expires should be a number")),
        Ok(n) if n < 0 => Err(query_error("X-Amz-Expires must be non-negative")),
        Ok(0) => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Request has expired",
        )),
        Ok(n) if n.unsigned_abs() > MAX_PRESIGNED_EXPIRES => Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
        Ok(_) => Ok(()),
    }
}

/// Whether an `x-amz-content-sha256` value is one S3 accepts.
pub(crate) fn valid_content_sha256(v: &[u8]) -> bool {
    const MODES: [&[u8]; 6] = [
        b"UNSIGNED-PAYLOAD",
        b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    ];
    MODES.contains(&v) || (v.len() == 64 && v.iter().all(u8::is_ascii_hexdigit))
}

fn sigv2_error(e: sigv2::SigV2Error) -> S3Error {
    match e {
        sigv2::SigV2Error::SignatureDoesNotMatch => S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ),
        sigv2::SigV2Error::AccessDenied(m) => S3Error::with_message(S3ErrorCode::AccessDenied, m),
        sigv2::SigV2Error::Malformed(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        sigv2::SigV2Error::RequestTimeTooSkewed => S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ),
    }
}

fn sigv4_error(e: sigv4::SigV4CheckError) -> S3Error {
    let code = match &e {
        sigv4::SigV4CheckError::UnsignedHeaders(names) => {
            tracing::debug!(headers = ?names, "refused: x-amz-* headers not signed");
            S3ErrorCode::AccessDenied
        }
        sigv4::SigV4CheckError::MoreThanOneAuth => S3ErrorCode::InvalidArgument,
        sigv4::SigV4CheckError::MalformedAuthorization => S3ErrorCode::AuthorizationHeaderMalformed,
        sigv4::SigV4CheckError::MalformedQuery => S3ErrorCode::AuthorizationQueryParametersError,
    };
    S3Error::with_message(code, e.to_string())
}

pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}
