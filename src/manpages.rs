//! Man pages: `git-okstra.1` and one page per command group, generated from the clap
//! definitions (clap_mangen) plus the hand-written sections in `man/src/<page>.roff`,
//! which are compiled in so `git okstra __man <dir>` works from an installed binary.
//!
//! The committed `man/*.1` files are this module's output; `tests/man.rs` fails when they
//! differ and says how to regenerate them.

use clap::Command;
use clap_mangen::Man;

use crate::config::{self, Source};

/// One page: its file name (`git-okstra-task.1`) and its roff text.
pub struct Page {
    pub file: String,
    pub text: String,
}

/// Hand-written sections by page name. A page for a command group without an entry gets
/// its DESCRIPTION from the command's help text.
const HAND: &[(&str, &str)] = &[
    ("git-okstra", include_str!("../man/src/git-okstra.roff")),
    ("git-okstra-task", include_str!("../man/src/git-okstra-task.roff")),
    ("git-okstra-phase", include_str!("../man/src/git-okstra-phase.roff")),
    ("git-okstra-handoff", include_str!("../man/src/git-okstra-handoff.roff")),
    ("git-okstra-hook", include_str!("../man/src/git-okstra-hook.roff")),
    ("git-okstra-hooks", include_str!("../man/src/git-okstra-hooks.roff")),
    ("git-okstra-doctor", include_str!("../man/src/git-okstra-doctor.roff")),
    ("git-okstra-completions", include_str!("../man/src/git-okstra-completions.roff")),
    ("git-okstra-shell-init", include_str!("../man/src/git-okstra-shell-init.roff")),
];

const MANUAL: &str = "Git Okstra Manual";

