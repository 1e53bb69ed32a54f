//! Encrypted blobs: plaintext sealed in fixed-size chunks with AES-256-GCM, so that a ranged
//! read fetches and opens only the chunks it returns.
//!
//! # Format
//!
//! A blob of `P` plaintext bytes is `n = max(1, ceil(P / C))` chunks of `C` plaintext bytes
//! (the last one shorter, or empty when `P = 0`), each stored as its ciphertext followed by a
//! 16-byte tag: [`ciphertext_len`] is `P + 16 n`. Chunk `i` is sealed under the blob's own key
//! (HKDF-SHA256 of the object key, the object's salt and the blob id: see
//! [`crate::sse::EncryptionInfo::blob_cipher`]) with nonce `i` and associated data `i` plus a
//! final-chunk flag: a chunk moved elsewhere, a blob cut short at a chunk boundary, or a chunk
//! from another blob all fail to open. The reader knows `P` from the record, so it knows which
//! chunk is the last.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use hkdf::Hkdf;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::blob::ByteStream;
use crate::error::{EncryptionError, Error, Result};
use crate::sse::ObjectKey;

/// Plaintext bytes per chunk for new objects: large enough that the tags cost 0.02 %, small
/// enough that a ranged read opens at most 64 KiB it does not return at each end.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// The largest chunk size a record may name (a chunk is held in memory whole).
pub const MAX_CHUNK_SIZE: u32 = 16 << 20;
/// Bytes of GCM tag after each chunk.
pub const TAG_LEN: u64 = 16;

/// The cipher of one blob: its derived AES-256-GCM key and the chunk size.
#[derive(Clone)]
pub struct BlobCipher {
    aead: LessSafeKey,
    chunk_size: u32,
}

impl std::fmt::Debug for BlobCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobCipher")
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl BlobCipher {
    /// The blob key: HKDF-SHA256, salt = the object's salt, input = the object key, info =
    /// label, chunk size and blob id (so layout and blob are bound to the key).
    pub(crate) fn derive(
        key: &ObjectKey,
        salt: &[u8; 16],
        blob: &[u8],
        chunk_size: u32,
    ) -> Result<Self> {
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::Internal(format!("chunk size {chunk_size}")));
        }
        let hk = Hkdf::<Sha256>::new(Some(salt), key.bytes());
        let mut k = [0u8; 32];
        hk.expand_multi_info(
            &[b"tessera-sse-blob-v1", &chunk_size.to_be_bytes(), blob],
            &mut k,
        )
        .map_err(|_| Error::Internal("HKDF expand of 32 bytes failed".into()))?;
        let unbound = UnboundKey::new(&AES_256_GCM, &k);
        k.zeroize();
        let aead = LessSafeKey::new(
            unbound.map_err(|_| Error::Internal("an AES-256-GCM key was refused".into()))?,
        );
        Ok(Self { aead, chunk_size })
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// The nonce of chunk `index`: unique within the blob, whose key is its own.
    fn nonce(index: u64) -> Nonce {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&index.to_be_bytes());
        Nonce::assume_unique_for_key(n)
    }

    fn aad(index: u64, last: bool) -> [u8; 9] {
        let mut a = [0u8; 9];
        a[..8].copy_from_slice(&index.to_be_bytes());
        a[8] = u8::from(last);
        a
    }

    /// Encrypts `buf` in place and appends its tag.
    fn seal(&self, index: u64, last: bool, buf: &mut BytesMut) -> io::Result<()> {
        let tag = self
            .aead
            .seal_in_place_separate_tag(Self::nonce(index), Aad::from(Self::aad(index, last)), buf)
            .map_err(|_| io::Error::other("sealing a chunk failed"))?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts ciphertext-and-tag `buf` in place, leaving the plaintext.
    fn open(&self, index: u64, last: bool, buf: &mut BytesMut) -> io::Result<()> {
        let plain = self
            .aead
            .open_in_place(Self::nonce(index), Aad::from(Self::aad(index, last)), buf)
            .map_err(|_| corrupt())?
            .len();
        buf.truncate(plain);
        Ok(())
    }
}

