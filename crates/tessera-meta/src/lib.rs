//! MetaStore backends for Tessera.
//!
//! - [`SqliteMetaStore`]: metadata in one SQLite file, with group commit.
//!
//! Every backend passes the conformance suite of `tessera-testing`
//! (`tessera_testing::meta_store_conformance!`, run by `tests/sqlite.rs`).

pub mod sqlite;

pub use sqlite::SqliteMetaStore;
