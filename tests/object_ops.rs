//! `ObjectStorage`'s own `read_with`, `list_with`, `list_dir`,
//! `delete_many`, `copy`, `rename` and `appender`, over `InMemory` behind
//! the counting `FaultStore`: each is the object_store call it should be
//! (counted), with the answers the contract asks for.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{
    Error, ListOptions, ObjectStorage, Operation, ReadOptions, Result, Storage, WriteMode,
};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

fn storage(store: &Arc<FaultStore>) -> ObjectStorage {
    ObjectStorage::new(store.clone())
        .with_prefix("tenant")
        .with_retry(quick_retry(3))
}

/// Requests of each kind since the last call.
struct Requests {
    store: Arc<FaultStore>,
    gets: u32,
    heads: u32,
    puts: u32,
}

impl Requests {
    fn new(store: &Arc<FaultStore>) -> Self {
        Self {
            store: store.clone(),
            gets: store.calls(Method::Get),
            heads: store.calls(Method::Head),
            puts: store.calls(Method::Put),
        }
    }

    /// (GETs, HEADs, PUTs) since `new` or the last `take`.
    fn take(&mut self) -> (u32, u32, u32) {
        let now = Self::new(&self.store);
        let out = (
            now.gets - self.gets,
            now.heads - self.heads,
            now.puts - self.puts,
        );
        *self = now;
        out
    }
}

