//! HTTP requests per object_store call, counted by the test proxy on moto:
//! `ObjectStoreAdapter` over `seerstore::open("s3://…")` sends exactly as
//! many as object_store's own `AmazonS3` for the same call, but for `copy`
//! (one more: a head of the destination, since `Storage::copy` returns its
//! metadata and object_store's copy returns none) and `rename` (below).
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;
mod proxy;

use std::sync::Arc;

use bytes::Bytes;
use common_servers::{unique_prefix, S3Server, Server};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use proxy::{through, upstream_of, Proxy, ProxyConfig};
use seerstore::ObjectStoreAdapter;

/// One store behind its own proxy, so its requests can be counted.
struct Counted {
    proxy: Proxy,
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl Counted {
    /// Requests the proxy saw while `call` ran.
    async fn requests<T>(&self, call: impl std::future::Future<Output = T>) -> (usize, T) {
        let before = self.proxy.requests();
        let out = call.await;
        (self.proxy.requests() - before, out)
    }

    fn path(&self, key: &str) -> Path {
        Path::from(format!("{}/{key}", self.prefix))
    }
}

async fn adapter(moto: &S3Server) -> Counted {
    let proxy = Proxy::start(ProxyConfig::new(upstream_of(&moto.endpoint), 1))
        .await
        .expect("proxy");
    let server = Server::S3(clone(moto));
    let storage = server
        .open(
            &through(&proxy, &moto.endpoint),
            &unique_prefix("req-adapter"),
            &[],
        )
        .await;
    Counted {
        proxy,
        store: Arc::new(ObjectStoreAdapter::new(storage)),
        prefix: String::from("t"),
    }
}

async fn native(moto: &S3Server) -> Counted {
    let proxy = Proxy::start(ProxyConfig::new(upstream_of(&moto.endpoint), 2))
        .await
        .expect("proxy");
    let mut direct = clone(moto);
    direct.endpoint = through(&proxy, &moto.endpoint);
    Counted {
        proxy,
        store: Arc::new(direct.client()),
        prefix: unique_prefix("req-native"),
    }
}

fn clone(s: &S3Server) -> S3Server {
    S3Server {
        endpoint: s.endpoint.clone(),
        bucket: s.bucket.clone(),
        key_id: s.key_id.clone(),
        secret: s.secret.clone(),
        region: s.region.clone(),
    }
}

/// The requests of each call, in order, for one store.
async fn requests_per_call(c: &Counted) -> Vec<(&'static str, usize)> {
    let store = &c.store;
    let small = c.path("small");
    let mut out = Vec::new();
    let (n, r) = c
        .requests(store.put(&small, PutPayload::from_static(b"0123456789")))
        .await;
    r.expect("put");
    out.push(("put", n));
    let (n, r) = c
        .requests(async { store.get(&small).await?.bytes().await })
        .await;
    assert_eq!(r.expect("get"), "0123456789");
    out.push(("get", n));
    let (n, r) = c.requests(store.get_range(&small, 2..5)).await;
    assert_eq!(r.expect("get_range"), "234");
    out.push(("get_range", n));
    let (n, r) = c.requests(store.head(&small)).await;
    assert_eq!(r.expect("head").size, 10);
    out.push(("head", n));
    let (n, r) = c.requests(store.get_ranges(&small, &[0..2, 4..6])).await;
    assert_eq!(
        r.expect("get_ranges"),
        [Bytes::from("01"), Bytes::from("45")]
    );
    out.push(("get_ranges", n));
    let (n, r) = c.requests(store.copy(&small, &c.path("copy"))).await;
    r.expect("copy");
    out.push(("copy", n));
    let (n, r) = c.requests(store.put(&c.path("d/x"), "x".into())).await;
    r.expect("put");
    out.push(("put nested", n));
    let prefix = c.path("");
    let prefix = Path::from(prefix.as_ref().trim_end_matches('/'));
    let (n, r) = c
        .requests(store.list(Some(&prefix)).try_collect::<Vec<_>>())
        .await;
    assert_eq!(r.expect("list").len(), 3);
    out.push(("list", n));
    let (n, r) = c
        .requests(
            store
                .list_with_offset(Some(&prefix), &c.path("d/x"))
                .try_collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.expect("list_with_offset").len(), 1, "small");
    out.push(("list_with_offset", n));
    let (n, r) = c.requests(store.list_with_delimiter(Some(&prefix))).await;
    let level = r.expect("list_with_delimiter");
    assert_eq!((level.objects.len(), level.common_prefixes.len()), (2, 1));
    out.push(("list_with_delimiter", n));
    let keys: Vec<Path> = (0..300).map(|i| c.path(&format!("m/{i:04}"))).collect();
    for key in &keys {
        store.put(key, "x".into()).await.expect("put");
    }
    let (n, deleted) = c
        .requests(
            store
                .delete_stream(futures::stream::iter(keys.into_iter().map(Ok)).boxed())
                .try_collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(deleted.expect("delete_stream").len(), 300);
    out.push(("delete_stream of 300", n));
    let (n, r) = c.requests(store.delete(&small)).await;
    r.expect("delete");
    out.push(("delete", n));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_sends_what_object_store_sends() {
    let Some(moto) = S3Server::from_env("moto", "MOTO") else {
        return;
    };
    let ours = requests_per_call(&adapter(&moto).await).await;
    let theirs = requests_per_call(&native(&moto).await).await;
    println!("requests per call (adapter, object_store): {ours:?} / {theirs:?}");
    // `copy`: the CopyObject, then the head that `Storage::copy`'s metadata
    // needs.
    let expected: Vec<(&str, usize)> = theirs
        .iter()
        .map(|&(call, n)| (call, if call == "copy" { n + 1 } else { n }))
        .collect();
    assert_eq!(ours, expected);
}

/// `rename` sends more: a head of the source, the copy and the head of its
/// result (as `copy`), then a delete only if a second head of the source
/// still finds the version copied, where object_store deletes whatever is
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_checks_the_source_before_deleting_it() {
    let Some(moto) = S3Server::from_env("moto", "MOTO") else {
        return;
    };
    let c = adapter(&moto).await;
    c.store.put(&c.path("a"), "a".into()).await.expect("put");
    let (n, r) = c.requests(c.store.rename(&c.path("a"), &c.path("b"))).await;
    r.expect("rename");
    assert_eq!(n, 5, "HEAD, copy, HEAD of the copy, HEAD, DELETE");
    let native = native(&moto).await;
    native
        .store
        .put(&native.path("a"), "a".into())
        .await
        .expect("put");
    let (n, r) = native
        .requests(native.store.rename(&native.path("a"), &native.path("b")))
        .await;
    r.expect("rename");
    assert_eq!(n, 2, "copy, DELETE");
}
