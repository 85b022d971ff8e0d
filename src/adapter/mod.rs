//! [`ObjectStoreAdapter`]: any seerstore [`Storage`] as an
//! [`object_store::ObjectStore`], so that a `LocalStorage` (or any stack of
//! wrappers) plugs into code written against object_store — DataFusion,
//! Arrow, Lance, delta-rs — unchanged.
//!
//! # Where it sits
//!
//! On top of a stack, facing object_store callers:
//!
//! ```text
//! DataFusion ─► ObjectStoreAdapter ─► Cached<…> ─► ObjectStorage / LocalStorage
//! ```
//!
//! It adds no retries of its own (the backend below retries, once) and keeps
//! no state besides the `Arc<dyn Storage>`.
//!
//! # How object_store calls map
//!
//! Every object_store call is ONE seerstore call (the exceptions say why),
//! so a backend's native operation — one GET, a server-side copy, a batch
//! delete, an atomic local rename — reaches object_store callers as it is.
//!
//! | object_store | seerstore |
//! | --- | --- |
//! | `Path` | the key `Path::as_ref()`, verbatim; a key the seerstore rules refuse (empty, `\`, a `.seerstore-tmp` segment, over 1024 bytes) fails before any I/O |
//! | `e_tag` | the seerstore version token ([`ObjectMeta::version`](crate::ObjectMeta::version)); `ObjectMeta::version` is always `None` |
//! | `put_opts` | `write_with` (`PutMode::Overwrite`/`Create`/`Update{e_tag}` → [`WriteMode`]) |
//! | `put_multipart_opts` | `writer()`: parts are written in the order `put_part` was called |
//! | `get_opts`, `get_range` | one [`read_with`](Storage::read_with) (range, `if_match`, `if_none_match`; the version pinned by `if_match` for each further 8 MiB chunk of a longer read); `head: true` is one `head`; a `Suffix` range is `head` then `read_with` (the size decides where it starts) |
//! | `head` | `head` |
//! | `get_ranges` | one `read_ranges` |
//! | `delete` | `delete` (a missing key is `Ok`, as on S3 and `InMemory`) |
//! | `delete_stream` | [`delete_many`](Storage::delete_many) per batch of up to 1,000 paths |
//! | `list` | `list` |
//! | `list_with_offset` | [`list_with`](Storage::list_with) with the offset |
//! | `list_with_delimiter` | [`list_dir`](Storage::list_dir) |
//! | `copy`, `copy_if_not_exists` | [`copy`](Storage::copy) (`Overwrite`, `Create`) |
//! | `rename`, `rename_if_not_exists` | [`rename`](Storage::rename) (`Overwrite`, `Create`): atomic on local disk, copy-then-delete on object stores |
//!
//! A copy or rename of a key onto itself only checks that the object
//! exists (and fails for the `_if_not_exists` forms), as object_store's
//! stores do; seerstore's own `copy` and `rename` refuse it.
//!
//! # What is not supported
//!
//! * Attributes (`PutOptions::attributes`): `NotImplemented`, like
//!   object_store's `LocalFileSystem`. Tags are ignored, also like it.
//! * `GetOptions::version` other than the current version token: `NotFound`
//!   (seerstore keeps one version of each object).
//! * `if_modified_since`/`if_unmodified_since` on a backend that reports no
//!   modification time: `NotSupported`.
//!
//! # Errors
//!
//! seerstore's [`Error`] becomes object_store's: `NotFound`,
//! `AlreadyExists` and `Precondition` map to the same variants; a
//! `NotSupported` conditional write to `NotImplemented` (object_store's own
//! convention for `PutMode`s a store lacks); other `NotSupported` to
//! `NotSupported`; everything else, invalid keys included, to `Generic`
//! with the seerstore error as its `source()` (object_store's
//! `InvalidPath` can only carry object_store's own path-parse errors, which
//! cannot say which seerstore rule a key broke).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    RenameTargetMode,
};

use crate::error::Error;
use crate::storage::{ListOptions, Storage, WriteMode};

use errors::to_os_error;
use errors::{not_implemented, put_result};
use upload::WriterUpload;

mod errors;
mod list;
mod read;
mod upload;

/// The `store` name in `object_store::Error::Generic`.
const STORE: &str = "seerstore";

type OsResult<T> = object_store::Result<T>;

