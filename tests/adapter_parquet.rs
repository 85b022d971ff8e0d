//! A real object_store client through `ObjectStoreAdapter`: the `parquet`
//! crate writes Parquet files with `ParquetObjectWriter` (a multipart
//! upload through the adapter) and reads them back with
//! `ParquetObjectReader` (ranged gets of footer, metadata and column
//! chunks), checked cell by cell, on every backend that runs here.
//!
//! parquet 60 deprecates both types in favour of hand-written readers; they
//! are still what most query engines on object_store 0.14 use, so they are
//! what this test runs.
#![allow(deprecated)]

use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStore;
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_writer::ParquetObjectWriter;
use parquet::arrow::{AsyncArrowWriter, ParquetRecordBatchStreamBuilder};
use parquet::file::properties::WriterProperties;
use seerstore::{LocalStorage, ObjectStorage, ObjectStoreAdapter, Storage};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const ROWS: i64 = 50_000;

fn row_name(id: i64) -> String {
    format!(
        "key-{:08}-{}",
        id * 7919 % 100_003,
        "x".repeat((id % 13) as usize)
    )
}

fn batch(from: i64, to: i64) -> std::result::Result<RecordBatch, Box<dyn std::error::Error>> {
    let ids = Int64Array::from_iter_values(from..to);
    let names = StringArray::from_iter_values((from..to).map(row_name));
    Ok(RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as Arc<dyn Array>),
        ("name", Arc::new(names) as Arc<dyn Array>),
    ])?)
}

/// Writes a file of [`ROWS`] rows in small row groups and pages, reads it
/// back whole and by a projected row group, and checks every cell.
async fn round_trip(storage: Arc<dyn Storage>) -> TestResult {
    let store: Arc<dyn ObjectStore> = Arc::new(ObjectStoreAdapter::new(storage.clone()));
    let path = Path::from("tables/t1/part-00000.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(8_192))
        .set_data_page_row_count_limit(1_000)
        .build();
    let first = batch(0, 1)?;
    let writer = ParquetObjectWriter::new(store.clone(), path.clone());
    let mut writer = AsyncArrowWriter::try_new(writer, first.schema(), Some(props))?;
    let mut at = 0;
    while at < ROWS {
        let next = (at + 5_000).min(ROWS);
        writer.write(&batch(at, next)?).await?;
        at = next;
    }
    writer.close().await?;
    let meta = storage.head(path.as_ref()).await?;
    assert!(meta.size > 100_000, "a real file: {} bytes", meta.size);

    // The whole file, as a query engine scans it.
    let reader = ParquetObjectReader::new(store.clone(), path.clone()).with_file_size(meta.size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    assert!(builder.metadata().num_row_groups() >= 6);
    let batches: Vec<RecordBatch> = builder.build()?.try_collect().await?;
    let mut expected_id = 0;
    for batch in &batches {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or("id column")?;
        let names = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("name column")?;
        for row in 0..batch.num_rows() {
            assert_eq!(ids.value(row), expected_id);
            assert_eq!(names.value(row), row_name(expected_id), "row {expected_id}");
            expected_id += 1;
        }
    }
    assert_eq!(expected_id, ROWS);

    // One row group, one column, without the size known up front (the
    // reader then asks for a suffix to find the footer).
    let reader = ParquetObjectReader::new(store.clone(), path.clone());
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [1]);
    let group_rows = builder.metadata().row_group(3).num_rows();
    let first_row: i64 = (0..3)
        .map(|g| builder.metadata().row_group(g).num_rows())
        .sum();
    let batches: Vec<RecordBatch> = builder
        .with_row_groups(vec![3])
        .with_projection(mask)
        .build()?
        .try_collect()
        .await?;
    let mut row_id = first_row;
    for batch in &batches {
        assert_eq!(batch.num_columns(), 1);
        let names = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("name column")?;
        for row in 0..batch.num_rows() {
            assert_eq!(names.value(row), row_name(row_id));
            row_id += 1;
        }
    }
    assert_eq!(row_id - first_row, group_rows);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_round_trip_on_local_storage() -> TestResult {
    let dir = tempfile::tempdir()?;
    round_trip(Arc::new(LocalStorage::open(dir.path()).await?)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_round_trip_on_in_memory() -> TestResult {
    let store = Arc::new(object_store::memory::InMemory::new());
    round_trip(Arc::new(ObjectStorage::new(store).with_part_size(5 << 20))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_round_trip_through_the_cache() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cached =
        seerstore::Cached::new(LocalStorage::open(dir.path()).await?).with_block_size(64 << 10);
    round_trip(Arc::new(cached)).await
}
