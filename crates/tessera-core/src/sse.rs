//! Server-side encryption, the domain half: SSE-C customer keys and their check, the SSE-S3
//! master key that wraps per-object data keys, what an encrypted object or upload keeps
//! ([`EncryptionInfo`]), and bucket default encryption ([`BucketEncryption`]).
//!
//! Pure computation: the byte streams are in [`crate::sse_stream`], the master key file in the
//! binary.
//!
//! # Keys
//!
//! Every encrypted object (or multipart upload) has a 256-bit [`ObjectKey`]: the customer's key
//! for SSE-C (never stored; a salted HMAC of it, [`KeyCheck`], tells a wrong key on the next
//! request), a random data key for SSE-S3 (stored wrapped by the [`MasterKey`]). Each blob's
//! own AES-256-GCM key is derived from the object key, the object's random salt and the blob id
//! (see [`EncryptionInfo::blob_cipher`]), so no two blobs ever share a key and nonces never
//! repeat.
//!
//! SSE-KMS uses local named keys ([`KmsKey`]): each name's key-encryption key is derived from
//! the master key, so every node with the same master key has every KMS key and nothing more is
//! stored; the server is configured with the names it offers (`--kms-key`), plus `aws/s3`, the
//! key used when a request names none (AWS's managed key). An SSE-KMS object's data key is
//! wrapped by its KMS key instead of the master key; the rest is as SSE-S3.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::error::{EncryptionError, Error, Result};
use crate::records::BlobId;
use crate::sse_stream::{BlobCipher, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm SSE-C and SSE-S3 accept, as the headers and documents name it.
pub const AES256: &str = "AES256";

fn enc(e: EncryptionError) -> Error {
    Error::Encryption(e)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// 256 bits of key material, wiped on drop and never printed.
#[derive(Clone)]
struct Secret([u8; 32]);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// An SSE-C key as the three `x-amz-server-side-encryption-customer-*` headers give it
/// (or their `x-amz-copy-source-` variants).
#[derive(Clone, Debug)]
pub struct CustomerKey {
    key: Secret,
    /// Base64 MD5 of the key, echoed in responses.
    key_md5: String,
}

impl CustomerKey {
    /// Parses the three headers; `Ok(None)` when none is present. `secure`: the request came
    /// over TLS (S3 refuses customer keys sent in the clear, since the key is in a header).
    pub fn parse(
        algorithm: Option<&str>,
        key: Option<&str>,
        key_md5: Option<&str>,
        secure: bool,
    ) -> Result<Option<Self>> {
        if algorithm.is_none() && key.is_none() && key_md5.is_none() {
            return Ok(None);
        }
        if !secure {
            return Err(enc(EncryptionError::InsecureTransport));
        }
        match algorithm {
            None => return Err(enc(EncryptionError::MissingCustomerAlgorithm)),
            Some(a) if a != AES256 => {
                return Err(enc(EncryptionError::InvalidCustomerAlgorithm(a.to_owned())))
            }
            Some(_) => {}
        }
        let key = key.ok_or(enc(EncryptionError::MissingCustomerKey))?;
        let mut raw = B64
            .decode(key.trim())
            .map_err(|_| enc(EncryptionError::InvalidCustomerKey))?;
        let bytes: Result<[u8; 32], _> = raw.as_slice().try_into();
        raw.zeroize();
        let bytes = bytes.map_err(|_| enc(EncryptionError::InvalidCustomerKey))?;
        let key = Self::from_bytes(bytes);
        let given = key_md5.ok_or(enc(EncryptionError::MissingCustomerKeyMd5))?;
        let given = B64
            .decode(given.trim())
            .map_err(|_| enc(EncryptionError::CustomerKeyMd5Mismatch))?;
        if given.as_slice() != Md5::digest(key.key.0).as_slice() {
            return Err(enc(EncryptionError::CustomerKeyMd5Mismatch));
        }
        Ok(Some(key))
    }

    /// A key from its 32 bytes (tests, benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let key_md5 = B64.encode(Md5::digest(bytes));
        Self {
            key: Secret(bytes),
            key_md5,
        }
    }

    /// Base64 MD5 of the key, for the `...-customer-key-MD5` response header.
    pub fn key_md5(&self) -> &str {
        &self.key_md5
    }

    fn object_key(&self) -> ObjectKey {
        ObjectKey(self.key.clone())
    }
}

/// What is kept of a customer key: a salted HMAC-SHA256 that recognises it, and nothing that
/// helps to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCheck {
    salt: [u8; 16],
    mac: [u8; 32],
}

impl KeyCheck {
    /// A check of `key` under a fresh random salt.
    pub fn new(key: &CustomerKey) -> Self {
        let salt = random_bytes();
        let mac = Self::mac(key, &salt).finalize().into_bytes().into();
        Self { salt, mac }
    }

    fn mac(key: &CustomerKey, salt: &[u8; 16]) -> HmacSha256 {
        // Keyed by the customer key: without it the stored value says nothing.
        let mut m = hmac_sha256(&key.key.0);
        m.update(b"tessera-sse-c-key-check-v1");
        m.update(salt);
        m
    }

    /// Whether `key` is the key this check was made of (constant time).
    pub fn verify(&self, key: &CustomerKey) -> bool {
        Self::mac(key, &self.salt).verify_slice(&self.mac).is_ok()
    }
}

/// HMAC-SHA256 keyed by 32 bytes. The key zero-padded to the block size is HMAC's own
/// padding (RFC 2104), so this equals `new_from_slice` without its (never taken) error path.
fn hmac_sha256(key: &[u8; 32]) -> HmacSha256 {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let m = <HmacSha256 as KeyInit>::new(&block.into());
    block.zeroize();
    m
}

