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
//! | object_store | seerstore |
//! | --- | --- |
//! | `Path` | the key `Path::as_ref()`, verbatim; a key the seerstore rules refuse (empty, `\`, a `.seerstore-tmp` segment, over 1024 bytes) fails before any I/O |
//! | `e_tag` | the seerstore version token ([`ObjectMeta::version`]); `ObjectMeta::version` is always `None` |
//! | `put_opts` | `write_with` (`PutMode::Overwrite`/`Create`/`Update{e_tag}` → [`WriteMode`]) |
//! | `put_multipart_opts` | `writer()`: parts are written in the order `put_part` was called |
//! | `get_opts` | `head`, the conditions, then `read_range` (objects over 8 MiB streamed in 8 MiB ranges) |
//! | `get_ranges` | one `read_ranges` |
//! | `delete` | `delete` (a missing key is `Ok`, as on S3 and `InMemory`) |
//! | `list`, `list_with_offset` | `list`, filtered |
//! | `list_with_delimiter` | `list` of everything below the prefix, folded into common prefixes |
//! | `copy`, `rename` (and `_if_not_exists`) | emulated: read, write, delete (see below) |
//!
//! # What is emulated, and what a crash leaves
//!
//! The [`Storage`] trait has no copy, rename or streaming read, so:
//!
//! * **`copy`** reads the source and writes the destination. Up to 8 MiB
//!   it is one `read` and one `write`; a larger object is streamed through
//!   `writer()` in 8 MiB ranges (bounded memory), and the copy is aborted if
//!   the source's version changed meanwhile. The destination is replaced
//!   atomically, so a crash leaves the old destination or the whole copy.
//! * **`copy_if_not_exists`** reads the whole source into memory and writes
//!   it with [`WriteMode::Create`], so the "if not exists" is as atomic as the
//!   backend's `Create`; memory is the object's size.
//! * **`rename`** (and `rename_if_not_exists`) is the copy above followed by
//!   a `delete` of the source. It is **not atomic**: a concurrent reader may
//!   see both objects, and a crash between the two steps leaves both (the
//!   destination complete, the source untouched); never neither. The delete
//!   is not conditional, so a source replaced between the copy and the
//!   delete is deleted with the old copy at the destination. Renaming a key
//!   onto itself only checks that it exists.
//! * **Reads** pair metadata (`head`) with data (`read_range`) from two
//!   calls. Where the backend has versions, the version is checked again
//!   after the data: an object replaced in between is read again (up to 16
//!   times, with a short growing pause between) for reads up to 8 MiB, and
//!   ends a longer stream with an error rather than mixing two versions.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use futures::SinkExt;
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    RenameTargetMode, UploadPart,
};

use crate::error::Error;
use crate::storage::{ObjectMeta, Storage, StorageWriter, WriteMode};

