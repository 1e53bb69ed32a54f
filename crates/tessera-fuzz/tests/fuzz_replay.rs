//! The bounded fuzz run of `cargo test`: for every target in `tessera_fuzz::TARGETS`,
//! (a) replays every file of its committed corpus (`fuzz/corpus/<target>/`), then
//! (b) runs it on a fixed number of inputs mutated from that corpus with a seeded PRNG.
//!
//! The seed is printed (`--nocapture`); set `TESSERA_FUZZ_SEED` to replay a run and
//! `TESSERA_FUZZ_ITERS` to change the number of mutated inputs per target. A failing input is
//! written to `target/fuzz-failures/` and printed, ready to add to the corpus.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use tessera_fuzz::mutate::{mutate, Rng};
use tessera_fuzz::TARGETS;

const DEFAULT_SEED: u64 = 0x7e55_e7a0_f022_2026;
/// Mutated inputs per target (debug build: the whole test stays within a few seconds).
const DEFAULT_ITERS: usize = 3000;

fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_target(name: &str) {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let dir = corpus_dir(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    let corpus: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("corpus file"))
        .collect();

    // (a) every committed input.
    for (file, data) in files.iter().zip(&corpus) {
        if catch_unwind(AssertUnwindSafe(|| (target.run)(data))).is_err() {
            panic!("{name}: corpus file {} fails", file.display());
        }
    }

    // (b) bounded mutation.
    let seed = env_or("TESSERA_FUZZ_SEED", DEFAULT_SEED);
    let iters = env_or("TESSERA_FUZZ_ITERS", DEFAULT_ITERS);
    println!(
        "{name}: {} corpus files, {iters} mutated inputs, TESSERA_FUZZ_SEED={seed}",
        corpus.len()
    );
    let mut rng = Rng::new(seed ^ fnv(name));
    let mut pool = corpus.clone();
    for _ in 0..iters {
        let base = pool[rng.below(pool.len())].clone();
        let input = mutate(&mut rng, &base, &corpus, 4096);
        if catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
            let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/fuzz-failures")
                .join(format!("{name}-{:016x}", fnv_bytes(&input)));
            let _ = std::fs::create_dir_all(out.parent().expect("parent"));
            let _ = std::fs::write(&out, &input);
            panic!(
                "{name}: mutated input fails (TESSERA_FUZZ_SEED={seed}); written to {}; input {:?}",
                out.display(),
                String::from_utf8_lossy(&input)
            );
        }
        // Keep some mutants as bases, so mutations stack.
        if pool.len() < 256 && rng.below(8) == 0 {
            pool.push(input);
        }
    }
}

fn fnv_bytes(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn fnv(s: &str) -> u64 {
    fnv_bytes(s.as_bytes())
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    let tested = [
        "aws_chunked",
        "body_framing",
        "checksum",
        "copy_source",
        "etag_names",
        "post_form",
        "range",
        "sigv2",
        "sigv4_checks",
        "xml_bodies",
    ];
    for t in TARGETS {
        assert!(
            tested.contains(&t.name),
            "target {} has no test below",
            t.name
        );
        assert!(corpus_dir(t.name).is_dir(), "no corpus for {}", t.name);
    }
}

#[test]
fn aws_chunked() {
    run_target("aws_chunked");
}

#[test]
fn body_framing() {
    run_target("body_framing");
}

#[test]
fn checksum() {
    run_target("checksum");
}

#[test]
fn copy_source() {
    run_target("copy_source");
}

#[test]
fn etag_names() {
    run_target("etag_names");
}

#[test]
fn post_form() {
    run_target("post_form");
}

#[test]
fn range() {
    run_target("range");
}

#[test]
fn sigv2() {
    run_target("sigv2");
}

#[test]
fn sigv4_checks() {
    run_target("sigv4_checks");
}

#[test]
fn xml_bodies() {
    run_target("xml_bodies");
}
