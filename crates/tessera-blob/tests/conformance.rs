//! The BlobStore conformance suite against [`LocalBlobStore`], one temp dir per case.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use tessera_blob::LocalBlobStore;
use tessera_core::{BlobStore, Millis};
use tessera_testing::blob_conformance::Harness;

struct LocalHarness {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for LocalHarness {
    async fn open(&self) -> Arc<dyn BlobStore> {
        Arc::new(LocalBlobStore::open(self.dir.path()).expect("open local blob store"))
    }

    async fn set_modified(&self, name: &str, modified: Millis) {
        let root = self.dir.path();
        let committed = root
            .join("blobs")
            .join(name.get(..2).unwrap_or(name))
            .join(name);
        let path = if committed.is_file() {
            committed
        } else {
            root.join("tmp").join(name)
        };
        let when = UNIX_EPOCH + Duration::from_millis(u64::try_from(modified).expect("after 1970"));
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .unwrap_or_else(|e| panic!("set the mtime of {}: {e}", path.display()));
    }
}

async fn harness() -> LocalHarness {
    LocalHarness {
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

tessera_testing::blob_store_conformance!(harness);
