//! Tracing: one span per storage call with backend, operation, path, bytes
//! and attempt, and one event per retry with its cause and delay, checked
//! with a capturing subscriber layer.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{LocalStorage, ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// What the layer saw: closed spans and events, each as name and fields.
#[derive(Default, Clone)]
struct Captured {
    spans: Arc<Mutex<Vec<(String, Fields)>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(&mut Collect(fields));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions()
                .get::<Fields>()
                .cloned()
                .unwrap_or_default();
            self.spans
                .lock()
                .expect("lock")
                .push((span.name().to_owned(), fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        if let Some(parent) = ctx.event_span(event) {
            if let Some(op) = parent
                .extensions()
                .get::<Fields>()
                .and_then(|f| f.get("operation").cloned())
            {
                fields.insert("span.operation".into(), op);
            }
        }
        self.events.lock().expect("lock").push(fields);
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    /// The storage spans of `operation`, in the order they closed.
    fn spans_of(&self, operation: &str) -> Vec<Fields> {
        self.spans
            .lock()
            .expect("lock")
            .iter()
            .filter(|(name, f)| {
                name == "storage" && f.get("operation").map(String::as_str) == Some(operation)
            })
            .map(|(_, f)| f.clone())
            .collect()
    }

    fn retry_events(&self) -> Vec<Fields> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .filter(|f| f.contains_key("delay_ms"))
            .cloned()
            .collect()
    }
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
}

#[tokio::test]
async fn local_calls_have_spans_with_backend_operation_path_and_bytes() -> seerstore::Result<()> {
    let captured = Captured::default();
    let _guard = captured.install();
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = LocalStorage::open(dir.path()).await?;

    storage
        .write("L0/1.sst", Bytes::from_static(b"0123456789"))
        .await?;
    storage.read_range("L0/1.sst", 2..6).await?;
    let missing = storage.read("L0/missing.sst").await;
    assert!(missing.is_err());
    let mut writer = storage.writer("L1/2.sst").await?;
    writer.write(Bytes::from_static(b"abc")).await?;
    writer.finish().await?;
    let listed: Vec<_> = storage.list("L0").try_collect().await?;
    assert_eq!(listed.len(), 1);

    let writes = captured.spans_of("write");
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(field(&writes[0], "backend"), "local");
    assert_eq!(field(&writes[0], "path"), "L0/1.sst");
    assert_eq!(field(&writes[0], "bytes"), "10");

    let ranges = captured.spans_of("read_range");
    assert_eq!(ranges.len(), 1);
    assert_eq!(field(&ranges[0], "bytes"), "4");

    let reads = captured.spans_of("read");
    assert_eq!(reads.len(), 1);
    assert_eq!(field(&reads[0], "path"), "L0/missing.sst");
    assert_eq!(field(&reads[0], "error"), "not_found");
    assert!(!reads[0].contains_key("bytes"));

    // writer(): the call itself, the chunk, and finish (with the object size).
    let writer_spans = captured.spans_of("writer");
    assert_eq!(writer_spans.len(), 3, "{writer_spans:?}");
    assert!(writer_spans.iter().all(|s| field(s, "path") == "L1/2.sst"));
    assert_eq!(field(&writer_spans[2], "bytes"), "3");

    // head returns a size but moves no bytes.
    storage.head("L0/1.sst").await?;
    let heads = captured.spans_of("head");
    assert_eq!(heads.len(), 1);
    assert!(!heads[0].contains_key("bytes"), "{heads:?}");

    let lists = captured.spans_of("list");
    assert_eq!(lists.len(), 1);
    assert_eq!(field(&lists[0], "path"), "L0");
    assert_eq!(field(&lists[0], "bytes"), "10");

    // A local call has no retry loop and so no attempt.
    assert!(captured
        .spans
        .lock()
        .expect("lock")
        .iter()
        .all(|(_, f)| !f.contains_key("attempt")));
    assert!(captured.retry_events().is_empty());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn object_store_retries_are_events_and_the_span_names_the_last_attempt(
) -> seerstore::Result<()> {
    let captured = Captured::default();
    let _guard = captured.install();
    let store = FaultStore::memory(vec![Rule::new(
        Method::Get,
        When::Calls(1, 2),
        Fault::Transient,
    )]);
    let storage = ObjectStorage::new(Arc::new(store))
        .with_prefix("tenant-1/secret-prefix")
        .with_retry(quick_retry(3));

    storage
        .write("L0/1.sst", Bytes::from_static(b"0123456789"))
        .await?;
    assert_eq!(storage.read("L0/1.sst").await?, "0123456789");

    let writes = captured.spans_of("write");
    assert_eq!(writes.len(), 1);
    assert_eq!(field(&writes[0], "backend"), "object_store");
    assert_eq!(field(&writes[0], "attempt"), "1");

    let reads = captured.spans_of("read");
    assert_eq!(reads.len(), 1);
    assert_eq!(field(&reads[0], "attempt"), "3");
    assert_eq!(field(&reads[0], "bytes"), "10");
    // The key is relative: the store's prefix is not in the span.
    assert_eq!(field(&reads[0], "path"), "L0/1.sst");

    let retries = captured.retry_events();
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (retry, (attempt, delay)) in retries.iter().zip([("1", "10"), ("2", "20")]) {
        assert_eq!(field(retry, "attempt"), attempt);
        assert_eq!(field(retry, "delay_ms"), delay);
        assert_eq!(field(retry, "cause"), "object_store");
        assert_eq!(field(retry, "operation"), "read");
        assert_eq!(field(retry, "span.operation"), "read");
    }
    // Nothing in any field names the prefix (or anything URL-like).
    let everything = format!(
        "{:?}{:?}",
        captured.spans.lock().expect("lock"),
        captured.events.lock().expect("lock")
    );
    assert!(!everything.contains("secret-prefix"), "{everything}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_resumed_listing_emits_a_retry_event() -> seerstore::Result<()> {
    let captured = Captured::default();
    let _guard = captured.install();
    let store = FaultStore::memory(vec![Rule::new(
        Method::List,
        When::Call(1),
        Fault::TransientAfter(1),
    )]);
    let storage = ObjectStorage::new(Arc::new(store)).with_retry(quick_retry(3));
    for key in ["a", "b", "c"] {
        storage.write(key, Bytes::from_static(b"xy")).await?;
    }
    let listed: Vec<_> = storage.list("").try_collect().await?;
    assert_eq!(listed.len(), 3);
    let retries = captured.retry_events();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(field(&retries[0], "operation"), "list");
    let lists = captured.spans_of("list");
    assert_eq!(lists.len(), 1);
    assert_eq!(field(&lists[0], "bytes"), "6");
    Ok(())
}