/// The server's SSE-S3 master key: wraps the per-object data keys.
#[derive(Clone, Debug)]
pub struct MasterKey {
    key: Secret,
    id: [u8; 8],
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut m = hmac_sha256(&bytes);
        m.update(b"tessera-master-key-id-v1");
        let digest = m.finalize().into_bytes();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self {
            key: Secret(bytes),
            id,
        }
    }

    /// A fresh random master key.
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes())
    }

    /// Reads a key file's contents: base64 of 32 bytes (surrounding whitespace allowed), or
    /// exactly 32 raw bytes (`head -c 32 /dev/urandom`).
    pub fn from_file_contents(contents: &[u8]) -> Result<Self> {
        let bad = || Error::Internal("a master key file holds base64 of 32 bytes".into());
        if let Ok(text) = std::str::from_utf8(contents) {
            if let Ok(mut raw) = B64.decode(text.trim()) {
                let key: Result<[u8; 32], _> = raw.as_slice().try_into();
                raw.zeroize();
                if let Ok(key) = key {
                    return Ok(Self::from_bytes(key));
                }
            }
        }
        // 32 raw bytes may also happen to be valid base64 (of 24 bytes): tried second.
        let key: [u8; 32] = contents.try_into().map_err(|_| bad())?;
        Ok(Self::from_bytes(key))
    }

    /// The contents of a new key file: base64 and a newline.
    pub fn to_file_contents(&self) -> String {
        format!("{}\n", B64.encode(self.key.0))
    }

    /// A short public fingerprint of the key (hex), for logs and to tell keys apart.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// The key-encryption key of the local KMS key `name`: an HMAC of the name under the
    /// master key (a one-block HKDF expand), so it needs no storage of its own.
    fn kms_key(&self, name: &str) -> MasterKey {
        let mut m = hmac_sha256(&self.key.0);
        m.update(b"tessera-kms-key-v1\0");
        m.update(name.as_bytes());
        MasterKey::from_bytes(m.finalize().into_bytes().into())
    }

    fn cipher(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.key.0)
            .map(LessSafeKey::new)
            .map_err(|_| Error::Internal("an AES-256-GCM key was refused".into()))
    }

    fn wrap_aad(&self, object_salt: &[u8; 16]) -> Vec<u8> {
        let mut aad = b"tessera-sse-s3-data-key-v1".to_vec();
        aad.extend_from_slice(&self.id);
        aad.extend_from_slice(object_salt);
        aad
    }

    /// Wraps a data key (AES-256-GCM, random nonce), bound to the object's salt so that a
    /// wrapped key only opens with the record it was made for.
    fn wrap(&self, data_key: &ObjectKey, object_salt: &[u8; 16]) -> Result<WrappedKey> {
        let nonce: [u8; 12] = random_bytes();
        let mut sealed = [0u8; 48];
        sealed[..32].copy_from_slice(&data_key.0 .0);
        let tag = self
            .cipher()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.wrap_aad(object_salt)),
                &mut sealed[..32],
            )
            .map_err(|_| Error::Internal("wrapping a data key failed".into()))?;
        sealed[32..].copy_from_slice(tag.as_ref());
        Ok(WrappedKey {
            key_id: self.id,
            nonce,
            sealed,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, object_salt: &[u8; 16]) -> Result<ObjectKey> {
        if wrapped.key_id != self.id {
            return Err(enc(EncryptionError::MasterKeyMismatch));
        }
        let mut buf = wrapped.sealed;
        let opened = self
            .cipher()?
            .open_in_place(
                Nonce::assume_unique_for_key(wrapped.nonce),
                Aad::from(self.wrap_aad(object_salt)),
                &mut buf,
            )
            .map(|plain| {
                let mut key = Secret([0u8; 32]);
                key.0.copy_from_slice(plain);
                key
            });
        buf.zeroize();
        opened
            .map(ObjectKey)
            .map_err(|_| enc(EncryptionError::CorruptData))
    }
}

/// A data key wrapped by a [`MasterKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// [`MasterKey::id`] of the wrapping key.
    key_id: [u8; 8],
    nonce: [u8; 12],
    /// The encrypted key, then the GCM tag.
    sealed: [u8; 48],
}

/// The key an object's blobs are encrypted under (the customer's key, or an SSE-S3 data key).
#[derive(Clone, Debug)]
pub struct ObjectKey(Secret);

impl ObjectKey {
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }
}

/// How an object's key is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseKind {
    /// SSE-C: the customer brings the key on every request; only its check is kept.
    Customer(KeyCheck),
    /// SSE-S3: a random data key, wrapped by the master key.
    Managed(WrappedKey),
    /// SSE-KMS: a random data key, wrapped by a local KMS key.
    Kms(KmsKey, WrappedKey),
}

/// The name every SSE-KMS request without a key id gets (AWS's managed key for S3).
pub const DEFAULT_KMS_KEY: &str = "aws/s3";

/// The local KMS key of an SSE-KMS object, as its record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKey {
    /// The key's name (what its key-encryption key is derived from).
    pub name: String,
    /// The ARN responses report (`x-amz-server-side-encryption-aws-kms-key-id`), fixed when
    /// the object was written.
    pub arn: String,
    /// `aws:kms:dsse` was asked for (reported as such; stored as `aws:kms`).
    pub dsse: bool,
    /// `x-amz-server-side-encryption-bucket-key-enabled`, reported back.
    pub bucket_key: bool,
}

