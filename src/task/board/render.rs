//! The board as a table: one line per task, columns padded to fit, the task id and title cut
//! to the terminal's width. Colour and symbols only when [`Style::fancy`] (a terminal without
//! `NO_COLOR`); plain text otherwise, so pipes and scripts get words.

use std::collections::HashMap;

use super::Entry;
use crate::output::paint_if;
use crate::phase::status::{AgentState, RunState};
use crate::task::registry::PrState;

/// How to draw the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Colour and symbols.
    pub fancy: bool,
    /// Columns to fit in; `None`: never cut.
    pub width: Option<usize>,
}

/// One cell: its visible text and the colour to paint it in.
struct Cell {
    text: String,
    colour: &'static str,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), colour: "" }
}

fn painted(text: impl Into<String>, colour: &'static str) -> Cell {
    Cell { text: text.into(), colour }
}

const HEADER: [&str; 10] = ["TASK", "TITLE", "PHASE", "STATE", "AGENT", "BASE", "FILES", "PR", "AGE", "NOTES"];
const TASK: usize = 0;
const TITLE: usize = 1;
/// Narrowest the task id and title are cut to.
const MIN_TASK: usize = 8;
const MIN_TITLE: usize = 6;

/// The table, header first, one line per entry, each line ending in `\n`.
pub fn table(entries: &[Entry], style: Style) -> String {
    let ids = task_labels(entries);
    let rows: Vec<Vec<Cell>> = entries.iter().zip(ids).map(|(e, id)| cells(e, id, style.fancy)).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.text.chars().count());
        }
    }
    if let Some(width) = style.width {
        fit(&mut widths, width);
    }
    let mut out = String::new();
    let header: Vec<Cell> = HEADER.iter().map(|h| painted(*h, "1")).collect();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
            let last = i + 1 == r.len();
            let text = cut(&c.text, *w, style.fancy);
            let pad = if last { 0 } else { w.saturating_sub(text.chars().count()) };
            line.push_str(&paint_if(style.fancy, c.colour, &text));
            line.push_str(&" ".repeat(pad));
            if !last {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Narrow the title, then the task id, until the line fits (the other columns are short
/// facts that lose their meaning when cut).
fn fit(widths: &mut [usize], width: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * (w.len() - 1);
    for (col, min) in [(TITLE, MIN_TITLE), (TASK, MIN_TASK)] {
        let over = total(widths).saturating_sub(width);
        if over > 0 && widths[col] > min {
            widths[col] -= over.min(widths[col] - min);
        }
    }
}

/// `text` cut to `width` characters, the last one replaced by an ellipsis.
fn cut(text: &str, width: usize, fancy: bool) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mark = if fancy { "…" } else { "~" };
    let keep = width.saturating_sub(1);
    text.chars().take(keep).collect::<String>() + mark
}

/// The id as it was typed; the full key where two listed tasks share one.
fn task_labels(entries: &[Entry]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        *seen.entry(e.row.task_id.as_str()).or_default() += 1;
    }
    entries
        .iter()
        .map(|e| {
            if seen[e.row.task_id.as_str()] > 1 {
                e.row.key()
            } else if e.row.task_id_raw.is_empty() {
                e.row.task_id.clone()
            } else {
                e.row.task_id_raw.clone()
            }
        })
        .collect()
}

fn cells(e: &Entry, id: String, fancy: bool) -> Vec<Cell> {
    let title = if e.row.title.is_empty() { "-".to_string() } else { e.row.title.clone() };
    let phase = e.run.as_ref().map(|r| r.phase.name()).or(e.row.last_phase.map(|p| p.name())).unwrap_or("-");
    vec![
        cell(id),
        cell(title),
        cell(phase),
        state_cell(e, fancy),
        agent_cell(e, fancy),
        cell(base_text(e, fancy)),
        cell(e.changed_files.map_or("-".to_string(), |n| n.to_string())),
        pr_cell(e),
        cell(age(e.age_seconds)),
        notes_cell(e, fancy),
    ]
}

