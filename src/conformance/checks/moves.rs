//! What `copy` and `rename` promise alike, written once for both
//! ([`Move`]): the destination holds the source's bytes (and after a
//! rename the source is gone), `Create` refuses an existing destination,
//! `Update` a version that is not current, and both refuse the same bad
//! input; a refused call changes nothing. `copies.rs` and `renames.rs`
//! drive these with their own keys and sizes.

use bytes::Bytes;

use super::{
    ensure, expect_err, is_invalid_path, list_keys, pattern, show, snapshot, step, unchanged,
};
use crate::conformance::{Context, Outcome};
use crate::{Error, ObjectMeta, Storage, WriteMode};

/// The two calls that put an object's bytes at another key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Move {
    Copy,
    Rename,
}

impl Move {
    /// The method's name, as the checks' messages spell it.
    fn name(self) -> &'static str {
        match self {
            Move::Copy => "copy",
            Move::Rename => "rename",
        }
    }

    /// Calls the method.
    pub(super) async fn call(
        self,
        s: &dyn Storage,
        from: &str,
        to: &str,
        mode: WriteMode,
    ) -> crate::Result<ObjectMeta> {
        match self {
            Move::Copy => s.copy(from, to, mode).await,
            Move::Rename => s.rename(from, to, mode).await,
        }
    }

    /// Checks what a successful call (`what`, which returned `meta`) left:
    /// `to` holds `data`, and after a rename `from` is gone.
    pub(super) async fn ensure_moved(
        self,
        s: &dyn Storage,
        what: &str,
        meta: &ObjectMeta,
        from: &str,
        to: &str,
        data: &Bytes,
    ) -> Outcome {
        ensure_holds(s, what, meta, to, data).await?;
        match self {
            Move::Copy => Ok(()),
            Move::Rename => ensure_gone(s, what, from).await,
        }
    }

    /// An `Overwrite` from `from` to `to` (`what` names it), checked with
    /// [`ensure_moved`](Self::ensure_moved).
    pub(super) async fn ensure_overwrite_moves(
        self,
        s: &dyn Storage,
        what: &str,
        from: &str,
        to: &str,
        data: &Bytes,
    ) -> Outcome {
        let meta = step(what, self.call(s, from, to, WriteMode::Overwrite).await)?;
        self.ensure_moved(s, what, &meta, from, to, data).await
    }

    /// Checks that a `Create` from `from` onto the existing `to` is refused
    /// with AlreadyExists naming `to`, and changes nothing.
    pub(super) async fn ensure_create_refused(self, cx: &Context, from: &str, to: &str) -> Outcome {
        let (s, op) = (&*cx.storage, self.name());
        let before = snapshot(s, &cx.ns).await?;
        let e = expect_err(
            &format!("{op}(Create) onto an existing key"),
            self.call(s, from, to, WriteMode::Create).await,
            "AlreadyExists",
            Error::is_already_exists,
        )?;
        ensure!(
            e.path() == Some(to),
            "AlreadyExists names {:?}, expected the destination {to:?}",
            e.path()
        );
        unchanged(
            &format!("a refused {op}(Create)"),
            &before,
            &snapshot(s, &cx.ns).await?,
        )
    }

    /// `Update` moves onto the current version of the destination only: a
    /// stale version (with `made_up`, also one the destination never had)
    /// and a missing destination are refused with Precondition and change
    /// nothing. `sizes` are those of the source and of the destination's
    /// stale and current versions.
    pub(super) async fn update_requires_current_version(
        self,
        cx: Context,
        sizes: [usize; 3],
        made_up: bool,
    ) -> Outcome {
        let (s, op) = (&*cx.storage, self.name());
        let (from, to) = (cx.key("src"), cx.key("dst"));
        let data = pattern(5, sizes[0]);
        step("write source", s.write(&from, data.clone()).await)?;
        let stale = step("write dst v1", s.write(&to, pattern(6, sizes[1])).await)?.version;
        let current = step("write dst v2", s.write(&to, pattern(7, sizes[2])).await)?.version;
        let (Some(stale), Some(current)) = (stale, current) else {
            return Err("writes returned no version".into());
        };
        let before = snapshot(s, &cx.ns).await?;
        let mut refused = vec![("a stale version", stale)];
        if made_up {
            refused.push(("a made-up one", "no-such-version".into()));
        }
        for (what, version) in refused {
            expect_err(
                &format!("{op}(Update) on {what}"),
                self.call(s, &from, &to, WriteMode::Update(version)).await,
                "Precondition",
                Error::is_precondition,
            )?;
        }
        expect_err(
            &format!("{op}(Update) onto a missing key"),
            self.call(
                s,
                &from,
                &cx.key("missing"),
                WriteMode::Update(current.clone()),
            )
            .await,
            "Precondition",
            Error::is_precondition,
        )?;
        unchanged(
            &format!("a refused {op}(Update)"),
            &before,
            &snapshot(s, &cx.ns).await?,
        )?;
        let meta = step(
            &format!("{op}(Update) on the current version"),
            self.call(s, &from, &to, WriteMode::Update(current)).await,
        )?;
        self.ensure_moved(s, &format!("{op}(Update)"), &meta, &from, &to, &data)
            .await
    }

    /// The refusals both share: a missing source, a key onto itself,
    /// invalid keys; none of them changes anything.
    pub(super) async fn bad_input_changes_nothing(self, cx: Context) -> Outcome {
        let (s, op) = (&*cx.storage, self.name());
        let (obj, other) = (cx.key("obj"), cx.key("other"));
        step("write", s.write(&obj, pattern(8, 100)).await)?;
        step("write", s.write(&other, pattern(9, 50)).await)?;
        let (keys_before, before) = (list_keys(s, "").await?, snapshot(s, &cx.ns).await?);
        let missing = cx.key("missing");
        // A missing source, with a destination the mode would accept.
        let mut to_missing = vec![
            (cx.key("new"), WriteMode::Overwrite),
            (other.clone(), WriteMode::Overwrite),
        ];
        if cx.caps.conditional_create && cx.caps.copy_create {
            to_missing.push((cx.key("new"), WriteMode::Create));
        }
        if cx.caps.conditional_update && cx.caps.copy_update {
            if let Some(v) = before
                .iter()
                .find(|o| o.path == other)
                .and_then(|o| o.version.clone())
            {
                to_missing.push((other.clone(), WriteMode::Update(v)));
            }
        }
        for (to, mode) in to_missing {
            let e = expect_err(
                &format!("{op} of a missing source to {to:?} ({mode:?})"),
                self.call(s, &missing, &to, mode).await,
                "NotFound",
                Error::is_not_found,
            )?;
            ensure!(
                e.path() == Some(missing.as_str()),
                "{op} of a missing source: NotFound names {:?}, expected {missing:?}",
                e.path()
            );
        }
        for mode in modes(&cx) {
            expect_err(
                &format!("{op} of a key onto itself ({mode:?})"),
                self.call(s, &obj, &obj, mode.clone()).await,
                "InvalidPath",
                is_invalid_path,
            )?;
            for bad in ["../escape", "a//b", "/abs", "trailing/", ".seerstore-tmp.1"] {
                let bad_in_ns = format!("{}/{bad}", cx.ns);
                for (from, to) in [
                    (bad.to_owned(), other.clone()),
                    (obj.clone(), bad.to_owned()),
                    (obj.clone(), bad_in_ns),
                ] {
                    expect_err(
                        &format!("{op}({from:?}, {to:?}, {mode:?})"),
                        self.call(s, &from, &to, mode.clone()).await,
                        "InvalidPath",
                        is_invalid_path,
                    )?;
                }
            }
        }
        let keys_after = list_keys(s, "").await?;
        ensure!(
            keys_before == keys_after,
            "refused {op}s changed the stored keys: {keys_before:?} -> {keys_after:?}"
        );
        unchanged(
            &format!("refused {op}s"),
            &before,
            &snapshot(s, &cx.ns).await?,
        )
    }
}

