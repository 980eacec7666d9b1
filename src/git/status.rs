//! Counting a worktree's changed and untracked paths in-process (gix), the number
//! `git status --porcelain=v1 --untracked-files=normal` lists, without starting git.
//!
//! Why not just run git: the board counts changes in every task worktree, and a worktree
//! that nobody has refreshed since `git worktree add` wrote it is the common case for a task
//! that has just started. Such an index holds its files' stat data from the same second
//! the index was written, and git (as usually built, without `USE_NSEC`) compares
//! timestamps to the second: it treats every such entry as "racily clean" and reads and
//! hashes the file on each `git status`, because `--no-optional-locks` (which the board
//! needs so that it never takes `index.lock`) also stops it from saving what it learned.
//! Comparing the nanoseconds the index already stores settles those entries from their
//! stat data, as a git built with `USE_NSEC` does; an entry whose file was written in the
//! same clock tick as the index is still read and hashed.
//!
//! Only the states where the count is plain bookkeeping are answered here; whatever git
//! decides by its own rules (rename pairing, conflicts, submodules, sparse or
//! intent-to-add entries, filter drivers that run programs) gets `None`, and the caller
//! runs the real `git status`. Nothing is ever written: gix's refreshed stat data is
//! thrown away, as git's is under `--no-optional-locks`.

mod unchanged;

use std::collections::BTreeSet;
use std::path::Path;

use gix::bstr::{BStr, BString};
use gix::status::index_worktree::Item as WorktreeItem;
use gix::status::plumbing::index_as_worktree::EntryStatus;
use gix::status::Item;

/// The number of paths `git status --porcelain=v1 --untracked-files=normal` lists in
/// `worktree` (a rename counted once), or `None` when git should be asked instead: an
/// index or configuration this count does not model, or anything gix could not read.
pub fn count_changes(worktree: &Path) -> Option<usize> {
    // The index's trailing checksum is not verified, as git does not verify it on a read
    // either (only `git fsck` does): hashing each index costs more than its whole decoding.
    let overrides = ["gitoxide.core.useNsec=true", "index.skipHash=true"];
    let repo = gix::open_opts(worktree, gix::open::Options::default().config_overrides(overrides))
        .map_err(|e| crate::output::debug(format!("in-process status of {}: {e}", worktree.display())))
        .ok()?;
    if has_filter_drivers(&repo) {
        return None;
    }
    let index = repo.index_or_empty().ok()?;
    if !plain_index(&index) {
        return None;
    }
    let mut tally = Tally::default();
    if let Some((changed, maybe_untracked)) = unchanged::tracked_changes(&repo, &index) {
        crate::output::debug(format!("{}: tracked files settled from stat data", worktree.display()));
        // No tracked file needs a closer look: what is left is the staged side and the
        // untracked files, without gix stat-ing every tracked file a second time, nor
        // walking the folders again when every entry they hold is tracked.
        tally.tracked.extend(changed);
        staged(&repo, &index, &mut tally)?;
        if maybe_untracked {
            tally.untracked += untracked(&repo, &index)?;
        } else {
            crate::output::debug(format!(
                "{}: every folder entry is tracked: no walk for untracked paths",
                worktree.display()
            ));
        }
    } else {
        for item in status_items(&repo, index)? {
            tally.item(item.ok()?)?;
        }
    }
    tally.count()
}

/// What the status lines add up to. A path staged and also changed in the worktree is one
/// line; an untracked file is a line of its own even where the index deletes the same path
/// (`D  f` and `?? f`).
#[derive(Default)]
struct Tally {
    tracked: BTreeSet<BString>,
    untracked: usize,
    added: bool,
    deleted: bool,
}

impl Tally {
    fn staged(&mut self, change: &gix::diff::index::ChangeRef<'_, '_>) {
        use gix::diff::index::ChangeRef;
        self.added |= matches!(change, ChangeRef::Addition { .. });
        self.deleted |= matches!(change, ChangeRef::Deletion { .. });
        self.tracked.insert(change.location().to_owned());
    }

    /// `None`: an item this count leaves to git.
    fn item(&mut self, item: Item) -> Option<()> {
        match item {
            Item::TreeIndex(change) => self.staged(&change),
            Item::IndexWorktree(WorktreeItem::Modification { status, rela_path, .. }) => match status {
                EntryStatus::Change(_) => {
                    self.tracked.insert(rela_path);
                }
                // Unchanged, only its stat data is stale.
                EntryStatus::NeedsUpdate(_) => {}
                EntryStatus::Conflict { .. } | EntryStatus::IntentToAdd => return None,
            },
            Item::IndexWorktree(WorktreeItem::DirectoryContents { entry, .. }) => {
                self.untracked += usize::from(git_lists(entry.status, entry.index_kind, entry.disk_kind)?);
            }
            Item::IndexWorktree(WorktreeItem::Rewrite { .. }) => return None,
        }
        Some(())
    }

    fn count(self) -> Option<usize> {
        // git pairs a staged addition with a staged deletion of similar content into one
        // rename line; which pairs it makes is git's call.
        if self.added && self.deleted {
            return None;
        }
        Some(self.tracked.len() + self.untracked)
    }
}

