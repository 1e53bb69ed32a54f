//! The MetaStore conformance suite against [`SqliteMetaStore`], one temp dir per case.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::MetaStore;
use tessera_meta::SqliteMetaStore;
use tessera_testing::meta_conformance::Harness;

struct SqliteHarness {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn open(&self) -> Arc<dyn MetaStore> {
        let store = SqliteMetaStore::open(&self.dir.path().join("meta.db"))
            .await
            .expect("open sqlite store");
        Arc::new(store)
    }
}

async fn harness() -> SqliteHarness {
    SqliteHarness {
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

tessera_testing::meta_store_conformance!(harness);
