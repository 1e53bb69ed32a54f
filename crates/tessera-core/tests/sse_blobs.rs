//! Encrypted blobs through a BlobStore, as PutObject / UploadPart and GetObject will use them:
//! seal while writing, read the ciphertext range of a plaintext range, open it.

use bytes::Bytes;
use futures::StreamExt;
use tessera_core::blob::{error_from_io, BlobStore};
use tessera_core::error::EncryptionError;
use tessera_core::records::BlobId;
use tessera_core::sse::{CustomerKey, EncryptionInfo, KeyUse, MasterKey, ObjectKey};
use tessera_core::sse_stream::{
    ciphertext_len, ciphertext_range, decrypt_range, plaintext_len, Sealer,
};
use tessera_core::Error;
use tessera_testing::MemBlobStore;

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(i as u8 >> 3))
        .collect()
}

/// Writes `plain` (in 10,000-byte pieces, as a body arrives) sealed into a new blob.
async fn put(store: &MemBlobStore, info: &EncryptionInfo, key: &ObjectKey, plain: &[u8]) -> BlobId {
    let mut w = store.create().await.unwrap();
    let mut sealer = Sealer::new(info.blob_cipher(key, w.id()).unwrap());
    for piece in plain.chunks(10_000) {
        for sealed in sealer.push(piece).unwrap() {
            w.write(sealed).await.unwrap();
        }
    }
    w.write(sealer.finish().unwrap()).await.unwrap();
    let id = w.id().clone();
    let size = w.commit().await.unwrap();
    assert_eq!(size, ciphertext_len(plain.len() as u64, info.chunk_size));
    assert_eq!(
        plaintext_len(size, info.chunk_size),
        Some(plain.len() as u64)
    );
    id
}

/// Plaintext [start, end) of blob `id` of `len` plaintext bytes.
async fn get(
    store: &MemBlobStore,
    info: &EncryptionInfo,
    key: &ObjectKey,
    id: &BlobId,
    len: u64,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, Error> {
    let r = ciphertext_range(len, info.chunk_size, start, end)?;
    let stored = store.read(id, r.offset, r.len).await?;
    let mut plain = decrypt_range(stored, info.blob_cipher(key, id)?, len, start, end)?;
    let mut out = Vec::new();
    while let Some(b) = plain.next().await {
        out.extend_from_slice(&b.map_err(error_from_io)?);
    }
    Ok(out)
}

#[tokio::test]
async fn ranged_reads_of_an_sse_s3_object() {
    let store = MemBlobStore::new();
    let master = MasterKey::generate();
    let (info, key) = EncryptionInfo::managed(&master).unwrap();
    // The record is stored and read back; the key is unwrapped per request.
    let info = EncryptionInfo::decode(&info.encode()).unwrap();
    let plain = data(300_000, 7);
    let id = put(&store, &info, &key, &plain).await;
    let key = info.object_key(None, &master, KeyUse::Read).unwrap();
    let n = plain.len() as u64;
    for (start, end) in [
        (0, n),
        (0, 1),
        (65_535, 65_537),
        (131_072, 196_608),
        (299_999, n),
        (1234, 250_000),
        (7, 7),
    ] {
        let got = get(&store, &info, &key, &id, n, start, end).await.unwrap();
        assert_eq!(
            got,
            &plain[start as usize..end as usize],
            "[{start}, {end})"
        );
    }
}

#[tokio::test]
async fn parts_of_an_sse_c_upload_each_open_with_their_own_blob_key() {
    let store = MemBlobStore::new();
    let customer = CustomerKey::from_bytes([42; 32]);
    let master = MasterKey::generate();
    let info = EncryptionInfo::customer(&customer);
    // UploadPart presents the key again; the upload's record checks it.
    let key = info
        .object_key(Some(&customer), &master, KeyUse::UploadPart)
        .unwrap();
    let (p1, p2) = (data(100_000, 3), data(70_000, 5));
    let (b1, b2) = (
        put(&store, &info, &key, &p1).await,
        put(&store, &info, &key, &p2).await,
    );
    let read_key = info
        .object_key(Some(&customer), &master, KeyUse::Read)
        .unwrap();
    assert_eq!(
        get(&store, &info, &read_key, &b1, 100_000, 0, 100_000)
            .await
            .unwrap(),
        p1
    );
    assert_eq!(
        get(&store, &info, &read_key, &b2, 70_000, 5, 70_000)
            .await
            .unwrap(),
        &p2[5..]
    );
    // A record with another length than the blob's fails (the cut chunk was not the last)...
    let e = get(&store, &info, &read_key, &b1, 70_000, 0, 70_000)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Encryption(EncryptionError::CorruptData)),
        "{e:?}"
    );
    // ...and so does a blob read with another blob's key (a record naming the wrong blob).
    let swapped = async {
        let r = ciphertext_range(100_000, info.chunk_size, 0, 100_000).unwrap();
        let stored = store.read(&b1, r.offset, r.len).await.unwrap();
        let cipher = info.blob_cipher(&read_key, &b2).unwrap();
        let items: Vec<_> = decrypt_range(stored, cipher, 100_000, 0, 100_000)
            .unwrap()
            .collect()
            .await;
        items
            .into_iter()
            .any(|r: std::io::Result<Bytes>| r.is_err())
    };
    assert!(swapped.await);
}
