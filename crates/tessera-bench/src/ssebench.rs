//! What server-side encryption costs a core: one thread passes the same buffer, in 64 KiB
//! pieces (like request body frames), through a plain copy, the chunked AES-256-GCM sealer and
//! the opener, each for a fixed time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use tessera_core::records::BlobId;
use tessera_core::sse::{EncryptionInfo, KeyUse, MasterKey};
use tessera_core::sse_stream::{ciphertext_len, BlobCipher, Opener, Sealer, DEFAULT_CHUNK_SIZE};

/// The size of the pieces the buffer is fed in.
pub const PIECE: usize = 64 << 10;

#[derive(Clone, Debug)]
pub struct SseResult {
    pub buffer: usize,
    pub seconds_each: f64,
    /// Decimal GB/s of plaintext, one core.
    pub copy_gbps: f64,
    pub encrypt_gbps: f64,
    pub decrypt_gbps: f64,
}

/// Measures copy, encrypt and decrypt of `buf` for about `duration` each.
pub fn run(buf: &[u8], duration: Duration) -> Result<SseResult> {
    let master = MasterKey::generate();
    let (info, key) = EncryptionInfo::managed(&master).map_err(|e| anyhow!("{e}"))?;
    let blob = BlobId::random();
    let cipher = info.blob_cipher(&key, &blob).map_err(|e| anyhow!("{e}"))?;
    // The read path's work includes opening the data key, as each GET does.
    let reopen = || -> Result<BlobCipher> {
        let k = info
            .object_key(None, &master, KeyUse::Read)
            .map_err(|e| anyhow!("{e}"))?;
        info.blob_cipher(&k, &blob).map_err(|e| anyhow!("{e}"))
    };

    let mut dst = vec![0u8; buf.len()];
    let copy_gbps = measure(duration, buf.len(), || {
        for (d, s) in dst.chunks_mut(PIECE).zip(buf.chunks(PIECE)) {
            d.copy_from_slice(black_box(s));
        }
        black_box(&dst);
        Ok(())
    })?;

    let seal = |cipher: BlobCipher| -> Result<Vec<bytes::Bytes>> {
        let mut s = Sealer::new(cipher);
        let mut out = Vec::with_capacity(buf.len() / DEFAULT_CHUNK_SIZE as usize + 1);
        for piece in buf.chunks(PIECE) {
            out.extend(s.push(black_box(piece))?);
        }
        out.push(s.finish()?);
        Ok(out)
    };
    // Each sealed chunk is dropped at once, as the server drops it once written.
    let encrypt_gbps = measure(duration, buf.len(), || {
        let mut s = Sealer::new(cipher.clone());
        for piece in buf.chunks(PIECE) {
            black_box(s.push(black_box(piece))?);
        }
        black_box(s.finish()?);
        Ok(())
    })?;

    let sealed: Vec<u8> = seal(cipher)?.concat();
    if sealed.len() as u64 != ciphertext_len(buf.len() as u64, DEFAULT_CHUNK_SIZE) {
        return Err(anyhow!("sealed length is not ciphertext_len"));
    }
    let len = buf.len() as u64;
    let decrypt_gbps = measure(duration, buf.len(), || {
        let mut o = Opener::new(reopen()?, len, 0, len).map_err(|e| anyhow!("{e}"))?;
        for piece in sealed.chunks(PIECE) {
            black_box(o.push(piece)?);
        }
        o.finish()?;
        Ok(())
    })?;
    // The figures mean nothing if the round trip is wrong.
    let mut o = Opener::new(reopen()?, len, 0, len).map_err(|e| anyhow!("{e}"))?;
    let back: Vec<u8> = o.push(&sealed)?.concat();
    o.finish()?;
    if back != buf {
        return Err(anyhow!("decrypted bytes differ from the plaintext"));
    }
    Ok(SseResult {
        buffer: buf.len(),
        seconds_each: duration.as_secs_f64(),
        copy_gbps,
        encrypt_gbps,
        decrypt_gbps,
    })
}

/// Runs `pass` (over `bytes` bytes) repeatedly for about `duration`; decimal GB/s.
fn measure(duration: Duration, bytes: usize, mut pass: impl FnMut() -> Result<()>) -> Result<f64> {
    pass()?; // warm caches and allocator
    let start = Instant::now();
    let mut total = 0u64;
    loop {
        pass()?;
        total += bytes as u64;
        if start.elapsed() >= duration {
            break;
        }
    }
    Ok(total as f64 / 1e9 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_run_round_trips() {
        let buf: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let r = run(&buf, Duration::from_millis(5)).unwrap();
        assert!(r.copy_gbps > 0.0 && r.encrypt_gbps > 0.0 && r.decrypt_gbps > 0.0);
    }
}