/// The stream error of a blob that fails to open: it carries [`EncryptionError::CorruptData`]
/// (see [`crate::blob::error_from_io`]).
fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        Error::Encryption(EncryptionError::CorruptData),
    )
}

/// Chunks of a blob of `plain_len` bytes (at least one: an empty blob has one empty chunk, so
/// that cutting a blob to nothing is detected too).
pub fn chunk_count(plain_len: u64, chunk_size: u32) -> u64 {
    plain_len.div_ceil(u64::from(chunk_size.max(1))).max(1)
}

/// Stored size of a blob of `plain_len` plaintext bytes.
pub fn ciphertext_len(plain_len: u64, chunk_size: u32) -> u64 {
    plain_len + TAG_LEN * chunk_count(plain_len, chunk_size)
}

/// Plaintext size of a stored blob of `cipher_len` bytes; `None` if no plaintext size gives
/// that length (a torn or foreign blob).
pub fn plaintext_len(cipher_len: u64, chunk_size: u32) -> Option<u64> {
    let sealed = u64::from(chunk_size) + TAG_LEN;
    let (full, rem) = (cipher_len / sealed, cipher_len % sealed);
    match (full, rem) {
        (0, 0) => None,
        (_, 0) => Some(full * u64::from(chunk_size)),
        // The format never ends in an empty chunk after full ones.
        (0, r) if r >= TAG_LEN => Some(r - TAG_LEN),
        (_, r) if r > TAG_LEN => Some(full * u64::from(chunk_size) + r - TAG_LEN),
        _ => None,
    }
}

/// A byte range of a stored blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipherRange {
    /// First stored byte to read.
    pub offset: u64,
    /// Stored bytes to read (0: nothing to read).
    pub len: u64,
}

/// The stored bytes to read for plaintext `[start, end)` of a blob of `plain_len` bytes: the
/// whole chunks that hold it. Empty for an empty range.
pub fn ciphertext_range(
    plain_len: u64,
    chunk_size: u32,
    start: u64,
    end: u64,
) -> Result<CipherRange> {
    if start > end || end > plain_len || chunk_size == 0 {
        return Err(Error::InvalidRange);
    }
    if start == end {
        return Ok(CipherRange { offset: 0, len: 0 });
    }
    let c = u64::from(chunk_size);
    let sealed = c + TAG_LEN;
    let first = start / c;
    let last = (end - 1) / c;
    let offset = first * sealed;
    let stop = ((last + 1) * sealed).min(ciphertext_len(plain_len, chunk_size));
    Ok(CipherRange {
        offset,
        len: stop - offset,
    })
}

/// Seals plaintext pushed in pieces of any size into chunks, holding at most one chunk.
///
/// For a write loop that hashes the plaintext as it arrives: `for c in sealer.push(&data)? {
/// writer.write(c) }`, then `writer.write(sealer.finish()?)`.
#[derive(Debug)]
pub struct Sealer {
    cipher: BlobCipher,
    buf: BytesMut,
    index: u64,
}

impl Sealer {
    /// A sealer for one new blob.
    pub fn new(cipher: BlobCipher) -> Self {
        let buf = BytesMut::with_capacity(sealed_capacity(&cipher));
        Self {
            cipher,
            buf,
            index: 0,
        }
    }

