//! MetaStore backends for Tessera, and the conformance suite every backend must pass.
//!
//! - [`SqliteMetaStore`]: metadata in one SQLite file, with group commit.
//! - [`conformance`]: the behaviour every [`tessera_core::MetaStore`] must show, written once;
//!   run it with [`meta_store_conformance!`].

pub mod conformance;
pub mod sqlite;

pub use sqlite::SqliteMetaStore;
