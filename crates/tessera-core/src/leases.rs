//! Read leases on blobs: a blob that metadata no longer references is deleted only once no
//! stream is reading it, so a GET that started before an overwrite or delete finishes with the
//! bytes it started with.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::blob::BlobStore;
use crate::records::BlobId;

#[derive(Default)]
struct State {
    readers: HashMap<BlobId, usize>,
    /// Freed while being read: deleted when the last reader lets go.
    doomed: HashSet<BlobId>,
}

/// The blobs being read, and those waiting for their readers to finish before deletion.
#[derive(Clone)]
pub(crate) struct Leases {
    state: Arc<Mutex<State>>,
    blobs: Arc<dyn BlobStore>,
}

/// Holds blobs against deletion while alive.
pub(crate) struct LeaseGuard {
    leases: Leases,
    ids: Vec<BlobId>,
}

impl Leases {
    pub(crate) fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            state: Arc::default(),
            blobs,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is a single step.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Leases `ids` for reading until the guard is dropped.
    pub(crate) fn lease(&self, ids: Vec<BlobId>) -> LeaseGuard {
        let mut state = self.lock();
        for id in &ids {
            *state.readers.entry(id.clone()).or_default() += 1;
        }
        drop(state);
        LeaseGuard {
            leases: self.clone(),
            ids,
        }
    }

    /// Deletes blobs metadata no longer references: now, or when their last reader finishes.
    pub(crate) fn free(&self, ids: Vec<BlobId>) {
        let mut now = Vec::with_capacity(ids.len());
        {
            let mut state = self.lock();
            for id in ids {
                if state.readers.contains_key(&id) {
                    state.doomed.insert(id);
                } else {
                    now.push(id);
                }
            }
        }
        self.delete(now);
    }

    fn delete(&self, ids: Vec<BlobId>) {
        if ids.is_empty() {
            return;
        }
        let blobs = self.blobs.clone();
        let task = async move {
            for id in ids {
                if let Err(e) = blobs.delete(&id).await {
                    tracing::warn!(blob = %id, error = %e, "could not delete a freed blob; the background sweep will");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(task);
            }
            Err(_) => tracing::warn!("no runtime to delete freed blobs; the background sweep will"),
        }
    }

    /// Whether a reader on this node holds `id` (the sweep leaves such blobs alone).
    pub(crate) fn is_leased(&self, id: &BlobId) -> bool {
        self.lock().readers.contains_key(id)
    }

    #[cfg(test)]
    fn is_doomed(&self, id: &BlobId) -> bool {
        self.lock().doomed.contains(id)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let mut released = Vec::new();
        {
            let mut state = self.leases.lock();
            for id in self.ids.drain(..) {
                let last = match state.readers.get_mut(&id) {
                    Some(n) if *n > 1 => {
                        *n -= 1;
                        false
                    }
                    _ => true,
                };
                if last {
                    state.readers.remove(&id);
                    if state.doomed.remove(&id) {
                        released.push(id);
                    }
                }
            }
        }
        self.leases.delete(released);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobInfo, BlobWriter, ByteStream, TempInfo};
    use crate::error::Result;

    /// Records deletions.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<BlobId>>);

    #[async_trait::async_trait]
    impl BlobStore for Recorder {
        async fn create(&self) -> Result<Box<dyn BlobWriter>> {
            Err(crate::Error::Internal("unused".into()))
        }
        async fn read(&self, _: &BlobId, _: u64, _: u64) -> Result<ByteStream> {
            Err(crate::Error::Internal("unused".into()))
        }
        async fn delete(&self, id: &BlobId) -> Result<()> {
            self.0.lock().unwrap().push(id.clone());
            Ok(())
        }
        async fn list(&self, _: Option<&BlobId>, _: usize) -> Result<Vec<BlobInfo>> {
            Ok(Vec::new())
        }
        async fn list_temporary(&self, _: Option<&str>, _: usize) -> Result<Vec<TempInfo>> {
            Ok(Vec::new())
        }
        async fn delete_temporary(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn freed_blob_waits_for_its_readers() {
        let rec = Arc::new(Recorder::default());
        let leases = Leases::new(rec.clone());
        let (a, b) = (BlobId("a".into()), BlobId("b".into()));
        let first = leases.lease(vec![a.clone(), b.clone()]);
        let second = leases.lease(vec![a.clone()]);
        assert!(leases.is_leased(&a) && !leases.is_leased(&BlobId("c".into())));
        leases.free(vec![a.clone(), b.clone(), BlobId("c".into())]);
        settle().await;
        assert_eq!(*rec.0.lock().unwrap(), vec![BlobId("c".into())]);
        assert!(leases.is_doomed(&a) && leases.is_doomed(&b));
        drop(first);
        settle().await;
        // b had one reader, a still has one.
        assert_eq!(rec.0.lock().unwrap().len(), 2);
        assert!(rec.0.lock().unwrap().contains(&b));
        drop(second);
        settle().await;
        assert!(rec.0.lock().unwrap().contains(&a));
        assert!(!leases.is_doomed(&a));
        assert!(!leases.is_leased(&a));
    }

    #[tokio::test]
    async fn unleased_blob_is_deleted_at_once_and_lease_after_release_is_clean() {
        let rec = Arc::new(Recorder::default());
        let leases = Leases::new(rec.clone());
        let a = BlobId("a".into());
        drop(leases.lease(vec![a.clone()]));
        leases.free(vec![a.clone()]);
        settle().await;
        assert_eq!(*rec.0.lock().unwrap(), vec![a]);
    }
}
