//! The MetaStore conformance suite against [`MemMetaStore`]. "Opening again" is a clone of
//! the store the harness holds: clones share their state.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::MetaStore;
use tessera_testing::meta_conformance::Harness;
use tessera_testing::MemMetaStore;

struct MemHarness {
    store: MemMetaStore,
}

#[async_trait]
impl Harness for MemHarness {
    async fn open(&self) -> Arc<dyn MetaStore> {
        Arc::new(self.store.clone())
    }
}

async fn harness() -> MemHarness {
    MemHarness {
        store: MemMetaStore::new(),
    }
}

tessera_testing::meta_store_conformance!(harness);
