//! [`Workspace`]: the directory the tools may touch, and the only way they touch it. Every path
//! is resolved beneath the root by the kernel (cap-std: `openat2(RESOLVE_BENEATH)` on Linux, a
//! checked component-by-component walk elsewhere), so `..`, absolute paths and symlinks cannot
//! lead outside whatever the path says; writes also refuse protected directories (`.git/`, the
//! Lemmings database) by where a directory really is, and files with more than one hard link.
//! The workspace also keeps the tools' own record of what they changed (for diffs without git),
//! what each file looked like when a tool last read or wrote it (the read-before-edit guard) and
//! the outputs of applied side effects by idempotency key.

mod paths;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, MetadataExt, OpenOptions, OpenOptionsExt, PermissionsExt};

pub use paths::display;

use crate::tool::ToolOutput;

/// What no tool ever writes beneath: git's store and Lemmings' own (the database).
const ALWAYS_PROTECTED: [&str; 2] = [".git", ".lemmings"];

/// The most symlinks followed while resolving one path for a write.
const MAX_SYMLINK_HOPS: usize = 16;

/// What the tools may not write, and how much they read at once.
#[derive(Clone, Debug)]
pub struct WorkspaceOptions {
    /// Paths relative to the root that no tool writes beneath (default `.git` and `.lemmings`,
    /// where the database lives; those two are protected whatever this holds). Matched against
    /// where a directory really is, so an in-tree symlink to `.git` is protected too.
    pub protected: Vec<PathBuf>,
    /// The largest file the tools read or edit whole (default 10 MiB).
    pub max_file_bytes: u64,
}

impl Default for WorkspaceOptions {
    fn default() -> Self {
        WorkspaceOptions {
            protected: ALWAYS_PROTECTED.iter().map(PathBuf::from).collect(),
            max_file_bytes: 10 << 20,
        }
    }
}

/// Why a path cannot be used. Every message names the path as the model wrote it and says what
/// to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    /// The path leads outside the workspace (`..`, absolute, `~`, NUL, a symlink out).
    #[error("path escapes workspace: `{path}`; use a path relative to the workspace root")]
    Escapes {
        /// The path.
        path: String,
    },
    /// The path is under a protected directory.
    #[error("`{path}` is protected: tools never write under {protected}")]
    Protected {
        /// The path.
        path: String,
        /// The protected directories, listed.
        protected: String,
    },
    /// Nothing there.
    #[error("`{path}` does not exist")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A directory (or something else) where a file was expected.
    #[error("`{path}` is {what}, not a regular file{hint}")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is.
        what: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A file where a directory was expected.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The path.
        path: String,
    },
    /// The file has other names, possibly outside the workspace.
    #[error(
        "refusing to write `{path}`: it has {links} hard links, so writing it could change a file outside the workspace"
    )]
    HardLinked {
        /// The path.
        path: String,
        /// Its link count.
        links: u64,
    },
    /// The file exists and the call asked to create it.
    #[error("`{path}` already exists")]
    Exists {
        /// The path.
        path: String,
    },
    /// Too big to read or edit whole.
    #[error("`{path}` is {size} bytes, more than the {limit} bytes tools read or edit whole")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A tool's own check refused the write (e.g. the read-before-edit guard); the message says
    /// what to do.
    #[error("{message}")]
    Refused {
        /// What to do.
        message: String,
    },
    /// Not a usable path (empty, too long, ...).
    #[error("invalid path `{path}`: {why}")]
    Invalid {
        /// The path (possibly shortened).
        path: String,
        /// Why.
        why: String,
    },
    /// The file system refused.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: io::Error,
    },
}

/// One file the tools changed in this workspace: what it was before the first change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The path, relative to the root.
    pub path: PathBuf,
    /// The content before the tools' first change; `None` when a tool created the file.
    pub original: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct State {
    /// The content hash of each file as a tool last read or wrote it.
    known: HashMap<PathBuf, u64>,
    /// What the tools changed, by path.
    changes: BTreeMap<PathBuf, Change>,
    /// Outputs of applied side effects, by idempotency key.
    applied: HashMap<String, ToolOutput>,
}

