//! Test support for Tessera's two ports, usable by any backend without compiling SQLite:
//! - in-memory stores (`MemMetaStore`, `MemBlobStore`) that pass the same suites as the real ones;
//! - the conformance suites every `MetaStore` and `BlobStore` backend runs, each written once.

pub mod blob_conformance;
pub mod mem_blob;

pub use mem_blob::MemBlobStore;
