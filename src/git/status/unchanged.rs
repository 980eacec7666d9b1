//! Which tracked files of a worktree changed, decided from `lstat` data alone.
//!
//! Why not leave it to gix's status: stat-ing every tracked file is nearly all of what
//! counting a clean worktree costs, and gix stats each file by its full path, which the
//! kernel walks component by component (ten of them for a task worktree's
//! `…/worktrees/<repo>/<ns>/<task>/src/m3/f5.rs`). Here each file is stat-ed by name
//! relative to an open handle on its folder, one lookup instead of ten; the verdict applies
//! the same rules gix's per-entry check does, and anything it cannot settle that way goes
//! to the full check.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use gix::bstr::{BString, ByteSlice};
use gix::index::entry::stat;
use gix::index::entry::Stat;

/// The tracked paths whose files changed, when stat data alone tells, as git's own
/// per-entry check (`ie_modified`) decides without reading a file: an entry whose file has
/// the type, executable bit and stat data it records and is not racy (written no earlier than
/// the index) is unchanged; a changed type or executable bit, or a size other than the
/// recorded one (when one was recorded), is a change. `None` when any entry needs more than
/// that (only its times differ, it is racy, its file or a folder on the way is missing or not
/// what the entry says): then the full check runs.
///
/// Each folder the pass opens is also listed, and the second value says whether any of
/// its entries is neither a tracked file nor a folder holding tracked files (nor `.git`,
/// which git never lists). Every folder that holds tracked files is opened, and every other
/// folder is such an entry of one that is: when it is `false`, `git status` lists no
/// untracked path, and the walk for them can be skipped.
pub(super) fn tracked_changes(repo: &gix::Repository, index: &gix::index::State) -> Option<(Vec<BString>, bool)> {
    let (Ok(opts), Ok(fs)) = (repo.stat_options(), repo.filesystem_options()) else { return None };
    // Case-folding and Unicode-composing file systems map index paths to files by rules of
    // their own; the full check knows them.
    if fs.ignore_case || fs.precompose_unicode {
        return None;
    }
    let root = repo.workdir().and_then(|w| open_dir(libc::AT_FDCWD, w.as_os_str().as_bytes(), 0))?;
    let mut dirs = Dirs { root, open: Vec::new(), name: Vec::new(), index, untracked: false, path: Vec::new() };
    dirs.list(dirs.root.as_raw_fd(), b"")?;
    let timestamp = index.timestamp();
    let mut changed = Vec::new();
    for e in index.entries() {
        let path = e.path(index);
        let (dir, file) = match path.rfind_byte(b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&path[..0], path),
        };
        let st = dirs.lstat(dir, file)?;
        let kind = st.st_mode & libc::S_IFMT;
        let (is_file, is_dir, is_link) = (kind == libc::S_IFREG, kind == libc::S_IFDIR, kind == libc::S_IFLNK);
        let is_exec = is_file && st.st_mode & libc::S_IXUSR != 0;
        if is_dir || !(is_file || is_link) {
            return None;
        }
        if e.mode
            .change_to_match_fs_with_values(is_file, is_dir, is_link, is_exec, fs.symlink, fs.executable_bit)
            .is_some()
        {
            // A type change or a new executable bit: git lists it without reading the file.
            changed.push(path.to_owned());
            continue;
        }
        let now = stat_of(&st)?;
        if e.id.is_empty_blob() && e.stat.size != 0 {
            return None;
        }
        // gix's own condition for "unchanged without reading the file".
        if now.matches(&e.stat, opts) && !now.is_racy(timestamp, opts) {
            continue;
        }
        // git's rule: another size than a recorded non-zero one is a change, content unread
        // (after `read-tree` the recorded size is 0 and proves nothing).
        if now.size != e.stat.size && e.stat.size != 0 && st.st_size <= i64::from(u32::MAX) {
            changed.push(path.to_owned());
            continue;
        }
        return None;
    }
    Some((changed, dirs.untracked))
}

/// Open handles on the worktree and on the folders down to the one last asked for.
struct Dirs<'a> {
    root: OwnedFd,
    /// (name, handle) per folder below the root, outermost first.
    open: Vec<(Vec<u8>, OwnedFd)>,
    /// Scratch space for a NUL-terminated name.
    name: Vec<u8>,
    index: &'a gix::index::State,
    /// Whether a listed folder held an entry the index does not track.
    untracked: bool,
    /// Scratch space for a worktree-relative path.
    path: Vec<u8>,
}

