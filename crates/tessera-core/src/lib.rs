//! Tessera's domain: buckets, objects, multipart uploads, the ETag and checksum rules,
//! and the two ports the domain needs, [`MetaStore`] and [`BlobStore`].
//! No HTTP, no SQL, no files: those live in the adapter and backend crates.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod access;
pub mod accounts;
pub mod acl;
pub mod blob;
pub mod checksum;
pub mod conditions;
pub mod cors;
pub mod error;
pub mod etag;
mod identities;
mod ids;
mod kinds;
mod leases;
pub mod lifecycle;
mod lifecycle_worker;
pub mod listing;
pub mod lock;
pub mod meta;
pub mod multipart;
pub mod names;
pub mod objects;
pub mod payload;
pub mod policy;
pub mod post_policy;
pub mod records;
pub mod sse;
pub mod sse_config;
pub mod sse_io;
pub mod sse_stream;
pub mod tagging;
pub mod tessera;
pub mod versions;

pub use blob::{BlobInfo, BlobStore, BlobWriter, ByteStream, TempInfo};
pub use error::{AccessError, Error, Result};
pub use identities::{s3_resource_arn, AccessRequest, ResolvedKey, ROOT_ACCOUNT_NAME};
pub use lifecycle_worker::LifecycleReport;
pub use meta::MetaStore;
pub use records::*;
pub use tessera::{Background, Options, SweepReport, Tessera, Unreferenced};
