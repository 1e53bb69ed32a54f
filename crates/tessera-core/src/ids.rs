//! Identifiers and time values every record and error uses (a leaf module).

/// Identifies one immutable blob of bytes in the [`crate::BlobStore`]. Random, 32 lowercase hex chars.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub String);

impl BlobId {
    /// A fresh random id (128 bits).
    pub fn random() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Now, in [`Millis`].
pub fn now_millis() -> Millis {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The version id of the `null` version (written while versioning is off or suspended).
pub const NULL_VERSION: &str = "null";

/// A fresh sequencer: orders the versions of one key, newest first in ascending byte order.
/// 19 decimal digits of `i64::MAX - microseconds` (strictly increasing time within this
/// process, so two writes in one microsecond still order), then 64 random bits in hex, so
/// that a version id made from it cannot be guessed.
pub fn new_sequencer() -> String {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = i64::try_from(now.as_micros()).unwrap_or(i64::MAX - 1);
    // Strictly increasing across threads: one past the newest handed out if the clock lags.
    let mut prev = LAST.load(Ordering::Relaxed);
    let micros = loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(seen) => prev = seen,
        }
    };
    format!("{:019}{:016x}", i64::MAX - micros, rand::random::<u64>())
}

/// The sequencer of a version written at `millis` (versions kept from before sequencers).
pub fn sequencer_at(millis: Millis) -> String {
    let micros = millis.saturating_mul(1000).clamp(0, i64::MAX);
    format!("{:019}{:016x}", i64::MAX - micros, rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_sort_newest_first() {
        let mut previous = new_sequencer();
        for _ in 0..10_000 {
            let next = new_sequencer();
            assert_eq!(next.len(), 35);
            assert!(next < previous, "{next} not before {previous}");
            previous = next;
        }
        assert!(sequencer_at(now_millis() + 60_000) < new_sequencer());
        assert!(sequencer_at(0) > new_sequencer());
    }
}
