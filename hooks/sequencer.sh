# The sequencer (rebase, cherry-pick, revert) commits without pre-commit, so without a stamp:
# it is recognised from git's processes, as src/hooks/process.rs does. sh reads a command line
# without its NUL separators, so only what cannot be misread is let through here: the
# sequencer's own `git commit -n --no-gpg-sign|-S…` (the parent's command line, okstra_cmd)
# whose parent is the same program, named git, running rebase, cherry-pick or revert, with the
# sequencer's state in the git dir. Anything else is the binary's. git starts its children as
# `<exec path>/git`, and puts its exec path first on the hooks' PATH.
# (okstra_after_name is stamp.sh's, which the hook includes first.)
okstra_args() {
	okstra_cmd= okstra_l=
	[ -r "/proc/$1/cmdline" ] || return 1
	while IFS= read -r okstra_l; do okstra_cmd=$okstra_cmd$okstra_l; done <"/proc/$1/cmdline"
	okstra_cmd=$okstra_cmd$okstra_l
	[ -n "$okstra_cmd" ]
}
okstra_field2() { okstra_f=$2; }
okstra_sequencer() {
	okstra_x=${PATH%%:*}/git
	case $okstra_x in /*) ;; *) okstra_x=git ;; esac
	case $okstra_cmd in
	"$okstra_x"commit-n--no-gpg-sign* | "$okstra_x"commit-n--amend--no-gpg-sign* | \
		"$okstra_x"commit-n-S* | "$okstra_x"commit-n--amend-S* | \
		gitcommit-n--no-gpg-sign* | gitcommit-n--amend--no-gpg-sign* | \
		gitcommit-n-S* | gitcommit-n--amend-S*) ;;
	*) return 1 ;;
	esac
	okstra_g=${GIT_DIR:-.git}
	[ -d "$okstra_g/rebase-merge" ] || [ -d "$okstra_g/sequencer" ] || [ -f "$okstra_g/CHERRY_PICK_HEAD" ] || return 1
	IFS= read -r okstra_l <"/proc/$PPID/stat" || return 1
	okstra_after_name "$okstra_l" || return 1
	set -f
	okstra_field2 $okstra_rest
	set +f
	[ "$okstra_f" -gt 1 ] 2>/dev/null && [ "/proc/$okstra_f/exe" -ef "/proc/$PPID/exe" ] || return 1
	IFS= read -r okstra_l <"/proc/$okstra_f/stat" || return 1
	okstra_l=${okstra_l#*\(}
	[ "${okstra_l%%\)*}" = git ] && okstra_args "$okstra_f" || return 1
	case $okstra_cmd in
	*commit* | *merge*) return 1 ;;
	"$okstra_x"rebase* | "$okstra_x"cherry-pick* | "$okstra_x"revert* | \
		gitrebase* | gitcherry-pick* | gitrevert*) return 0 ;;
	esac
	return 1
}
