//! Bucket default encryption in the domain, over the in-memory stores.

use std::sync::Arc;

use tessera_core::error::EncryptionError;
use tessera_core::sse::{BucketEncryption, SseAlgorithm};
use tessera_core::sse_config::default_encryption;
use tessera_core::{Error, MetaStore, Options, Tessera};
use tessera_testing::{MemBlobStore, MemMetaStore};

#[tokio::test]
async fn put_get_delete_bucket_encryption() {
    let meta = Arc::new(MemMetaStore::new());
    let t = Tessera::open(
        meta.clone() as Arc<dyn MetaStore>,
        Arc::new(MemBlobStore::new()),
        Options::default(),
    )
    .await
    .unwrap();
    let root = t
        .ensure_root_account("ROOTKEY0000000000001", "secret-one")
        .await
        .unwrap();
    t.create_bucket("bkt", &root.id).await.unwrap();
    let bucket = || async { meta.get_bucket("bkt").await.unwrap().unwrap() };

    let b = bucket().await;
    assert_eq!(default_encryption(&b).unwrap(), None);
    assert!(matches!(
        t.bucket_encryption(&b),
        Err(Error::Encryption(EncryptionError::NoConfiguration))
    ));

    let config = BucketEncryption {
        algorithm: SseAlgorithm::Aes256,
        kms_key_id: None,
        bucket_key_enabled: true,
    };
    t.put_bucket_encryption("bkt", config.clone())
        .await
        .unwrap();
    let b = bucket().await;
    assert_eq!(t.bucket_encryption(&b).unwrap(), config);
    assert_eq!(default_encryption(&b).unwrap(), Some(config));

    t.delete_bucket_encryption("bkt").await.unwrap();
    assert_eq!(default_encryption(&bucket().await).unwrap(), None);
    // Deleting again is no error, as on S3.
    t.delete_bucket_encryption("bkt").await.unwrap();
}
