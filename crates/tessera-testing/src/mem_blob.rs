//! [`MemBlobStore`]: a [`BlobStore`] in memory, for tests of the domain and of adapters.
//!
//! It keeps the port's contract (ids fixed at create, nothing visible before commit, paged
//! listings with ages, idempotent delete, temporary entries for writes in progress) and lets a
//! test change ages ([`MemBlobStore::set_modified`]) instead of waiting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tessera_core::{
    now_millis, BlobId, BlobInfo, BlobStore, BlobWriter, ByteStream, Error, Millis, Result,
    TempInfo,
};

/// Size of the pieces a read stream yields (several per blob, like a real backend).
const READ_PIECE: usize = 64 << 10;

#[derive(Default)]
struct State {
    blobs: BTreeMap<BlobId, Stored>,
    /// Writes not committed, by temporary name.
    temporary: BTreeMap<String, Millis>,
}

struct Stored {
    data: Bytes,
    modified: Millis,
}

/// Blobs in memory. Clones share the same blobs.
#[derive(Clone, Default)]
pub struct MemBlobStore {
    state: Arc<Mutex<State>>,
}

/// The temporary name of the write of blob `id`.
fn temp_name(id: &BlobId) -> String {
    format!("{id}.tmp")
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update is one step under the lock: the state is consistent even after a panic.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the modification time of committed blob `id`, or of the temporary entry named
    /// `id` if no blob has that id; `false` if neither exists.
    pub fn set_modified(&self, id: &str, modified: Millis) -> bool {
        let mut state = lock(&self.state);
        if let Some(b) = state.blobs.get_mut(&BlobId(id.to_owned())) {
            b.modified = modified;
            return true;
        }
        match state.temporary.get_mut(id) {
            Some(t) => {
                *t = modified;
                true
            }
            None => false,
        }
    }

    /// How many blobs are committed.
    pub fn len(&self) -> usize {
        lock(&self.state).blobs.len()
    }

    /// Whether no blob is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl BlobStore for MemBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        let id = BlobId::random();
        lock(&self.state)
            .temporary
            .insert(temp_name(&id), now_millis());
        Ok(Box::new(MemBlobWriter {
            state: self.state.clone(),
            id,
            data: BytesMut::new(),
            open: true,
        }))
    }

    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<ByteStream> {
        let data = lock(&self.state)
            .blobs
            .get(id)
            .map(|b| b.data.clone())
            .ok_or_else(|| Error::BlobNotFound { id: id.clone() })?;
        let end = offset.checked_add(len);
        let blob_len = data.len() as u64;
        let Some(end) = end.filter(|&e| e <= blob_len) else {
            let err = std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("blob {id} has {blob_len} bytes, range {offset}+{len} requested"),
            );
            return Ok(Box::pin(futures::stream::once(async move { Err(err) })));
        };
        // Both bounds are at most the length of an in-memory buffer, so they fit in usize.
        let (start, end) = (offset as usize, end as usize);
        let pieces: Vec<std::io::Result<Bytes>> = (start..end)
            .step_by(READ_PIECE)
            .map(|from| Ok(data.slice(from..end.min(from + READ_PIECE))))
            .collect();
        Ok(Box::pin(futures::stream::iter(pieces)))
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        lock(&self.state).blobs.remove(id);
        Ok(())
    }

    async fn list(&self, after: Option<&BlobId>, limit: usize) -> Result<Vec<BlobInfo>> {
        let state = lock(&self.state);
        let range = match after {
            Some(a) => state.blobs.range((
                std::ops::Bound::Excluded(a.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => state.blobs.range(..),
        };
        Ok(range
            .take(limit)
            .map(|(id, b)| BlobInfo {
                id: id.clone(),
                size: b.data.len() as u64,
                modified: b.modified,
            })
            .collect())
    }

    async fn list_temporary(&self, after: Option<&str>, limit: usize) -> Result<Vec<TempInfo>> {
        let state = lock(&self.state);
        Ok(state
            .temporary
            .iter()
            .filter(|(name, _)| after.is_none_or(|a| name.as_str() > a))
            .take(limit)
            .map(|(name, &modified)| TempInfo {
                name: name.clone(),
                modified,
            })
            .collect())
    }

    async fn delete_temporary(&self, name: &str) -> Result<()> {
        lock(&self.state).temporary.remove(name);
        Ok(())
    }
}

/// A write in progress: its bytes are private until commit.
struct MemBlobWriter {
    state: Arc<Mutex<State>>,
    id: BlobId,
    data: BytesMut,
    /// Until committed or aborted.
    open: bool,
}

impl MemBlobWriter {
    /// Ends the write: removes its temporary entry; `false` if someone else removed it.
    fn close(&mut self) -> bool {
        self.open = false;
        lock(&self.state)
            .temporary
            .remove(&temp_name(&self.id))
            .is_some()
    }
}

#[async_trait]
impl BlobWriter for MemBlobWriter {
    fn id(&self) -> &BlobId {
        &self.id
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.data.extend_from_slice(&data);
        let mut state = lock(&self.state);
        match state.temporary.get_mut(&temp_name(&self.id)) {
            Some(modified) => {
                *modified = now_millis();
                Ok(())
            }
            None => Err(Error::Internal(format!(
                "temporary data of blob {} was removed",
                self.id
            ))),
        }
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        if !self.close() {
            return Err(Error::Internal(format!(
                "temporary data of blob {} was removed before commit",
                self.id
            )));
        }
        let data = std::mem::take(&mut self.data).freeze();
        let size = data.len() as u64;
        lock(&self.state).blobs.insert(
            self.id.clone(),
            Stored {
                data,
                modified: now_millis(),
            },
        );
        Ok(size)
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl Drop for MemBlobWriter {
    fn drop(&mut self) {
        if self.open {
            self.close();
        }
    }
}
