//! The BlobStore conformance suite against [`MemBlobStore`].

use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::{BlobStore, Millis};
use tessera_testing::blob_conformance::Harness;
use tessera_testing::MemBlobStore;

/// One store per case; "opening again" is the same store, as memory is all there is.
struct MemHarness {
    store: MemBlobStore,
}

#[async_trait]
impl Harness for MemHarness {
    async fn open(&self) -> Arc<dyn BlobStore> {
        Arc::new(self.store.clone())
    }

    async fn set_modified(&self, name: &str, modified: Millis) {
        assert!(
            self.store.set_modified(name, modified),
            "no blob or leftover {name}"
        );
    }
}

async fn harness() -> MemHarness {
    MemHarness {
        store: MemBlobStore::new(),
    }
}

tessera_testing::blob_store_conformance!(harness);

/// `run_all` runs the same cases in one go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_cases() {
    tessera_testing::blob_conformance::run_all(harness).await;
}
