{{STAMP}}# Past 16 commit stamps (consumed ones, and those of commits that stopped before
# prepare-commit-msg) the binary sweeps.
if okstra_stamp_ready; then
	okstra_words "$okstra_stamps"/commit-*
	[ "$okstra_n" -le 16 ] && printf %s "$okstra_start" 2>/dev/null >"$okstra_stamp" && exit 0
fi
