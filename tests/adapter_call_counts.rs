//! `ObjectStoreAdapter` makes exactly one seerstore call per object_store
//! call (the documented exceptions aside): a counting layer between the
//! adapter and the storage counts each method.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use seerstore::{
    ListOptions, Listing, LocalStorage, ObjectMeta, ObjectStorage, ObjectStoreAdapter, ReadOptions,
    ReadResult, Result, Storage, StorageAppender, StorageWriter, WriteMode,
};

/// Counts every call by method name, then forwards it.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    calls: Mutex<BTreeMap<&'static str, u32>>,
}

impl<S> Counting<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, method: &'static str) {
        *self.calls.lock().expect("lock").entry(method).or_default() += 1;
    }

    /// The calls since the last `take`, and a fresh count.
    fn take(&self) -> BTreeMap<&'static str, u32> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: Storage> Storage for Counting<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        self.count("read_range");
        self.inner.read_range(path, range).await
    }
    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.count("read_ranges");
        self.inner.read_ranges(path, ranges).await
    }
    async fn read(&self, path: &str) -> Result<Bytes> {
        self.count("read");
        self.inner.read(path).await
    }
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.count("head");
        self.inner.head(path).await
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        self.count("exists");
        self.inner.exists(path).await
    }
    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        self.count("write");
        self.inner.write(path, data).await
    }
    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        self.count("write_with");
        self.inner.write_with(path, data, mode).await
    }
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        self.count("writer");
        self.inner.writer(path).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        self.count("delete");
        self.inner.delete(path).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.count("list");
        self.inner.list(prefix)
    }
    async fn sync(&self, path: &str) -> Result<()> {
        self.count("sync");
        self.inner.sync(path).await
    }
    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        self.count("read_with");
        self.inner.read_with(path, options).await
    }
    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        self.count("list_with");
        self.inner.list_with(prefix, options)
    }
    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        self.count("list_dir");
        self.inner.list_dir(prefix).await
    }
    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        self.count("delete_many");
        self.inner.delete_many(paths).await
    }
    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.count("copy");
        self.inner.copy(from, to, mode).await
    }
    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.count("rename");
        self.inner.rename(from, to, mode).await
    }
    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        self.count("appender");
        self.inner.appender(path).await
    }
}

