//! Discovery: one walker that expands an input glob by listing folders itself, so that one
//! rule decides which symlinks are followed, loops cannot hang it, its size is bounded, and
//! names that are not UTF-8 are found like any other.
//!
//! The walk starts in the glob's base folder (its literal components before the first
//! wildcard) and never goes above it. Each folder is entered at most once per walk, by its
//! (device, inode), so a link back to a parent is not a loop. A symlink is followed only as
//! [`FollowSymlinks`] allows; with the default, only when what it points to resolves inside
//! the base folder. Anything that is not a regular file (a FIFO, a socket, a device) is
//! skipped with a reason, never opened.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::identity::FileKey;

/// Which symlinks discovery follows (`--follow-symlinks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowSymlinks {
    /// Only links whose target resolves inside the base folder of the glob that matched them.
    #[default]
    Inside,
    /// Every link, wherever it points.
    Any,
    /// No link.
    None,
}

/// An unknown `--follow-symlinks` value.
#[derive(Debug, thiserror::Error)]
#[error("unknown symlink policy {0:?}: use inside, any or none")]
pub struct UnknownPolicy(String);

impl std::str::FromStr for FollowSymlinks {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "inside" => Ok(Self::Inside),
            "any" => Ok(Self::Any),
            "none" => Ok(Self::None),
            _ => Err(UnknownPolicy(s.to_string())),
        }
    }
}

impl std::fmt::Display for FollowSymlinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Inside => "inside",
            Self::Any => "any",
            Self::None => "none",
        })
    }
}

/// Bounds of one walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Folders below the base folder. Default 32.
    pub max_depth: usize,
    /// Folder entries looked at in one walk of one glob. Default 1,000,000.
    pub max_entries: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_entries: 1_000_000,
        }
    }
}

/// One part of a glob below its base folder.
#[derive(Debug, Clone)]
enum Part {
    /// `**`: any number of folders, none included.
    Deep,
    /// A name pattern.
    Name(glob::Pattern),
}

/// An input glob, split for walking.
#[derive(Debug, Clone)]
pub struct GlobWalk {
    pattern: glob::Pattern,
    /// The base folder as written (empty for the current folder, so found paths keep the
    /// form the user wrote: `a.log`, not `./a.log`).
    base: PathBuf,
    parts: Vec<Part>,
}

/// A regular file matched by a glob.
#[derive(Debug, Clone)]
pub struct Found {
    /// The path as matched (through any link).
    pub path: PathBuf,
    /// The path to open: `path` itself, or the link's resolved target. It holds no symlink
    /// that discovery did not check, and is opened with `O_NOFOLLOW`.
    pub open_path: PathBuf,
    /// Its (device, inode) when found: the opened file must be this one.
    pub key: FileKey,
    /// Its size when found.
    pub len: u64,
    /// The resolved base folder the opened file must be inside (`None` with
    /// `--follow-symlinks any`).
    pub within: Option<Arc<Path>>,
}

/// Why a matched name was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A symlink whose target is outside the base folder (`--follow-symlinks inside`).
    LinkOutside {
        /// Where it points.
        target: PathBuf,
    },
    /// A symlink, with `--follow-symlinks none`.
    LinkRefused,
    /// A FIFO, socket or device: reading it would block or never end.
    NotRegular(&'static str),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LinkOutside { target } => write!(
                f,
                "symlink to {} outside the input's base folder (--follow-symlinks inside)",
                super::names::escaped(target)
            ),
            Self::LinkRefused => f.write_str("symlink (--follow-symlinks none)"),
            Self::NotRegular(kind) => write!(f, "{kind}, not a regular file"),
        }
    }
}

/// What one walk found.
#[derive(Debug, Default)]
pub struct WalkResult {
    /// Regular files matched.
    pub files: Vec<Found>,
    /// Names matched (or folders that could hold matches) that were not taken, and why.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// Folders listed: the ones to watch for events.
    pub dirs: Vec<PathBuf>,
    /// The walk stopped early (a bound was reached, or a stop was asked for): files not
    /// found may still be there.
    pub incomplete: bool,
    /// Why it stopped early, for the log.
    pub limit_hit: Option<&'static str>,
}