impl KmsKey {
    /// Resolves a request's key id (`None`: [`DEFAULT_KMS_KEY`]) to a local key of the
    /// account `account` in `region`: a name, `alias/<name>`, or the ARN
    /// `arn:aws:kms:<region>:<account>:key/<name>` (or `:alias/<name>`). `known` says whether
    /// a name is configured; another region or account, or an unknown name, is not found.
    pub fn resolve(
        given: Option<&str>,
        region: &str,
        account: &str,
        known: impl Fn(&str) -> bool,
    ) -> Result<(String, String)> {
        let not_found = || {
            enc(EncryptionError::KmsKeyNotFound(
                given.unwrap_or_default().to_owned(),
            ))
        };
        let Some(id) = given else {
            return Ok((
                DEFAULT_KMS_KEY.to_owned(),
                format!("arn:aws:kms:{region}:{account}:alias/{DEFAULT_KMS_KEY}"),
            ));
        };
        let local = match id.strip_prefix("arn:aws:kms:") {
            Some(rest) => {
                let mut parts = rest.splitn(3, ':');
                let (Some(r), Some(a), Some(resource)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(not_found());
                };
                if r != region || a != account {
                    return Err(not_found());
                }
                resource
                    .strip_prefix("key/")
                    .or_else(|| resource.strip_prefix("alias/"))
                    .ok_or_else(not_found)?
            }
            None => id.strip_prefix("alias/").unwrap_or(id),
        };
        if local.is_empty() {
            return Err(not_found());
        }
        if local == DEFAULT_KMS_KEY {
            return Ok((
                local.to_owned(),
                format!("arn:aws:kms:{region}:{account}:alias/{DEFAULT_KMS_KEY}"),
            ));
        }
        if !known(local) {
            return Err(not_found());
        }
        Ok((
            local.to_owned(),
            format!("arn:aws:kms:{region}:{account}:key/{local}"),
        ))
    }
}

/// What a request presents a key for: the errors differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// GET, HEAD, a copy source, an UploadPartCopy source.
    Read,
    /// UploadPart / UploadPartCopy into an upload, CompleteMultipartUpload.
    UploadPart,
}

/// Everything an encrypted object (or multipart upload) record keeps, in one field
/// ([`EncryptionInfo::encode`]). A multipart object keeps its upload's: the parts need nothing
/// of their own, since each blob's key is derived from its blob id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionInfo {
    /// SSE-C (the key's check) or SSE-S3 (the wrapped data key).
    pub kind: SseKind,
    /// Plaintext bytes per sealed chunk (see [`crate::sse_stream`]).
    pub chunk_size: u32,
    /// Random per object: with the blob id, it makes every blob's key unique.
    salt: [u8; 16],
}

/// Version tag of the stored form.
const STORED_V1: &str = "sse1";

