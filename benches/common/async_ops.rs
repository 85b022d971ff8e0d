//! The async peers' operations: one per (workload, peer).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use seerstore::{LocalStorage, Storage};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{object_name, Options, Peer, Rng, Workload, LIST_PREFIX, READ_KEY};

/// What async tasks share.
pub(crate) struct Ctx {
    pub(crate) workload: Workload,
    pub(crate) options: Options,
    pub(crate) root: PathBuf,
    pub(crate) seer: LocalStorage,
    pub(crate) seer_blocking: LocalStorage,
    pub(crate) object_store: Arc<LocalFileSystem>,
    pub(crate) adapter: Arc<seerstore::ObjectStoreAdapter>,
    pub(crate) opendal: opendal::Operator,
    pub(crate) opendal_reader: Option<opendal::Reader>,
    pub(crate) payload: Bytes,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn op(
        &self,
        peer: Peer,
        rng: &mut Rng,
        lane: usize,
        round: u64,
        i: u64,
        start: Instant,
        first: &mut Vec<Duration>,
    ) {
        let o = &self.options;
        let blocks = o.file_size / o.block_size;
        let random_range = |rng: &mut Rng| {
            let offset = rng.below(blocks) * o.block_size;
            offset..offset + o.block_size
        };
        let seer = match peer {
            Peer::SeerstoreBlocking => &self.seer_blocking,
            _ => &self.seer,
        };
        match (self.workload, peer) {
            (Workload::RandomRead, Peer::Seerstore | Peer::SeerstoreBlocking) => {
                let range = random_range(rng);
                let bytes = seer.read_range(READ_KEY, range).await.expect("read");
                std::hint::black_box(bytes);
            }
            (Workload::ReadRanges, Peer::Seerstore | Peer::SeerstoreBlocking) => {
                let ranges: Vec<_> = (0..o.ranges_per_call).map(|_| random_range(rng)).collect();
                let bytes = seer.read_ranges(READ_KEY, &ranges).await.expect("read");
                std::hint::black_box(bytes);
            }
            (Workload::RandomRead, Peer::ObjectStore) => {
                let range = random_range(rng);
                let location = object_store::path::Path::from(READ_KEY);
                let options = GetOptions::new().with_range(Some(range));
                let result = self
                    .object_store
                    .get_opts(&location, options)
                    .await
                    .expect("get");
                std::hint::black_box(result.bytes().await.expect("bytes"));
            }
            (Workload::ReadRanges, Peer::ObjectStore) => {
                let ranges: Vec<_> = (0..o.ranges_per_call).map(|_| random_range(rng)).collect();
                let location = object_store::path::Path::from(READ_KEY);
                let bytes = self
                    .object_store
                    .get_ranges(&location, &ranges)
                    .await
                    .expect("get_ranges");
                std::hint::black_box(bytes);
            }
            (Workload::RandomRead, Peer::Adapter) => {
                let range = random_range(rng);
                let location = object_store::path::Path::from(READ_KEY);
                let bytes = self
                    .adapter
                    .get_range(&location, range)
                    .await
                    .expect("get_range");
                std::hint::black_box(bytes);
            }
            (Workload::ReadRanges, Peer::Adapter) => {
                let ranges: Vec<_> = (0..o.ranges_per_call).map(|_| random_range(rng)).collect();
                let location = object_store::path::Path::from(READ_KEY);
                let bytes = self
                    .adapter
                    .get_ranges(&location, &ranges)
                    .await
                    .expect("get_ranges");
                std::hint::black_box(bytes);
            }
            (Workload::RandomRead, Peer::OpenDal) => {
                let range = random_range(rng);
                let reader = self.opendal_reader.as_ref().expect("reader");
                let buffer = reader.read(range).await.expect("read");
                std::hint::black_box(buffer.to_bytes());
            }
            (Workload::ReadRanges, Peer::OpenDal) => {
                let ranges: Vec<_> = (0..o.ranges_per_call).map(|_| random_range(rng)).collect();
                let reader = self.opendal_reader.as_ref().expect("reader");
                let buffers = reader.fetch(ranges).await.expect("fetch");
                std::hint::black_box(buffers);
            }
            (Workload::SstableWrite | Workload::SmallWrites, Peer::OpenDal) => {
                let key = format!("w/{}", object_name(self.workload, lane, round, i));
                self.opendal
                    .write(&key, self.payload.clone())
                    .await
                    .expect("write");
            }
            (Workload::SstableWriter, Peer::OpenDal) => {
                let key = format!("w/{}", object_name(self.workload, lane, round, i));
                let mut writer = self.opendal.writer(&key).await.expect("writer");
                for chunk in mib_chunks(&self.payload) {
                    writer.write(chunk).await.expect("write");
                }
                writer.close().await.expect("close");
            }
            (Workload::List, Peer::OpenDal) => {
                let mut lister = self
                    .opendal
                    .lister_with(&format!("{LIST_PREFIX}/"))
                    .recursive(true)
                    .await
                    .expect("lister");
                let mut count = 0usize;
                while let Some(entry) = lister.next().await {
                    let entry = entry.expect("entry");
                    if !entry.metadata().is_file() {
                        continue;
                    }
                    let size = self
                        .opendal
                        .stat(entry.path())
                        .await
                        .expect("stat")
                        .content_length();
                    if count == 0 {
                        first.push(start.elapsed());
                    }
                    std::hint::black_box(size);
                    count += 1;
                }
                assert_eq!(count, o.keys);
            }
            (Workload::RandomRead | Workload::ReadRanges, Peer::TokioFs) => {
                let calls = if self.workload == Workload::RandomRead {
                    1
                } else {
                    o.ranges_per_call
                };
                let mut file = tokio::fs::File::open(self.root.join(READ_KEY))
                    .await
                    .expect("open");
                for _ in 0..calls {
                    let range = random_range(rng);
                    file.seek(std::io::SeekFrom::Start(range.start))
                        .await
                        .expect("seek");
                    let mut buf = vec![0u8; o.block_size as usize];
                    file.read_exact(&mut buf).await.expect("read");
                    std::hint::black_box(Bytes::from(buf));
                }
            }
            (Workload::SstableWrite | Workload::SmallWrites, Peer::Seerstore) => {
                let key = format!("w/{}", object_name(self.workload, lane, round, i));
                seer.write(&key, self.payload.clone()).await.expect("write");
            }
            (Workload::SstableWriter, Peer::Seerstore) => {
                let key = format!("w/{}", object_name(self.workload, lane, round, i));
                let mut writer = seer.writer(&key).await.expect("writer");
                for chunk in mib_chunks(&self.payload) {
                    writer.write(chunk).await.expect("write");
                }
                writer.finish().await.expect("finish");
            }
            (
                Workload::SstableWrite | Workload::SstableWriter | Workload::SmallWrites,
                Peer::ObjectStore,
            ) => {
                let location = object_store::path::Path::from(format!(
                    "w/{}",
                    object_name(self.workload, lane, round, i)
                ));
                self.object_store
                    .put_opts(
                        &location,
                        PutPayload::from_bytes(self.payload.clone()),
                        PutOptions::default(),
                    )
                    .await
                    .expect("put");
            }
            (
                Workload::SstableWrite | Workload::SstableWriter | Workload::SmallWrites,
                Peer::TokioFs,
            ) => {
                let dir = self.root.join("w");
                let target = dir.join(object_name(self.workload, lane, round, i));
                let temp = dir.join(format!("tmp-tokio-{lane}-{round}-{i}"));
                let mut file = tokio::fs::File::create(&temp).await.expect("create");
                file.write_all(&self.payload).await.expect("write");
                file.sync_all().await.expect("fsync");
                drop(file);
                tokio::fs::rename(&temp, &target).await.expect("rename");
                tokio::fs::File::open(&dir)
                    .await
                    .expect("open dir")
                    .sync_all()
                    .await
                    .expect("dir fsync");
            }
            (Workload::List, Peer::Seerstore) => {
                let sizes = seer.list(LIST_PREFIX).map(|m| m.expect("list").size);
                assert_eq!(drain_listing(sizes, start, first).await, o.keys);
            }
            (Workload::List, Peer::ObjectStore) => {
                let prefix = object_store::path::Path::from(LIST_PREFIX);
                let sizes = self
                    .object_store
                    .list(Some(&prefix))
                    .map(|m| m.expect("list").size);
                assert_eq!(drain_listing(sizes, start, first).await, o.keys);
            }
            (Workload::List, Peer::TokioFs) => {
                let mut count = 0usize;
                let mut stack = vec![self.root.join(LIST_PREFIX)];
                while let Some(dir) = stack.pop() {
                    let mut entries = tokio::fs::read_dir(&dir).await.expect("read_dir");
                    while let Some(entry) = entries.next_entry().await.expect("entry") {
                        let meta = entry.metadata().await.expect("metadata");
                        if meta.is_dir() {
                            stack.push(entry.path());
                        } else {
                            if count == 0 {
                                first.push(start.elapsed());
                            }
                            count += 1;
                            std::hint::black_box(meta.len());
                        }
                    }
                }
                assert_eq!(count, o.keys);
            }
            (workload, peer) => panic!("{} does not run {}", peer.name(), workload.name()),
        }
    }
}

/// Counts the entries of a listing (their sizes are read), noting in
/// `first` when the first one arrived.
async fn drain_listing(
    sizes: impl futures::Stream<Item = u64>,
    start: Instant,
    first: &mut Vec<Duration>,
) -> usize {
    let mut sizes = std::pin::pin!(sizes);
    let mut count = 0usize;
    while let Some(size) = sizes.next().await {
        if count == 0 {
            first.push(start.elapsed());
        }
        std::hint::black_box(size);
        count += 1;
    }
    count
}

/// `payload` in 1 MiB slices (the last shorter), as a streaming writer
/// gets an SSTable.
fn mib_chunks(payload: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    (0..payload.len())
        .step_by(1 << 20)
        .map(|at| payload.slice(at..(at + (1 << 20)).min(payload.len())))
}
