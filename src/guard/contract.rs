//! The task contract (DESIGN §8): what an agent may do in a task, by phase. One table,
//! [`TABLE`], that the agent guard and the git `pre-commit` hook both read, the rules that
//! hold in every phase ([`EVERYWHERE`]), the commands reserved to the user
//! ([`USER_ONLY`]), and the small functions that judge a write, a commit and a push.
//!
//! Pure decisions over facts the callers gather (the task's current run from
//! [`crate::phase::current`], canonical paths, whether git ignores a path): nothing here
//! reads the registry or starts a process. A test holds the table against the profiles'
//! **Allowed**/**Forbidden** text in `prompts/profiles/`, so the two cannot drift apart.

use crate::phase::Phase;

/// One row of the contract table: the four columns of DESIGN §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseContract {
    pub phase: Phase,
    pub writes: Writes,
    pub commits: Commits,
    pub builds: Builds,
    pub push: Push,
}

/// The "file writes" column. The notes locations are writable in every phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Notes only.
    Notes,
    /// Notes and scratch scripts, in the notes locations; no tracked file.
    NotesAndScratch,
    /// Notes only, and never a plan's approval marker (the user approves).
    NotesNoApproval,
    /// The approved plan's `## Files` and notes; never the plan file itself.
    PlanFiles,
    /// Notes and the verification report.
    NotesAndReport,
    /// The drafts in the run folder.
    Drafts,
}

/// The "commits, merges, rebases" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    No,
    /// To the task branch, with every staged path within the plan's files.
    WithinPlan,
    /// None by the agent: the user's `git okstra handoff` commits.
    ByHandoff,
}

/// The "builds, tests" column. Builds write only ignored paths, which are never source, so
/// the writes column is what enforces it; this column tells the agent what it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builds {
    /// Read-only commands and the existing tests.
    ReadOnly,
    /// The program and its tests.
    ProgramAndTests,
    /// The existing tests.
    ExistingTests,
    Yes,
    /// Builds, tests and the project's checks.
    Checks,
    No,
}

/// The "push, PR" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    No,
    /// None by the agent: the user's `git okstra handoff` pushes and opens the PR.
    ByHandoff,
}

/// DESIGN §8's table, one row per phase in [`Phase::ALL`] order.
pub const TABLE: [PhaseContract; 6] = [
    PhaseContract {
        phase: Phase::RequirementsDiscovery,
        writes: Writes::Notes,
        commits: Commits::No,
        builds: Builds::ReadOnly,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ErrorAnalysis,
        writes: Writes::NotesAndScratch,
        commits: Commits::No,
        builds: Builds::ProgramAndTests,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ImplementationPlanning,
        writes: Writes::NotesNoApproval,
        commits: Commits::No,
        builds: Builds::ExistingTests,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::Implementation,
        writes: Writes::PlanFiles,
        commits: Commits::WithinPlan,
        builds: Builds::Yes,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::FinalVerification,
        writes: Writes::NotesAndReport,
        commits: Commits::No,
        builds: Builds::Checks,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ReleaseHandoff,
        writes: Writes::Drafts,
        commits: Commits::ByHandoff,
        builds: Builds::No,
        push: Push::ByHandoff,
    },
];

/// The contract of `phase`.
pub fn contract(phase: Phase) -> &'static PhaseContract {
    TABLE.iter().find(|c| c.phase == phase).expect("TABLE has a row for every phase")
}

/// The list of a profile a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Allowed,
    Forbidden,
}

/// What a profile must say (or must not say) for a table value to hold: `phrase` is looked
/// for in the list's paragraph with case, emphasis, backticks and line breaks ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub list: List,
    pub states: bool,
    pub phrase: &'static str,
}

// Macros, not `const fn`s: a struct literal in `&[…]` is promoted to a static, a call is not.
macro_rules! says {
    ($list:expr, $phrase:expr) => {
        Claim { list: $list, states: true, phrase: $phrase }
    };
}
macro_rules! never {
    ($list:expr, $phrase:expr) => {
        Claim { list: $list, states: false, phrase: $phrase }
    };
}

use List::{Allowed, Forbidden};

