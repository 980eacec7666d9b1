//! Bounded fuzzing (proptest) of every parser that reads input git-okstra does not control:
//! the registry loader, the approval-marker and verdict parsers, the template renderer
//! (including include graphs with cycles) and the hook stdin parsers. Each must never panic
//! and must turn invalid input into an error. (The sanitiser has its own file,
//! `sanitizer_props.rs`.) `PROPTEST_CASES=<n>` raises the case count for a deeper run.
use std::path::Path;

use git_okstra::hooks::protocol::{parse_pre_push, parse_ref_updates};
use git_okstra::phase::gates::{self, Verdict};
use git_okstra::phase::prompt::{render_str, PromptError, Prompts, Vars};
use git_okstra::task::registry::Registry;
use proptest::prelude::*;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig::with_cases(n)
}

/// Text made of the pieces a JSON parser cares about, so cases get deep into the grammar.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"tasks\"".to_string()),
        Just("\"branches\"".to_string()),
        Just("\"version\"".to_string()),
        Just("\"status\"".to_string()),
        Just("\"active\"".to_string()),
        Just("\"phases\"".to_string()),
        Just("\"phase\"".to_string()),
        Just("\"implementation\"".to_string()),
        Just("null".to_string()),
        Just("1".to_string()),
        Just("-1e999".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        "\"[a-z/:-]{0,8}\"",
        "[ \n\t]{0,2}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Structurally valid JSON values with registry-like keys.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u32>().prop_map(serde_json::Value::from),
        "[a-z-]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("active")),
        Just(serde_json::Value::from("released")),
        Just(serde_json::Value::from("implementation")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("version".to_string()),
            Just("tasks".to_string()),
            Just("branches".to_string()),
            Just("status".to_string()),
            Just("phases".to_string()),
            Just("phase".to_string()),
            Just("last_phase".to_string()),
            Just("at".to_string()),
            Just("branch".to_string()),
            Just("worktree_path".to_string()),
            "[a-z/]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn registry_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Registry::parse(&text, Path::new("registry.json"));
    }

    #[test]
    fn registry_parse_jsonish(text in jsonish()) {
        match Registry::parse(&text, Path::new("/r/registry.json")) {
            Ok(reg) => {
                // whatever was accepted survives a write and a read unchanged
                let out = serde_json::to_string(&reg).unwrap();
                prop_assert_eq!(Registry::parse(&out, Path::new("r")).unwrap(), reg);
            }
            Err(e) => prop_assert!(e.message.contains("/r/registry.json"), "{}", e.message),
        }
    }

    #[test]
    fn registry_parse_structured(v in json_value()) {
        let text = v.to_string();
        if let Ok(reg) = Registry::parse(&text, Path::new("r")) {
            let out = serde_json::to_string(&reg).unwrap();
            prop_assert_eq!(Registry::parse(&out, Path::new("r")).unwrap(), reg);
        }
    }

    #[test]
    fn approval_parsers_never_panic(plan in any::<String>()) {
        let approved = gates::has_approval(&plan);
        match gates::approve(&plan, "2026-01-01T00:00:00Z", "someone") {
            Ok(out) => {
                prop_assert!(gates::has_approval(&out), "approve() output lacks a marker:\n{out}");
                prop_assert!(out.starts_with(plan.trim_end_matches('\n')) || !approved);
            }
            Err(_) => prop_assert!(!approved, "an approved plan cannot fail --approve"),
        }
    }

    #[test]
    fn approval_marker_shapes(
        bullet in prop_oneof![Just(""), Just("- "), Just("* "), Just("+ "), Just("1. "), Just("  - ")],
        marker in prop_oneof![Just("APPROVED"), Just("APPROVED: yes"), Just("[x] Approved"), Just("[X] approved by me")],
        before in "[a-z \n]{0,40}",
        after in "[a-z \n]{0,40}",
    ) {
        let plan = format!("{before}\n{bullet}{marker}\n{after}");
        prop_assert!(gates::has_approval(&plan), "{plan:?}");
        // the unchecked box is not an approval until --approve checks it
        let unchecked = format!("{before}\n{bullet}[ ] Approved\n{after}");
        let lowercase_prose = format!("{before}\nnot approved yet\n{after}");
        prop_assert!(!gates::has_approval(&unchecked) || before.contains("approved") || after.contains("approved"));
        prop_assert!(!gates::has_approval(&lowercase_prose) || lowercase_prose.contains("APPROVED"));
        let once = gates::approve(&unchecked, "t1", "me").unwrap();
        prop_assert!(gates::has_approval(&once));
        let twice = gates::approve(&once, "t2", "me").unwrap();
        prop_assert_eq!(twice.matches("[x] Approved").count(), once.matches("[x] Approved").count());
    }

    #[test]
    fn verdict_parser_never_panics(report in any::<String>()) {
        let _ = gates::final_verdict(&report);
        let _ = gates::verdict_line(&report);
    }

    #[test]
    fn verdict_shapes(
        verdict in prop_oneof![Just("accepted"), Just("conditional-accept"), Just("blocked")],
        deco in prop_oneof![Just("{}"), Just("**{}**"), Just("`{}`"), Just("- {}"), Just("Verdict: {}")],
        noise in "[a-z .]{0,30}",
    ) {
        let line = deco.replace("{}", verdict);
        let report = format!("# Report\n{noise}\n\n## 2. Final Verdict\n\n{line}\n\n## 3. Next\n{noise}\n");
        let want = match verdict { "accepted" => Verdict::Accepted, "blocked" => Verdict::Blocked, _ => Verdict::ConditionalAccept };
        prop_assert_eq!(gates::final_verdict(&report), Ok(want), "{}", report);
        // prose is never a verdict
        let prose = format!("# Report\n## 2. Final Verdict\n\nlooks good, {verdict} I think\n");
        prop_assert!(gates::final_verdict(&prose).is_err());
    }

    #[test]
    fn renderer_never_panics(text in "(\\{\\{|\\}\\}|[A-Z_]{1,4}|INCLUDE:|[a-z ./]{0,4}){0,24}", value in "[a-z{} ]{0,12}") {
        let mut vars = Vars::new();
        for name in ["A", "B", "AB", "A_B", "INCLUDE"] {
            vars.insert(name.into(), value.clone());
        }
        match render_str(&text, "fuzz", &vars) {
            Ok(out) => {
                // a placeholder left unresolved is never output: every `{{` in the output
                // came from a value, inserted literally
                if !value.contains('{') && !value.contains('}') {
                    prop_assert!(!out.contains("{{"), "{text:?} -> {out:?}");
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("prompt fuzz"), "{e}"),
        }
    }

    #[test]
    fn values_are_never_scanned_again(value in "[A-Z{}:]{0,20}") {
        let vars: Vars = [("X".to_string(), value.clone())].into_iter().collect();
        prop_assert_eq!(render_str("<{{X}}>", "v", &vars).unwrap(), format!("<{value}>"));
    }

    #[test]
    fn hook_stdin_parsers_never_panic(input in any::<String>()) {
        let _ = parse_pre_push(&input);
        let _ = parse_ref_updates(&input);
    }

    #[test]
    fn pre_push_accepts_exactly_the_protocol(
        lines in prop::collection::vec(
            ("[a-z/()]{1,12}", "[0-9a-f]{40}", "[a-z/]{1,12}", "[0-9a-f]{40}", prop::option::of("[ \t\r]{1,2}|[0-9a-f]{1,3}")),
            0..5,
        )
    ) {
        let mut input = String::new();
        let mut broken = false;
        for (lref, loid, rref, roid, junk) in &lines {
            input.push_str(&format!("{lref} {loid} {rref} {roid}"));
            if let Some(j) = junk {
                input.push_str(j);
                broken = true;
            }
            input.push('\n');
        }
        match parse_pre_push(&input) {
            Ok(parsed) => {
                prop_assert!(!broken, "accepted a malformed line: {input:?}");
                prop_assert_eq!(parsed.len(), lines.len());
                for (p, l) in parsed.iter().zip(&lines) {
                    prop_assert_eq!(&p.local_ref, &l.0);
                    prop_assert_eq!(&p.remote_oid, &l.3);
                }
            }
            Err(m) => prop_assert!(broken, "refused a well-formed input at line {}: {input:?}", m.line),
        }
    }
}

/// Include graphs among override files: random edges, so cycles of every length and deep
/// chains appear. Rendering returns an error (never overflows the stack) on a reachable
/// cycle, and succeeds when the graph reachable from the start file is acyclic and shallow.
fn include_graph(edges: &[(usize, usize)], files: usize) -> (tempfile::TempDir, Prompts) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".okstra/prompts/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    for f in 0..files {
        let mut text = format!("file {f}\n");
        for (from, to) in edges {
            if *from == f {
                text.push_str(&format!("{{{{INCLUDE:g{to}.md}}}}\n"));
            }
        }
        std::fs::write(dir.join(format!("g{f}.md")), text).unwrap();
    }
    std::fs::write(tmp.path().join(".okstra/prompts/root.md"), "{{INCLUDE:g0.md}}\n").unwrap();
    let prompts = Prompts::for_repository(tmp.path());
    (tmp, prompts)
}

