{{STAMP}}# A valid stamp is consumed first: an `x` appended makes it match no start time (removing it
# would start `rm`, which costs as much as the binary); the binary sweeps it later. (`read`
# fails at the end of a file without a newline: then it has read the whole file.) Whether a
# stamp is there at all is asked first, by name: the sequencer's commits have none, and
# reading git's start time costs more.
if [ -f "${GIT_DIR:-.git}/okstra/stamps/commit-$PPID" ] && okstra_stamp_ready && [ -r "$okstra_stamp" ]; then
	if ! IFS= read -r okstra_seen <"$okstra_stamp" && [ "$okstra_seen" = "$okstra_start" ]; then
		printf x 2>/dev/null >>"$okstra_stamp" && exit 0
	fi
fi
# The sequencer committing in its own process (a rebase's picks) is let through: a parent
# whose arguments hold neither "commit" nor "merge" is no commit or merge to judge (sh reads
# them without their NUL separators, which only ever adds matches). okstra_cmd is kept for
# the sequencer's check below. Anything else, and every refusal, is the binary's.
okstra_cmd= okstra_l=
if [ -r "/proc/$PPID/cmdline" ]; then
	while IFS= read -r okstra_l; do okstra_cmd=$okstra_cmd$okstra_l; done <"/proc/$PPID/cmdline"
	okstra_cmd=$okstra_cmd$okstra_l
	case $okstra_cmd in "" | *commit* | *merge*) ;; *) exit 0 ;; esac
fi
{{SEQUENCER}}okstra_sequencer && exit 0