impl Writes {
    /// The words of the table cell (for `task show` and the docs).
    pub fn summary(self) -> &'static str {
        match self {
            Writes::Notes => "notes only",
            Writes::NotesAndScratch => "notes and scratch scripts (notes locations) only; no tracked file",
            Writes::NotesNoApproval => "notes only; never the plan's approval marker",
            Writes::PlanFiles => "the approved plan's files and notes; never the plan file",
            Writes::NotesAndReport => "notes and the report only",
            Writes::Drafts => "the drafts in the run folder",
        }
    }

    /// Whether files outside the notes locations may be written (the plan's files).
    pub fn source(self) -> bool {
        self == Writes::PlanFiles
    }

    pub fn claims(self) -> &'static [Claim] {
        const SOURCE: &str = "editing source files, tests, build files or configuration";
        match self {
            Writes::Notes => &[says!(Allowed, "write notes"), says!(Forbidden, SOURCE)],
            Writes::NotesAndScratch => &[
                says!(Allowed, "scratch scripts under the run folder or .scratch"),
                says!(Allowed, "write notes"),
                says!(Forbidden, "changing any tracked file"),
                never!(Allowed, "logging"),
            ],
            Writes::NotesNoApproval => &[
                says!(Allowed, "write notes"),
                says!(Forbidden, SOURCE),
                says!(Forbidden, "checking the approval box or writing approved yourself"),
            ],
            Writes::PlanFiles => &[
                says!(Allowed, "edit the files the approved plan's ## files section lists"),
                says!(Forbidden, "editing any file the plan's ## files section does not list"),
                says!(Forbidden, "editing the approved plan file"),
            ],
            Writes::NotesAndReport => &[says!(Allowed, "write notes and the report"), says!(Forbidden, SOURCE)],
            Writes::Drafts => &[says!(Allowed, "writing the drafts"), says!(Forbidden, SOURCE)],
        }
    }
}

impl Commits {
    pub fn summary(self) -> &'static str {
        match self {
            Commits::No => "no commits",
            Commits::WithinPlan => "commits to the task branch, staged paths within the plan",
            Commits::ByHandoff => "no commits (the user's `git okstra handoff` commits)",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Commits::No => &[says!(Forbidden, "commits"), never!(Allowed, "commit")],
            Commits::WithinPlan => &[says!(Allowed, "commit to the task branch, staging only paths the plan lists")],
            Commits::ByHandoff => &[says!(Forbidden, "committing, pushing or opening the pull request yourself")],
        }
    }
}

impl Builds {
    pub fn summary(self) -> &'static str {
        match self {
            Builds::ReadOnly => "read-only commands, existing tests",
            Builds::ProgramAndTests => "the program and its tests",
            Builds::ExistingTests => "existing tests",
            Builds::Yes => "builds and tests",
            Builds::Checks => "builds, tests, checks",
            Builds::No => "no builds or tests",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Builds::ReadOnly => &[says!(Allowed, "run read-only commands"), says!(Allowed, "existing tests")],
            Builds::ProgramAndTests => &[says!(Allowed, "run the program and the tests")],
            Builds::ExistingTests => &[says!(Allowed, "run read-only commands and existing tests")],
            Builds::Yes => &[says!(Allowed, "run builds and tests")],
            Builds::Checks => &[says!(Allowed, "run builds, tests and checks")],
            Builds::No => &[says!(Forbidden, "running builds or tests"), never!(Allowed, "test")],
        }
    }
}

impl Push {
    pub fn summary(self) -> &'static str {
        match self {
            Push::No => "no push or PR",
            Push::ByHandoff => "no push or PR (the user's `git okstra handoff`)",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Push::No => &[says!(Forbidden, "pushing"), never!(Allowed, "push")],
            Push::ByHandoff => &[says!(Forbidden, "pushing"), never!(Allowed, "push")],
        }
    }
}

impl PhaseContract {
    /// Every claim the phase's profile must satisfy.
    pub fn claims(&self) -> impl Iterator<Item = &'static Claim> {
        let c = self;
        c.writes.claims().iter().chain(c.commits.claims()).chain(c.builds.claims()).chain(c.push.claims())
    }

    /// The row in one line: `writes …; commits …; builds …; push …`.
    pub fn summary(&self) -> String {
        format!(
            "writes {}; {}; {}; {}",
            self.writes.summary(),
            self.commits.summary(),
            self.builds.summary(),
            self.push.summary()
        )
    }
}

/// A rule that holds in every phase, for agents, whatever the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EverywhereRule {
    /// The rule family's id as blocks, the audit log and the docs name it.
    pub id: &'static str,
    pub summary: &'static str,
    /// What `profiles/_common-contract.md` must state for it (see [`Claim`]).
    pub phrase: &'static str,
}

/// The rules of every phase (DESIGN §8 "Everywhere").
pub const EVERYWHERE: &[EverywhereRule] = &[
    EverywhereRule {
        id: "protected-history",
        summary: "no force push, no push to or deletion of a protected branch, no hook bypass",
        phrase: "never rewrite or bypass protected history",
    },
    EverywhereRule {
        id: "publish",
        summary: "no publishing, releasing, deploying or `gh pr merge`",
        phrase: "never push, publish, release, deploy, merge a pull request",
    },
    EverywhereRule {
        id: "discard",
        summary: "no discarding of local work that cannot be brought back",
        phrase: "never discard local work",
    },
    EverywhereRule {
        id: "self-protect",
        summary: "no change to okstra, hook or include config, hook files, agent host settings or the okstra home",
        phrase: "never change what guards you",
    },
    EverywhereRule {
        id: "user-only",
        summary: "no command reserved to the user (`task phase`, `--approve`, `handoff`, `task release`, …)",
        phrase: "the user's own commands",
    },
    EverywhereRule {
        id: "other-task",
        summary: "no write into another task's worktree, branch or notes, or the main worktree outside the notes",
        phrase: "never write into another task's worktree",
    },
    EverywhereRule {
        id: "run-record",
        summary: "no edit of a run folder's manifest.json or launch.md (okstra's own records)",
        phrase: "never edit a run folder's manifest.json or launch.md",
    },
];

