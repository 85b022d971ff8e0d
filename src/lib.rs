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
//!
//! # Which backend
//!
//! | you keep data | use | URL for [`open`] | cargo feature |
//! | --- | --- | --- | --- |
//! | on local disk (hot SSTables, WAL, manifest) | [`LocalStorage`] | `file:///abs/dir` | none |
//! | in memory (tests) | [`ObjectStorage`] over `InMemory` | `memory://` | none |
//! | in S3 or an S3-compatible store (MinIO, R2, RustFS, ...) | [`ObjectStorage`] | `s3://bucket/prefix?endpoint=...` | `aws` |
//! | in Google Cloud Storage | [`ObjectStorage`] | `gs://bucket/prefix` | `gcp` |
//! | in Azure Blob Storage | [`ObjectStorage`] | `az://container/prefix` | `azure` |
//! | in any other `object_store::ObjectStore` | [`ObjectStorage::new`] | — | none |
//! | somewhere else entirely | your own [`Storage`] impl, checked with `conformance::run` | — | `conformance` |
//!
//! Whatever the backend, [`probe`] tells what it really honours
//! (conditional writes, versions, ranges), and so does `seerstore probe URL`
//! on the command line (feature `cli`).
//!
//! # Observing it
//!
//! * **Tracing** is always on: every backend call runs in a `DEBUG` span
//!   `storage` (backend, operation, path, bytes, attempt) and every retry
//!   emits an `INFO` event with its cause and delay. Nothing sensitive is
//!   recorded: keys are relative, errors appear by [`Error::kind`] only.
//!   With no subscriber installed this costs next to nothing.
//! * **Metrics** (feature `metrics`, through the `metrics` facade):
//!   wrap any storage in `Instrumented` for calls, bytes, errors and
//!   latency; the retry loop counts attempts and retries itself. The
//!   `instrumented` module says where it belongs in a stack.
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `aws`, `gcp`, `azure` | the cloud backends for [`open`] (object_store's builders and this crate's HTTP connector) |
//! | `metrics` | `Instrumented` and the retry loop's counters |
//! | `conformance` | the conformance suite, `seerstore::conformance` |
//! | `cli` | the `seerstore` binary (implies `aws`, `gcp`, `azure`) |
//! | `http-connector` | internal, on with the cloud features: the `http` module's `StatusConnector` |
//!
//! Details: `docs/FEATURES.md`.
//!
//! # Further reading
//!
//! * The [`Storage`] trait: the contract, method by method.
//! * [`open`]: URL schemes and options.
//! * [`RetryConfig`]: what is retried, how often and how long.
//! * `examples/`: `quickstart.rs`, `local.rs`, `s3_custom_endpoint.rs`,
//!   `cache_and_metrics.rs`, `prometheus.rs`, `custom_backend.rs`.
//! * `docs/ARCHITECTURE.md`, `docs/RETRIES.md`, `docs/FEATURES.md` in the
//!   repository.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod cache;
pub mod error;
#[cfg(feature = "http-connector")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-connector")))]
pub mod http;
mod in_flight;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod instrumented;
mod local;
mod object;
mod open;
pub mod path;
mod probe;
mod retry;
#[cfg(any(feature = "conformance", feature = "testing"))]
mod rng;
mod storage;
mod trace;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use adapter::ObjectStoreAdapter;
pub use cache::Cached;
pub use error::{Error, Operation, Result};
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use instrumented::Instrumented;
pub use local::{LocalStorage, LocalStorageBuilder};
pub use object::ObjectStorage;
pub use open::{open, open_with, redact_url};
pub use probe::{probe, Probe, PROBE_PREFIX};
pub use retry::RetryConfig;
pub use storage::{
    check_range, ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage,
    StorageAppender, StorageWriter, WriteMode,
};
