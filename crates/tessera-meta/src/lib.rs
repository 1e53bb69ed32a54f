//! MetaStore backends for Tessera.
//!
//! - [`SqliteMetaStore`]: metadata in one SQLite file, with group commit. Its schema is
//!   versioned ([`SCHEMA_VERSION`], in `PRAGMA user_version`) and upgraded in place at open by
//!   the steps of [`migrate`]; a database of a newer schema is refused
//!   ([`OpenError::SchemaTooNew`]).
//!
//! Every backend passes the conformance suite of `tessera-testing`
//! (`tessera_testing::meta_store_conformance!`, run by `tests/sqlite.rs`).

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod identity;
pub mod migrate;
pub mod sqlite;

pub use migrate::{OpenError, SCHEMA_VERSION};
pub use sqlite::SqliteMetaStore;