fn state_cell(e: &Entry, fancy: bool) -> Cell {
    let Some(run) = &e.run else { return cell("-") };
    let (symbol, colour) = match run.state {
        RunState::Running => ("●", "36"),
        RunState::Done | RunState::Accepted | RunState::Approved => ("✓", "32"),
        RunState::Failed | RunState::Interrupted | RunState::Blocked | RunState::NoVerdict => ("✗", "31"),
        RunState::AwaitingApproval | RunState::ConditionalAccept => ("◆", "33"),
        RunState::Prompted | RunState::Skipped | RunState::Cancelled => ("·", ""),
    };
    let text = if fancy { format!("{symbol} {}", run.state.name()) } else { run.state.name().to_string() };
    painted(text, colour)
}

fn agent_cell(e: &Entry, fancy: bool) -> Cell {
    let Some(a) = &e.agent else { return cell("-") };
    match a.state {
        AgentState::Running => {
            let idle = a.idle_seconds.filter(|s| *s >= 60).map(|s| {
                if fancy {
                    format!(" · idle {}", age(s))
                } else {
                    format!(" (idle {})", age(s))
                }
            });
            painted(format!("{} running{}", a.name, idle.unwrap_or_default()), "32")
        }
        AgentState::Exited(0) => cell(format!("{} exited 0", a.name)),
        AgentState::Exited(c) => painted(format!("{} exited {c}", a.name), "31"),
        AgentState::Gone => painted(format!("{} gone", a.name), "31"),
    }
}

fn base_text(e: &Entry, fancy: bool) -> String {
    match &e.divergence {
        None => "-".to_string(),
        Some(d) if fancy => format!("↑{} ↓{}", d.ahead, d.behind),
        Some(d) => format!("+{} -{}", d.ahead, d.behind),
    }
}

fn pr_cell(e: &Entry) -> Cell {
    let Some(pr) = &e.row.pr else { return cell("-") };
    let colour = match pr.state {
        PrState::Open => "32",
        PrState::Draft | PrState::Unknown => "",
        PrState::Merged => "35",
        PrState::Closed => "31",
    };
    let review =
        if pr.review.is_empty() || pr.state != PrState::Open { String::new() } else { format!(" {}", pr.review) };
    painted(format!("{} {}{review}", pr.short(), pr.state.name()), colour)
}

fn notes_cell(e: &Entry, fancy: bool) -> Cell {
    let mut notes: Vec<String> = Vec::new();
    if let Some(w) = e.waiting {
        notes.push(if fancy { format!("⏵ waiting: {}", w.text()) } else { format!("waiting: {}", w.text()) });
    }
    notes.extend(e.notices.iter().map(|n| n.text()));
    let colour = if e.waiting.is_some() { "33" } else { "31" };
    if notes.is_empty() {
        cell("")
    } else {
        painted(notes.join(", "), colour)
    }
}

/// `42s`, `7m`, `5h`, `3d`.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!([age(5), age(125), age(7300), age(200_000)], ["5s", "2m", "2h", "2d"]);
    }

    #[test]
    fn cutting_and_fitting() {
        assert_eq!(cut("abcdef", 4, true), "abc…");
        assert_eq!(cut("abcdef", 4, false), "abc~");
        assert_eq!(cut("abc", 4, false), "abc");
        let mut w = vec![10, 30, 5, 5, 5, 5, 5, 5, 5, 5];
        fit(&mut w, 80);
        assert_eq!(w.iter().sum::<usize>() + 18, 80, "{w:?}");
        assert_eq!(w[TITLE], 12);
        let mut w = vec![20, 30, 20, 20, 5, 5, 5, 5, 5, 5];
        fit(&mut w, 80);
        assert_eq!((w[TASK], w[TITLE]), (MIN_TASK, MIN_TITLE), "both cut to their least; the line overflows");
    }
}