impl GlobWalk {
    /// Splits `pattern` into its base folder and the parts below it.
    pub fn new(pattern: &glob::Pattern) -> Self {
        let mut base = PathBuf::new();
        let comps: Vec<_> = Path::new(pattern.as_str()).components().collect();
        let mut i = 0;
        while i < comps.len() {
            let s = comps[i].as_os_str().to_string_lossy();
            if s.contains(['*', '?', '[']) {
                break;
            }
            base.push(comps[i]);
            i += 1;
        }
        if i == comps.len() {
            // No wildcard: the last component is a file name in its folder.
            base.pop();
            i = comps.len().saturating_sub(1);
        }
        let parts = comps[i..]
            .iter()
            .map(|c| {
                let s = c.as_os_str().to_string_lossy();
                if s == "**" {
                    Part::Deep
                } else {
                    Part::Name(glob::Pattern::new(&s).unwrap_or_else(|_| {
                        glob::Pattern::new(&glob::Pattern::escape(&s)).unwrap_or_default()
                    }))
                }
            })
            .collect();
        Self {
            pattern: pattern.clone(),
            base,
            parts,
        }
    }

    /// The glob.
    pub fn pattern(&self) -> &glob::Pattern {
        &self.pattern
    }

    /// The base folder, as a path that can be listed.
    pub fn base_dir(&self) -> &Path {
        if self.base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.base
        }
    }

    /// Whether matches can be below the base folder's direct children (a `**` or a folder
    /// pattern): the base folder's subfolders need watching too.
    pub fn is_deep(&self) -> bool {
        self.parts.len() > 1
    }

    /// The deepest existing folder of the base folder's path: the base folder itself when it
    /// exists. Watching it (not recursively) tells when the rest of the path appears.
    pub fn deepest_existing(&self) -> PathBuf {
        let mut dir = self.base_dir().to_path_buf();
        while !dir.is_dir() {
            if !dir.pop() || dir.as_os_str().is_empty() {
                return PathBuf::from(".");
            }
        }
        dir
    }

    /// Walks the base folder. `stop` is asked every so often; when it says yes the walk ends
    /// early (`incomplete`).
    pub fn walk(
        &self,
        policy: FollowSymlinks,
        limits: WalkLimits,
        keep: &dyn Fn(&Path) -> bool,
        stop: &dyn Fn() -> bool,
    ) -> WalkResult {
        let mut out = WalkResult::default();
        let Ok(base_meta) = std::fs::metadata(self.base_dir()) else {
            return out;
        };
        if !base_meta.is_dir() {
            return out;
        }
        // The base folder may itself be reached through links the user chose: its resolved
        // form is what "inside" means.
        let Ok(real_base) = std::fs::canonicalize(self.base_dir()) else {
            return out;
        };
        let within = (policy != FollowSymlinks::Any).then(|| Arc::from(real_base.as_path()));
        let mut w = Walker {
            g: self,
            policy,
            limits,
            keep,
            stop,
            real_base,
            within,
            visited: HashSet::new(),
            entries: 0,
            out: &mut out,
        };
        w.visited.insert(FileKey::of(&base_meta));
        w.dir(&self.base, &self.closure(&[0]), 0);
        out
    }

    /// The states reachable from `states` without consuming a name (a `**` may match none).
    fn closure(&self, states: &[usize]) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::with_capacity(states.len() + 1);
        for &s in states {
            let mut s = s;
            loop {
                if !out.contains(&s) {
                    out.push(s);
                }
                if matches!(self.parts.get(s), Some(Part::Deep)) {
                    s += 1;
                } else {
                    break;
                }
            }
        }
        out
    }

    /// The states after consuming `name` from `states`.
    fn step(&self, states: &[usize], name: &str) -> Vec<usize> {
        let mut next = Vec::new();
        for &s in states {
            match self.parts.get(s) {
                Some(Part::Deep) => next.push(s),
                Some(Part::Name(p)) if p.matches_with(name, MATCH) => next.push(s + 1),
                _ => {}
            }
        }
        self.closure(&next)
    }
}

/// As `glob::glob` matches each component (`*` also matches a leading dot).
const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

