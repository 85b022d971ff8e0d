//! What `ObjectStoreAdapter` adds beyond object_store's suite: part order
//! in multipart uploads, the emulated copy and rename, long reads that
//! notice a replaced object, and the error mapping.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    UpdateVersion,
};
use seerstore::{LocalStorage, ObjectStorage, ObjectStoreAdapter, Storage};

async fn local() -> (tempfile::TempDir, Arc<dyn Storage>, ObjectStoreAdapter) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await.expect("open"));
    let adapter = ObjectStoreAdapter::new(storage.clone());
    (dir, storage, adapter)
}

/// Bytes `i % 251`, so that any misplaced range shows.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn multipart_parts_land_in_put_part_order_whatever_polls_first() {
    let (_dir, storage, store) = local().await;
    let path = Path::from("sst/1.sst");
    let mut upload = store.put_multipart(&path).await.expect("upload");
    let p0 = upload.put_part(Bytes::from_static(b"aaa").into());
    let p1 = upload.put_part(Bytes::from_static(b"bbb").into());
    let p2 = upload.put_part(Bytes::from_static(b"ccc").into());
    p2.await.expect("p2");
    p1.await.expect("p1");
    p0.await.expect("p0");
    // A part whose future is never polled is still written, in its place.
    drop(upload.put_part(Bytes::from_static(b"ddd").into()));
    let put = upload.complete().await.expect("complete");
    assert_eq!(
        storage.read("sst/1.sst").await.expect("read"),
        "aaabbbcccddd"
    );
    assert_eq!(
        put.e_tag,
        storage.head("sst/1.sst").await.expect("head").version
    );
}

#[tokio::test]
async fn multipart_abort_leaves_nothing() {
    let (_dir, storage, store) = local().await;
    let path = Path::from("sst/2.sst");
    let mut upload = store.put_multipart(&path).await.expect("upload");
    upload
        .put_part(Bytes::from_static(b"x").into())
        .await
        .expect("part");
    upload.abort().await.expect("abort");
    assert!(!storage.exists("sst/2.sst").await.expect("exists"));
    let left: Vec<_> = storage.list("").try_collect().await.expect("list");
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn rename_onto_itself_keeps_the_object() {
    let (_dir, storage, store) = local().await;
    let path = Path::from("a/b");
    store.put(&path, "data".into()).await.expect("put");
    store.rename(&path, &path).await.expect("rename");
    assert_eq!(storage.read("a/b").await.expect("read"), "data");
    let err = store.rename_if_not_exists(&path, &path).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::AlreadyExists { .. }),
        "{err}"
    );
    let err = store
        .rename(&Path::from("missing"), &Path::from("missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn large_objects_stream_and_copy_in_ranges() {
    let (_dir, storage, store) = local().await;
    let data = pattern(20 * 1024 * 1024 + 7);
    storage.write("big", data.clone()).await.expect("write");
    let result = store.get(&Path::from("big")).await.expect("get");
    let chunks: Vec<Bytes> = result.into_stream().try_collect().await.expect("stream");
    assert!(chunks.len() >= 3, "streamed in {} chunks", chunks.len());
    assert_eq!(chunks.concat(), data);

    store
        .copy(&Path::from("big"), &Path::from("copy/big"))
        .await
        .expect("copy");
    assert_eq!(storage.read("copy/big").await.expect("read"), data);
    store
        .rename(&Path::from("copy/big"), &Path::from("moved"))
        .await
        .expect("rename");
    assert_eq!(storage.read("moved").await.expect("read"), data);
    assert!(!storage.exists("copy/big").await.expect("exists"));

    let tail = store
        .get_opts(
            &Path::from("big"),
            GetOptions::new().with_range(Some(object_store::GetRange::Suffix(9 * 1024 * 1024))),
        )
        .await
        .expect("suffix");
    let expected = data.slice(data.len() - 9 * 1024 * 1024..);
    assert_eq!(tail.bytes().await.expect("bytes"), expected);
}

#[tokio::test]
async fn a_long_read_of_a_replaced_object_ends_in_an_error() {
    let (_dir, storage, store) = local().await;
    let len = 20 * 1024 * 1024;
    storage.write("big", pattern(len)).await.expect("write");
    let mut stream = store
        .get(&Path::from("big"))
        .await
        .expect("get")
        .into_stream();
    let first = stream.next().await.expect("a chunk").expect("first chunk");
    assert_eq!(first, pattern(len).slice(..first.len()));
    // Same size, other bytes: without the version check the stream would
    // mix the two objects silently.
    storage
        .write("big", vec![7u8; len].into())
        .await
        .expect("replace");
    let rest: Vec<_> = stream.collect().await;
    assert!(
        rest.iter().any(|r| r.is_err()),
        "a replaced object was streamed without an error"
    );
}

#[tokio::test]
async fn versions_are_e_tags_and_old_versions_are_not_found() {
    let (_dir, storage, store) = local().await;
    let path = Path::from("MANIFEST");
    let v1 = store
        .put_opts(&path, "v1".into(), PutMode::Create.into())
        .await
        .expect("create");
    let token = v1.e_tag.clone().expect("an e_tag");
    assert_eq!(
        Some(&token),
        storage
            .head("MANIFEST")
            .await
            .expect("head")
            .version
            .as_ref()
    );
    let v2 = store
        .put_opts(
            &path,
            "v2".into(),
            PutMode::Update(UpdateVersion {
                e_tag: Some(token.clone()),
                version: None,
            })
            .into(),
        )
        .await
        .expect("update");
    let current = store
        .get_opts(&path, GetOptions::new().with_version(v2.e_tag.clone()))
        .await
        .expect("current version");
    assert_eq!(current.bytes().await.expect("bytes"), "v2");
    let err = store
        .get_opts(&path, GetOptions::new().with_version(Some(token)))
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
    let err = store
        .put_opts(
            &path,
            "v3".into(),
            PutMode::Update(UpdateVersion {
                e_tag: None,
                version: Some("x".into()),
            })
            .into(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::Precondition { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn errors_map_to_object_store_variants_and_keep_their_source() {
    let (_dir, _storage, store) = local().await;
    // A key seerstore reserves for its temporary files.
    let err = store
        .put(&Path::from(".seerstore-tmp.1/x"), "x".into())
        .await
        .unwrap_err();
    let object_store::Error::Generic { source, .. } = &err else {
        panic!("expected Generic, got {err:?}");
    };
    let inner = source
        .downcast_ref::<seerstore::Error>()
        .expect("the seerstore error is the source");
    assert!(
        matches!(inner, seerstore::Error::InvalidPath { .. }),
        "{inner}"
    );

    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, "text/plain".into());
    let err = store
        .put_opts(
            &Path::from("x"),
            "x".into(),
            PutOptions {
                attributes,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotImplemented { .. }),
        "{err}"
    );

    let err = store.get(&Path::from("missing")).await.unwrap_err();
    let object_store::Error::NotFound { source, .. } = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert!(source.downcast_ref::<seerstore::Error>().is_some());
}

#[tokio::test]
async fn update_on_a_backend_without_it_is_not_implemented() {
    // object_store's LocalFileSystem has no PutMode::Update; seerstore says
    // NotSupported, and object_store callers expect NotImplemented.
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    let storage: Arc<dyn Storage> = Arc::new(ObjectStorage::new(Arc::new(fs)));
    let store = ObjectStoreAdapter::new(storage);
    object_store::integration::put_opts(&store, false).await;
}
