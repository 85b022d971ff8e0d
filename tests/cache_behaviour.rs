//! What `Cached` promises beyond the contract: hits reach nothing below it,
//! one fetch per block for concurrent misses, one `read_ranges` for the
//! misses of a call, epochs that keep a fetch started before a write from
//! refilling the cache with the old object, small reads copied out of their
//! block, and a bound on the bytes held. Deterministic: single-threaded
//! runtime, an in-memory store, and gates instead of sleeps.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use seerstore::{Cached, ObjectMeta, ObjectStorage, Result, Storage, StorageWriter, WriteMode};
use tokio::sync::oneshot;

/// Counts the calls that reach it; can hold the next `read_ranges` (after
/// it has read) until released.
#[derive(Debug)]
struct Probe {
    inner: ObjectStorage,
    heads: AtomicUsize,
    read_range_calls: AtomicUsize,
    read_ranges_calls: AtomicUsize,
    hold_next_read_ranges: Mutex<Option<oneshot::Receiver<()>>>,
    held: AtomicUsize,
    hold_next_write: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Probe {
    fn new() -> Arc<Self> {
        let store = Arc::new(object_store::memory::InMemory::new());
        Arc::new(Self {
            inner: ObjectStorage::new(store),
            heads: AtomicUsize::new(0),
            read_range_calls: AtomicUsize::new(0),
            read_ranges_calls: AtomicUsize::new(0),
            hold_next_read_ranges: Mutex::new(None),
            held: AtomicUsize::new(0),
            hold_next_write: Mutex::new(None),
        })
    }

    fn hold_next_read_ranges(&self) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        *self.hold_next_read_ranges.lock().expect("probe lock") = Some(rx);
        tx
    }

    fn reads(&self) -> (usize, usize) {
        (
            self.read_range_calls.load(Ordering::SeqCst),
            self.read_ranges_calls.load(Ordering::SeqCst),
        )
    }
}

/// `Storage` for the shared probe, so the test keeps a handle on it.
#[derive(Debug, Clone)]
struct Shared(Arc<Probe>);

#[async_trait]
impl Storage for Shared {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        self.0.read_range_calls.fetch_add(1, Ordering::SeqCst);
        self.0.inner.read_range(path, range).await
    }
    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.0.read_ranges_calls.fetch_add(1, Ordering::SeqCst);
        let out = self.0.inner.read_ranges(path, ranges).await;
        let hold = self
            .0
            .hold_next_read_ranges
            .lock()
            .expect("probe lock")
            .take();
        if let Some(hold) = hold {
            self.0.held.fetch_add(1, Ordering::SeqCst);
            let _ = hold.await;
        }
        out
    }
    async fn read(&self, path: &str) -> Result<Bytes> {
        self.0.inner.read(path).await
    }
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.0.heads.fetch_add(1, Ordering::SeqCst);
        self.0.inner.head(path).await
    }
    async fn exists(&self, path: &str) -> Result<bool> {
        self.0.inner.exists(path).await
    }
    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        let hold = self.0.hold_next_write.lock().expect("probe lock").take();
        if let Some(hold) = hold {
            let _ = hold.await;
        }
        self.0.inner.write(path, data).await
    }
    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        self.0.inner.write_with(path, data, mode).await
    }
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        self.0.inner.writer(path).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        self.0.inner.delete(path).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.0.inner.list(prefix)
    }
    async fn sync(&self, path: &str) -> Result<()> {
        self.0.inner.sync(path).await
    }
}

