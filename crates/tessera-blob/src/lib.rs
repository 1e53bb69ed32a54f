//! BlobStore backends.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod local;

pub use local::{LocalBlobStore, LocalBlobWriter};