impl EncryptionInfo {
    /// The ETag of an SSE-C object or part with plaintext MD5 `md5`: HMAC-SHA256 under the
    /// customer's key of this record's salt and the MD5, cut to 16 bytes. Not the plaintext's
    /// MD5 (S3 documents SSE-C ETags are not), so it confirms no guess of the content without
    /// the key; yet the same bytes sent twice to one upload (a part retried) get the same ETag.
    pub fn customer_etag(&self, key: &ObjectKey, md5: &[u8; 16]) -> String {
        let mac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.bytes());
        let mut ctx = ring::hmac::Context::with_key(&mac_key);
        ctx.update(b"tessera sse-c etag v1");
        ctx.update(&self.salt);
        ctx.update(md5);
        hex::encode(&ctx.sign().as_ref()[..16])
    }

    /// SSE-C: a new object's (or upload's) record for `key`.
    pub fn customer(key: &CustomerKey) -> Self {
        Self {
            kind: SseKind::Customer(KeyCheck::new(key)),
            chunk_size: DEFAULT_CHUNK_SIZE,
            salt: random_bytes(),
        }
    }

    /// SSE-S3: a new object's (or upload's) record with a fresh data key, and that key.
    pub fn managed(master: &MasterKey) -> Result<(Self, ObjectKey)> {
        let salt = random_bytes();
        let key = ObjectKey(Secret(random_bytes()));
        let wrapped = master.wrap(&key, &salt)?;
        Ok((
            Self {
                kind: SseKind::Managed(wrapped),
                chunk_size: DEFAULT_CHUNK_SIZE,
                salt,
            },
            key,
        ))
    }

    /// SSE-KMS: a new object's (or upload's) record with a fresh data key wrapped by the
    /// local KMS key `kms`, and that key.
    pub fn kms(master: &MasterKey, kms: KmsKey) -> Result<(Self, ObjectKey)> {
        let salt = random_bytes();
        let key = ObjectKey(Secret(random_bytes()));
        let wrapped = master.kms_key(&kms.name).wrap(&key, &salt)?;
        Ok((
            Self {
                kind: SseKind::Kms(kms, wrapped),
                chunk_size: DEFAULT_CHUNK_SIZE,
                salt,
            },
            key,
        ))
    }

    /// The same record with another chunk size (tests use tiny chunks).
    pub fn with_chunk_size(mut self, chunk_size: u32) -> Result<Self> {
        check_chunk_size(chunk_size)?;
        self.chunk_size = chunk_size;
        Ok(self)
    }

    /// Whether this is SSE-C (responses then echo the customer algorithm and key MD5;
    /// otherwise `x-amz-server-side-encryption: AES256`).
    pub fn is_customer(&self) -> bool {
        matches!(self.kind, SseKind::Customer(_))
    }

    /// The object key, given what the request presents: for SSE-C the customer key must be
    /// there and match, for SSE-S3 and SSE-KMS it must be absent and the master key (or the KMS
    /// key derived from it) opens the data key.
    pub fn object_key(
        &self,
        customer: Option<&CustomerKey>,
        master: &MasterKey,
        purpose: KeyUse,
    ) -> Result<ObjectKey> {
        match (&self.kind, customer, purpose) {
            (SseKind::Customer(_), None, KeyUse::Read) => {
                Err(enc(EncryptionError::CustomerKeyRequired))
            }
            (SseKind::Customer(_), None, KeyUse::UploadPart) => {
                Err(enc(EncryptionError::UploadKeyRequired))
            }
            (SseKind::Customer(check), Some(key), _) => {
                if check.verify(key) {
                    Ok(key.object_key())
                } else if purpose == KeyUse::Read {
                    Err(enc(EncryptionError::WrongCustomerKey))
                } else {
                    Err(enc(EncryptionError::UploadKeyMismatch))
                }
            }
            (SseKind::Managed(_) | SseKind::Kms(..), Some(_), KeyUse::Read) => {
                Err(enc(EncryptionError::NotApplicable))
            }
            (SseKind::Managed(_) | SseKind::Kms(..), Some(_), KeyUse::UploadPart) => {
                Err(enc(EncryptionError::UploadKeyMismatch))
            }
            (SseKind::Managed(wrapped), None, _) => master.unwrap(wrapped, &self.salt),
            (SseKind::Kms(kms, wrapped), None, _) => {
                master.kms_key(&kms.name).unwrap(wrapped, &self.salt)
            }
        }
    }

    /// The cipher of one blob of this object (a single PUT's blob, or a part's).
    pub fn blob_cipher(&self, key: &ObjectKey, blob: &BlobId) -> Result<BlobCipher> {
        BlobCipher::derive(key, &self.salt, blob.as_str().as_bytes(), self.chunk_size)
    }

    /// The stored form: `sse1;c;<chunk>;<salt>;<check salt>;<check mac>`,
    /// `sse1;s3;<chunk>;<salt>;<master key id>;<nonce>;<wrapped key>` or
    /// `sse1;kms;<chunk>;<salt>;<flags>;<name>;<arn>;<kms key id>;<nonce>;<wrapped key>` (flags
    /// `d` DSSE, `b` bucket key, else `-`), all hex but the flags.
    pub fn encode(&self) -> String {
        let head = |kind: &str| {
            format!(
                "{STORED_V1};{kind};{};{}",
                self.chunk_size,
                hex::encode(self.salt)
            )
        };
        match &self.kind {
            SseKind::Customer(c) => format!(
                "{};{};{}",
                head("c"),
                hex::encode(c.salt),
                hex::encode(c.mac)
            ),
            SseKind::Managed(w) => format!(
                "{};{};{};{}",
                head("s3"),
                hex::encode(w.key_id),
                hex::encode(w.nonce),
                hex::encode(w.sealed)
            ),
            SseKind::Kms(k, w) => {
                let mut flags = String::new();
                if k.dsse {
                    flags.push('d');
                }
                if k.bucket_key {
                    flags.push('b');
                }
                if flags.is_empty() {
                    flags.push('-');
                }
                format!(
                    "{};{flags};{};{};{};{};{}",
                    head("kms"),
                    hex::encode(&k.name),
                    hex::encode(&k.arn),
                    hex::encode(w.key_id),
                    hex::encode(w.nonce),
                    hex::encode(w.sealed)
                )
            }
        }
    }

    /// Parses [`EncryptionInfo::encode`]'s form.
    pub fn decode(stored: &str) -> Result<Self> {
        let bad = |what: &str| enc(EncryptionError::InvalidStoredForm(what.to_owned()));
        let fields: Vec<&str> = stored.split(';').collect();
        match fields.first() {
            Some(&STORED_V1) => {}
            _ => return Err(bad("unknown version")),
        }
        let chunk_size: u32 = fields
            .get(2)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| bad("chunk size"))?;
        check_chunk_size(chunk_size).map_err(|_| bad("chunk size"))?;
        let salt = hex_array(fields.get(3)).ok_or_else(|| bad("salt"))?;
        let kind = match (fields.get(1).copied(), fields.len()) {
            (Some("c"), 6) => SseKind::Customer(KeyCheck {
                salt: hex_array(fields.get(4)).ok_or_else(|| bad("check salt"))?,
                mac: hex_array(fields.get(5)).ok_or_else(|| bad("check mac"))?,
            }),
            (Some("s3"), 7) => SseKind::Managed(WrappedKey {
                key_id: hex_array(fields.get(4)).ok_or_else(|| bad("master key id"))?,
                nonce: hex_array(fields.get(5)).ok_or_else(|| bad("nonce"))?,
                sealed: hex_array(fields.get(6)).ok_or_else(|| bad("wrapped key"))?,
            }),
            (Some("kms"), 10) => {
                let flags = fields.get(4).copied().unwrap_or_default();
                let text = |i: usize, what: &str| {
                    fields
                        .get(i)
                        .and_then(|f| hex::decode(f).ok())
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| bad(what))
                };
                SseKind::Kms(
                    KmsKey {
                        name: text(5, "kms key name")?,
                        arn: text(6, "kms key arn")?,
                        dsse: flags.contains('d'),
                        bucket_key: flags.contains('b'),
                    },
                    WrappedKey {
                        key_id: hex_array(fields.get(7)).ok_or_else(|| bad("kms key id"))?,
                        nonce: hex_array(fields.get(8)).ok_or_else(|| bad("nonce"))?,
                        sealed: hex_array(fields.get(9)).ok_or_else(|| bad("wrapped key"))?,
                    },
                )
            }
            _ => return Err(bad("kind")),
        };
        Ok(Self {
            kind,
            chunk_size,
            salt,
        })
    }
}

fn check_chunk_size(chunk_size: u32) -> Result<()> {
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
        return Err(Error::InvalidArgument(
            crate::error::ArgumentError::OutOfRange {
                value: u64::from(chunk_size),
            },
        ));
    }
    Ok(())
}

fn hex_array<const N: usize>(field: Option<&&str>) -> Option<[u8; N]> {
    let raw = hex::decode(field?).ok()?;
    raw.try_into().ok()
}