fn pattern(seed: u8, len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

fn cached(block_size: u64) -> (Arc<Probe>, Arc<Cached<Shared>>) {
    let probe = Probe::new();
    let cache = Arc::new(Cached::new(Shared(probe.clone())).with_block_size(block_size));
    (probe, cache)
}

/// Lets every other task on the single-threaded runtime run until it waits.
async fn let_others_run() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn hits_reach_nothing_below() {
    let (probe, cache) = cached(4096);
    let data = pattern(1, 20_000);
    cache.write("sst", data.clone()).await.unwrap();
    assert_eq!(
        cache.read_range("sst", 5000..9000).await.unwrap(),
        data.slice(5000..9000)
    );
    assert_eq!(probe.reads(), (0, 1));
    assert_eq!(probe.heads.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        assert_eq!(
            cache.read_range("sst", 4096..8192).await.unwrap(),
            data.slice(4096..8192)
        );
        assert_eq!(cache.head("sst").await.unwrap().size, 20_000);
        assert!(cache.exists("sst").await.unwrap());
    }
    assert_eq!(probe.reads(), (0, 1), "a hit reached the inner storage");
    assert_eq!(probe.heads.load(Ordering::SeqCst), 1, "head was not cached");
    assert_eq!(cache.blocks_fetched(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn misses_of_one_call_are_one_read_ranges() {
    let (probe, cache) = cached(4096);
    let data = pattern(2, 100_000);
    cache.write("sst", data.clone()).await.unwrap();
    let ranges = [90_000..90_100, 10..20, 50_000..58_000, 0..5];
    let got = cache.read_ranges("sst", &ranges).await.unwrap();
    for (range, bytes) in ranges.iter().zip(&got) {
        assert_eq!(*bytes, data.slice(range.start as usize..range.end as usize));
    }
    assert_eq!(probe.reads(), (0, 1));
    // Blocks 0, 12, 13, 14 and 21: five fetched, in that one call.
    assert_eq!(cache.blocks_fetched(), 5);
    let whole = cache.read("sst").await.unwrap();
    assert_eq!(whole, data);
    assert_eq!(probe.reads(), (0, 2));
    assert_eq!(
        cache.blocks_fetched(),
        25,
        "only the missing blocks are fetched"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_misses_of_a_block_fetch_it_once() {
    let (probe, cache) = cached(4096);
    let data = pattern(3, 8192);
    cache.write("sst", data.clone()).await.unwrap();
    cache.head("sst").await.unwrap(); // the metadata is not under test
    let release = probe.hold_next_read_ranges();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.read_range("sst", 100..200).await })
        })
        .collect();
    let_others_run().await;
    assert_eq!(
        probe.held.load(Ordering::SeqCst),
        1,
        "the first fetch is held"
    );
    release.send(()).unwrap();
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap(), data.slice(100..200));
    }
    assert_eq!(
        probe.reads(),
        (0, 1),
        "concurrent misses fetched the block more than once"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_fetch_started_before_a_write_cannot_refill_the_old_object() {
    let (probe, cache) = cached(4096);
    let (old, new) = (pattern(4, 10_000), pattern(5, 10_000));
    cache.write("sst", old.clone()).await.unwrap();
    cache.head("sst").await.unwrap();
    let release = probe.hold_next_read_ranges();
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.read_range("sst", 0..10_000).await })
    };
    let_others_run().await;
    assert_eq!(
        probe.held.load(Ordering::SeqCst),
        1,
        "the old bytes are read and held"
    );
    cache.write("sst", new.clone()).await.unwrap();
    release.send(()).unwrap();
    // The reader ran alongside the write: either object is right.
    let got = reader.await.unwrap().unwrap();
    assert!(got == old || got == new, "a torn read");
    // Every read after the write sees the new object.
    for range in [0..10_000, 0..100, 4096..8192, 9000..10_000] {
        let (a, b) = (range.start as usize, range.end as usize);
        assert_eq!(
            cache.read_range("sst", range).await.unwrap(),
            new.slice(a..b)
        );
    }
    assert_eq!(cache.read("sst").await.unwrap(), new);
}

