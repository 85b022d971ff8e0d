//! The two subjects a workload runs on: seerstore's `Storage`, or
//! object_store used directly on the same backend (`--compare`).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use seerstore::Storage;

use super::BLOCK;
use crate::exit::CliError;
/// The operations a workload needs, on seerstore or on object_store.
#[derive(Clone)]
pub(super) enum Subject {
    Seerstore(Arc<dyn Storage>),
    ObjectStore(Arc<dyn ObjectStore>, Path),
}

pub(super) type AnyError = Box<dyn std::error::Error + Send + Sync>;

impl Subject {
    pub(super) fn peer(&self) -> &'static str {
        match self {
            Subject::Seerstore(_) => "seerstore",
            Subject::ObjectStore(..) => "object_store",
        }
    }

    fn path(prefix: &Path, key: &str) -> Path {
        Path::from_iter(prefix.parts().chain(Path::from(key).parts()))
    }

    pub(super) async fn read_range(&self, key: &str, start: u64) -> Result<usize, AnyError> {
        match self {
            Subject::Seerstore(s) => Ok(s.read_range(key, start..start + BLOCK).await?.len()),
            Subject::ObjectStore(store, prefix) => {
                let options = GetOptions {
                    range: Some(GetRange::Bounded(start..start + BLOCK)),
                    ..GetOptions::default()
                };
                let got = store.get_opts(&Self::path(prefix, key), options).await?;
                Ok(got.bytes().await?.len())
            }
        }
    }

    pub(super) async fn write(&self, key: &str, data: Bytes) -> Result<(), AnyError> {
        match self {
            Subject::Seerstore(s) => {
                s.write(key, data).await?;
            }
            Subject::ObjectStore(store, prefix) => {
                let payload = PutPayload::from(data);
                store
                    .put_opts(&Self::path(prefix, key), payload, Default::default())
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn stream(&self, key: &str, chunks: &[Bytes]) -> Result<(), AnyError> {
        match self {
            Subject::Seerstore(s) => {
                let mut writer = s.writer(key).await?;
                for chunk in chunks {
                    writer.write(chunk.clone()).await?;
                }
                writer.finish().await?;
            }
            Subject::ObjectStore(store, prefix) => {
                let upload = store
                    .put_multipart_opts(&Self::path(prefix, key), Default::default())
                    .await?;
                let mut writer = WriteMultipart::new(upload);
                for chunk in chunks {
                    writer.wait_for_capacity(4).await?;
                    writer.put(chunk.clone());
                }
                writer.finish().await?;
            }
        }
        Ok(())
    }

    pub(super) async fn list(&self, key_prefix: &str) -> Result<u64, AnyError> {
        match self {
            Subject::Seerstore(s) => Ok(s
                .list(key_prefix)
                .try_fold(0u64, |n, _| async move { Ok(n + 1) })
                .await?),
            Subject::ObjectStore(store, prefix) => {
                let path = Self::path(prefix, key_prefix);
                let mut listed = store.list(Some(&path));
                let mut n = 0;
                while let Some(meta) = listed.next().await {
                    meta?;
                    n += 1;
                }
                Ok(n)
            }
        }
    }

    /// Removes every key under `key_prefix`.
    pub(super) async fn clean(&self, key_prefix: &str) {
        match self {
            Subject::Seerstore(s) => {
                let keys: Vec<String> = s
                    .list(key_prefix)
                    .map_ok(|m| m.path)
                    .try_collect()
                    .await
                    .unwrap_or_default();
                for key in keys {
                    let _ = s.delete(&key).await;
                }
            }
            Subject::ObjectStore(store, prefix) => {
                let path = Self::path(prefix, key_prefix);
                let paths: Vec<Path> = store
                    .list(Some(&path))
                    .map_ok(|m| m.location)
                    .try_collect()
                    .await
                    .unwrap_or_default();
                let _ = store
                    .delete_stream(futures::stream::iter(paths.into_iter().map(Ok)).boxed())
                    .try_collect::<Vec<_>>()
                    .await;
            }
        }
    }
}

/// object_store on the same backend, for `--compare`.
pub(super) fn direct_store(url: &str, options: &[(String, String)]) -> Result<Subject, CliError> {
    let parsed = url::Url::parse(url).map_err(|e| CliError::usage(format!("bad URL: {e}")))?;
    if parsed.scheme() == "file" {
        // Durable like seerstore's writes, so that the comparison is fair.
        let fs = object_store::local::LocalFileSystem::new_with_prefix(parsed.path())
            .map_err(|e| CliError::other(format!("object_store LocalFileSystem: {e}")))?
            .with_fsync(true);
        return Ok(Subject::ObjectStore(Arc::new(fs), Path::default()));
    }
    if parsed.scheme() == "memory" {
        // A second, separate in-memory store: the same implementation.
        return Ok(Subject::ObjectStore(
            Arc::new(object_store::memory::InMemory::new()),
            Path::default(),
        ));
    }
    let mut all: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    all.extend(options.iter().cloned());
    let mut bare = parsed.clone();
    bare.set_query(None);
    let (store, prefix) = object_store::parse_url_opts(&bare, all).map_err(|e| {
        CliError::usage(format!(
            "object_store cannot open this URL for --compare: {e}"
        ))
    })?;
    Ok(Subject::ObjectStore(Arc::from(store), prefix))
}