#[tokio::test(start_paused = true)]
async fn read_with_is_one_get_and_no_head() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    let written = s
        .write("L0/a.sst", Bytes::from_static(b"0123456789"))
        .await?;
    let version = written.version.clone().expect("InMemory has ETags");
    let mut requests = Requests::new(&store);

    let read = s
        .read_with(
            "L0/a.sst",
            ReadOptions {
                range: Some(2..6),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(
        (read.data.as_ref(), read.range.clone()),
        (&b"2345"[..], 2..6)
    );
    assert_eq!(read.meta.size, 10);
    assert_eq!(read.meta.version.as_deref(), Some(version.as_str()));
    assert!(read.meta.last_modified.is_some());
    assert_eq!(requests.take(), (1, 0, 0), "one GET, no HEAD");

    let whole = s.read_with("L0/a.sst", ReadOptions::default()).await?;
    assert_eq!(
        (whole.data.as_ref(), whole.range),
        (&b"0123456789"[..], 0..10)
    );
    assert_eq!(requests.take(), (1, 0, 0));

    let current = ReadOptions {
        if_match: Some(version.clone()),
        ..Default::default()
    };
    assert_eq!(s.read_with("L0/a.sst", current).await?.data.len(), 10);
    assert_eq!(requests.take(), (1, 0, 0));

    let tail = ReadOptions {
        range: Some(7..u64::MAX),
        clamp_to_size: true,
        ..Default::default()
    };
    let tail = s.read_with("L0/a.sst", tail).await?;
    assert_eq!((tail.data.as_ref(), tail.range), (&b"789"[..], 7..10));
    assert_eq!(requests.take(), (1, 0, 0));

    // Replaced: the old version is a precondition failure (one GET, and a
    // head that tells it from a missing object: Azure answers 412 for
    // both), and the current one is "not modified" (one GET).
    let replaced = s
        .write("L0/a.sst", Bytes::from_static(b"abcdefghij"))
        .await?;
    requests.take();
    let stale = ReadOptions {
        if_match: Some(version.clone()),
        ..Default::default()
    };
    let err = s.read_with("L0/a.sst", stale).await.unwrap_err();
    assert!(err.is_precondition(), "{err}");
    assert_eq!(err.operation(), Some(Operation::ReadWith));
    assert_eq!(requests.take(), (1, 1, 0));
    let held = ReadOptions {
        if_none_match: replaced.version.clone(),
        ..Default::default()
    };
    let err = s.read_with("L0/a.sst", held).await.unwrap_err();
    assert!(err.is_not_modified(), "{err}");
    assert_eq!(requests.take(), (1, 0, 0));
    let old = ReadOptions {
        if_none_match: Some(version),
        ..Default::default()
    };
    assert_eq!(s.read_with("L0/a.sst", old).await?.data, "abcdefghij");
    assert_eq!(requests.take(), (1, 0, 0));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn read_with_ranges_at_and_past_the_end() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    s.write("k", Bytes::from_static(b"0123456789")).await?;
    s.write("empty", Bytes::new()).await?;
    let mut requests = Requests::new(&store);
    let range = |range, clamp_to_size| ReadOptions {
        range: Some(range),
        clamp_to_size,
        ..Default::default()
    };

    // Past the end, strict: InvalidRange with the size, from the GET's own
    // answer (one request).
    match s.read_with("k", range(5..11, false)).await {
        Err(Error::InvalidRange {
            size: Some(10),
            range,
            ..
        }) => assert_eq!(range, 5..11),
        other => panic!("expected InvalidRange, got {other:?}"),
    }
    assert_eq!(requests.take(), (1, 0, 0));
    // Starting past the end: the store refuses, a head tells the size.
    for clamp in [false, true] {
        match s.read_with("k", range(11..20, clamp)).await {
            Err(Error::InvalidRange { size: Some(10), .. }) => {}
            other => panic!("expected InvalidRange, got {other:?}"),
        }
        assert_eq!(requests.take(), (1, 1, 0));
    }
    // Clamped at the end, and empty ranges: empty answers.
    let at_end = s.read_with("k", range(10..u64::MAX, true)).await?;
    assert_eq!(
        (at_end.data.len(), at_end.range, at_end.meta.size),
        (0, 10..10, 10)
    );
    let empty = s.read_with("empty", range(0..u64::MAX, true)).await?;
    assert_eq!((empty.data.len(), empty.range), (0, 0..0));
    requests.take();
    let nothing = s.read_with("k", range(4..4, false)).await?;
    assert_eq!((nothing.data.len(), nothing.meta.size), (0, 10));
    assert_eq!(requests.take(), (0, 1, 0), "an empty range is one HEAD");
    assert!(matches!(
        s.read_with("k", range(11..11, false)).await,
        Err(Error::InvalidRange { size: Some(10), .. })
    ));
    // Refused before any request: inverted ranges, bad keys, tokens that
    // are no version of this backend.
    requests.take();
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = range(6..2, false);
    assert!(matches!(
        s.read_with("k", inverted).await,
        Err(Error::InvalidRange { size: None, .. })
    ));
    assert!(matches!(
        s.read_with("../k", ReadOptions::default()).await,
        Err(Error::InvalidPath { .. })
    ));
    let garbage = ReadOptions {
        if_match: Some("garbage".into()),
        ..Default::default()
    };
    assert!(s
        .read_with("k", garbage)
        .await
        .unwrap_err()
        .is_precondition());
    assert_eq!(requests.take(), (0, 0, 0));
    assert!(s
        .read_with("missing", ReadOptions::default())
        .await
        .unwrap_err()
        .is_not_found());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn read_with_retries_a_failed_get() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Get,
        When::Call(1),
        Fault::Transient,
    )]));
    let s = storage(&store);
    s.write("k", Bytes::from_static(b"abc")).await?;
    let read = s.read_with("k", ReadOptions::default()).await?;
    assert_eq!(read.data, "abc");
    assert_eq!(store.calls(Method::Get), 2);
    assert_eq!(store.calls(Method::Head), 0);
    Ok(())
}

async fn keys(s: &ObjectStorage, prefix: &str, offset: &str) -> Result<Vec<String>> {
    let options = ListOptions {
        offset: Some(offset.into()),
    };
    s.list_with(prefix, options)
        .map_ok(|m| m.path)
        .try_collect()
        .await
}