/// The workspace root and the tools' record of it. Shared by every tool of a run (`Arc`).
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    dir: Dir,
    options: WorkspaceOptions,
    state: Mutex<State>,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The path written (after in-tree symlinks), relative to the root.
    pub path: PathBuf,
    /// The previous content; `None` when the file was created.
    pub previous: Option<Vec<u8>>,
}

/// Whether a write may replace an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the file; fail if it exists.
    Create,
    /// Create it or replace it.
    CreateOrReplace,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Workspace {
    /// The workspace at `root` (which must be an existing directory).
    pub fn open(root: impl AsRef<Path>, options: WorkspaceOptions) -> Result<Arc<Workspace>, WorkspaceError> {
        let shown = root.as_ref().display().to_string();
        let io = |action, source| WorkspaceError::Io {
            action,
            path: shown.clone(),
            source,
        };
        let root = std::fs::canonicalize(root.as_ref()).map_err(|e| io("open the workspace", e))?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority()).map_err(|e| io("open the workspace", e))?;
        let mut protected: Vec<PathBuf> = Vec::new();
        let always = ALWAYS_PROTECTED.iter().map(PathBuf::from);
        for path in always.chain(options.protected.iter().cloned()) {
            if let Ok(clean) = paths::clean(&path.to_string_lossy(), &root)
                && !protected.contains(&clean)
            {
                protected.push(clean);
            }
        }
        let options = WorkspaceOptions { protected, ..options };
        Ok(Arc::new(Workspace {
            root,
            dir,
            options,
            state: Mutex::new(State::default()),
        }))
    }

    /// The root (canonical, absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The largest file read or edited whole.
    pub fn max_file_bytes(&self) -> u64 {
        self.options.max_file_bytes
    }

    /// `input` as a clean path relative to the root (no `.`, `..`, or leading `/`), or why not.
    /// Backslashes count as separators; an absolute path inside the root is accepted.
    pub fn clean(&self, input: &str) -> Result<PathBuf, WorkspaceError> {
        paths::clean(input, &self.root)
    }

    /// Opens a file for reading, beneath the root (in-tree symlinks are followed). A named pipe
    /// is refused as not a regular file, never waited on.
    pub fn open_file(&self, rel: &Path) -> Result<(File, cap_std::fs::Metadata), WorkspaceError> {
        if rel.as_os_str().is_empty() {
            return Err(not_a_file(rel, true));
        }
        let file = self.open_nonblocking(rel).map_err(|e| self.error("open", rel, e))?;
        let meta = file.metadata().map_err(|e| self.error("open", rel, e))?;
        if !meta.is_file() {
            return Err(not_a_file(rel, meta.is_dir()));
        }
        Ok((file, meta))
    }

    /// Opens `rel` for reading beneath the root, non-blocking, so a named pipe (perhaps swapped
    /// in for a file) cannot hang the call; reads of regular files are unaffected.
    fn open_nonblocking(&self, rel: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        self.dir.open_with(rel, &options)
    }

    /// What `rel` leads to (in-tree symlinks followed), asked of the kernel beneath the root:
    /// for a symlink leading outside, [`WorkspaceError::Escapes`], never the target's metadata.
    pub(crate) fn metadata(&self, rel: &Path) -> Result<cap_std::fs::Metadata, WorkspaceError> {
        self.dir.metadata(rel).map_err(|e| self.error("inspect", rel, e))
    }

    /// Opens a directory, beneath the root.
    pub fn open_dir(&self, rel: &Path) -> Result<Dir, WorkspaceError> {
        if rel.as_os_str().is_empty() {
            return self.dir.try_clone().map_err(|e| self.error("open", rel, e));
        }
        match self.dir.open_dir(rel) {
            Ok(dir) => Ok(dir),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                Err(WorkspaceError::NotADirectory { path: display(rel) })
            }
            Err(e) => Err(self.error("open", rel, e)),
        }
    }

    /// The absolute real path of the directory `rel` (symlinks resolved), checked to be inside
    /// the root: where a walker (which works on paths) may start without leaving it.
    pub fn real_dir(&self, rel: &Path) -> Result<PathBuf, WorkspaceError> {
        let dir = self.open_dir(rel)?;
        Ok(self.root.join(self.real_path_of(&dir, rel)?))
    }

    /// The whole file at `input` (at most `max_file_bytes`), remembered as read for the
    /// read-before-edit guard.
    pub fn read(&self, input: &str) -> Result<(PathBuf, Vec<u8>), WorkspaceError> {
        let rel = self.clean(input)?;
        let (file, content) = self.read_whole(&rel)?;
        self.remember(&rel, &content);
        if let Ok(real) = self.real_path_of(&file, &rel) {
            self.remember(&real, &content);
        }
        Ok((rel, content))
    }

    /// The whole content of the file at `rel` (already clean), confined and size-checked like
    /// [`Workspace::read`], without recording a read (the read-before-edit guard compares
    /// against the last recorded one).
    pub fn peek(&self, rel: &Path) -> Result<Vec<u8>, WorkspaceError> {
        self.read_whole(rel).map(|(_, content)| content)
    }

    fn read_whole(&self, rel: &Path) -> Result<(File, Vec<u8>), WorkspaceError> {
        let (mut file, meta) = self.open_file(rel)?;
        if meta.len() > self.options.max_file_bytes {
            return Err(WorkspaceError::TooLarge {
                path: display(rel),
                size: meta.len(),
                limit: self.options.max_file_bytes,
            });
        }
        let mut content = Vec::with_capacity(meta.len() as usize);
        Read::by_ref(&mut file)
            .take(self.options.max_file_bytes + 1)
            .read_to_end(&mut content)
            .map_err(|e| self.error("read", rel, e))?;
        Ok((file, content))
    }

    /// Where `rel` really is (symlinks resolved), if it exists: `Ok(None)` when nothing is
    /// there, an escape error when it leads outside.
    pub fn locate(&self, rel: &Path) -> Result<Option<PathBuf>, WorkspaceError> {
        match self.open_nonblocking(rel) {
            Ok(file) => return self.real_path_of(&file, rel).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if paths::is_escape(&e) => return Err(WorkspaceError::Escapes { path: display(rel) }),
            Err(_) => {}
        }
        let dir = self.open_dir(rel)?;
        self.real_path_of(&dir, rel).map(Some)
    }

    /// Whether `rel` holds what a tool last read or wrote: `Ok` when it does, `Err` naming why
    /// not (never read; changed since) with what to do.
    pub fn check_fresh(&self, rel: &Path, content: &[u8]) -> Result<(), String> {
        let state = self.lock();
        match state.known.get(rel) {
            None => Err(format!("read `{}` with read_file before editing it", display(rel))),
            Some(hash) if *hash != digest(content) => Err(format!(
                "`{}` changed since you last read it (something else modified it); read it again before editing",
                display(rel)
            )),
            Some(_) => Ok(()),
        }
    }

    /// Forgets what was read (e.g. when a new agent starts, so it reads before it edits).
    pub fn forget_reads(&self) {
        self.lock().known.clear();
    }

    /// Writes `content` to `input`: parents created, in-tree symlinks followed, protected
    /// places, hard-linked files and escapes refused. The file is replaced atomically (a
    /// temporary file in the same directory, synced, then renamed), keeping its permissions.
    pub fn write(&self, input: &str, content: &[u8], mode: WriteMode) -> Result<Written, WorkspaceError> {
        self.write_checked(input, content, mode, |_, _| Ok(()))
    }

    /// [`Workspace::write`], with `check` called on the path and the current content (`None`
    /// for a new file) just before writing; its `Err` message refuses the write.
    pub fn write_checked(
        &self,
        input: &str,
        content: &[u8],
        mode: WriteMode,
        check: impl FnOnce(&Path, Option<&[u8]>) -> Result<(), String>,
    ) -> Result<Written, WorkspaceError> {
        let rel = self.clean(input)?;
        let (dir, real_dir, name) = self.resolve_for_write(&rel)?;
        let real = real_dir.join(&name);
        let shown = display(&rel);
        let io = |action, source| WorkspaceError::Io {
            action,
            path: shown.clone(),
            source,
        };

        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        let existing = match dir.open_with(&name, &options) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.error("open", &rel, e)),
        };
        let mut previous = None;
        let mut permissions = None;
        if let Some(mut file) = existing {
            let meta = file.metadata().map_err(|e| io("inspect", e))?;
            if !meta.is_file() {
                return Err(not_a_file(&rel, meta.is_dir()));
            }
            if meta.nlink() > 1 {
                return Err(WorkspaceError::HardLinked {
                    path: shown,
                    links: meta.nlink(),
                });
            }
            if mode == WriteMode::Create {
                return Err(WorkspaceError::Exists { path: shown });
            }
            if meta.len() > self.options.max_file_bytes {
                return Err(WorkspaceError::TooLarge {
                    path: shown,
                    size: meta.len(),
                    limit: self.options.max_file_bytes,
                });
            }
            let mut old = Vec::new();
            file.read_to_end(&mut old).map_err(|e| io("read", e))?;
            previous = Some(old);
            permissions = Some(meta.permissions().mode());
        }
        check(&real, previous.as_deref()).map_err(|message| WorkspaceError::Refused { message })?;

        let temp = format!(
            ".{}.lemmings-{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).follow(FollowSymlinks::No);
        let written = (|| -> io::Result<()> {
            let mut file = dir.open_with(&temp, &options)?;
            file.write_all(content)?;
            if let Some(mode) = permissions {
                file.set_permissions(cap_std::fs::Permissions::from_mode(mode))?;
            }
            file.sync_all()?;
            dir.rename(&temp, &dir, &name)
        })();
        if let Err(e) = written {
            let _ = dir.remove_file(&temp);
            return Err(io("write", e));
        }
        // The rename is durable once the directory is synced (best effort: not every file
        // system lets a directory be opened for that).
        if let Ok(handle) = dir.open(".") {
            let _ = handle.sync_all();
        }

        let mut state = self.lock();
        state.known.insert(real.clone(), digest(content));
        state.known.insert(rel.clone(), digest(content));
        state.changes.entry(real.clone()).or_insert_with(|| Change {
            path: real.clone(),
            original: previous.clone(),
        });
        Ok(Written { path: real, previous })
    }

    /// What the tools changed so far, by path, with each file's content before the first change.
    pub fn changes(&self) -> Vec<Change> {
        self.lock().changes.values().cloned().collect()
    }

    /// The output recorded for an applied side effect with this idempotency key.
    pub fn applied(&self, key: &str) -> Option<ToolOutput> {
        self.lock().applied.get(key).cloned()
    }

    /// Records the output of a side effect applied with this idempotency key.
    pub fn record_applied(&self, key: &str, output: &ToolOutput) {
        self.lock().applied.insert(key.to_owned(), output.clone());
    }

    fn remember(&self, rel: &Path, content: &[u8]) {
        self.lock().known.insert(rel.to_path_buf(), digest(content));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The directory that will hold `rel` (created as needed), its real path, and the file
    /// name, after following in-tree symlinks at the last component; refuses protected places.
    fn resolve_for_write(&self, rel: &Path) -> Result<(Dir, PathBuf, OsString), WorkspaceError> {
        let mut target = rel.to_path_buf();
        for _ in 0..MAX_SYMLINK_HOPS {
            let Some(name) = target.file_name().map(|n| n.to_os_string()) else {
                return Err(not_a_file(rel, true));
            };
            let parent = target.parent().unwrap_or(Path::new("")).to_path_buf();
            let (dir, real_dir) = self.dir_for_write(&parent, rel)?;
            self.check_protected(&real_dir.join(&name), rel)?;
            match dir.symlink_metadata(&name) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let link = dir
                        .read_link_contents(&name)
                        .map_err(|e| self.error("read the link", rel, e))?;
                    let joined = if link.is_absolute() { link } else { real_dir.join(link) };
                    target = paths::clean(&joined.to_string_lossy(), &self.root)
                        .map_err(|_| WorkspaceError::Escapes { path: display(rel) })?;
                }
                Ok(meta) if meta.is_dir() => return Err(not_a_file(rel, true)),
                _ => return Ok((dir, real_dir, name)),
            }
        }
        Err(WorkspaceError::Invalid {
            path: display(rel),
            why: "too many levels of symbolic links".into(),
        })
    }

    /// Opens (creating missing components) the directory `rel`, checking at each level where
    /// it really is, so a symlinked directory cannot lead into a protected one.
    fn dir_for_write(&self, rel: &Path, shown: &Path) -> Result<(Dir, PathBuf), WorkspaceError> {
        let mut handle = self.dir.try_clone().map_err(|e| self.error("open", shown, e))?;
        let mut real = PathBuf::new();
        let mut prefix = PathBuf::new();
        for component in rel.components() {
            prefix.push(component);
            let opened = match self.dir.open_dir(&prefix) {
                Ok(dir) => dir,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Created inside the real parent's handle, one component at a time.
                    self.check_protected(&real.join(component), shown)?;
                    match handle.create_dir(component) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(self.error("create the directory", &prefix, e)),
                    }
                    handle.open_dir(component).map_err(|e| self.error("open", &prefix, e))?
                }
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                    return Err(WorkspaceError::NotADirectory { path: display(&prefix) });
                }
                Err(e) => return Err(self.error("open", shown, e)),
            };
            real = self.real_path_of(&opened, &prefix)?;
            self.check_protected(&real, shown)?;
            handle = opened;
        }
        Ok((handle, real))
    }

    /// Where an open file or directory really is, relative to the root (from `/proc/self/fd`,
    /// which names what the handle holds whatever symlinks led there).
    fn real_path_of(&self, handle: &impl std::os::fd::AsFd, rel: &Path) -> Result<PathBuf, WorkspaceError> {
        use std::os::fd::AsRawFd;
        let link = format!("/proc/self/fd/{}", handle.as_fd().as_raw_fd());
        let absolute = match std::fs::read_link(&link) {
            Ok(path) => path,
            Err(_) => {
                let canonical = self.dir.canonicalize(rel).map_err(|e| self.error("resolve", rel, e))?;
                return Ok(canonical);
            }
        };
        match absolute.strip_prefix(&self.root) {
            Ok(inside) => Ok(inside.to_path_buf()),
            Err(_) if absolute == self.root => Ok(PathBuf::new()),
            Err(_) => Err(WorkspaceError::Escapes { path: display(rel) }),
        }
    }

    fn check_protected(&self, real: &Path, shown: &Path) -> Result<(), WorkspaceError> {
        if self.options.protected.iter().any(|p| real.starts_with(p)) {
            let protected = self
                .options
                .protected
                .iter()
                .map(|p| format!("{}/", display(p)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(WorkspaceError::Protected {
                path: display(shown),
                protected,
            });
        }
        Ok(())
    }

    /// Maps an I/O error on `rel`: escapes (cap-std's and the kernel's `EXDEV` from
    /// `RESOLVE_BENEATH`) and missing files get their own variants.
    fn error(&self, action: &'static str, rel: &Path, error: io::Error) -> WorkspaceError {
        let path = display(rel);
        if paths::is_escape(&error) {
            return WorkspaceError::Escapes { path };
        }
        match error.kind() {
            io::ErrorKind::NotFound => WorkspaceError::NotFound { path },
            _ if error.raw_os_error() == Some(rustix::io::Errno::NAMETOOLONG.raw_os_error()) => {
                WorkspaceError::Invalid {
                    path: paths::shorten(&path),
                    why: "a name in it is too long".into(),
                }
            }
            _ => WorkspaceError::Io {
                action,
                path,
                source: error,
            },
        }
    }
}

fn not_a_file(rel: &Path, is_dir: bool) -> WorkspaceError {
    let (what, hint) = if is_dir {
        ("a directory", "; list it with list_dir")
    } else {
        ("a special file (a pipe, socket or device)", "")
    };
    WorkspaceError::NotAFile {
        path: display(rel),
        what,
        hint,
    }
}

/// A content hash for the read-before-edit guard (not security relevant).
fn digest(content: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    hasher.finish()
}