impl Dirs<'_> {
    /// `lstat` of `file` in the folder `dir` (worktree-relative, `/`-separated, empty for
    /// the top). `None`: it, or a folder on the way, is missing or not a plain folder.
    fn lstat(&mut self, dir: &[u8], file: &[u8]) -> Option<libc::stat> {
        let fd = self.at(dir)?;
        let name = nul_terminated(&mut self.name, file)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `fd` is an open folder handle, `name` is NUL-terminated, `st` is written
        // by the call when it returns 0 and read only then.
        let rc = unsafe { libc::fstatat(fd, name.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
        (rc == 0).then(|| unsafe { st.assume_init() })
    }

    /// The handle of `dir`, reusing the folders already open on its way.
    fn at(&mut self, dir: &[u8]) -> Option<RawFd> {
        let parts: Vec<&[u8]> = if dir.is_empty() { Vec::new() } else { dir.split(|b| *b == b'/').collect() };
        let same = self.open.iter().zip(&parts).take_while(|((open, _), part)| open.as_slice() == **part).count();
        self.open.truncate(same);
        for (j, part) in parts.iter().enumerate().skip(same) {
            let parent = self.open.last().map_or(self.root.as_raw_fd(), |(_, fd)| fd.as_raw_fd());
            // A symlinked folder fails here (O_NOFOLLOW): git sees the files below it as gone.
            let fd = open_dir(parent, part, libc::O_NOFOLLOW)?;
            // This folder's own path: `dir` up to the end of this part.
            let end = parts[..=j].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
            self.list(fd.as_raw_fd(), &dir[..end])?;
            self.open.push((part.to_vec(), fd));
        }
        Some(self.open.last().map_or(self.root.as_raw_fd(), |(_, fd)| fd.as_raw_fd()))
    }

    /// Read the entries of the folder `fd` (at the worktree-relative `dir`) and note whether
    /// one is untracked. Once one is, the rest is not read. `None`: it cannot be read.
    fn list(&mut self, fd: RawFd, dir: &[u8]) -> Option<()> {
        if self.untracked {
            return Some(());
        }
        // SAFETY: `dup` of an open descriptor; `fdopendir` owns the copy and `closedir` closes
        // it; each `dirent` is read before the next `readdir`.
        let copy = unsafe { libc::dup(fd) };
        if copy < 0 {
            return None;
        }
        let stream = unsafe { libc::fdopendir(copy) };
        if stream.is_null() {
            unsafe { libc::close(copy) };
            return None;
        }
        loop {
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
            if matches!(name, b"." | b".." | b".git") {
                continue;
            }
            if !self.tracked(dir, name) {
                self.untracked = true;
                break;
            }
        }
        unsafe { libc::closedir(stream) };
        Some(())
    }

    /// Whether `dir/name` is a tracked file or a folder holding tracked files.
    fn tracked(&mut self, dir: &[u8], name: &[u8]) -> bool {
        self.path.clear();
        if !dir.is_empty() {
            self.path.extend_from_slice(dir);
            self.path.push(b'/');
        }
        self.path.extend_from_slice(name);
        if self.index.entry_index_by_path(self.path.as_bstr()).is_ok() {
            return true;
        }
        // The first entry at or after "dir/name/": entries below that folder sort together.
        self.path.push(b'/');
        let at = self.index.entry_index_by_path(self.path.as_bstr()).unwrap_or_else(|at| at);
        self.index.entries().get(at).is_some_and(|e| e.path(self.index).starts_with(&self.path))
    }
}

/// A handle for looking things up in the folder `name` (relative to `parent`).
fn open_dir(parent: RawFd, name: &[u8], flags: libc::c_int) -> Option<OwnedFd> {
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    let mut buf = Vec::new();
    let name = nul_terminated(&mut buf, name)?;
    // Readable, not O_PATH: the folder is also listed.
    let flags = flags | libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::openat(parent, name.as_ptr(), flags) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn nul_terminated<'a>(buf: &'a mut Vec<u8>, name: &[u8]) -> Option<&'a CStr> {
    buf.clear();
    buf.extend_from_slice(name);
    buf.push(0);
    CStr::from_bytes_with_nul(buf).ok()
}

/// The index's view of `st`, truncated as git and gix truncate it. `None` for times
/// outside what the index can hold.
fn stat_of(st: &libc::stat) -> Option<Stat> {
    let time =
        |secs: i64, nsecs: i64| Some(stat::Time { secs: u32::try_from(secs).ok()?, nsecs: u32::try_from(nsecs).ok()? });
    Some(Stat {
        mtime: time(st.st_mtime, st.st_mtime_nsec)?,
        ctime: time(st.st_ctime, st.st_ctime_nsec)?,
        dev: st.st_dev as u32,
        ino: st.st_ino as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u32,
    })
}