/// Split hand-written roff into `(HEADING, body)` by its `.SH` lines.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix(".SH ") {
            out.push((h.trim().trim_matches('"').to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn hand(name: &str) -> Vec<(String, String)> {
    HAND.iter().find(|(n, _)| *n == name).map(|(_, t)| sections(t)).unwrap_or_default()
}

/// The string definition clap_mangen puts before every rendered piece; a page needs it once.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    let _ = f(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines()
        .filter(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Global options are described once, on `git-okstra(1)`; group pages leave them out.
fn without_globals(cmd: &Command) -> Command {
    let mut c = cmd.clone();
    for id in ["quiet", "verbose", "version"] {
        if c.get_arguments().any(|a| a.get_id() == id) {
            c = c.mut_arg(id, |a| a.hide(true));
        }
    }
    c
}

/// Roff-escape plain text for a body line.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Drop the first line (a `.SH` heading clap_mangen wrote).
fn body(section: String) -> String {
    section.split_once('\n').map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// Every page, the main one first.
pub fn pages(root: Command) -> Vec<Page> {
    let mut root = root.disable_help_subcommand(true);
    root.build();
    let version = root.get_version().unwrap_or_default().to_string();
    let source = format!("git-okstra {version}");
    let groups: Vec<&Command> = root.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    let mut pages = vec![main_page(&root, &groups, &source)];
    for g in &groups {
        pages.push(group_page(g, &groups, &source));
    }
    pages
}

fn page_name(group: &Command) -> String {
    format!("git-okstra-{}", group.get_name())
}

fn header(man: &Man, title: &str, source: &str, hand: &[(String, String)]) -> String {
    let mut t = String::from(PREAMBLE);
    t.push_str(&format!(".TH \"{title}\" \"1\" \"\" \"{source}\" \"{MANUAL}\"\n"));
    t.push_str(&render(|w| man.render_name_section(w)));
    t.push_str(&render(|w| man.render_synopsis_section(w)));
    match hand.iter().find(|(h, _)| h == "DESCRIPTION") {
        Some((_, b)) => {
            t.push_str(".SH DESCRIPTION\n");
            t.push_str(b);
        }
        None => t.push_str(&render(|w| man.render_description_section(w))),
    }
    t
}

fn rest_of_hand(hand: &[(String, String)], skip: &[&str]) -> String {
    let mut t = String::new();
    for (h, b) in hand {
        if h == "DESCRIPTION" || skip.contains(&h.as_str()) {
            continue;
        }
        t.push_str(&format!(".SH {h}\n{b}"));
    }
    t
}

fn exit_status() -> String {
    ".SH \"EXIT STATUS\"\n.TP\n0\nSuccess (for \\fBdoctor\\fR: no problems remain).\n.TP\n1\nRefused or failed; \
     the \\fBerror:\\fR line says why and a \\fBhint:\\fR line says what to do.\n.TP\n2\nUsage error: an unknown \
     option, a missing argument, an invalid task id or phase.\n"
        .to_string()
}

fn see_also(this: &str, groups: &[&Command]) -> String {
    let mut refs: Vec<String> = std::iter::once("git-okstra".to_string())
        .chain(groups.iter().map(|g| page_name(g)))
        .filter(|n| n != this)
        .map(|n| format!("\\fB{n}\\fR(1)"))
        .collect();
    refs.extend(["\\fBgit-worktree\\fR(1)".to_string(), "\\fBgithooks\\fR(5)".to_string()]);
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

fn main_page(root: &Command, groups: &[&Command], source: &str) -> Page {
    let man = Man::new(root.clone());
    let hand = hand("git-okstra");
    let mut t = header(&man, "GIT-OKSTRA", source, &hand);
    t.push_str(&render(|w| man.render_options_section(w)));
    t.push_str(".SH COMMANDS\n");
    for g in groups {
        t.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\nSee \\fB{}\\fR(1).\n",
            esc(g.get_name()),
            esc(&g.get_about().map(|a| a.to_string()).unwrap_or_default()),
            page_name(g)
        ));
    }
    t.push_str(&rest_of_hand(&hand, &["CONFIGURATION", "ENVIRONMENT"]));
    for (heading, src) in [("CONFIGURATION", Source::GitConfig), ("ENVIRONMENT", Source::Env)] {
        t.push_str(&format!(".SH {heading}\n"));
        if let Some((_, b)) = hand.iter().find(|(h, _)| h == heading) {
            t.push_str(b);
        }
        for s in config::SETTINGS.iter().filter(|s| s.source == src) {
            t.push_str(&format!(
                ".TP\n\\fB{}\\fR (default: {})\n{}\n",
                esc(s.name),
                esc(s.default),
                esc(&s.doc.replace('`', ""))
            ));
        }
    }
    t.push_str(&exit_status());
    t.push_str(&see_also("git-okstra", groups));
    Page { file: "git-okstra.1".into(), text: t }
}

fn group_page(group: &Command, groups: &[&Command], source: &str) -> Page {
    let name = page_name(group);
    let group = &without_globals(group);
    let man = Man::new(group.clone());
    let hand = hand(&name);
    let mut t = header(&man, &name.to_uppercase(), source, &hand);
    if group.get_arguments().any(|a| !a.is_hide_set()) {
        t.push_str(&render(|w| man.render_options_section(w)));
    }
    let subs: Vec<&Command> = group.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() {
        t.push_str(".SH COMMANDS\n");
        for s in subs {
            t.push_str(&subcommand(s));
        }
    }
    t.push_str(&rest_of_hand(&hand, &[]));
    if name == "git-okstra-hook" {
        t.push_str(&guard_rules());
    }
    t.push_str(&exit_status());
    t.push_str(&see_also(&name, groups));
    Page { file: format!("{name}.1"), text: t }
}

/// Markdown-ish rule text as roff body text (no backticks; ASCII dots for an ellipsis).
fn plain(s: &str) -> String {
    esc(&s.replace('`', "").replace('…', "..."))
}

/// The agent guard's rules, from their tables: id, what it refuses, what to do instead.
fn guard_rules() -> String {
    let mut t = String::from(".SH \"AGENT GUARD RULES\"\n");
    for d in crate::guard::rules::all() {
        t.push_str(&format!(".TP\n\\fB{}\\fR\n{}; instead: {}.\n", esc(d.id), plain(d.what), plain(d.instead)));
    }
    t
}

/// A subcommand as a `.SS` subsection: its help, synopsis and options (and its own
/// subcommands, recursively).
fn subcommand(cmd: &Command) -> String {
    let bin = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    let cmd = &without_globals(cmd);
    let man = Man::new(cmd.clone());
    let mut t = format!(".SS \"{}\"\n", esc(&bin));
    let help = cmd.get_long_about().or(cmd.get_about()).map(|a| a.to_string()).unwrap_or_default();
    if !help.is_empty() {
        t.push_str(&format!(".PP\n{}\n", esc(&help)));
    }
    t.push_str(".PP\n");
    t.push_str(&body(render(|w| man.render_synopsis_section(w))));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let opts = render(|w| man.render_options_section(w));
        // clap_mangen writes `.SH OPTIONS` (and one `.SH` per help heading): inside a
        // subsection they become plain labels.
        for line in opts.lines() {
            match line.strip_prefix(".SH ") {
                Some(h) => t.push_str(&format!(".PP\n\\fI{}:\\fR\n", esc(h.trim_matches('"')))),
                None => {
                    t.push_str(line);
                    t.push('\n');
                }
            }
        }
    }
    for s in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        t.push_str(&subcommand(s));
    }
    t
}
