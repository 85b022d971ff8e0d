//! Object-store backend (to be implemented).
use std::sync::Arc;

/// Storage over any `object_store::ObjectStore`.
#[derive(Debug)]
pub struct ObjectStorage {
    #[allow(dead_code)]
    store: Arc<dyn object_store::ObjectStore>,
}

impl ObjectStorage {
    /// Wraps `store`.
    pub fn new(store: Arc<dyn object_store::ObjectStore>) -> Self {
        Self { store }
    }
}
