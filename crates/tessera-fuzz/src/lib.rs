//! Fuzz target bodies for Tessera's parsers of untrusted input, shared by the coverage-guided
//! targets in `fuzz/` (cargo-fuzz / libFuzzer, see FUZZING.md) and by `tests/fuzz_replay.rs`,
//! which `cargo test` runs: it replays the committed corpus and runs each target for a bounded
//! number of mutated inputs.
//!
//! Each target takes any byte string; a panic (including a failed invariant) is a finding.

// A panic is a finding here: targets assert their invariants with unwrap/expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod input;
pub mod mutate;
pub mod service;
pub mod sign;

pub mod targets {
    pub mod aws_chunked;
    pub mod body_framing;
    pub mod checksum;
    pub mod copy_source;
    pub mod etag_names;
    pub mod post_form;
    pub mod range;
    pub mod sigv2;
    pub mod sigv4_checks;
    pub mod xml_bodies;
}

/// A fuzz target: its name (the directory of its corpus under `fuzz/corpus/`) and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "aws_chunked",
        run: targets::aws_chunked::run,
    },
    Target {
        name: "body_framing",
        run: targets::body_framing::run,
    },
    Target {
        name: "checksum",
        run: targets::checksum::run,
    },
    Target {
        name: "copy_source",
        run: targets::copy_source::run,
    },
    Target {
        name: "etag_names",
        run: targets::etag_names::run,
    },
    Target {
        name: "post_form",
        run: targets::post_form::run,
    },
    Target {
        name: "range",
        run: targets::range::run,
    },
    Target {
        name: "sigv2",
        run: targets::sigv2::run,
    },
    Target {
        name: "sigv4_checks",
        run: targets::sigv4_checks::run,
    },
    Target {
        name: "xml_bodies",
        run: targets::xml_bodies::run,
    },
];
