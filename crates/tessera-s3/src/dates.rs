//! Timestamps between the domain (milliseconds) and s3s (wire formats). A leaf module: the
//! error mapping and the DTO conversions both need it.

use std::time::{Duration, UNIX_EPOCH};

use s3s::dto::{Timestamp, TimestampFormat};
use tessera_core::Millis;

/// Millis to an s3s timestamp.
pub fn ts(ms: Millis) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// An s3s timestamp to millis.
pub fn millis(t: &Timestamp) -> Millis {
    let odt: time::OffsetDateTime = t.clone().into();
    i64::try_from(odt.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Formats a timestamp as an HTTP date (for the stored `Expires`).
pub fn http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// Parses a stored HTTP date back.
pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}
