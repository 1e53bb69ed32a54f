//! Test support for Tessera's two ports, usable by any backend without compiling SQLite:
//! - in-memory stores (`MemMetaStore`, `MemBlobStore`) that pass the same suites as the real ones;
//! - the conformance suites every `MetaStore` and `BlobStore` backend runs, each written once.
//!
//! - [`MemMetaStore`]: a complete in-memory [`tessera_core::MetaStore`].
//! - [`MemBlobStore`]: a complete in-memory [`tessera_core::BlobStore`].
//! - [`meta_conformance`]: the behaviour every `MetaStore` must show; run it with
//!   [`meta_store_conformance!`].
//! - [`blob_conformance`]: the behaviour every `BlobStore` must show; run it with
//!   [`blob_store_conformance!`].

pub mod blob_conformance;
pub mod mem_blob;
pub mod mem_meta;
pub mod meta_conformance;

pub use mem_blob::MemBlobStore;
pub use mem_meta::MemMetaStore;
