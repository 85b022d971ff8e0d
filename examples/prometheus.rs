//! seerstore's metrics exported for Prometheus with
//! `metrics-exporter-prometheus`: an `Instrumented` local storage and an
//! `Instrumented` object store whose first reads fail transiently (so the
//! retry loop's attempt and retry counters show up too).
//!
//! ```text
//! cargo run --example prometheus --features metrics -- --once
//!     # do some work, print the rendered metrics once, exit
//! cargo run --example prometheus --features metrics -- [PORT]
//!     # serve http://127.0.0.1:PORT/metrics (default 9464) until Ctrl-C
//! ```
//!
//! The scrape endpoint listens on 127.0.0.1 only.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use metrics_exporter_prometheus::PrometheusBuilder;
use object_store::path::Path;
use object_store::{GetOptions, GetResult, ObjectStore};
use seerstore::{Instrumented, LocalStorage, ObjectStorage, RetryConfig, Storage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    let port: u16 = match args.iter().find(|a| !a.starts_with("--")) {
        Some(port) => port.parse()?,
        None => 9464,
    };

    let builder = PrometheusBuilder::new();
    let handle = if once {
        builder.install_recorder()?
    } else {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let (recorder, exporter) = builder.with_http_listener(addr).build()?;
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)?;
        tokio::spawn(exporter);
        println!("serving http://{addr}/metrics (Ctrl-C to stop)");
        handle
    };
    seerstore::instrumented::describe();

    let dir = tempfile::tempdir()?;
    let local = Instrumented::new(LocalStorage::open(dir.path()).await?).with_label("local");
    let remote = Instrumented::new(
        ObjectStorage::new(Arc::new(Flaky::new(2))).with_retry(
            RetryConfig::default()
                .with_initial_backoff(Duration::from_millis(5))
                .with_jitter(false),
        ),
    )
    .with_label("remote");
    work(&local).await?;
    work(&remote).await?;

    if once {
        print!("{}", handle.render());
        return Ok(());
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// An engine's calls: SSTable writes, block reads, a miss, a listing.
async fn work(storage: &dyn Storage) -> seerstore::Result<()> {
    for table in 0..4 {
        let key = format!("L0/{table:06}.sst");
        storage
            .write(&key, Bytes::from(vec![table as u8; 64 * 1024]))
            .await?;
        for block in 0..16u64 {
            storage
                .read_range(&key, block * 4096..(block + 1) * 4096)
                .await?;
        }
    }
    assert!(storage.read("L0/missing.sst").await.is_err());
    let listed: Vec<_> = storage.list("L0").try_collect().await?;
    assert_eq!(listed.len(), 4);
    Ok(())
}

/// An in-memory object store whose first `failures` GETs fail with a
/// connection reset, as a flaky network would.
#[derive(Debug)]
struct Flaky {
    inner: object_store::memory::InMemory,
    failures: AtomicU32,
}

impl Flaky {
    fn new(failures: u32) -> Self {
        Self {
            inner: object_store::memory::InMemory::new(),
            failures: AtomicU32::new(failures),
        }
    }
}

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing && !options.head {
            return Err(object_store::Error::Generic {
                store: "flaky",
                source: Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset (simulated)",
                )),
            });
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
