{{STAMP}}# A task worktree (okstra's marker in the worktree's own git dir, or a folder under the
# okstra home's worktrees/) is the binary's: it judges the commit against the task's phase.
# Past 16 commit stamps (consumed ones, and those of commits that stopped before
# prepare-commit-msg) the binary sweeps.
okstra_task=
[ -e "${GIT_DIR:-.git}/okstra/task" ] && okstra_task=1
case $PWD/ in "${OKSTRA_HOME:-$HOME/.okstra}"/worktrees/*) okstra_task=1 ;; esac
if [ -z "$okstra_task" ] && okstra_stamp_ready; then
	okstra_words "$okstra_stamps"/commit-*
	[ "$okstra_n" -le 16 ] && printf %s "$okstra_start" 2>/dev/null >"$okstra_stamp" && exit 0
fi
