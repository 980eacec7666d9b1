//! Property tests of the one sanitiser over arbitrary Unicode input.
use std::path::{Component, Path};

use git_okstra::task::names::sanitize;
use proptest::prelude::*;

fn shape_ok(s: &str) -> bool {
    let re = regex::Regex::new(r"^[a-z0-9][a-z0-9-]*$|^_$").unwrap();
    re.is_match(s) && s.len() <= 64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn output_shape(raw in any::<String>()) {
        let s = sanitize(&raw);
        prop_assert!(shape_ok(&s), "{raw:?} -> {s:?}");
        prop_assert!(!s.ends_with('-'));
        prop_assert_eq!(&s, &sanitize(&raw), "stable");
    }

    #[test]
    fn long_inputs(raw in "[a-zA-Z0-9 /:_.\u{80}-\u{10ffff}-]{60,300}") {
        let s = sanitize(&raw);
        prop_assert!(shape_ok(&s), "{raw:?} -> {s:?}");
    }

    #[test]
    fn paths_stay_inside_their_parent(raw in any::<String>()) {
        let s = sanitize(&raw);
        let joined = Path::new("/parent").join(&s);
        prop_assert!(joined.starts_with("/parent"));
        prop_assert_eq!(joined.components().count(), 3);
        prop_assert!(joined.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// git itself accepts every output as a branch name (and as a prefixed one).
    #[test]
    fn git_accepts_the_branch_name(raw in any::<String>()) {
        let s = sanitize(&raw);
        for name in [s.clone(), format!("feat-{s}")] {
            let ok = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", &name])
                .output()
                .unwrap()
                .status
                .success();
            prop_assert!(ok, "git refused {name:?} (from {raw:?})");
        }
    }
}