    /// Takes more plaintext; returns the chunks it completed (often none). A full chunk is
    /// kept until more bytes arrive: only then is it known not to be the last.
    pub fn push(&mut self, mut data: &[u8]) -> io::Result<Vec<Bytes>> {
        let chunk = self.cipher.chunk_size as usize;
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.buf.len() == chunk {
                let next = BytesMut::with_capacity(sealed_capacity(&self.cipher));
                out.push(self.seal(false, next)?);
            }
            let n = (chunk - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(out)
    }

    /// Seals what is left as the final chunk (possibly empty) and returns it.
    pub fn finish(mut self) -> io::Result<Bytes> {
        self.seal(true, BytesMut::new())
    }

    fn seal(&mut self, last: bool, next: BytesMut) -> io::Result<Bytes> {
        let mut buf = std::mem::replace(&mut self.buf, next);
        self.cipher.seal(self.index, last, &mut buf)?;
        self.index += 1;
        Ok(buf.freeze())
    }
}

fn sealed_capacity(cipher: &BlobCipher) -> usize {
    cipher.chunk_size as usize + TAG_LEN as usize
}

/// Opens the stored bytes of [`ciphertext_range`] and keeps exactly plaintext `[start, end)`.
#[derive(Debug)]
pub struct Opener {
    cipher: BlobCipher,
    plain_len: u64,
    /// The index of the blob's last chunk (the one sealed as final).
    last_chunk: u64,
    /// The next chunk to open.
    index: u64,
    /// Plaintext bytes to drop from the front of the next chunk opened.
    skip: usize,
    /// Plaintext bytes still to return.
    remaining: u64,
    buf: BytesMut,
}

impl Opener {
    /// An opener for plaintext `[start, end)` of a blob of `plain_len` bytes; it expects the
    /// bytes of `ciphertext_range(plain_len, chunk, start, end)`, in order.
    pub fn new(cipher: BlobCipher, plain_len: u64, start: u64, end: u64) -> Result<Self> {
        ciphertext_range(plain_len, cipher.chunk_size, start, end)?;
        let c = u64::from(cipher.chunk_size);
        let skip = usize::try_from(start % c).map_err(|_| Error::InvalidRange)?;
        Ok(Self {
            last_chunk: chunk_count(plain_len, cipher.chunk_size) - 1,
            index: start / c,
            skip,
            remaining: end - start,
            buf: BytesMut::new(),
            cipher,
            plain_len,
        })
    }

    /// Stored size of chunk `index`.
    fn sealed_len(&self, index: u64) -> usize {
        let c = u64::from(self.cipher.chunk_size);
        let plain = if index == self.last_chunk {
            self.plain_len - index * c
        } else {
            c
        };
        // At most MAX_CHUNK_SIZE + 16.
        (plain + TAG_LEN) as usize
    }

    /// Takes more stored bytes; returns the plaintext of the chunks it completed, trimmed to
    /// the range. Bytes past the range's last chunk are an error.
    pub fn push(&mut self, mut data: &[u8]) -> io::Result<Vec<Bytes>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.remaining == 0 {
                return Err(corrupt());
            }
            let want = self.sealed_len(self.index);
            if self.buf.capacity() < want {
                self.buf.reserve(want - self.buf.len());
            }
            let n = (want - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == want {
                out.push(self.open_chunk()?);
            }
        }
        Ok(out)
    }

    fn open_chunk(&mut self) -> io::Result<Bytes> {
        let mut chunk = std::mem::take(&mut self.buf);
        let last = self.index == self.last_chunk;
        self.cipher.open(self.index, last, &mut chunk)?;
        self.index += 1;
        let plain = chunk.freeze();
        let skip = std::mem::take(&mut self.skip);
        let take = (plain.len() - skip).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.remaining -= take as u64;
        Ok(plain.slice(skip..skip + take))
    }

    /// Checks that the whole range arrived.
    pub fn finish(self) -> io::Result<()> {
        if self.remaining > 0 {
            return Err(corrupt());
        }
        Ok(())
    }
}

/// A chunk transformer driven by a stream.
trait Chunker {
    fn push(&mut self, data: &[u8]) -> io::Result<Vec<Bytes>>;
    fn end(self) -> io::Result<Option<Bytes>>;
}

impl Chunker for Sealer {
    fn push(&mut self, data: &[u8]) -> io::Result<Vec<Bytes>> {
        Sealer::push(self, data)
    }
    fn end(self) -> io::Result<Option<Bytes>> {
        self.finish().map(Some)
    }
}

impl Chunker for Opener {
    fn push(&mut self, data: &[u8]) -> io::Result<Vec<Bytes>> {
        Opener::push(self, data)
    }
    fn end(self) -> io::Result<Option<Bytes>> {
        self.finish().map(|()| None)
    }
}

/// Feeds an input stream through a [`Chunker`]; after an error it ends.
struct Transform<C> {
    input: ByteStream,
    chunker: Option<C>,
    ready: std::vec::IntoIter<Bytes>,
}