/// Refuses SSE-C headers on a request for an object (or upload) that is not encrypted.
pub fn check_unencrypted(customer: Option<&CustomerKey>, purpose: KeyUse) -> Result<()> {
    match (customer, purpose) {
        (None, _) => Ok(()),
        (Some(_), KeyUse::Read) => Err(enc(EncryptionError::NotApplicable)),
        (Some(_), KeyUse::UploadPart) => Err(enc(EncryptionError::UploadKeyMismatch)),
    }
}

/// A value of `x-amz-server-side-encryption` (or a default rule's SSEAlgorithm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseAlgorithm {
    /// `AES256`: SSE-S3.
    Aes256,
    /// `aws:kms`: SSE-KMS.
    Kms,
    /// `aws:kms:dsse`: dual-layer SSE-KMS in S3; here one layer, as `aws:kms`, reported as
    /// asked.
    KmsDsse,
}

impl SseAlgorithm {
    /// Parses a header or document value: `AES256`, `aws:kms`, `aws:kms:dsse`; anything else
    /// is not supported.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            AES256 => Ok(Self::Aes256),
            "aws:kms" => Ok(Self::Kms),
            "aws:kms:dsse" => Ok(Self::KmsDsse),
            other => Err(enc(EncryptionError::InvalidEncryptionMethod(
                other.to_owned(),
            ))),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => AES256,
            Self::Kms => "aws:kms",
            Self::KmsDsse => "aws:kms:dsse",
        }
    }

    /// `aws:kms` or `aws:kms:dsse`.
    pub fn is_kms(self) -> bool {
        matches!(self, Self::Kms | Self::KmsDsse)
    }
}

/// How a new object (PutObject, CopyObject's destination, CreateMultipartUpload) is encrypted.
#[derive(Clone, Debug)]
pub enum WriteEncryption {
    /// Stored as sent.
    None,
    /// SSE-C with this key.
    Customer(CustomerKey),
    /// SSE-S3.
    Managed,
    /// SSE-KMS with this key id as given (`None`: [`DEFAULT_KMS_KEY`]), not yet resolved.
    Kms {
        key_id: Option<String>,
        dsse: bool,
        bucket_key: bool,
    },
}

impl WriteEncryption {
    /// Decides from the request's `x-amz-server-side-encryption` (parsed), its KMS key id and
    /// bucket-key flag, its customer key and the bucket's default: a customer key wins over
    /// the default, and may not come with the header; a KMS key id needs `aws:kms`.
    pub fn decide(
        requested: Option<SseAlgorithm>,
        kms_key_id: Option<String>,
        bucket_key: Option<bool>,
        customer: Option<CustomerKey>,
        bucket_default: Option<&BucketEncryption>,
    ) -> Result<Self> {
        if kms_key_id.is_some() && !requested.is_some_and(SseAlgorithm::is_kms) {
            return Err(enc(EncryptionError::KmsKeyIdWithoutKmsHeader));
        }
        match (requested, customer) {
            (Some(_), Some(_)) => Err(enc(EncryptionError::CustomerKeyWithServerSideEncryption)),
            (None, Some(key)) => Ok(Self::Customer(key)),
            (Some(SseAlgorithm::Aes256), None) => Ok(Self::Managed),
            (Some(algorithm), None) => Ok(Self::Kms {
                key_id: kms_key_id,
                dsse: algorithm == SseAlgorithm::KmsDsse,
                bucket_key: bucket_key
                    .or(bucket_default.map(|d| d.bucket_key_enabled))
                    .unwrap_or(false),
            }),
            (None, None) => Ok(match bucket_default {
                Some(d) if d.algorithm.is_kms() => Self::Kms {
                    key_id: d.kms_key_id.clone(),
                    dsse: d.algorithm == SseAlgorithm::KmsDsse,
                    bucket_key: bucket_key.unwrap_or(d.bucket_key_enabled),
                },
                Some(_) => Self::Managed,
                None => Self::None,
            }),
        }
    }

    /// The record and object key for a new object (`None`: stored in the clear); `resolve`
    /// turns a KMS key id into the local key's name and ARN ([`KmsKey::resolve`]).
    pub fn start(
        &self,
        master: &MasterKey,
        resolve: impl FnOnce(Option<&str>) -> Result<(String, String)>,
    ) -> Result<Option<(EncryptionInfo, ObjectKey)>> {
        match self {
            Self::None => Ok(None),
            Self::Customer(key) => Ok(Some((EncryptionInfo::customer(key), key.object_key()))),
            Self::Managed => EncryptionInfo::managed(master).map(Some),
            Self::Kms {
                key_id,
                dsse,
                bucket_key,
            } => {
                let (name, arn) = resolve(key_id.as_deref())?;
                let kms = KmsKey {
                    name,
                    arn,
                    dsse: *dsse,
                    bucket_key: *bucket_key,
                };
                EncryptionInfo::kms(master, kms).map(Some)
            }
        }
    }
}

