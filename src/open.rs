//! Opening a storage from a URL (to be implemented).
use crate::{Result, Storage};
use std::sync::Arc;

/// Opens the storage a URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    let _ = url;
    todo!("open")
}
