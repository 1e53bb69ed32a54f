//! MetaStore backends for Tessera, and the conformance suite every backend must pass.
//!
//! - [`SqliteMetaStore`]: metadata in one SQLite file, with group commit.
//! - [`conformance`]: the behaviour every [`tessera_core::MetaStore`] must show, written once;
//!   run it with [`meta_store_conformance!`].

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

#[allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic is a failed case
pub mod conformance;
pub mod sqlite;

pub use sqlite::SqliteMetaStore;