struct Walker<'a> {
    g: &'a GlobWalk,
    policy: FollowSymlinks,
    limits: WalkLimits,
    keep: &'a dyn Fn(&Path) -> bool,
    stop: &'a dyn Fn() -> bool,
    real_base: PathBuf,
    within: Option<Arc<Path>>,
    /// Folders entered in this walk, by (device, inode): none twice, so no loop.
    visited: HashSet<FileKey>,
    entries: usize,
    out: &'a mut WalkResult,
}

/// What a folder entry is, once links are resolved as the policy allows.
enum Entry {
    Dir(FileKey),
    File(Found),
    Skip(SkipReason),
    Nothing,
}

impl Walker<'_> {
    fn dir(&mut self, dir: &Path, states: &[usize], depth: usize) {
        let list = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Ok(rd) = std::fs::read_dir(list) else {
            return;
        };
        self.out.dirs.push(list.to_path_buf());
        let n = self.g.parts.len();
        for e in rd.flatten() {
            self.entries += 1;
            if self.entries.is_multiple_of(256) && (self.stop)() {
                self.out.incomplete = true;
                return;
            }
            if self.entries > self.limits.max_entries {
                self.out.incomplete = true;
                self.out.limit_hit = Some("entries");
                return;
            }
            let name: OsString = e.file_name();
            let next = self.g.step(states, &name.to_string_lossy());
            if next.is_empty() {
                continue;
            }
            let is_match = next.contains(&n);
            let may_descend = next.iter().any(|&s| s < n);
            let path = dir.join(&name);
            if !(self.keep)(&path) {
                continue;
            }
            match self.classify(&e, &path) {
                Entry::Dir(key) if may_descend => {
                    if depth + 1 > self.limits.max_depth {
                        self.out.incomplete = true;
                        self.out.limit_hit = Some("depth");
                        continue;
                    }
                    if self.visited.insert(key) {
                        let next: Vec<usize> = next.into_iter().filter(|&s| s < n).collect();
                        self.dir(&path, &next, depth + 1);
                        if self.out.incomplete && self.out.limit_hit != Some("depth") {
                            return;
                        }
                    }
                }
                Entry::File(f) if is_match => self.out.files.push(f),
                Entry::Skip(reason) if is_match || may_descend => {
                    self.out.skipped.push((path, reason));
                }
                _ => {}
            }
        }
    }

    fn classify(&self, e: &std::fs::DirEntry, path: &Path) -> Entry {
        let Ok(ft) = e.file_type() else {
            return Entry::Nothing;
        };
        if ft.is_symlink() {
            return self.classify_link(path);
        }
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Entry::Nothing;
        };
        of_meta(&meta, path.to_path_buf(), path.to_path_buf(), &self.within)
    }

    fn classify_link(&self, path: &Path) -> Entry {
        if self.policy == FollowSymlinks::None {
            return Entry::Skip(SkipReason::LinkRefused);
        }
        // Resolved once, here: the file is later opened by this resolved path, without
        // following a link, and must be the (device, inode) seen now.
        let Ok(target) = std::fs::canonicalize(path) else {
            return Entry::Nothing; // dangling
        };
        if self.policy == FollowSymlinks::Inside && !target.starts_with(&self.real_base) {
            return Entry::Skip(SkipReason::LinkOutside { target });
        }
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            return Entry::Nothing;
        };
        of_meta(&meta, path.to_path_buf(), target, &self.within)
    }
}

fn of_meta(
    meta: &std::fs::Metadata,
    path: PathBuf,
    open_path: PathBuf,
    within: &Option<Arc<Path>>,
) -> Entry {
    let ft = meta.file_type();
    if ft.is_dir() {
        Entry::Dir(FileKey::of(meta))
    } else if ft.is_file() {
        Entry::File(Found {
            path,
            open_path,
            key: FileKey::of(meta),
            len: meta.len(),
            within: within.clone(),
        })
    } else if ft.is_fifo() {
        Entry::Skip(SkipReason::NotRegular("a FIFO"))
    } else if ft.is_socket() {
        Entry::Skip(SkipReason::NotRegular("a socket"))
    } else if ft.is_char_device() {
        Entry::Skip(SkipReason::NotRegular("a character device"))
    } else if ft.is_block_device() {
        Entry::Skip(SkipReason::NotRegular("a block device"))
    } else {
        Entry::Nothing
    }
}

#[cfg(test)]
mod tests;
