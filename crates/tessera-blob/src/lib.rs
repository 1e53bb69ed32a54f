//! BlobStore backends.

pub mod local;

pub use local::{LocalBlobStore, LocalBlobWriter};
