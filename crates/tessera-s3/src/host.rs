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
