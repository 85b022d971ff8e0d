//! One conditional or plain PUT, and the lost-answer check of a retried
//! conditional write ([`landed`](super::landed)).

use bytes::Bytes;
use object_store::path::Path;
use object_store::{PutMode, PutOptions, PutPayload};

use crate::error::{Operation, Result};
use crate::retry::Deadline;
use crate::storage::{ObjectMeta, WriteMode};

use super::keys::encode_version;
use super::{from_object_store, landed, ObjectStorage};

impl ObjectStorage {
    /// Writes once; a retried conditional write that conflicts is checked
    /// against the object's bytes (our earlier attempt may have landed).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn put_once(
        &self,
        attempt: u32,
        key: &str,
        location: &Path,
        data: &Bytes,
        mode: &WriteMode,
        put_mode: &PutMode,
        deadline: Deadline,
    ) -> Result<ObjectMeta> {
        let op = Operation::Write;
        let options = PutOptions {
            mode: put_mode.clone(),
            ..PutOptions::default()
        };
        let expected = match mode {
            WriteMode::Update(v) => Some(v.as_str()),
            _ => None,
        };
        match self
            .store
            .put_opts(location, PutPayload::from(data.clone()), options)
            .await
        {
            Ok(result) => Ok(
                ObjectMeta::new(key, data.len() as u64).with_version(encode_version(
                    result.e_tag.as_deref(),
                    result.version.as_deref(),
                )),
            ),
            Err(err) => {
                let err = from_object_store(op, key, expected, err);
                let conflict = err.is_already_exists() || err.is_precondition();
                if attempt < 2 || !conflict {
                    return Err(err);
                }
                // An earlier attempt may have landed and lost its answer.
                let written = landed::Written::Bytes(data);
                match landed::landed(self.store.as_ref(), location, written, &deadline).await {
                    Ok(Some(current)) => Ok(self.meta(key, &current)),
                    Ok(None) => Err(err),
                    Err(e) => Err(from_object_store(op, key, None, e)),
                }
            }
        }
    }
}
