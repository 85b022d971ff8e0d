//! What a backend declares it can promise ([`Capabilities`]) and what a
//! check needs of it ([`Requirement`]): a check whose requirement does
//! not hold is reported as not applicable, by name.

/// What a backend can promise; each `false` turns the checks that need it
/// into "not applicable" and must be explained where the backend declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `head` and writes return a `version` that `WriteMode::Update` accepts,
    /// and each write changes it.
    pub versions: bool,
    /// `WriteMode::Create` refuses an existing key.
    pub conditional_create: bool,
    /// Of racing `WriteMode::Create`s on one key, exactly one wins.
    pub atomic_create: bool,
    /// `WriteMode::Update` refuses a stale version.
    pub conditional_update: bool,
    /// Of racing `WriteMode::Update`s from one version, exactly one wins.
    pub atomic_update: bool,
    /// A key and a longer key under it (`a` and `a/b`) can both exist.
    /// Filesystems cannot: `a` would have to be a file and a directory.
    pub file_and_dir_keys: bool,
    /// `sync` of a missing key is `Error::NotFound` (local disk); object
    /// stores answer `Ok` without a request.
    pub sync_checks_existence: bool,
    /// The longest key the backend stores (1024 on S3 without a prefix;
    /// less when a prefix takes part of S3's 1024 bytes).
    pub max_key_bytes: usize,
    /// The longest single segment (255 on Linux filesystems).
    pub max_segment_bytes: usize,
    /// Size of the object the large-object check streams through `writer()`.
    pub large_object_bytes: usize,
    /// Writers racing in the concurrency checks.
    pub concurrency: usize,
    /// `Storage::appender` works (local disk); object stores answer
    /// `Error::NotSupported`, which the suite then checks instead.
    pub appends: bool,
    /// `copy` and `rename` with `WriteMode::Create` refuse an existing
    /// destination (given `conditional_create`). `false` where the store
    /// has no copy-if-absent: object_store's S3 client answers
    /// `NotSupported` unless it was built with an `S3CopyIfNotExists`
    /// setting the server understands.
    pub copy_create: bool,
    /// `copy` and `rename` with `WriteMode::Update` check the destination's
    /// version (given `conditional_update`). `false` where the backend can
    /// only copy unconditionally (object_store has no copy on a version).
    pub copy_update: bool,
    /// `rename` is atomic: no reader sees both keys, or neither. `false` on
    /// object stores, where `rename` is a copy then a delete of the source.
    pub atomic_rename: bool,
    /// `read_with` pairs each version's bytes with its own version and size
    /// also while the object is being replaced. `false` where the server
    /// keeps an object's bytes and its ETag apart and replaces them one
    /// after the other: s3s-fs writes the data file, then a metadata file,
    /// and reads them separately, so a GET racing a PUT can return the new
    /// bytes with the old ETag.
    pub consistent_reads: bool,
    /// A sub-prefix whose objects were all deleted no longer appears in
    /// `list_dir`'s `dirs`. `false` where empty directories stay and a
    /// one-level read reports them: object_store's `LocalFileSystem`
    /// (without `with_automatic_cleanup`) lists every directory.
    pub emptied_dirs_vanish: bool,
}

impl Capabilities {
    /// Every promise an in-memory object store holds: all but `appends`
    /// (object_store has no append), which [`appends`](Self::appends) sets.
    pub fn all() -> Self {
        Self {
            versions: true,
            conditional_create: true,
            atomic_create: true,
            conditional_update: true,
            atomic_update: true,
            file_and_dir_keys: true,
            sync_checks_existence: false,
            max_key_bytes: crate::path::MAX_PATH_BYTES,
            max_segment_bytes: crate::path::MAX_PATH_BYTES,
            large_object_bytes: 24 << 20,
            concurrency: 16,
            appends: false,
            copy_create: true,
            copy_update: true,
            atomic_rename: true,
            consistent_reads: true,
            emptied_dirs_vanish: true,
        }
    }

    /// Sets `appends`.
    #[must_use]
    pub fn appends(mut self, yes: bool) -> Self {
        self.appends = yes;
        self
    }

    /// Sets `file_and_dir_keys`.
    #[must_use]
    pub fn file_and_dir_keys(mut self, yes: bool) -> Self {
        self.file_and_dir_keys = yes;
        self
    }

    /// Sets `sync_checks_existence`.
    #[must_use]
    pub fn sync_checks_existence(mut self, yes: bool) -> Self {
        self.sync_checks_existence = yes;
        self
    }

    /// Sets both conditional-write capabilities and their atomicity.
    #[must_use]
    pub fn conditional(mut self, create: bool, update: bool) -> Self {
        self.conditional_create = create;
        self.atomic_create = create;
        self.conditional_update = update;
        self.atomic_update = update;
        self
    }

