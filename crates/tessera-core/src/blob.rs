//! The `BlobStore` port: immutable byte blobs (single-PUT objects and multipart parts).

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::Result;
use crate::records::BlobId;

/// A stream of bytes read from a blob.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// Storage for immutable blobs. A blob becomes readable only once [`BlobWriter::commit`] has
/// returned, and by then its bytes are durable (fsync'd, directory entry too).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob under a temporary name.
    async fn create(&self) -> Result<Box<dyn BlobWriter>>;

    /// Streams `len` bytes of blob `id` starting at `offset`.
    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<ByteStream>;

    /// Deletes a blob; a missing blob is not an error.
    async fn delete(&self, id: &BlobId) -> Result<()>;

    /// Every committed blob, for the start-up sweep of blobs nothing references.
    async fn list(&self) -> Result<Vec<BlobId>>;

    /// Removes temporary files left by writers that never committed (crash leftovers).
    async fn clean_temporary(&self) -> Result<()>;
}

/// A blob being written. Dropping it without `commit` discards the bytes.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes the blob durable and visible under a fresh id; returns the id and the size.
    async fn commit(self: Box<Self>) -> Result<(BlobId, u64)>;
}
