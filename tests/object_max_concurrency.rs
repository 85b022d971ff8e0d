//! `ObjectStorage::with_max_concurrency`: the bound holds for every kind of
//! request, waiting for a slot is not part of an attempt, and a listing
//! never holds a slot while the caller works through it.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use seerstore::{ObjectStorage, RetryConfig, Storage};

/// InMemory whose every request takes `latency` and is counted while it
/// runs.
#[derive(Debug)]
struct Gauge {
    inner: InMemory,
    latency: Duration,
    calls: AtomicUsize,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Gauge {
    fn new(latency: Duration) -> Self {
        Self {
            inner: InMemory::new(),
            latency,
            calls: AtomicUsize::new(0),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
        }
    }

    /// Counts one request in flight for `latency`.
    async fn request(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// A stream answered by one request, sent on its first poll.
    fn counted<T: Send + 'static>(&self, inner: BoxStream<'static, T>) -> BoxStream<'static, T> {
        let (in_flight, max) = (self.in_flight.clone(), self.max_in_flight.clone());
        let latency = self.latency;
        self.calls.fetch_add(1, Ordering::SeqCst);
        futures::stream::once(async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(latency).await;
            let all: Vec<T> = inner.collect().await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            futures::stream::iter(all)
        })
        .flatten()
        .boxed()
    }

    fn max(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl std::fmt::Display for Gauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gauge({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Gauge {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.request().await;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.request().await;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.request().await;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.request().await;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.counted(self.inner.delete_stream(locations))
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counted(self.inner.list(prefix))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.request().await;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.request().await;
        self.inner.copy_opts(from, to, options).await
    }
}

/// 200 concurrent calls of every kind; the most requests in flight at once.
async fn burst(storage: Arc<ObjectStorage>) -> seerstore::Result<()> {
    let mut tasks = Vec::new();
    for i in 0..200usize {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("k{}", i % 20);
            match i % 6 {
                5 => storage.delete(&key).await,
                0 => storage
                    .write(&key, Bytes::from(vec![7u8; 100]))
                    .await
                    .map(drop),
                1 => storage.read(&key).await.map(drop).or_else(not_found_ok),
                2 => storage.head(&key).await.map(drop).or_else(not_found_ok),
                3 => {
                    let mut w = storage.writer(&key).await?;
                    w.write(Bytes::from_static(b"streamed")).await?;
                    w.finish().await.map(drop)
                }
                _ => storage.list("").try_collect::<Vec<_>>().await.map(drop),
            }
        }));
    }
    for task in tasks {
        task.await.expect("task")?;
    }
    Ok(())
}

fn not_found_ok(e: seerstore::Error) -> seerstore::Result<()> {
    if e.is_not_found() {
        Ok(())
    } else {
        Err(e)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_holds_for_every_kind_of_request() -> seerstore::Result<()> {
    for limit in [1, 4] {
        let gauge = Arc::new(Gauge::new(Duration::from_millis(2)));
        let storage = ObjectStorage::new(gauge.clone()).with_max_concurrency(limit);
        assert_eq!(storage.max_concurrency(), Some(limit));
        burst(Arc::new(storage)).await?;
        println!(
            "max_concurrency({limit}): at most {} requests in flight",
            gauge.max()
        );
        assert!(
            gauge.max() <= limit,
            "{} in flight over {limit}",
            gauge.max()
        );
        assert_eq!(gauge.max(), limit, "the burst never reached the bound");
    }
    // Without the bound the same burst has many more in flight: the gauge
    // sees what the bound prevents.
    let gauge = Arc::new(Gauge::new(Duration::from_millis(2)));
    let storage = ObjectStorage::new(gauge.clone());
    assert_eq!(storage.max_concurrency(), None);
    burst(Arc::new(storage)).await?;
    println!("unbounded: at most {} requests in flight", gauge.max());
    assert!(gauge.max() > 4, "only {} in flight unbounded", gauge.max());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_the_bound() -> seerstore::Result<()> {
    let gauge = Arc::new(Gauge::new(Duration::from_millis(2)));
    let storage = ObjectStorage::new(gauge.clone()).with_max_concurrency(2);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let clone = storage.clone();
        tasks.push(tokio::spawn(async move {
            clone
                .write(&format!("c{i}"), Bytes::from_static(b"x"))
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task")?;
    }
    assert!(gauge.max() <= 2, "{} in flight over 2", gauge.max());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_slot_is_not_part_of_the_attempt() -> seerstore::Result<()> {
    // 50 reads queue behind one slot, 10 ms each: the last waits ~490 ms,
    // far over the 250 ms attempt timeout; none may time out or retry (an
    // attempt itself would need 240 ms of scheduling delay to).
    let gauge = Arc::new(Gauge::new(Duration::from_millis(10)));
    let storage = Arc::new(
        ObjectStorage::new(gauge.clone())
            .with_max_concurrency(1)
            .with_retry(
                RetryConfig::default().with_attempt_timeout(Some(Duration::from_millis(250))),
            ),
    );
    storage.write("k", Bytes::from_static(b"value")).await?;
    let before = gauge.calls.load(Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move { storage.read("k").await }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task")?, "value");
    }
    assert_eq!(
        gauge.calls.load(Ordering::SeqCst) - before,
        50,
        "reads were retried"
    );
    assert_eq!(gauge.max(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_each_listed_object_with_one_slot_does_not_deadlock() -> seerstore::Result<()> {
    let storage =
        ObjectStorage::new(Arc::new(Gauge::new(Duration::from_millis(1)))).with_max_concurrency(1);
    for i in 0..20 {
        storage
            .write(&format!("l/{i:02}"), Bytes::from(format!("v{i}")))
            .await?;
    }
    let walk = async {
        let mut listing = storage.list("l/");
        let mut read = 0;
        while let Some(meta) = listing.try_next().await? {
            let value = storage.read(&meta.path).await?;
            assert_eq!(value.len() as u64, meta.size);
            read += 1;
        }
        seerstore::Result::Ok(read)
    };
    let read = tokio::time::timeout(Duration::from_secs(30), walk)
        .await
        .expect("listing while reading deadlocked")?;
    assert_eq!(read, 20);
    Ok(())
}

#[tokio::test]
async fn open_takes_max_concurrency() {
    let storage = seerstore::open_with("memory:///", [("max_concurrency", "8")])
        .await
        .expect("open");
    storage
        .write("k", Bytes::from_static(b"v"))
        .await
        .expect("write");
    let err = seerstore::open_with("memory:///", [("max_concurrency", "many")])
        .await
        .expect_err("not a number");
    let message = err.to_string();
    assert!(message.contains("max_concurrency"), "{message}");
}