/// Longest path from `node` (None when a cycle is reachable).
fn depth(node: usize, edges: &[(usize, usize)], seen: &mut Vec<usize>) -> Option<usize> {
    if seen.contains(&node) {
        return None;
    }
    seen.push(node);
    let mut best = 0;
    for (_, to) in edges.iter().filter(|(f, _)| *f == node) {
        best = best.max(1 + depth(*to, edges, seen)?);
    }
    seen.pop();
    Some(best)
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn include_cycles_are_errors(edges in prop::collection::vec((0usize..6, 0usize..6), 0..10)) {
        let (_tmp, prompts) = include_graph(&edges, 6);
        let result = prompts.render("root.md", &Vars::new());
        match depth(0, &edges, &mut Vec::new()) {
            None => prop_assert!(
                matches!(result, Err(PromptError::Cycle { .. }) | Err(PromptError::TooDeep { .. })),
                "cycle not refused: {edges:?} -> {result:?}"
            ),
            // root.md includes g0, so g0's depth + 1 levels sit below root.md
            Some(d) if d < git_okstra::phase::prompt::MAX_INCLUDE_DEPTH => prop_assert!(result.is_ok(), "{edges:?} -> {result:?}"),
            Some(_) => prop_assert!(result.is_err()),
        }
    }
}

#[test]
fn a_self_include_and_a_two_file_cycle_name_the_chain() {
    for edges in [vec![(0, 0)], vec![(0, 1), (1, 0)]] {
        let (_tmp, prompts) = include_graph(&edges, 2);
        let e = prompts.render("root.md", &Vars::new()).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, PromptError::Cycle { .. }), "{text}");
        assert!(text.contains("include cycle") && text.contains("profiles/g0.md -> "), "{text}");
    }
}