/// Any [`Storage`] as an [`object_store::ObjectStore`].
///
/// See the [module docs](self) for how each call maps, what is emulated
/// (copy, rename) and what a crash in the middle of one leaves.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutMode};
/// use seerstore::{LocalStorage, ObjectStoreAdapter, Storage};
///
/// let dir = tempfile::tempdir()?;
/// let local: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await?);
/// let store: Arc<dyn ObjectStore> = Arc::new(ObjectStoreAdapter::new(local.clone()));
///
/// let path = Path::from("data/part-0.parquet");
/// let put = store.put_opts(&path, "PAR1".into(), PutMode::Create.into()).await?;
/// assert_eq!(store.get_range(&path, 0..2).await?, "PA");
/// // The e_tag is the seerstore version token: conditional updates round-trip.
/// assert_eq!(put.e_tag, local.head("data/part-0.parquet").await?.version);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ObjectStoreAdapter {
    inner: Arc<dyn Storage>,
}

impl ObjectStoreAdapter {
    /// Serves `inner` through object_store's trait.
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self { inner }
    }

    /// The storage underneath.
    pub fn get_ref(&self) -> &Arc<dyn Storage> {
        &self.inner
    }

    /// Gives the storage underneath back.
    pub fn into_inner(self) -> Arc<dyn Storage> {
        self.inner
    }

    /// A copy or rename (`what`) of `path` onto itself: the object must
    /// exist, and `create` refuses it (the destination exists); nothing
    /// changes.
    async fn onto_itself(&self, path: &Path, create: bool, what: &str) -> OsResult<()> {
        self.inner.head(path.as_ref()).await.map_err(to_os_error)?;
        if create {
            return Err(object_store::Error::AlreadyExists {
                path: path.to_string(),
                source: format!("{what} onto itself").into(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectStoreAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreAdapter")
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for ObjectStoreAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectStoreAdapter({:?})", self.inner)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStore for ObjectStoreAdapter {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> OsResult<PutResult> {
        let key = location.as_ref();
        if !opts.attributes.is_empty() {
            return Err(not_implemented("`put_opts` with `opts.attributes`"));
        }
        let mode = match opts.mode {
            PutMode::Overwrite => WriteMode::Overwrite,
            PutMode::Create => WriteMode::Create,
            PutMode::Update(version) => match version.e_tag {
                Some(e_tag) => WriteMode::Update(e_tag),
                None => {
                    return Err(object_store::Error::Precondition {
                        path: key.to_owned(),
                        source: "PutMode::Update without an e_tag (the seerstore version)".into(),
                    })
                }
            },
        };
        let conditional = mode != WriteMode::Overwrite;
        match self.inner.write_with(key, Bytes::from(payload), mode).await {
            Ok(meta) => Ok(put_result(meta)),
            Err(Error::NotSupported { what, .. }) if conditional => Err(not_implemented(&format!(
                "`put_opts` with a conditional `PutMode` ({what})"
            ))),
            Err(e) => Err(to_os_error(e)),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> OsResult<Box<dyn MultipartUpload>> {
        if !opts.attributes.is_empty() {
            return Err(not_implemented(
                "`put_multipart_opts` with `opts.attributes`",
            ));
        }
        let key = location.as_ref();
        let writer = self.inner.writer(key).await.map_err(to_os_error)?;
        Ok(Box::new(WriterUpload::new(key.to_owned(), writer)))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> OsResult<GetResult> {
        read::get_opts(&self.inner, location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> OsResult<Vec<Bytes>> {
        self.inner
            .read_ranges(location.as_ref(), ranges)
            .await
            .map_err(to_os_error)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, OsResult<Path>>,
    ) -> BoxStream<'static, OsResult<Path>> {
        list::delete_stream(Arc::clone(&self.inner), locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
        let prefix = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        list::owned_list(Arc::clone(&self.inner), prefix, ListOptions::default())
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
        let prefix = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        let options = ListOptions {
            offset: Some(offset.as_ref().to_owned()),
        };
        list::owned_list(Arc::clone(&self.inner), prefix, options)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> OsResult<ListResult> {
        list::list_with_delimiter(&*self.inner, prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> OsResult<()> {
        let create = matches!(options.mode, CopyMode::Create);
        if from == to {
            return self.onto_itself(from, create, "copy").await;
        }
        self.inner
            .copy(from.as_ref(), to.as_ref(), write_mode(create))
            .await
            .map(drop)
            .map_err(to_os_error)
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> OsResult<()> {
        let create = matches!(options.target_mode, RenameTargetMode::Create);
        if from == to {
            // Renaming onto itself changes nothing.
            return self.onto_itself(from, create, "rename").await;
        }
        self.inner
            .rename(from.as_ref(), to.as_ref(), write_mode(create))
            .await
            .map(drop)
            .map_err(to_os_error)
    }
}

/// The destination mode of a copy or rename: `Create` for the
/// `_if_not_exists` forms.
fn write_mode(create: bool) -> WriteMode {
    if create {
        WriteMode::Create
    } else {
        WriteMode::Overwrite
    }
}
