# The commit stamp without starting the binary, byte for byte as src/hooks/stamp.rs writes
# and reads it: <git dir>/okstra/stamps/commit-<git's pid>, holding git's start time (field
# 22 of /proc/<pid>/stat, counted after the last ')'). Whatever sh cannot settle for certain
# (no /proc, no stamps folder yet, `.git` a file, a crowded folder) is left to the binary.
okstra_words() { okstra_n=$#; }
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
	case $okstra_stat in *")"*) ;; *) return 1 ;; esac
	set -f
	okstra_field20 ${okstra_stat##*\)} || { set +f; return 1; }
	set +f
}