#[tokio::test(flavor = "current_thread")]
async fn own_writes_and_deletes_invalidate() {
    let (_probe, cache) = cached(4096);
    cache.write("k", pattern(6, 5000)).await.unwrap();
    assert_eq!(cache.read("k").await.unwrap(), pattern(6, 5000));
    let v1 = cache.head("k").await.unwrap().version;

    cache
        .write_with(
            "k",
            pattern(7, 6000),
            WriteMode::Update(v1.clone().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(cache.read("k").await.unwrap(), pattern(7, 6000));
    assert_ne!(cache.head("k").await.unwrap().version, v1);

    let mut writer = cache.writer("k").await.unwrap();
    writer.write(pattern(8, 3000)).await.unwrap();
    assert_eq!(
        cache.read("k").await.unwrap(),
        pattern(7, 6000),
        "not before finish"
    );
    writer.finish().await.unwrap();
    assert_eq!(cache.read("k").await.unwrap(), pattern(8, 3000));
    assert_eq!(cache.head("k").await.unwrap().size, 3000);

    cache.delete("k").await.unwrap();
    assert!(cache.read("k").await.unwrap_err().is_not_found());
    assert!(!cache.exists("k").await.unwrap());
    let err = cache.read_range("k", 0..1).await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.operation(), Some(seerstore::Operation::ReadRange));
}

#[tokio::test(flavor = "current_thread")]
async fn small_reads_are_copied_and_large_ones_shared() {
    let (_probe, cache) = cached(64 * 1024);
    cache.write("sst", pattern(9, 64 * 1024)).await.unwrap();
    let large = cache.read_range("sst", 0..32 * 1024).await.unwrap();
    let again = cache.read_range("sst", 0..32 * 1024).await.unwrap();
    assert_eq!(
        large.as_ptr(),
        again.as_ptr(),
        "a large read is a slice of the block"
    );
    let small = cache.read_range("sst", 100..200).await.unwrap();
    assert_eq!(small, pattern(9, 64 * 1024).slice(100..200));
    assert_ne!(
        small.as_ptr(),
        large.as_ptr().wrapping_add(100),
        "a small read shares (and pins) the whole block"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_cache_stays_within_its_capacity() {
    let probe = Probe::new();
    let capacity = 256 * 1024;
    let cache = Cached::new(Shared(probe.clone()))
        .with_block_size(4096)
        .with_capacity(capacity);
    let data = pattern(10, 2 << 20);
    cache.write("sst", data.clone()).await.unwrap();
    for start in (0..data.len() as u64).step_by(4096) {
        let got = cache.read_range("sst", start..start + 4096).await.unwrap();
        assert_eq!(got, data.slice(start as usize..start as usize + 4096));
        assert!(
            cache.cached_bytes() <= capacity,
            "{} > {capacity}",
            cache.cached_bytes()
        );
    }
    assert!(
        cache.cached_bytes() > capacity / 2,
        "the cache holds next to nothing"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_write_makes_its_key_bypass_the_cache_until_invalidated() {
    let (probe, cache) = cached(4096);
    cache.write("sst", pattern(11, 5000)).await.unwrap();
    cache.read("sst").await.unwrap();
    let reads_before = probe.reads();
    let (_release, hold) = oneshot::channel::<()>();
    *probe.hold_next_write.lock().expect("probe lock") = Some(hold);
    {
        // Dropped while the inner write waits: it might still land later.
        let write = cache.write("sst", pattern(12, 5000));
        futures::pin_mut!(write);
        let _ = futures::poll!(write.as_mut());
    }
    let got = cache.read_range("sst", 0..10).await.unwrap();
    assert!(got == pattern(11, 10) || got == pattern(12, 10));
    assert_eq!(
        probe.reads(),
        (reads_before.0 + 1, reads_before.1),
        "bypassed the cache: one direct read_range of the inner storage"
    );
    cache.invalidate("sst");
    cache.read_range("sst", 0..10).await.unwrap();
    let after_miss = probe.reads();
    assert_eq!(
        after_miss,
        (reads_before.0 + 1, reads_before.1 + 1),
        "caching resumes after invalidate: the miss fetches the block, no direct read"
    );
    let fetched = cache.blocks_fetched();
    for _ in 0..3 {
        cache.read_range("sst", 0..10).await.unwrap();
    }
    assert_eq!(
        (probe.reads(), cache.blocks_fetched()),
        (after_miss, fetched),
        "later reads are hits: nothing reaches the inner storage"
    );
}