    /// Sets whether racing conditional writes have exactly one winner
    /// (given the conditions are honoured at all).
    #[must_use]
    pub fn atomic_conditionals(mut self, yes: bool) -> Self {
        self.atomic_create = yes && self.conditional_create;
        self.atomic_update = yes && self.conditional_update;
        self
    }

    /// Sets `versions` (and, when false, `conditional_update`).
    #[must_use]
    pub fn versions(mut self, yes: bool) -> Self {
        self.versions = yes;
        if !yes {
            self.conditional_update = false;
            self.atomic_update = false;
        }
        self
    }

    /// Sets the key and segment length limits.
    #[must_use]
    pub fn key_limits(mut self, max_key_bytes: usize, max_segment_bytes: usize) -> Self {
        self.max_key_bytes = max_key_bytes;
        self.max_segment_bytes = max_segment_bytes;
        self
    }

    /// Sets `copy_create` and `copy_update`: whether `copy` and `rename`
    /// honour `WriteMode::Create` and `WriteMode::Update` (each also needs
    /// the write capability of the same name).
    #[must_use]
    pub fn conditional_copy(mut self, create: bool, update: bool) -> Self {
        self.copy_create = create;
        self.copy_update = update;
        self
    }

    /// Sets `atomic_rename`.
    #[must_use]
    pub fn atomic_rename(mut self, yes: bool) -> Self {
        self.atomic_rename = yes;
        self
    }

    /// Sets `consistent_reads`.
    #[must_use]
    pub fn consistent_reads(mut self, yes: bool) -> Self {
        self.consistent_reads = yes;
        self
    }

    /// Sets `emptied_dirs_vanish`.
    #[must_use]
    pub fn emptied_dirs_vanish(mut self, yes: bool) -> Self {
        self.emptied_dirs_vanish = yes;
        self
    }

    /// Sets the size of the large-object check.
    #[must_use]
    pub fn large_object_bytes(mut self, bytes: usize) -> Self {
        self.large_object_bytes = bytes;
        self
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::all()
    }
}

/// What a check needs from the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// Nothing beyond the contract.
    None,
    /// [`Capabilities::versions`].
    Versions,
    /// [`Capabilities::conditional_create`].
    ConditionalCreate,
    /// [`Capabilities::atomic_create`].
    AtomicCreate,
    /// [`Capabilities::conditional_update`].
    ConditionalUpdate,
    /// [`Capabilities::atomic_update`].
    AtomicUpdate,
    /// [`Capabilities::file_and_dir_keys`].
    FileAndDirKeys,
    /// [`Capabilities::sync_checks_existence`].
    SyncChecksExistence,
    /// [`Capabilities::appends`].
    Appends,
    /// [`Capabilities::copy_create`] (and `conditional_create`).
    CopyCreate,
    /// [`Capabilities::copy_update`] (and `conditional_update`).
    CopyUpdate,
    /// [`Capabilities::atomic_rename`].
    AtomicRename,
    /// [`Capabilities::consistent_reads`].
    ConsistentReads,
    /// [`Capabilities::emptied_dirs_vanish`].
    EmptiedDirsVanish,
}

impl Requirement {
    pub(super) fn holds(self, caps: &Capabilities) -> bool {
        match self {
            Requirement::None => true,
            Requirement::Versions => caps.versions,
            Requirement::ConditionalCreate => caps.conditional_create,
            Requirement::AtomicCreate => caps.atomic_create,
            Requirement::ConditionalUpdate => caps.conditional_update && caps.versions,
            Requirement::AtomicUpdate => caps.atomic_update && caps.versions,
            Requirement::FileAndDirKeys => caps.file_and_dir_keys,
            Requirement::SyncChecksExistence => caps.sync_checks_existence,
            Requirement::Appends => caps.appends,
            Requirement::CopyCreate => caps.copy_create && caps.conditional_create,
            Requirement::CopyUpdate => caps.copy_update && caps.conditional_update && caps.versions,
            Requirement::AtomicRename => caps.atomic_rename,
            Requirement::ConsistentReads => caps.consistent_reads,
            Requirement::EmptiedDirsVanish => caps.emptied_dirs_vanish,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Requirement::None => "none",
            Requirement::Versions => "versions",
            Requirement::ConditionalCreate => "conditional_create",
            Requirement::AtomicCreate => "atomic_create",
            Requirement::ConditionalUpdate => "conditional_update",
            Requirement::AtomicUpdate => "atomic_update",
            Requirement::FileAndDirKeys => "file_and_dir_keys",
            Requirement::SyncChecksExistence => "sync_checks_existence",
            Requirement::Appends => "appends",
            Requirement::CopyCreate => "copy_create",
            Requirement::CopyUpdate => "copy_update",
            Requirement::AtomicRename => "atomic_rename",
            Requirement::ConsistentReads => "consistent_reads",
            Requirement::EmptiedDirsVanish => "emptied_dirs_vanish",
        }
    }
}