/// An `okstra` command that only the user may run (DESIGN §8): the words after `okstra`
/// that name it, and an option that must be present, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserOnly {
    pub words: &'static [&'static str],
    /// When set, only the form with this option is reserved (`doctor --repair`).
    pub option: Option<&'static str>,
    pub why: &'static str,
}

/// The commands reserved to the user. `--approve` is reserved on any command.
pub const USER_ONLY: &[UserOnly] = &[
    UserOnly { words: &["task", "phase"], option: None, why: "a phase starts only by the user's new invocation" },
    UserOnly { words: &["phase"], option: None, why: "a phase starts only by the user's new invocation" },
    UserOnly { words: &["handoff"], option: None, why: "the handoff's choices are the user's" },
    UserOnly { words: &["task", "handoff"], option: None, why: "the handoff's choices are the user's" },
    UserOnly { words: &["task", "release"], option: None, why: "releasing a task is the user's decision" },
    UserOnly { words: &["hooks", "install"], option: None, why: "the hooks guard the agent" },
    UserOnly { words: &["hooks", "uninstall"], option: None, why: "the hooks guard the agent" },
    UserOnly { words: &["doctor"], option: Some("--repair"), why: "repairs change the registry and the worktrees" },
];

/// The option that approves a plan: the user's approval, whatever command carries it.
pub const APPROVE_OPTION: &str = "--approve";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::prompt::BUILTIN;

    /// Lower-case, `*` emphasis and backticks removed, every run of white space one space.
    fn normalise(text: &str) -> String {
        let plain: String = text.chars().filter(|c| !matches!(c, '*' | '`')).collect();
        plain.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn builtin(name: &str) -> &'static str {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or_else(|| panic!("no prompt {name}"))
    }

    /// The paragraph that starts `**Allowed.**` (or `**Forbidden.**`), up to the next blank line.
    fn paragraph(profile: &str, list: List) -> String {
        let head = match list {
            List::Allowed => "**Allowed.**",
            List::Forbidden => "**Forbidden.**",
        };
        let mut found = profile.split("\n\n").filter(|p| p.trim_start().starts_with(head));
        let para = found.next().unwrap_or_else(|| panic!("no {head} paragraph"));
        assert!(found.next().is_none(), "two {head} paragraphs");
        normalise(para.trim_start().trim_start_matches(head))
    }

    #[test]
    fn the_table_has_one_row_per_phase_in_order() {
        let phases: Vec<Phase> = TABLE.iter().map(|c| c.phase).collect();
        assert_eq!(phases, Phase::ALL);
        for p in Phase::ALL {
            assert_eq!(contract(p).phase, p);
        }
        assert_eq!(TABLE.iter().filter(|c| c.writes.source()).count(), 1, "only implementation edits source");
    }

    #[test]
    fn every_profile_states_its_row_of_the_table() {
        let mut failures = Vec::new();
        for row in &TABLE {
            let file = format!("profiles/{}.md", row.phase);
            let text = builtin(&file);
            for claim in row.claims() {
                let para = paragraph(text, claim.list);
                let phrase = normalise(claim.phrase);
                if para.contains(&phrase) != claim.states {
                    let verb = if claim.states { "must state" } else { "must not state" };
                    failures.push(format!("{file}: {:?} {verb} '{}'", claim.list, claim.phrase));
                }
            }
        }
        assert!(failures.is_empty(), "profiles disagree with the contract table:\n{}", failures.join("\n"));
    }

    #[test]
    fn the_common_contract_states_every_everywhere_rule_and_user_command() {
        let text = normalise(builtin("profiles/_common-contract.md"));
        for rule in EVERYWHERE {
            assert!(text.contains(&normalise(rule.phrase)), "_common-contract.md must state '{}'", rule.phrase);
        }
        for cmd in USER_ONLY {
            let mut spelled = format!("git okstra {}", cmd.words.join(" "));
            if let Some(o) = cmd.option {
                spelled = format!("{spelled} {o}");
            }
            assert!(text.contains(&spelled), "_common-contract.md must name `{spelled}`");
        }
        assert!(text.contains(APPROVE_OPTION) && text.contains("okstra_allow"));
    }

    #[test]
    fn a_claim_is_checked_both_ways() {
        // The check itself must be able to fail: a profile that allows commits breaks `Commits::No`.
        let drifted = "**Allowed.** Read everything; commit when done.\n\n**Forbidden.** Commits; pushing.\n";
        let allowed = paragraph(drifted, List::Allowed);
        let bad: Vec<_> =
            Commits::No.claims().iter().filter(|c| paragraph(drifted, c.list).contains(c.phrase) != c.states).collect();
        assert_eq!(bad.len(), 1, "{allowed}");
        assert_eq!(bad[0].list, List::Allowed);
    }
}