fn calls(list: &[(&'static str, u32)]) -> BTreeMap<&'static str, u32> {
    list.iter().copied().collect()
}

/// Runs every mapped object_store call once through the adapter over
/// `storage`, asserting the seerstore calls each made.
async fn assert_one_call_each<S: Storage + 'static>(storage: S) -> anyhow_free::Result {
    let counting = Arc::new(Counting::new(storage));
    let store = ObjectStoreAdapter::new(counting.clone());
    let small = Path::from("t/small");
    let large = Path::from("t/large");
    let large_len = 20 * 1024 * 1024 + 5; // three 8 MiB chunks

    store
        .put(&small, PutPayload::from_static(b"0123456789"))
        .await?;
    assert_eq!(counting.take(), calls(&[("write_with", 1)]), "put");
    store
        .put(&large, PutPayload::from(vec![7u8; large_len]))
        .await?;
    counting.take();

    assert_eq!(store.get(&small).await?.bytes().await?, "0123456789");
    assert_eq!(counting.take(), calls(&[("read_with", 1)]), "get");

    assert_eq!(store.get_range(&small, 2..5).await?, "234");
    assert_eq!(counting.take(), calls(&[("read_with", 1)]), "get_range");

    // Bounded past the end is cut, as object_store does: still one call.
    assert_eq!(store.get_range(&small, 8..100).await?, "89");
    assert_eq!(
        counting.take(),
        calls(&[("read_with", 1)]),
        "get_range past end"
    );

    let tail = GetOptions {
        range: Some(GetRange::Offset(7)),
        ..Default::default()
    };
    assert_eq!(store.get_opts(&small, tail).await?.bytes().await?, "789");
    assert_eq!(counting.take(), calls(&[("read_with", 1)]), "offset");

    let suffix = GetOptions {
        range: Some(GetRange::Suffix(3)),
        ..Default::default()
    };
    assert_eq!(store.get_opts(&small, suffix).await?.bytes().await?, "789");
    assert_eq!(
        counting.take(),
        calls(&[("head", 1), ("read_with", 1)]),
        "suffix (the size decides where it starts)"
    );

    let whole = store.get(&large).await?.bytes().await?;
    assert_eq!(whole.len(), large_len);
    assert_eq!(
        counting.take(),
        calls(&[("read_with", 3)]),
        "a 20 MiB get is three pinned chunks"
    );

    let meta = store.head(&small).await?;
    assert_eq!(meta.size, 10);
    assert_eq!(counting.take(), calls(&[("head", 1)]), "head");

    let not_modified = GetOptions {
        if_none_match: meta.e_tag.clone(),
        ..Default::default()
    };
    let err = store
        .get_opts(&small, not_modified)
        .await
        .expect_err("current version");
    assert!(
        matches!(err, object_store::Error::NotModified { .. }),
        "{err:?}"
    );
    assert_eq!(counting.take(), calls(&[("read_with", 1)]), "if_none_match");

    let blocks = store.get_ranges(&small, &[0..2, 4..6]).await?;
    assert_eq!(blocks, ["01", "45"]);
    assert_eq!(counting.take(), calls(&[("read_ranges", 1)]), "get_ranges");

    store.copy(&small, &Path::from("t/copy")).await?;
    assert_eq!(counting.take(), calls(&[("copy", 1)]), "copy");
    store
        .copy_if_not_exists(&small, &Path::from("t/copy2"))
        .await?;
    assert_eq!(counting.take(), calls(&[("copy", 1)]), "copy_if_not_exists");
    store
        .rename(&Path::from("t/copy2"), &Path::from("t/renamed"))
        .await?;
    assert_eq!(counting.take(), calls(&[("rename", 1)]), "rename");
    store
        .rename_if_not_exists(&Path::from("t/renamed"), &Path::from("t/renamed2"))
        .await?;
    assert_eq!(
        counting.take(),
        calls(&[("rename", 1)]),
        "rename_if_not_exists"
    );

    let listed: Vec<_> = store.list(Some(&Path::from("t"))).try_collect().await?;
    assert_eq!(listed.len(), 4);
    assert_eq!(counting.take(), calls(&[("list", 1)]), "list");

    let after: Vec<_> = store
        .list_with_offset(Some(&Path::from("t")), &Path::from("t/large"))
        .try_collect()
        .await?;
    assert_eq!(after.len(), 2, "renamed2 and small");
    assert_eq!(
        counting.take(),
        calls(&[("list_with", 1)]),
        "list_with_offset"
    );

    store.put(&Path::from("t/d/x"), "x".into()).await?;
    counting.take();
    let level = store.list_with_delimiter(Some(&Path::from("t"))).await?;
    assert_eq!(level.common_prefixes, [Path::from("t/d")]);
    assert_eq!(level.objects.len(), 4);
    assert_eq!(
        counting.take(),
        calls(&[("list_dir", 1)]),
        "list_with_delimiter"
    );

    let mut upload = store.put_multipart(&Path::from("t/multi")).await?;
    for part in 0..3u8 {
        upload.put_part(vec![part; 1024].into()).await?;
    }
    upload.complete().await?;
    assert_eq!(counting.take(), calls(&[("writer", 1)]), "put_multipart");

    store.delete(&Path::from("t/multi")).await?;
    assert_eq!(counting.take(), calls(&[("delete_many", 1)]), "delete");

    let many: Vec<Path> = (0..2500).map(|n| Path::from(format!("m/{n:05}"))).collect();
    for path in &many {
        store.put(path, "x".into()).await?;
    }
    counting.take();
    let deleted: Vec<Path> = store
        .delete_stream(stream::iter(many.clone().into_iter().map(Ok)).boxed())
        .try_collect()
        .await?;
    assert_eq!(deleted, many, "in order");
    assert_eq!(
        counting.take(),
        calls(&[("delete_many", 3)]),
        "2,500 deletes in batches of 1,000"
    );
    assert_eq!(store.list(Some(&Path::from("m"))).count().await, 0);
    Ok(())
}

/// `Result` for these tests without another dependency.
mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_each_on_local_storage() -> anyhow_free::Result {
    let dir = tempfile::tempdir()?;
    assert_one_call_each(LocalStorage::open(dir.path()).await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_each_on_in_memory() -> anyhow_free::Result {
    let store = Arc::new(object_store::memory::InMemory::new());
    assert_one_call_each(ObjectStorage::new(store)).await
}

/// object_store's own `put_opts` case (50 tasks incrementing one counter by
/// read → `PutMode::Update(e_tag)`), many times, with both cores kept busy
/// by spinning threads: a read that paired one version's bytes with
/// another's e_tag loses an increment and fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_opts_counter_never_loses_an_increment() -> anyhow_free::Result {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let rounds = 12;
    for round in 0..rounds {
        let dir = tempfile::tempdir()?;
        let local: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await?);
        let memory: Arc<dyn Storage> = Arc::new(ObjectStorage::new(Arc::new(
            object_store::memory::InMemory::new(),
        )));
        let cached: Arc<dyn Storage> = Arc::new(
            seerstore::Cached::new(LocalStorage::open(dir.path().join("c")).await?)
                .with_block_size(4096),
        );
        for (name, storage) in [("local", local), ("memory", memory), ("cached", cached)] {
            let store = ObjectStoreAdapter::new(storage);
            // Panics (with object_store's message) when an increment is lost.
            let outcome = tokio::spawn(async move {
                object_store::integration::put_opts(&store, true).await;
            })
            .await;
            assert!(outcome.is_ok(), "round {round}, {name}: {outcome:?}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for spinner in spinners {
        let _ = spinner.join();
    }
    Ok(())
}
