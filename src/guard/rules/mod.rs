//! The rule families, one file each: [`push`], [`hooks`] (commit/hooks), [`publish`],
//! [`self_protect`].

pub mod hooks;
pub mod publish;
pub mod push;
pub mod self_protect;

#[cfg(test)]
mod tests {
    use crate::guard::{check, Context};
    use crate::policy::{Protected, Rule};

    fn rule(cmd: &str) -> Option<Rule> {
        let mut ctx = Context::with(Protected::default(), Some("feat-x"));
        check(cmd, &mut ctx).map(|v| v.rule)
    }

    #[test]
    fn short_clusters_and_values() {
        assert_eq!(rule("git commit -am msg"), None);
        assert_eq!(rule("git commit -anm msg"), Some(Rule::NoVerify));
        assert_eq!(rule("git commit -mn"), None, "-m takes the rest of the cluster");
        assert_eq!(rule("git commit -m -n"), None, "-m takes the next word");
        assert_eq!(rule("git commit -n --verify -m x"), None, "the last of the two wins");
        assert_eq!(rule("git commit --no-verif -m x"), Some(Rule::NoVerify));
        assert_eq!(rule("git commit -m x -- -n"), None, "after -- it is a path");
    }
}
