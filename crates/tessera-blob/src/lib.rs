//! BlobStore backends.