/// A bucket's default encryption (PutBucketEncryption's one rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketEncryption {
    pub algorithm: SseAlgorithm,
    /// `KMSMasterKeyID` for `aws:kms` defaults, as given (resolved at each write).
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled` as given: reported back, and on SSE-KMS objects (a cost saving in
    /// S3 with no effect on how the data is protected).
    pub bucket_key_enabled: bool,
}

impl BucketEncryption {
    /// Validates a configuration's rules, each given as (SSEAlgorithm, KMSMasterKeyID,
    /// BucketKeyEnabled). S3 takes exactly one rule.
    pub fn from_rules(rules: &[(&str, Option<&str>, Option<bool>)]) -> Result<Self> {
        let [(algorithm, kms_key_id, bucket_key)] = rules else {
            return Err(enc(EncryptionError::MalformedConfiguration(
                "The XML you provided was not well-formed or did not validate against our published schema: exactly one Rule is allowed".into(),
            )));
        };
        let algorithm = SseAlgorithm::parse(algorithm).map_err(|e| match e {
            Error::Encryption(EncryptionError::InvalidEncryptionMethod(_)) => {
                enc(EncryptionError::MalformedConfiguration(
                    "The XML you provided was not well-formed or did not validate against our published schema".into(),
                ))
            }
            other => other,
        })?;
        if kms_key_id.is_some() && !algorithm.is_kms() {
            return Err(enc(EncryptionError::KmsKeyIdWithoutKms));
        }
        Ok(Self {
            algorithm,
            kms_key_id: kms_key_id.filter(|k| !k.is_empty()).map(str::to_owned),
            bucket_key_enabled: bucket_key.unwrap_or(false),
        })
    }

    /// The stored form (for [`crate::records::BucketSetting::Encryption`]):
    /// `v1;<algorithm>` then `;bucket-key` if enabled and `;kms=<hex key id>` if given.
    pub fn encode(&self) -> String {
        let mut s = format!("v1;{}", self.algorithm.as_str());
        if self.bucket_key_enabled {
            s.push_str(";bucket-key");
        }
        if let Some(k) = &self.kms_key_id {
            s.push_str(";kms=");
            s.push_str(&hex::encode(k));
        }
        s
    }

    /// Parses [`BucketEncryption::encode`]'s form.
    pub fn decode(stored: &str) -> Result<Self> {
        let bad = || {
            enc(EncryptionError::InvalidStoredForm(
                "bucket encryption".into(),
            ))
        };
        let mut fields = stored.split(';');
        if fields.next() != Some("v1") {
            return Err(bad());
        }
        let algorithm = SseAlgorithm::parse(fields.next().ok_or_else(bad)?).map_err(|_| bad())?;
        let mut bucket_key_enabled = false;
        let mut kms_key_id = None;
        for field in fields {
            match field {
                "bucket-key" => bucket_key_enabled = true,
                f => {
                    let hexed = f.strip_prefix("kms=").ok_or_else(bad)?;
                    let raw = hex::decode(hexed).map_err(|_| bad())?;
                    kms_key_id = Some(String::from_utf8(raw).map_err(|_| bad())?);
                }
            }
        }
        Ok(Self {
            algorithm,
            kms_key_id,
            bucket_key_enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

    fn headers(key: &[u8]) -> (String, String) {
        (B64.encode(key), B64.encode(Md5::digest(key)))
    }

    fn err(r: Result<Option<CustomerKey>>) -> EncryptionError {
        match r {
            Err(Error::Encryption(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn customer_key_parses_with_its_md5() {
        let (k, m) = headers(&KEY);
        let key = CustomerKey::parse(Some("AES256"), Some(&k), Some(&m), true)
            .unwrap()
            .unwrap();
        assert_eq!(key.key_md5(), m);
        assert!(CustomerKey::parse(None, None, None, false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn customer_key_errors() {
        let (k, m) = headers(&KEY);
        use EncryptionError as E;
        let p = |a, k, m, s| err(CustomerKey::parse(a, k, m, s));
        assert_eq!(
            p(Some("AES256"), Some(&k), Some(&m), false),
            E::InsecureTransport
        );
        assert_eq!(
            p(None, Some(&k), Some(&m), true),
            E::MissingCustomerAlgorithm
        );
        assert_eq!(
            p(Some("AES128"), Some(&k), Some(&m), true),
            E::InvalidCustomerAlgorithm("AES128".into())
        );
        assert_eq!(
            p(Some("AES256"), None, Some(&m), true),
            E::MissingCustomerKey
        );
        assert_eq!(
            p(Some("AES256"), Some("!!"), Some(&m), true),
            E::InvalidCustomerKey
        );
        let (short, short_md5) = headers(&KEY[..31]);
        assert_eq!(
            p(Some("AES256"), Some(&short), Some(&short_md5), true),
            E::InvalidCustomerKey
        );
        assert_eq!(
            p(Some("AES256"), Some(&k), None, true),
            E::MissingCustomerKeyMd5
        );
        let (_, other_md5) = headers(b"another key, another md5.........");
        assert_eq!(
            p(Some("AES256"), Some(&k), Some(&other_md5), true),
            E::CustomerKeyMd5Mismatch
        );
        assert_eq!(
            p(Some("AES256"), Some(&k), Some("not base64!"), true),
            E::CustomerKeyMd5Mismatch
        );
    }

    #[test]
    fn key_check_tells_the_right_key() {
        let key = CustomerKey::from_bytes(KEY);
        let mut other = KEY;
        other[31] ^= 1;
        let check = KeyCheck::new(&key);
        assert!(check.verify(&key));
        assert!(!check.verify(&CustomerKey::from_bytes(other)));
        // Salted: two checks of one key differ.
        assert_ne!(check, KeyCheck::new(&key));
    }

    #[test]
    fn customer_object_key_errors_by_use() {
        let key = CustomerKey::from_bytes(KEY);
        let wrong = CustomerKey::from_bytes([9; 32]);
        let master = MasterKey::generate();
        let info = EncryptionInfo::customer(&key);
        let e = |r: Result<ObjectKey>| match r {
            Err(Error::Encryption(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            info.object_key(Some(&key), &master, KeyUse::Read)
                .unwrap()
                .bytes(),
            &KEY
        );
        assert_eq!(
            e(info.object_key(None, &master, KeyUse::Read)),
            EncryptionError::CustomerKeyRequired
        );
        assert_eq!(
            e(info.object_key(Some(&wrong), &master, KeyUse::Read)),
            EncryptionError::WrongCustomerKey
        );
        assert_eq!(
            e(info.object_key(None, &master, KeyUse::UploadPart)),
            EncryptionError::UploadKeyRequired
        );
        assert_eq!(
            e(info.object_key(Some(&wrong), &master, KeyUse::UploadPart)),
            EncryptionError::UploadKeyMismatch
        );
    }

    #[test]
    fn managed_key_wraps_and_unwraps() {
        let master = MasterKey::generate();
        let (info, key) = EncryptionInfo::managed(&master).unwrap();
        let opened = info.object_key(None, &master, KeyUse::Read).unwrap();
        assert_eq!(opened.bytes(), key.bytes());
        let e = |r: Result<ObjectKey>| match r {
            Err(Error::Encryption(e)) => e,
            other => panic!("{other:?}"),
        };
        // Another master key, a tampered wrapped key, a wrapped key moved to another record.
        assert_eq!(
            e(info.object_key(None, &MasterKey::generate(), KeyUse::Read)),
            EncryptionError::MasterKeyMismatch
        );
        let mut tampered = info.clone();
        if let SseKind::Managed(w) = &mut tampered.kind {
            w.sealed[3] ^= 1;
        }
        assert_eq!(
            e(tampered.object_key(None, &master, KeyUse::Read)),
            EncryptionError::CorruptData
        );
        let (mut moved, _) = EncryptionInfo::managed(&master).unwrap();
        moved.kind = info.kind.clone();
        assert_eq!(
            e(moved.object_key(None, &master, KeyUse::Read)),
            EncryptionError::CorruptData
        );
        let customer = CustomerKey::from_bytes(KEY);
        assert_eq!(
            e(info.object_key(Some(&customer), &master, KeyUse::Read)),
            EncryptionError::NotApplicable
        );
        assert_eq!(
            e(info.object_key(Some(&customer), &master, KeyUse::UploadPart)),
            EncryptionError::UploadKeyMismatch
        );
        assert!(check_unencrypted(None, KeyUse::Read).is_ok());
        assert!(matches!(
            check_unencrypted(Some(&customer), KeyUse::Read),
            Err(Error::Encryption(EncryptionError::NotApplicable))
        ));
    }

    #[test]
    fn master_key_file_round_trips() {
        let master = MasterKey::generate();
        let text = master.to_file_contents();
        assert!(text.ends_with('\n'));
        let back = MasterKey::from_file_contents(text.as_bytes()).unwrap();
        assert_eq!(back.id(), master.id());
        let raw = MasterKey::from_file_contents(&KEY).unwrap();
        assert_eq!(raw.id(), MasterKey::from_bytes(KEY).id());
        assert!(MasterKey::from_file_contents(b"short").is_err());
        assert!(MasterKey::from_file_contents(B64.encode([1u8; 31]).as_bytes()).is_err());
        assert!(!format!("{master:?}").contains(&B64.encode(master.key.0)));
    }

    #[test]
    fn info_stored_form_round_trips() {
        let master = MasterKey::generate();
        let customer = EncryptionInfo::customer(&CustomerKey::from_bytes(KEY));
        let (managed, _) = EncryptionInfo::managed(&master).unwrap();
        let small = managed.clone().with_chunk_size(16).unwrap();
        for info in [customer, managed, small] {
            let stored = info.encode();
            assert!(stored.starts_with("sse1;"), "{stored}");
            assert_eq!(EncryptionInfo::decode(&stored).unwrap(), info);
        }
        for bad in [
            "",
            "sse2;c;65536;00;00;00",
            "sse1;x;65536;00000000000000000000000000000000;00;00",
            "sse1;c;0;00000000000000000000000000000000;00000000000000000000000000000000;00",
            "sse1;c;65536;0000;00000000000000000000000000000000;00",
        ] {
            assert!(
                matches!(
                    EncryptionInfo::decode(bad),
                    Err(Error::Encryption(EncryptionError::InvalidStoredForm(_)))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn write_encryption_decisions() {
        let key = || Some(CustomerKey::from_bytes(KEY));
        let default = BucketEncryption {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            bucket_key_enabled: false,
        };
        let decide = |requested, kms: Option<&str>, customer, default| {
            WriteEncryption::decide(requested, kms.map(str::to_owned), None, customer, default)
        };
        assert!(matches!(
            decide(Some(SseAlgorithm::Aes256), None, key(), None),
            Err(Error::Encryption(
                EncryptionError::CustomerKeyWithServerSideEncryption
            ))
        ));
        assert!(matches!(
            decide(None, None, key(), Some(&default)).unwrap(),
            WriteEncryption::Customer(_)
        ));
        assert!(matches!(
            decide(None, None, None, Some(&default)).unwrap(),
            WriteEncryption::Managed
        ));
        assert!(matches!(
            decide(Some(SseAlgorithm::Aes256), None, None, None).unwrap(),
            WriteEncryption::Managed
        ));
        assert!(matches!(
            decide(None, None, None, None).unwrap(),
            WriteEncryption::None
        ));
        // A KMS key id needs aws:kms; a KMS default gives its key id.
        assert!(matches!(
            decide(None, Some("k"), None, None),
            Err(Error::Encryption(EncryptionError::KmsKeyIdWithoutKmsHeader))
        ));
        assert!(matches!(
            decide(Some(SseAlgorithm::Aes256), Some("k"), None, None),
            Err(Error::Encryption(EncryptionError::KmsKeyIdWithoutKmsHeader))
        ));
        assert!(matches!(
            decide(Some(SseAlgorithm::KmsDsse), Some("k"), None, None).unwrap(),
            WriteEncryption::Kms { key_id: Some(k), dsse: true, bucket_key: false } if k == "k"
        ));
        let kms_default = BucketEncryption {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("d".into()),
            bucket_key_enabled: true,
        };
        assert!(matches!(
            decide(None, None, None, Some(&kms_default)).unwrap(),
            WriteEncryption::Kms { key_id: Some(k), dsse: false, bucket_key: true } if k == "d"
        ));
        let master = MasterKey::generate();
        let no_kms = |_: Option<&str>| -> Result<(String, String)> { unreachable!() };
        assert!(WriteEncryption::None
            .start(&master, no_kms)
            .unwrap()
            .is_none());
        let (info, _) = WriteEncryption::Managed
            .start(&master, no_kms)
            .unwrap()
            .unwrap();
        assert!(!info.is_customer());
    }

    #[test]
    fn kms_objects_open_with_their_derived_key_only() {
        let master = MasterKey::generate();
        let write = WriteEncryption::Kms {
            key_id: Some("k1".into()),
            dsse: false,
            bucket_key: true,
        };
        let resolve = |id: Option<&str>| Ok((id.unwrap().to_owned(), "arn:k1".to_owned()));
        let (info, key) = write.start(&master, resolve).unwrap().unwrap();
        let stored = EncryptionInfo::decode(&info.encode()).unwrap();
        assert_eq!(stored, info);
        let opened = stored.object_key(None, &master, KeyUse::Read).unwrap();
        assert_eq!(opened.bytes(), key.bytes());
        let SseKind::Kms(kms, _) = &stored.kind else {
            panic!("{stored:?}")
        };
        assert_eq!((kms.name.as_str(), kms.arn.as_str()), ("k1", "arn:k1"));
        assert!(kms.bucket_key && !kms.dsse);
        // Another master key (so another derived key) cannot open it; a customer key is refused.
        assert!(stored
            .object_key(None, &MasterKey::generate(), KeyUse::Read)
            .is_err());
        assert!(matches!(
            stored.object_key(Some(&CustomerKey::from_bytes(KEY)), &master, KeyUse::Read),
            Err(Error::Encryption(EncryptionError::NotApplicable))
        ));
        // A record naming another key does not open with this one's wrapped data key.
        let mut renamed = stored.clone();
        if let SseKind::Kms(k, _) = &mut renamed.kind {
            k.name = "k2".into();
        }
        assert!(renamed.object_key(None, &master, KeyUse::Read).is_err());
    }

    #[test]
    fn kms_key_ids_resolve_to_local_keys() {
        let known = |n: &str| n == "testkey-1";
        let r = |id| KmsKey::resolve(id, "us-east-1", "123456789012", known);
        let arn = "arn:aws:kms:us-east-1:123456789012:key/testkey-1".to_owned();
        for id in [
            "testkey-1",
            "alias/testkey-1",
            arn.as_str(),
            "arn:aws:kms:us-east-1:123456789012:alias/testkey-1",
        ] {
            assert_eq!(
                r(Some(id)).unwrap(),
                ("testkey-1".to_owned(), arn.clone()),
                "{id}"
            );
        }
        assert_eq!(
            r(None).unwrap(),
            (
                DEFAULT_KMS_KEY.to_owned(),
                "arn:aws:kms:us-east-1:123456789012:alias/aws/s3".to_owned()
            )
        );
        assert_eq!(r(Some("alias/aws/s3")).unwrap().0, DEFAULT_KMS_KEY);
        for bad in [
            "testkey-2",
            "",
            "alias/",
            "arn:aws:kms:eu-west-1:123456789012:key/testkey-1",
            "arn:aws:kms:us-east-1:999999999999:key/testkey-1",
            "arn:aws:kms:us-east-1",
        ] {
            assert!(
                matches!(
                    r(Some(bad)),
                    Err(Error::Encryption(EncryptionError::KmsKeyNotFound(_)))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn sse_algorithm_values() {
        assert_eq!(SseAlgorithm::parse("AES256").unwrap(), SseAlgorithm::Aes256);
        assert_eq!(SseAlgorithm::parse("aws:kms").unwrap(), SseAlgorithm::Kms);
        assert_eq!(
            SseAlgorithm::parse("aws:kms:dsse").unwrap(),
            SseAlgorithm::KmsDsse
        );
        assert!(matches!(
            SseAlgorithm::parse("aes256"),
            Err(Error::Encryption(EncryptionError::InvalidEncryptionMethod(
                _
            )))
        ));
    }

    #[test]
    fn bucket_encryption_rules_and_stored_form() {
        let c = BucketEncryption::from_rules(&[("AES256", None, Some(true))]).unwrap();
        assert!(c.bucket_key_enabled);
        for c in [
            c,
            BucketEncryption::from_rules(&[("AES256", None, None)]).unwrap(),
            BucketEncryption::from_rules(&[("aws:kms", Some("k;1"), Some(true))]).unwrap(),
            BucketEncryption::from_rules(&[("aws:kms:dsse", None, None)]).unwrap(),
        ] {
            assert_eq!(BucketEncryption::decode(&c.encode()).unwrap(), c);
        }
        let e = |rules: &[(&str, Option<&str>, Option<bool>)]| match BucketEncryption::from_rules(
            rules,
        ) {
            Err(Error::Encryption(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e(&[("AES256", Some("arn:aws:kms:key"), None)]),
            EncryptionError::KmsKeyIdWithoutKms
        );
        assert!(matches!(e(&[]), EncryptionError::MalformedConfiguration(_)));
        assert!(matches!(
            e(&[("AES256", None, None), ("AES256", None, None)]),
            EncryptionError::MalformedConfiguration(_)
        ));
        assert!(matches!(
            e(&[("DES", None, None)]),
            EncryptionError::MalformedConfiguration(_)
        ));
        for bad in [
            "",
            "v1",
            "v2;AES256",
            "v1;aws:kms;kms=zz",
            "v1;AES256;x",
            "v1;AES256;bucket-key;x",
        ] {
            assert!(BucketEncryption::decode(bad).is_err(), "{bad}");
        }
    }
}
