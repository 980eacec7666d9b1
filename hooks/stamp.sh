# The commit stamp without starting the binary, byte for byte as src/hooks/stamp.rs writes
# and reads it: <git dir>/okstra/stamps/commit-<git's pid>, holding git's start time (field
# 22 of /proc/<pid>/stat, counted after the last ')'). Whatever sh cannot settle for certain
# (no /proc, no stamps folder yet, `.git` a file, a crowded folder) is left to the binary.
okstra_words() { okstra_n=$#; }
# The fields after the program name of a /proc/<pid>/stat line. The name is in parentheses and
# may itself hold ")": the text after the first ") " is taken, and a ")" left in it means the
# name held ") ", which is the binary's to read. (${line##*\)} would take the last ")" but costs
# dash time quadratic in the line's length: a third of a millisecond per hook.)
okstra_after_name() {
	okstra_rest=${1#*) }
	case $okstra_rest in "$1" | *\)*) return 1 ;; esac
}
okstra_field20() { [ $# -ge 20 ] || return 1; shift 19; okstra_start=$1; }
okstra_stamp_ready() {
	okstra_stamps=${GIT_DIR:-}
	if [ -z "$okstra_stamps" ]; then
		[ -d .git ] || return 1
		okstra_stamps=.git
	fi
	okstra_stamps=$okstra_stamps/okstra/stamps
	okstra_stamp=$okstra_stamps/commit-$PPID
	[ -d "$okstra_stamps" ] && [ -r "/proc/$PPID/stat" ] || return 1
	IFS= read -r okstra_stat <"/proc/$PPID/stat" || return 1
	okstra_after_name "$okstra_stat" || return 1
	set -f
	okstra_field20 $okstra_rest || { set +f; return 1; }
	set +f
}
