mod common;
use common::Env;

#[test]
fn start_creates_then_reuses() {
    let env = Env::new();
    let repo = env.repo("proj");
    let first = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(first["status"], "created");
    assert_eq!(first["branch"], "feat-dev-1");
    let path = std::path::PathBuf::from(first["path"].as_str().unwrap());
    assert!(path.ends_with("worktrees/proj/default/dev-1"));
    let again = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
    assert_eq!(again["path"], first["path"]);
}
