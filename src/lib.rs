//! # seerstore
//!
//! The async-native storage layer for tokio-based databases: SSTables,
//! manifests and WAL segments on local disk or in object storage (S3, GCS,
//! Azure and S3-compatible stores), behind one object-safe [`Storage`] trait.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> seerstore::Result<()> {
//! use bytes::Bytes;
//! use seerstore::{Storage, WriteMode};
//!
//! let dir = tempfile::tempdir().expect("temp dir");
//! let url = format!("file://{}", dir.path().display());
//! let storage = seerstore::open(&url).await?;
//!
//! storage.write("L0/000001.sst", Bytes::from_static(b"block0block1")).await?;
//! assert_eq!(storage.read_range("L0/000001.sst", 6..12).await?, "block1");
//!
//! let meta = storage
//!     .write_with("MANIFEST", Bytes::from_static(b"v1"), WriteMode::Create)
//!     .await?;
//! let version = meta.version.expect("local files have versions");
//! storage
//!     .write_with("MANIFEST", Bytes::from_static(b"v2"), WriteMode::Update(version))
//!     .await?;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
#[cfg(feature = "http-connector")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-connector")))]
pub mod http;
mod local;
mod object;
mod open;
pub mod path;
mod probe;
mod retry;
mod storage;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use error::{Error, Operation, Result};
pub use local::{LocalStorage, LocalStorageBuilder};
pub use object::ObjectStorage;
pub use open::{open, open_with};
pub use probe::{probe, Probe, PROBE_PREFIX};
pub use retry::RetryConfig;
pub use storage::{check_range, ObjectMeta, Storage, StorageWriter, WriteMode};