/// Whether `git status --untracked-files=normal` lists a path gix's walk reports, as one line;
/// `None` where git would list it otherwise (the caller then asks git).
fn git_lists(
    status: gix::dir::entry::Status,
    index_kind: Option<gix::dir::entry::Kind>,
    disk_kind: Option<gix::dir::entry::Kind>,
) -> Option<bool> {
    use gix::dir::entry::Kind;
    if status != gix::dir::entry::Status::Untracked {
        return Some(false);
    }
    match (index_kind, disk_kind) {
        // A folder the index has entries under, all gone from the disk: gix collapses it
        // into one path, git lists each untracked file in it.
        (Some(Kind::Directory), Some(Kind::Directory)) => None,
        // A folder standing where a tracked file was: git lists only that file's deletion
        // (` D lib/a.txt`), never what the folder holds.
        (Some(Kind::File | Kind::Symlink | Kind::Repository), _) => Some(false),
        // Sockets and such are never listed (as gix's status leaves them out).
        (_, Some(Kind::Untrackable)) => Some(false),
        // Untracked, or a symlink or file where a tracked folder was (`?? lib`).
        _ => Some(true),
    }
}

/// Whether the index's cached root tree is valid and HEAD's: it is the tree the index's
/// entries make, so nothing is staged and HEAD's tree need not be compared entry by entry.
fn nothing_staged(index: &gix::index::State, head_tree: &gix::ObjectId) -> bool {
    index.tree().is_some_and(|t| t.num_entries.is_some() && t.id == *head_tree)
}

/// HEAD's tree against the index, into `tally`.
fn staged(repo: &gix::Repository, index: &gix::index::State, tally: &mut Tally) -> Option<()> {
    let head_tree = repo.head_tree_id_or_empty().ok()?.detach();
    if nothing_staged(index, &head_tree) {
        return Some(());
    }
    let renames = gix::status::tree_index::TrackRenames::Disabled;
    repo.tree_index_status(&head_tree, index, None, renames, |change, _, _| {
        tally.staged(&change);
        Ok(std::ops::ControlFlow::Continue(()))
    })
    .ok()?;
    Some(())
}

/// The untracked paths `--untracked-files=normal` lists: a folder holding nothing tracked
/// is one path; ignored files and empty folders are none.
fn untracked(repo: &gix::Repository, index: &gix::index::State) -> Option<usize> {
    /// The paths git lists; `None` once one is listed by rules of git's own.
    struct Count(Option<usize>);
    impl gix::dir::walk::Delegate for Count {
        fn emit(
            &mut self,
            entry: gix::dir::EntryRef<'_>,
            _: Option<gix::dir::entry::Status>,
        ) -> gix::dir::walk::Action {
            let listed = git_lists(entry.status, entry.index_kind, entry.disk_kind);
            self.0 = self.0.zip(listed).map(|(n, listed)| n + usize::from(listed));
            match self.0 {
                Some(_) => std::ops::ControlFlow::Continue(()),
                None => std::ops::ControlFlow::Break(()),
            }
        }
    }
    let options = repo.dirwalk_options().ok()?.emit_untracked(gix::dir::walk::EmissionMode::CollapseDirectory);
    let mut count = Count(Some(0));
    let interrupt = std::sync::atomic::AtomicBool::new(false);
    repo.dirwalk(index, None::<&BStr>, &interrupt, options, &mut count).ok()?;
    count.0
}

/// The status items of `repo` with this `index`: staged changes (without rename pairing),
/// changes in the worktree (without pairing either), untracked paths collapsed into their
/// top untracked folder as `--untracked-files=normal` shows them.
fn status_items(repo: &gix::Repository, index: gix::worktree::Index) -> Option<Box<dyn Iterator<Item = StatusResult>>> {
    use gix::status::{tree_index::TrackRenames, UntrackedFiles};
    let head_tree = repo.head_tree_id_or_empty().ok()?.detach();
    let staged_none = nothing_staged(&index, &head_tree);
    let platform = repo
        .status(gix::progress::Discard)
        .ok()?
        .index(gix::worktree::IndexPersistedOrInMemory::Persisted(index))
        .untracked_files(UntrackedFiles::Collapsed)
        .index_worktree_rewrites(None)
        .tree_index_track_renames(TrackRenames::Disabled);
    if staged_none {
        let items = platform.into_index_worktree_iter(Vec::new()).ok()?;
        Some(Box::new(items.map(|item| item.map(Item::IndexWorktree))))
    } else {
        Some(Box::new(platform.head_tree(head_tree).into_iter(Vec::<BString>::new()).ok()?))
    }
}

type StatusResult = gix::Result<gix::status::Item>;

/// Whether the index is what a plain checkout leaves: no conflict stages, no sparse
/// directories, no submodules, no intent-to-add, skip-worktree or assume-unchanged entries.
fn plain_index(index: &gix::index::State) -> bool {
    use gix::index::entry::{Flags, Mode};
    let unusual = Flags::INTENT_TO_ADD | Flags::SKIP_WORKTREE | Flags::ASSUME_VALID;
    !index.is_sparse()
        && index
            .entries()
            .iter()
            .all(|e| e.flags.stage_raw() == 0 && !e.flags.intersects(unusual) && e.mode != Mode::COMMIT)
}

/// Whether the configuration defines a filter driver (`filter.<name>.clean`, `.process`,
/// as Git LFS does): comparing such files runs a program, and git's run is the one to trust
/// (and so gix here never starts a process).
fn has_filter_drivers(repo: &gix::Repository) -> bool {
    repo.config_snapshot().plumbing().sections_by_name("filter").is_some_and(|mut s| s.next().is_some())
}
