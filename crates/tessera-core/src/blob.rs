//! The `BlobStore` port: immutable byte blobs (single-PUT objects and multipart parts).
//!
//! # Contract
//!
//! Every backend (local files, a shared filesystem, an object store) keeps these rules, checked
//! by the conformance suite in `tessera-testing`. Several stateless nodes may share one store.
//!
//! - **Ids.** [`BlobStore::create`] fixes the blob's id ([`BlobWriter::id`]) before a byte is
//!   written. Commit never renames to a new id, so a backend that cannot rename cheaply (an
//!   object store) writes once, under the final name.
//! - **Visibility.** A blob is neither readable nor listed by [`BlobStore::list`] until
//!   [`BlobWriter::commit`] has returned `Ok`; from then on every node sees it, whole.
//! - **Durability.** When `commit` returns, the bytes survive a crash or power loss: a file
//!   backend fsyncs the file and the directory entry (and a new parent directory's entry).
//! - **Drop.** Dropping a writer without `commit` discards the blob. The cleanup of what it
//!   wrote so far is best effort and may finish after the drop (in the background); the blob is
//!   never visible. [`BlobWriter::abort`] does the same cleanup and waits for it.
//! - **Crash mid-write.** A process that dies while writing leaves a temporary leftover (a
//!   `tmp/` file, an incomplete multipart upload). Backends list them with
//!   [`BlobStore::list_temporary`] and remove them with [`BlobStore::delete_temporary`]; the
//!   domain's background sweep (`Tessera::start_background`) removes those untouched for longer
//!   than a grace period, so that one node never removes another node's write in progress.
//!   A write that reaches the store less often than the grace period may thus lose its
//!   temporary data and fail at commit.
//! - **Delete.** [`BlobStore::delete`] is idempotent: deleting a missing blob succeeds.
//!   A read stream opened before the delete either completes with the blob's bytes or fails
//!   with an error; it never yields other bytes. (The domain's read leases keep blobs being read
//!   on this node from deletion.)
//! - **Not found.** Reading a blob that does not exist (never committed, or deleted) fails
//!   with [`Error::BlobNotFound`], from `read` or as the stream's first item turned into an
//!   I/O error of kind `NotFound` (see [`error_to_io`] / [`error_from_io`]).
//! - **Listing.** [`BlobStore::list`] pages through committed blobs in ascending id order, each
//!   with its size and last modification time, so a sweep never holds every id at once.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::{Error, Result};
use crate::records::{BlobId, Millis};

/// A stream of bytes read from a blob.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// A committed blob as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub id: BlobId,
    /// Size in bytes.
    pub size: u64,
    /// When the blob was last written (its age, for the sweep's grace period).
    pub modified: Millis,
}

/// A temporary leftover: a write in progress, or one abandoned (a crash, a lost cleanup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempInfo {
    /// The backend's name for it, as [`BlobStore::delete_temporary`] takes it.
    pub name: String,
    /// When it was last written to.
    pub modified: Millis,
}

/// Storage for immutable blobs. See the [module docs](self) for the contract.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob; its id is fixed now ([`BlobWriter::id`]).
    async fn create(&self) -> Result<Box<dyn BlobWriter>>;

    /// Streams `len` bytes of blob `id` starting at `offset`. [`Error::BlobNotFound`] if the
    /// blob does not exist; a range past the end fails (here or on the stream).
    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<ByteStream>;

    /// Deletes a blob; a missing blob is not an error.
    async fn delete(&self, id: &BlobId) -> Result<()>;

    /// At most `limit` committed blobs with ids greater than `after`, in ascending id order.
    /// Fewer than `limit` means the end of the listing.
    async fn list(&self, after: Option<&BlobId>, limit: usize) -> Result<Vec<BlobInfo>>;

    /// At most `limit` temporary leftovers (writes in progress or abandoned) with names greater
    /// than `after`, in ascending name order. Fewer than `limit` means the end.
    async fn list_temporary(&self, after: Option<&str>, limit: usize) -> Result<Vec<TempInfo>>;

    /// Removes a temporary leftover by its [`TempInfo::name`]; a missing one is not an error.
    /// Removing a write in progress makes its commit fail.
    async fn delete_temporary(&self, name: &str) -> Result<()>;
}

/// A blob being written. Dropping it without `commit` discards the bytes (best effort, maybe
/// in the background); [`BlobWriter::abort`] discards them and waits.
#[async_trait]
pub trait BlobWriter: Send {
    /// The id the blob will have once committed.
    fn id(&self) -> &BlobId;

    /// Appends bytes.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes the blob durable and visible under [`BlobWriter::id`]; returns its size.
    /// On error nothing is visible and the temporary data is removed (best effort).
    async fn commit(self: Box<Self>) -> Result<u64>;

    /// Discards the blob and removes its temporary data before returning.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Carries a domain error through a [`ByteStream`]: I/O errors pass as they are, a missing blob
/// becomes an error of kind `NotFound` that [`error_from_io`] turns back into
/// [`Error::BlobNotFound`].
pub fn error_to_io(e: Error) -> std::io::Error {
    match e {
        Error::Io(io) => io,
        e @ Error::BlobNotFound { .. } => std::io::Error::new(std::io::ErrorKind::NotFound, e),
        other => std::io::Error::other(other),
    }
}

/// The inverse of [`error_to_io`]: the domain error a stream error carries, else `Error::Io`.
pub fn error_from_io(e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            return match inner.downcast::<Error>() {
                Ok(domain) => *domain,
                Err(other) => Error::Io(std::io::Error::other(other)),
            };
        }
        return Error::Internal("an I/O error lost its cause".into());
    }
    Error::Io(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_not_found_survives_a_trip_through_io() {
        let id = BlobId("ab".into());
        let io = error_to_io(Error::BlobNotFound { id: id.clone() });
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(matches!(error_from_io(io), Error::BlobNotFound { id: got } if got == id));
        let plain = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "short");
        match error_from_io(error_to_io(Error::Io(plain))) {
            Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            error_from_io(error_to_io(Error::Conflict)),
            Error::Conflict
        ));
    }
}
