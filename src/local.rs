//! Local-disk backend (to be implemented).
use crate::Result;
use std::path::Path;

/// Storage in a directory on local disk.
#[derive(Debug)]
pub struct LocalStorage {}

impl LocalStorage {
    /// Opens (creating if needed) the directory `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let _ = root.as_ref();
        todo!("LocalStorage")
    }
}
