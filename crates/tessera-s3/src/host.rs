//! Virtual-host style addressing: which requests name their bucket in the Host header.

use s3s::S3Result;

use crate::BuildError;

/// Virtual-host style addressing under one base domain: `bucket.<domain>[:port]` names the
/// bucket; any other host (the domain itself, `localhost`, an IP) is path style.
pub(crate) struct VirtualHostStyle {
    /// `.<domain>`, lower-case.
    suffix: String,
}

impl VirtualHostStyle {
    pub(crate) fn new(domain: &str) -> Result<Self, BuildError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(BuildError::Domain(domain));
        }
        Ok(Self {
            suffix: format!(".{domain}"),
        })
    }
}

impl s3s::host::S3Host for VirtualHostStyle {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let lower = name.to_ascii_lowercase();
        let vh = s3s::host::VirtualHost::new(name);
        match lower.strip_suffix(self.suffix.as_str()) {
            Some(bucket) if !bucket.is_empty() => Ok(vh.with_bucket(bucket.to_string())),
            _ => Ok(vh),
        }
    }
}

impl crate::HttpService {
    /// The bucket a virtual-host style request names in its Host header (`None`: path style,
    /// or no domain configured).
    pub(crate) fn host_bucket<B>(&self, req: &http::Request<B>) -> Option<String> {
        use s3s::host::S3Host as _;
        let domain = self.config.domain.as_deref()?;
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host())?;
        let vh = VirtualHostStyle::new(domain).ok()?;
        let parsed = vh.parse_host_header(host).ok()?;
        parsed.bucket().map(str::to_owned)
    }
}

/// Whether a request is a POST of a `multipart/form-data` body (a browser form).
pub(crate) fn is_form_post<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}