/// The `store` name in `object_store::Error::Generic`.
const STORE: &str = "seerstore";
/// Reads and copies larger than this are streamed in ranges of this size.
const CHUNK: u64 = 8 * 1024 * 1024;
/// How often a small read is tried when the object keeps being replaced
/// under it (object_store's own suite has 5 writers increment one object;
/// with 3 attempts a loaded machine saw a read lose all of them).
const CONSISTENT_READ_ATTEMPTS: u32 = 16;
/// Listed objects buffered ahead of the consumer.
const LIST_BUFFER: usize = 64;
/// Deletes of one `delete_stream` running at once.
const DELETE_CONCURRENCY: usize = 10;

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

    /// Head, conditions, then the data (see the module docs on consistency).
    async fn get_inner(&self, location: &Path, options: GetOptions) -> OsResult<GetResult> {
        let key = location.as_ref();
        for attempt in 0..CONSISTENT_READ_ATTEMPTS {
            if attempt > 0 {
                // Let the writers racing this read get ahead of it.
                tokio::time::sleep(std::time::Duration::from_micros(
                    100 * u64::from(attempt.min(20)),
                ))
                .await;
            }
            let meta = self.inner.head(key).await.map_err(to_os_error)?;
            let os_meta = to_os_meta(location.clone(), &meta);
            if let Some(version) = &options.version {
                if meta.version.as_ref() != Some(version) {
                    return Err(object_store::Error::NotFound {
                        path: key.to_owned(),
                        source: format!(
                            "version {version:?} is not the current version; \
                             seerstore keeps only the current one"
                        )
                        .into(),
                    });
                }
            }
            let has_date_condition =
                options.if_modified_since.is_some() || options.if_unmodified_since.is_some();
            if has_date_condition && meta.last_modified.is_none() {
                return Err(object_store::Error::NotSupported {
                    source: format!("{key}: the backend reports no modification time").into(),
                });
            }
            options.check_preconditions(&os_meta)?;
            let range = match &options.range {
                None => 0..meta.size,
                Some(range) => range
                    .as_range(meta.size)
                    .map_err(|e| generic(format!("{key}: {e}")))?,
            };
            let result = |payload: BoxStream<'static, OsResult<Bytes>>, meta| GetResult {
                payload: GetResultPayload::Stream(payload),
                meta,
                range: range.clone(),
                attributes: Default::default(),
                extensions: Default::default(),
            };
            if options.head {
                return Ok(result(stream::empty().boxed(), os_meta));
            }
            if range.end - range.start > CHUNK {
                let stream = chunked_read(self.inner.clone(), key.to_owned(), range.clone(), meta);
                return Ok(result(stream, os_meta));
            }
            let bytes = if range.is_empty() {
                Bytes::new()
            } else {
                self.inner
                    .read_range(key, range.clone())
                    .await
                    .map_err(to_os_error)?
            };
            if meta.version.is_some() {
                let now = self.inner.head(key).await.map_err(to_os_error)?;
                if now.version != meta.version {
                    continue; // Replaced between head and read: read again.
                }
            }
            return Ok(result(stream::once(async { Ok(bytes) }).boxed(), os_meta));
        }
        Err(generic(format!(
            "{key}: replaced during each of {CONSISTENT_READ_ATTEMPTS} reads"
        )))
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

    /// Copies `from` to `to`; `create` refuses an existing destination.
    async fn copy_inner(&self, from: &Path, to: &Path, create: bool) -> OsResult<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let meta = self.inner.head(from).await.map_err(to_os_error)?;
        if create || meta.size <= CHUNK {
            let data = self.inner.read(from).await.map_err(to_os_error)?;
            let mode = if create {
                WriteMode::Create
            } else {
                WriteMode::Overwrite
            };
            self.inner
                .write_with(to, data, mode)
                .await
                .map_err(to_os_error)?;
            return Ok(());
        }
        let mut writer = self.inner.writer(to).await.map_err(to_os_error)?;
        let mut start = 0;
        while start < meta.size {
            let end = (start + CHUNK).min(meta.size);
            let chunk = match self.inner.read_range(from, start..end).await {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(to_os_error(e));
                }
            };
            if let Err(e) = writer.write(chunk).await {
                let _ = writer.abort().await;
                return Err(to_os_error(e));
            }
            start = end;
        }
        if let Err(e) = check_unchanged(&*self.inner, from, &meta).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(to_os_error)?;
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
        Ok(Box::new(Upload::new(key.to_owned(), writer)))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> OsResult<GetResult> {
        self.get_inner(location, options).await
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
        let inner = Arc::clone(&self.inner);
        locations
            .map(move |location| {
                let inner = Arc::clone(&inner);
                async move {
                    let location = location?;
                    inner.delete(location.as_ref()).await.map_err(to_os_error)?;
                    Ok(location)
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
        let prefix = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        owned_list(Arc::clone(&self.inner), prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
        let offset = offset.clone();
        self.list(prefix)
            .filter(move |item| {
                let keep = match item {
                    Ok(meta) => meta.location > offset,
                    Err(_) => true,
                };
                futures::future::ready(keep)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> OsResult<ListResult> {
        let base = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        let mut listing = self.inner.list(&base);
        let mut common_prefixes = BTreeSet::new();
        let mut objects = BTreeMap::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(to_os_error)?;
            let rest = if base.is_empty() {
                meta.path.as_str()
            } else {
                match meta.path.strip_prefix(base.as_str()) {
                    Some(rest) => rest.trim_start_matches('/'),
                    None => continue,
                }
            };
            match rest.split_once('/') {
                Some((first, _)) => {
                    let dir = if base.is_empty() {
                        first.to_owned()
                    } else {
                        format!("{base}/{first}")
                    };
                    common_prefixes.insert(parse_listed(&dir)?);
                }
                None => {
                    let location = parse_listed(&meta.path)?;
                    objects.insert(location.clone(), to_os_meta(location, &meta));
                }
            }
        }
        Ok(ListResult {
            common_prefixes: common_prefixes.into_iter().collect(),
            objects: objects.into_values().collect(),
            extensions: Default::default(),
        })
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> OsResult<()> {
        let create = matches!(options.mode, CopyMode::Create);
        if from == to {
            return self.onto_itself(from, create, "copy").await;
        }
        self.copy_inner(from, to, create).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> OsResult<()> {
        let create = matches!(options.target_mode, RenameTargetMode::Create);
        if from == to {
            // Copy then delete would delete the object: renaming onto itself
            // changes nothing.
            return self.onto_itself(from, create, "rename").await;
        }
        self.copy_inner(from, to, create).await?;
        self.inner.delete(from.as_ref()).await.map_err(to_os_error)
    }
}

/// Fails if `key` is no longer at the version `meta` describes.
async fn check_unchanged(storage: &dyn Storage, key: &str, meta: &ObjectMeta) -> OsResult<()> {
    if meta.version.is_none() {
        return Ok(());
    }
    let now = storage.head(key).await.map_err(to_os_error)?;
    if now.version != meta.version {
        return Err(generic(format!(
            "{key}: replaced while it was being read (version {:?}, now {:?})",
            meta.version, now.version
        )));
    }
    Ok(())
}

/// A read of `range` in `CHUNK`-sized `read_range`s, checked at the end
/// against the version the metadata came from.
fn chunked_read(
    storage: Arc<dyn Storage>,
    key: String,
    range: Range<u64>,
    meta: ObjectMeta,
) -> BoxStream<'static, OsResult<Bytes>> {
    struct State {
        storage: Arc<dyn Storage>,
        key: String,
        next: u64,
        end: u64,
        meta: ObjectMeta,
        done: bool,
    }
    let state = State {
        storage,
        key,
        next: range.start,
        end: range.end,
        meta,
        done: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        if state.next >= state.end {
            state.done = true;
            return match check_unchanged(&*state.storage, &state.key, &state.meta).await {
                Ok(()) => None,
                Err(e) => Some((Err(e), state)),
            };
        }
        let end = (state.next + CHUNK).min(state.end);
        match state.storage.read_range(&state.key, state.next..end).await {
            Ok(bytes) => {
                state.next = end;
                Some((Ok(bytes), state))
            }
            Err(e) => {
                state.done = true;
                Some((Err(to_os_error(e)), state))
            }
        }
    })
    .boxed()
}

/// `storage.list(prefix)` as a `'static` stream: the listing runs inside a
/// future that owns the `Arc`, and hands items over a bounded channel.
fn owned_list(
    storage: Arc<dyn Storage>,
    prefix: String,
) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
    let (mut tx, rx) = futures::channel::mpsc::channel(LIST_BUFFER);
    let producer = async move {
        let mut listing = storage.list(&prefix);
        while let Some(item) = listing.next().await {
            let item = item.map_err(to_os_error).and_then(|meta| {
                let location = parse_listed(&meta.path)?;
                Ok(to_os_meta(location, &meta))
            });
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break; // The consumer went away, or the listing ended in an error.
            }
        }
    };
    let producer = stream::once(producer)
        .filter_map(|()| futures::future::ready(None::<OsResult<object_store::ObjectMeta>>));
    stream::select(producer, rx).boxed()
}

/// A listed key as an object_store path.
fn parse_listed(key: &str) -> OsResult<Path> {
    Path::parse(key).map_err(|e| object_store::Error::InvalidPath { source: e })
}

fn to_os_meta(location: Path, meta: &ObjectMeta) -> object_store::ObjectMeta {
    object_store::ObjectMeta {
        location,
        last_modified: meta.last_modified.unwrap_or(SystemTime::UNIX_EPOCH).into(),
        size: meta.size,
        e_tag: meta.version.clone(),
        version: None,
    }
}

fn put_result(meta: ObjectMeta) -> PutResult {
    PutResult {
        e_tag: meta.version,
        version: None,
        extensions: Default::default(),
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: message.into(),
    }
}

fn not_implemented(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: operation.to_owned(),
        implementer: "seerstore::ObjectStoreAdapter".to_owned(),
    }
}

/// seerstore's error as object_store's, keeping it as the `source()`.
pub(crate) fn to_os_error(err: Error) -> object_store::Error {
    match err {
        Error::NotFound { ref path, .. } => object_store::Error::NotFound {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::AlreadyExists { ref path, .. } => object_store::Error::AlreadyExists {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::Precondition { ref path, .. } => object_store::Error::Precondition {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::NotSupported { .. } => object_store::Error::NotSupported {
            source: Box::new(err),
        },
        other => object_store::Error::Generic {
            store: STORE,
            source: Box::new(other),
        },
    }
}

/// A multipart upload over a [`StorageWriter`].
///
/// Parts are registered in the order `put_part` is called (object_store's
/// part order) and written to the writer in that order, whichever part
/// future is polled first: the first future polled writes every part
/// registered so far. Parts held back are the caller's own `PutPayload`s
/// (reference-counted, not copied).
struct Upload {
    key: String,
    shared: Arc<UploadShared>,
    next_index: usize,
}

struct UploadShared {
    /// Parts registered and not yet written, by index.
    pending: StdMutex<BTreeMap<usize, PutPayload>>,
    /// The writer, the index of the next part it takes, and the first error.
    writer: tokio::sync::Mutex<WriterState>,
}

struct WriterState {
    writer: Option<Box<dyn StorageWriter>>,
    next: usize,
    failed: Option<String>,
}

impl Upload {
    fn new(key: String, writer: Box<dyn StorageWriter>) -> Self {
        Self {
            key,
            shared: Arc::new(UploadShared {
                pending: StdMutex::new(BTreeMap::new()),
                writer: tokio::sync::Mutex::new(WriterState {
                    writer: Some(writer),
                    next: 0,
                    failed: None,
                }),
            }),
            next_index: 0,
        }
    }
}

impl UploadShared {
    /// Writes every registered part whose turn has come.
    async fn drain(&self, key: &str) -> OsResult<()> {
        let mut state = self.writer.lock().await;
        loop {
            if let Some(failed) = &state.failed {
                return Err(generic(format!("{key}: upload failed earlier: {failed}")));
            }
            let next = state.next;
            let part = {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending.remove(&next)
            };
            let Some(part) = part else { return Ok(()) };
            let Some(writer) = state.writer.as_mut() else {
                return Err(generic(format!(
                    "{key}: upload already completed or aborted"
                )));
            };
            for chunk in &part {
                if let Err(e) = writer.write(chunk.clone()).await {
                    state.failed = Some(e.to_string());
                    return Err(to_os_error(e));
                }
            }
            state.next += 1;
        }
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("key", &self.key)
            .field("parts", &self.next_index)
            .finish()
    }
}

#[async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next_index;
        self.next_index += 1;
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(index, data);
        let shared = Arc::clone(&self.shared);
        let key = self.key.clone();
        Box::pin(async move { shared.drain(&key).await })
    }

    async fn complete(&mut self) -> OsResult<PutResult> {
        self.shared.drain(&self.key).await?;
        let mut state = self.shared.writer.lock().await;
        if state.next != self.next_index {
            return Err(generic(format!(
                "{}: {} of {} parts written",
                self.key, state.next, self.next_index
            )));
        }
        let writer = state
            .writer
            .take()
            .ok_or_else(|| generic(format!("{}: upload already completed or aborted", self.key)))?;
        writer.finish().await.map(put_result).map_err(to_os_error)
    }

    async fn abort(&mut self) -> OsResult<()> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut state = self.shared.writer.lock().await;
        match state.writer.take() {
            Some(writer) => writer.abort().await.map_err(to_os_error),
            None => Ok(()),
        }
    }
}