/// Checks that `to` holds `data` and that `meta` (what the call returned)
/// describes it.
async fn ensure_holds(
    s: &dyn Storage,
    what: &str,
    meta: &ObjectMeta,
    to: &str,
    data: &Bytes,
) -> Outcome {
    ensure!(
        meta.path == to && meta.size == data.len() as u64,
        "{what} returned {:?} of {} bytes, expected {to:?} of {}",
        meta.path,
        meta.size,
        data.len()
    );
    let back = step(&format!("read({to:?}) after {what}"), s.read(to).await)?;
    ensure!(
        back == data,
        "after {what}, {to:?} holds {} instead of the source's {}",
        show(&back),
        show(data)
    );
    let head = step(&format!("head({to:?}) after {what}"), s.head(to).await)?;
    ensure!(
        head.version == meta.version,
        "{what} returned version {:?}, head says {:?}",
        meta.version,
        head.version
    );
    Ok(())
}

/// The modes to try where a call must fail whatever the mode: those the
/// backend honours.
fn modes(cx: &Context) -> Vec<WriteMode> {
    let mut modes = vec![WriteMode::Overwrite];
    if cx.caps.conditional_create && cx.caps.copy_create {
        modes.push(WriteMode::Create);
    }
    if cx.caps.conditional_update && cx.caps.copy_update {
        modes.push(WriteMode::Update("no-such-version".into()));
    }
    modes
}

async fn ensure_gone(s: &dyn Storage, what: &str, key: &str) -> Outcome {
    ensure!(
        !step(
            &format!("exists({key:?}) after {what}"),
            s.exists(key).await
        )?,
        "after {what} the source {key:?} still exists"
    );
    expect_err(
        &format!("read of the source after {what}"),
        s.read(key).await,
        "NotFound",
        Error::is_not_found,
    )?;
    Ok(())
}