impl<C: Chunker + Unpin> Stream for Transform<C> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.ready.next() {
                return Poll::Ready(Some(Ok(b)));
            }
            let Some(chunker) = this.chunker.as_mut() else {
                return Poll::Ready(None);
            };
            let step = match this.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(data))) => chunker.push(&data).map(Vec::into_iter),
                Poll::Ready(Some(Err(e))) => Err(e),
                Poll::Ready(None) => match this.chunker.take() {
                    Some(c) => c
                        .end()
                        .map(|last| last.into_iter().collect::<Vec<_>>().into_iter()),
                    None => Ok(Vec::new().into_iter()),
                },
            };
            match step {
                Ok(ready) => this.ready = ready,
                Err(e) => {
                    this.chunker = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// Encrypts a plaintext stream into the stored form of one blob, a chunk at a time.
pub fn encrypt_stream(
    plain: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    cipher: BlobCipher,
) -> ByteStream {
    Box::pin(Transform {
        input: Box::pin(plain),
        chunker: Some(Sealer::new(cipher)),
        ready: Vec::new().into_iter(),
    })
}

/// Decrypts the stored bytes of `ciphertext_range(plain_len, chunk, start, end)` into exactly
/// plaintext `[start, end)`. Tampered, reordered, truncated or surplus bytes end the stream
/// with an error carrying [`EncryptionError::CorruptData`].
pub fn decrypt_range(
    stored: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    cipher: BlobCipher,
    plain_len: u64,
    start: u64,
    end: u64,
) -> Result<ByteStream> {
    Ok(Box::pin(Transform {
        input: Box::pin(stored),
        chunker: Some(Opener::new(cipher, plain_len, start, end)?),
        ready: Vec::new().into_iter(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BlobId;
    use crate::sse::{CustomerKey, EncryptionInfo, KeyUse, MasterKey};

    fn cipher_for(chunk: u32, blob: &str) -> BlobCipher {
        let key = CustomerKey::from_bytes([7; 32]);
        let info = EncryptionInfo::customer(&key)
            .with_chunk_size(chunk)
            .unwrap();
        let ok = info
            .object_key(Some(&key), &MasterKey::generate(), KeyUse::Read)
            .unwrap();
        info.blob_cipher(&ok, &BlobId(blob.into())).unwrap()
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 7) as u8).collect()
    }

    /// Seals `plain` fed in pieces of `piece` bytes.
    fn seal(cipher: &BlobCipher, plain: &[u8], piece: usize) -> Vec<u8> {
        let mut s = Sealer::new(cipher.clone());
        let mut out = Vec::new();
        for p in plain.chunks(piece.max(1)) {
            for c in s.push(p).unwrap() {
                out.extend_from_slice(&c);
            }
        }
        out.extend_from_slice(&s.finish().unwrap());
        out
    }

    /// Opens plaintext [start, end) from the whole stored blob, fed in pieces of `piece`.
    fn open(
        cipher: &BlobCipher,
        stored: &[u8],
        plain_len: u64,
        start: u64,
        end: u64,
        piece: usize,
    ) -> io::Result<Vec<u8>> {
        let r = ciphertext_range(plain_len, cipher.chunk_size(), start, end).unwrap();
        let part = &stored[r.offset as usize..(r.offset + r.len) as usize];
        let mut o = Opener::new(cipher.clone(), plain_len, start, end).unwrap();
        let mut out = Vec::new();
        for p in part.chunks(piece.max(1)) {
            for b in o.push(p)? {
                out.extend_from_slice(&b);
            }
        }
        o.finish()?;
        Ok(out)
    }

    #[test]
    fn round_trips_of_many_sizes() {
        let c = 64usize;
        let cipher = cipher_for(c as u32, "blob");
        for n in [0, 1, c - 1, c, c + 1, 2 * c, 3 * c - 1, 5 * c + 7] {
            let plain = data(n);
            for piece in [1, 7, c, c + 3, 1000] {
                let stored = seal(&cipher, &plain, piece);
                assert_eq!(
                    stored.len() as u64,
                    ciphertext_len(n as u64, c as u32),
                    "{n}"
                );
                assert_eq!(plaintext_len(stored.len() as u64, c as u32), Some(n as u64));
                let back = open(&cipher, &stored, n as u64, 0, n as u64, piece).unwrap();
                assert_eq!(back, plain, "size {n} piece {piece}");
            }
        }
    }

    #[test]
    fn plaintext_len_refuses_impossible_sizes() {
        assert_eq!(plaintext_len(0, 64), None);
        assert_eq!(plaintext_len(15, 64), None);
        assert_eq!(plaintext_len(16, 64), Some(0));
        assert_eq!(plaintext_len(80 + 16, 64), None);
        assert_eq!(plaintext_len(80 + 17, 64), Some(65));
    }

    #[test]
    fn every_range_decrypts_exactly() {
        let c = 16u32;
        let cipher = cipher_for(c, "ranges");
        let n = 5 * c as usize + 3;
        let plain = data(n);
        let stored = seal(&cipher, &plain, 13);
        for start in 0..=n {
            for end in start..=n {
                for piece in [5, 1 << 20] {
                    let got =
                        open(&cipher, &stored, n as u64, start as u64, end as u64, piece).unwrap();
                    assert_eq!(got, &plain[start..end], "[{start}, {end})");
                }
            }
        }
    }

    #[test]
    fn ciphertext_ranges_cover_whole_chunks() {
        let r = |s, e| ciphertext_range(100, 10, s, e).unwrap();
        assert_eq!(
            r(0, 100),
            CipherRange {
                offset: 0,
                len: 260
            }
        );
        assert_eq!(r(0, 1), CipherRange { offset: 0, len: 26 });
        assert_eq!(r(9, 11), CipherRange { offset: 0, len: 52 });
        assert_eq!(
            r(95, 100),
            CipherRange {
                offset: 234,
                len: 26
            }
        );
        assert_eq!(r(5, 5).len, 0);
        assert!(ciphertext_range(100, 10, 5, 101).is_err());
        assert!(ciphertext_range(100, 10, 6, 5).is_err());
        let r = ciphertext_range(105, 10, 100, 105).unwrap();
        assert_eq!(
            r,
            CipherRange {
                offset: 260,
                len: 21
            }
        );
    }

    fn is_corrupt(e: &io::Error) -> bool {
        e.get_ref()
            .and_then(|i| i.downcast_ref::<Error>())
            .is_some_and(|d| matches!(d, Error::Encryption(EncryptionError::CorruptData)))
    }

    #[test]
    fn tampering_with_any_byte_is_detected() {
        let c = 16u32;
        let cipher = cipher_for(c, "tamper");
        let n = 3 * c as usize + 5;
        let plain = data(n);
        let stored = seal(&cipher, &plain, 100);
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x40;
            let e = open(&cipher, &bad, n as u64, 0, n as u64, 100).unwrap_err();
            assert!(is_corrupt(&e), "byte {i}: {e}");
        }
    }

    #[test]
    fn truncation_swaps_and_foreign_chunks_are_detected() {
        let c = 16usize;
        let cipher = cipher_for(c as u32, "cut");
        let sealed = c + 16;
        let n = 4 * c;
        let plain = data(n);
        let stored = seal(&cipher, &plain, 9);
        // Cut at a chunk boundary, read as a shorter blob: the new last chunk was not final.
        for chunks in 1..4 {
            let short = &stored[..chunks * sealed];
            let len = (chunks * c) as u64;
            let e = open(&cipher, short, len, 0, len, 64).unwrap_err();
            assert!(is_corrupt(&e));
        }
        // Cut mid-stream while the record still says the full length.
        let mut o = Opener::new(cipher.clone(), n as u64, 0, n as u64).unwrap();
        o.push(&stored[..stored.len() - 1]).unwrap();
        assert!(is_corrupt(&o.finish().unwrap_err()));
        // Surplus bytes after the range.
        let mut o = Opener::new(cipher.clone(), n as u64, 0, n as u64).unwrap();
        let mut long = stored.clone();
        long.push(0);
        assert!(is_corrupt(&o.push(&long).unwrap_err()));
        // Two chunks swapped.
        let mut swapped = stored.clone();
        let (a, b) = swapped.split_at_mut(sealed);
        a.swap_with_slice(&mut b[..sealed]);
        assert!(is_corrupt(
            &open(&cipher, &swapped, n as u64, 0, n as u64, 64).unwrap_err()
        ));
        // A chunk (even the same index) from another blob of the same object.
        let other = seal(&cipher_for(c as u32, "other"), &plain, 9);
        let mut mixed = stored.clone();
        mixed[sealed..2 * sealed].copy_from_slice(&other[sealed..2 * sealed]);
        assert!(is_corrupt(
            &open(&cipher, &mixed, n as u64, 0, n as u64, 64).unwrap_err()
        ));
        // An empty blob cut to nothing.
        let empty = seal(&cipher, &[], 1);
        assert_eq!(empty.len(), 16);
        let mut o = Opener::new(cipher.clone(), 0, 0, 0).unwrap();
        assert!(o.push(&empty).is_err());
    }

    #[test]
    fn wrong_key_fails() {
        let plain = data(100);
        let stored = seal(&cipher_for(32, "k"), &plain, 100);
        // cipher_for makes a fresh salt each time: same customer key, another object.
        let e = open(&cipher_for(32, "k"), &stored, 100, 0, 100, 100).unwrap_err();
        assert!(is_corrupt(&e));
    }

    #[test]
    fn managed_objects_encrypt_too() {
        let master = MasterKey::generate();
        let (info, key) = EncryptionInfo::managed(&master).unwrap();
        let info = EncryptionInfo::decode(&info.encode()).unwrap();
        let blob = BlobId::random();
        let plain = data(200_000);
        let stored = seal(&info.blob_cipher(&key, &blob).unwrap(), &plain, 8192);
        let reopened = info.object_key(None, &master, KeyUse::Read).unwrap();
        let cipher = info.blob_cipher(&reopened, &blob).unwrap();
        assert_eq!(cipher.chunk_size(), DEFAULT_CHUNK_SIZE);
        let got = open(&cipher, &stored, 200_000, 70_000, 140_001, 4096).unwrap();
        assert_eq!(got, &plain[70_000..140_001]);
    }

    #[tokio::test]
    async fn streams_round_trip_and_pass_errors() {
        let cipher = cipher_for(1000, "stream");
        let plain = data(10_500);
        let pieces: Vec<io::Result<Bytes>> = plain
            .chunks(777)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let sealed: Vec<Bytes> = encrypt_stream(futures::stream::iter(pieces), cipher.clone())
            .map(|r| r.unwrap())
            .collect()
            .await;
        // One chunk at a time: no output item is larger than a sealed chunk.
        assert!(sealed.iter().all(|b| b.len() <= 1016));
        let stored: Vec<u8> = sealed.concat();
        assert_eq!(stored.len() as u64, ciphertext_len(10_500, 1000));
        let r = ciphertext_range(10_500, 1000, 1234, 9876).unwrap();
        let part = Bytes::copy_from_slice(&stored[r.offset as usize..(r.offset + r.len) as usize]);
        let parts: Vec<io::Result<Bytes>> = (0..part.len())
            .step_by(500)
            .map(|i| Ok(part.slice(i..(i + 500).min(part.len()))))
            .collect();
        let got: Vec<Bytes> = decrypt_range(
            futures::stream::iter(parts),
            cipher.clone(),
            10_500,
            1234,
            9876,
        )
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;
        assert_eq!(got.concat(), &plain[1234..9876]);

        // An input error passes through and ends the stream.
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("client went away")),
            Ok(Bytes::from_static(b"def")),
        ]);
        let items: Vec<io::Result<Bytes>> = encrypt_stream(failing, cipher.clone()).collect().await;
        assert_eq!(items.len(), 1);
        assert!(items[0].is_err());

        // A corrupt blob ends the decrypted stream with CorruptData, via error_from_io.
        let mut bad = stored.clone();
        bad[5] ^= 1;
        let items: Vec<io::Result<Bytes>> = decrypt_range(
            futures::stream::iter(vec![Ok(Bytes::from(bad))]),
            cipher,
            10_500,
            0,
            10_500,
        )
        .unwrap()
        .collect()
        .await;
        let e = items.into_iter().find_map(|r| r.err()).unwrap();
        assert!(matches!(
            crate::blob::error_from_io(e),
            Error::Encryption(EncryptionError::CorruptData)
        ));
    }
}
