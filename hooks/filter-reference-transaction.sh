# Only a finished transaction that moved a remote-tracking branch can reveal a
# `push --no-verify`; every other one (each commit, checkout, reset) ends here, and so
# does a push whose pre-push left its stamp.
[ "$1" = committed ] || exit 0
lines=
while read -r line; do
	case $line in *" refs/remotes/"*) lines="${lines:+$lines
}$line" ;; esac
done
[ -n "$lines" ] || exit 0
[ -f "${GIT_DIR:-.git}/okstra/stamps/push-$PPID" ] && exit 0