#[tokio::test(start_paused = true)]
async fn list_with_an_offset_starts_there_on_the_server() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    for n in 1..=5 {
        s.write(&format!("wal/{n:06}.log"), Bytes::from_static(b"x"))
            .await?;
    }
    s.write("walrus", Bytes::from_static(b"x")).await?;
    // Outside the storage prefix: never listed.
    let outside = object_store::path::Path::from("tenantx/wal/9");
    let put = store
        .inner()
        .put_opts(&outside, "x".into(), Default::default());
    put.await.expect("put outside the prefix");

    assert_eq!(
        keys(&s, "wal", "wal/000003.log").await?,
        ["wal/000004.log", "wal/000005.log"]
    );
    assert_eq!(
        keys(&s, "wal", "wal/0000").await?.len(),
        5,
        "a prefix of keys as offset"
    );
    assert_eq!(keys(&s, "", "wal/000005.log").await?, ["walrus"]);
    assert!(keys(&s, "wal", "x").await?.is_empty());
    assert_eq!(store.counters.lists_with_offset.load(Ordering::SeqCst), 4);
    assert_eq!(
        store.counters.lists.load(Ordering::SeqCst),
        0,
        "no listing from the start"
    );

    match keys(&s, "wal", "wal//x").await {
        Err(Error::InvalidPath { .. }) => {}
        other => panic!("expected InvalidPath, got {other:?}"),
    }
    assert_eq!(store.counters.lists_with_offset.load(Ordering::SeqCst), 4);
    // No offset: a plain listing.
    let all = s
        .list_with("wal", ListOptions::default())
        .try_collect::<Vec<_>>()
        .await?;
    assert_eq!(all.len(), 5);
    assert_eq!(store.counters.lists.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn list_with_an_offset_resumes_after_a_failed_page() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::List,
        When::Call(1),
        Fault::TransientAfter(2),
    )]));
    let s = storage(&store);
    for n in 1..=8 {
        s.write(&format!("wal/{n:06}.log"), Bytes::from_static(b"x"))
            .await?;
    }
    let listed = keys(&s, "wal", "wal/000002.log").await?;
    let expected: Vec<String> = (3..=8).map(|n| format!("wal/{n:06}.log")).collect();
    assert_eq!(
        listed, expected,
        "each key once, none at or before the offset"
    );
    assert_eq!(store.counters.lists_with_offset.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn list_dir_is_one_delimiter_listing() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    for key in [
        "L0/b.sst",
        "L0/a.sst",
        "L0/sub/b.sst",
        "L0/sub/deep/c",
        "L00/x",
        "L1/c.sst",
        "top",
    ] {
        s.write(key, Bytes::from_static(b"x")).await?;
    }
    let level = s.list_dir("L0").await?;
    let objects: Vec<&str> = level.objects.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(objects, ["L0/a.sst", "L0/b.sst"]);
    assert_eq!(level.dirs, ["L0/sub"]);
    assert!(level
        .objects
        .iter()
        .all(|m| m.size == 1 && m.version.is_some()));
    let root = s.list_dir("").await?;
    assert_eq!(root.dirs, ["L0", "L00", "L1"]);
    assert_eq!(
        root.objects
            .iter()
            .map(|m| m.path.as_str())
            .collect::<Vec<_>>(),
        ["top"]
    );
    assert_eq!(s.list_dir("L0/sub").await?.dirs, ["L0/sub/deep"]);
    assert_eq!(s.list_dir("nothing").await?, Default::default());
    assert_eq!(
        store.counters.lists_with_delimiter.load(Ordering::SeqCst),
        4
    );
    assert_eq!(
        store.counters.lists.load(Ordering::SeqCst),
        0,
        "no recursive listing"
    );
    assert!(matches!(
        s.list_dir("a//b").await,
        Err(Error::InvalidPath { .. })
    ));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn list_dir_is_retried_as_a_whole() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::List,
        When::Call(1),
        Fault::Transient,
    )]));
    let s = storage(&store);
    s.write("L0/a", Bytes::from_static(b"x")).await?;
    assert_eq!(s.list_dir("L0").await?.objects.len(), 1);
    assert_eq!(
        store.counters.lists_with_delimiter.load(Ordering::SeqCst),
        2
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn delete_many_is_one_delete_stream() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    let mut paths: Vec<String> = (0..2_500).map(|n| format!("L0/{n:06}.sst")).collect();
    for path in paths.iter().step_by(2) {
        s.write(path, Bytes::from_static(b"x")).await?;
    }
    s.write("keep", Bytes::from_static(b"x")).await?;
    paths[7] = "bad//path".into();
    let results = s.delete_many(&paths).await;
    assert_eq!(results.len(), paths.len());
    for (index, result) in results.iter().enumerate() {
        match (index, result) {
            (7, Err(Error::InvalidPath { path, .. })) => assert_eq!(path, "bad//path"),
            (7, other) => panic!("expected InvalidPath, got {other:?}"),
            (_, Ok(())) => {}
            (_, Err(e)) => panic!("path {index}: {e}"),
        }
    }
    assert_eq!(store.calls(Method::Delete), 1, "one delete_stream");
    assert_eq!(
        store.counters.deleted_locations.load(Ordering::SeqCst),
        2_499,
        "the invalid path is not sent"
    );
    let left: Vec<String> = s.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(left, ["keep"]);
    assert!(s.delete_many(&[]).await.is_empty());
    assert_eq!(
        store.calls(Method::Delete),
        1,
        "nothing to delete, no request"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn delete_many_retries_a_failed_batch_and_not_a_refused_one() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Delete,
        When::Call(1),
        Fault::Transient,
    )]));
    let s = storage(&store);
    let paths: Vec<String> = (0..10).map(|n| format!("k{n}")).collect();
    for path in &paths {
        s.write(path, Bytes::from_static(b"x")).await?;
    }
    assert!(s.delete_many(&paths).await.iter().all(|r| r.is_ok()));
    assert_eq!(store.calls(Method::Delete), 2);
    assert!(s.list("").try_collect::<Vec<_>>().await?.is_empty());

    let refused = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Delete,
        When::Always,
        Fault::Permanent,
    )]));
    let s = storage(&refused);
    for result in s.delete_many(&paths).await {
        let err = result.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(
            err.status(),
            Some(403),
            "the batch's status reaches every path: {err}"
        );
        assert_eq!(err.operation(), Some(Operation::DeleteMany));
    }
    assert_eq!(
        refused.calls(Method::Delete),
        1,
        "a permanent failure is not retried"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn copy_is_server_side() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    s.write("MANIFEST-1", Bytes::from_static(b"m1")).await?;
    let mut requests = Requests::new(&store);

    let copied = s
        .copy("MANIFEST-1", "backup/MANIFEST", WriteMode::Overwrite)
        .await?;
    assert_eq!(
        requests.take(),
        (0, 1, 0),
        "no GET or PUT of the bytes; one HEAD for the result"
    );
    assert_eq!(store.counters.copies.load(Ordering::SeqCst), 1);
    assert_eq!(copied.path, "backup/MANIFEST");
    assert_eq!(copied.version, s.head("backup/MANIFEST").await?.version);
    assert_eq!(s.read("backup/MANIFEST").await?, "m1");
    assert_eq!(s.read("MANIFEST-1").await?, "m1");

    let taken = s
        .copy("MANIFEST-1", "backup/MANIFEST", WriteMode::Create)
        .await;
    assert!(taken.unwrap_err().is_already_exists());
    s.copy("MANIFEST-1", "backup/MANIFEST-2", WriteMode::Create)
        .await?;
    assert_eq!(
        store.counters.copies_if_not_exists.load(Ordering::SeqCst),
        2
    );

    let update = WriteMode::Update(copied.version.clone().expect("version"));
    match s.copy("MANIFEST-1", "backup/MANIFEST", update).await {
        Err(Error::NotSupported {
            op: Operation::Copy,
            path,
            ..
        }) => {
            assert_eq!(path, "backup/MANIFEST")
        }
        other => panic!("expected NotSupported, got {other:?}"),
    }
    match s.copy("missing", "x", WriteMode::Overwrite).await {
        Err(Error::NotFound { path, .. }) => assert_eq!(path, "missing"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    for (from, to) in [
        ("MANIFEST-1", "MANIFEST-1"),
        ("../x", "y"),
        ("MANIFEST-1", "a//b"),
    ] {
        assert!(matches!(
            s.copy(from, to, WriteMode::Overwrite).await,
            Err(Error::InvalidPath { .. })
        ));
    }
    assert_eq!(
        store.counters.copies.load(Ordering::SeqCst),
        2,
        "the refused copies sent nothing"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rename_copies_then_deletes_the_source() -> Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let s = storage(&store);
    s.write("CURRENT.tmp", Bytes::from_static(b"MANIFEST-2"))
        .await?;
    let mut requests = Requests::new(&store);
    let renamed = s
        .rename("CURRENT.tmp", "CURRENT", WriteMode::Overwrite)
        .await?;
    assert_eq!(requests.take().0, 0, "no GET of the bytes");
    assert_eq!(renamed.path, "CURRENT");
    assert!(!s.exists("CURRENT.tmp").await?);
    assert_eq!(s.read("CURRENT").await?, "MANIFEST-2");
    assert_eq!(store.counters.copies.load(Ordering::SeqCst), 1);

    s.write("next", Bytes::from_static(b"n")).await?;
    let taken = s.rename("next", "CURRENT", WriteMode::Create).await;
    assert!(taken.unwrap_err().is_already_exists());
    assert!(s.exists("next").await?, "a failed rename keeps the source");
    assert!(matches!(
        s.rename("next", "CURRENT", WriteMode::Update("e:x".into()))
            .await,
        Err(Error::NotSupported {
            op: Operation::Rename,
            ..
        })
    ));
    assert!(s
        .rename("gone", "x", WriteMode::Overwrite)
        .await
        .unwrap_err()
        .is_not_found());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rename_keeps_a_source_replaced_after_the_copy() -> Result<()> {
    let inner = Arc::new(object_store::memory::InMemory::new());
    let store = Arc::new(meddler::ReplaceSourceOnCopy::new(inner));
    let s = ObjectStorage::new(store.clone()).with_retry(quick_retry(0));
    s.write("wal/1.tmp", Bytes::from_static(b"old")).await?;
    match s
        .rename("wal/1.tmp", "wal/1.log", WriteMode::Overwrite)
        .await
    {
        Err(Error::Precondition {
            op: Operation::Rename,
            path,
            ..
        }) => assert_eq!(path, "wal/1.tmp"),
        other => panic!("expected Precondition, got {other:?}"),
    }
    assert_eq!(
        s.read("wal/1.tmp").await?,
        "new",
        "the replaced source is kept"
    );
    assert_eq!(s.read("wal/1.log").await?, "old", "the copy is kept");
    Ok(())
}

#[tokio::test]
async fn appender_is_not_supported() {
    let s = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    match s.appender("wal/000001.log").await {
        Err(Error::NotSupported {
            op: Operation::Append,
            path,
            what,
            ..
        }) => {
            assert_eq!(path, "wal/000001.log");
            assert!(what.contains("object_store"), "{what}");
        }
        other => panic!("expected NotSupported, got {other:?}"),
    }
    assert!(matches!(
        s.appender("../x").await,
        Err(Error::InvalidPath { .. })
    ));
}

/// A store whose every copy is followed, before it answers, by a write to
/// the source: another writer replacing it in the middle of a rename.
mod meddler {
    use std::sync::Arc;

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::path::Path;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
    };

    #[derive(Debug)]
    pub struct ReplaceSourceOnCopy {
        inner: Arc<dyn ObjectStore>,
    }

    impl ReplaceSourceOnCopy {
        pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
            Self { inner }
        }
    }

    impl std::fmt::Display for ReplaceSourceOnCopy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "ReplaceSourceOnCopy({})", self.inner)
        }
    }

    #[async_trait]
    impl ObjectStore for ReplaceSourceOnCopy {
        async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
            self.inner.get_opts(l, o).await
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, p: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.inner.list(p)
        }
        async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
            self.inner.list_with_delimiter(p).await
        }
        async fn copy_opts(&self, from: &Path, to: &Path, o: CopyOptions) -> Result<()> {
            self.inner.copy_opts(from, to, o).await?;
            self.inner
                .put_opts(from, "new".into(), PutOptions::default())
                .await?;
            Ok(())
        }
    }
}
