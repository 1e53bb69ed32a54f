//! This machine's MD5 ceiling: one thread per core, each hashing the same
//! 16 MiB buffer over and over for a fixed time.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

/// The size of the buffer each thread hashes repeatedly.
pub const MD5_BUFFER: usize = 16 << 20;

#[derive(Clone, Debug)]
pub struct Md5Result {
    pub threads: usize,
    pub seconds: f64,
    pub bytes: u64,
    /// Decimal GB/s, all threads together.
    pub gbps_total: f64,
    pub gbps_per_core: f64,
}

/// Hashes `buf` (normally 16 MiB) on `threads` threads for about `duration`.
pub fn run(buf: &[u8], threads: usize, duration: Duration) -> Md5Result {
    let threads = threads.max(1);
    let barrier = Barrier::new(threads + 1);
    let (bytes, seconds) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    let mut bytes = 0u64;
                    // At least one pass, however short the duration.
                    loop {
                        black_box(Md5::digest(black_box(buf)));
                        bytes += buf.len() as u64;
                        if start.elapsed() >= duration {
                            break;
                        }
                    }
                    bytes
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let bytes: u64 = handles
            .into_iter()
            .map(|h| h.join().expect("md5 thread panicked"))
            .sum();
        (bytes, start.elapsed().as_secs_f64())
    });
    let gbps_total = bytes as f64 / 1e9 / seconds;
    Md5Result {
        threads,
        seconds,
        bytes,
        gbps_total,
        gbps_per_core: gbps_total / threads as f64,
    }
}

/// One thread per core this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_the_real_thing() {
        assert_eq!(
            hex::encode(Md5::digest(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn short_run_counts_whole_passes() {
        let buf = vec![7u8; 1 << 16];
        let r = run(&buf, 2, Duration::from_millis(20));
        assert_eq!(r.threads, 2);
        assert!(r.bytes >= 2 << 16);
        assert_eq!(r.bytes % (1 << 16), 0);
        assert!(r.gbps_total > 0.0);
        assert!((r.gbps_per_core * 2.0 - r.gbps_total).abs() < 1e-9);
    }
}
