#!/bin/sh
# git-okstra hook shim (format 5) for {{HOOK}}: `git okstra hooks uninstall` removes it.
# The policy is in the binary; this file only finds it. Edit nothing here: reinstall instead.
{{CHAIN}}installed={{BINARY}}
okstra=$installed
[ -x "$okstra" ] || okstra=$(command -v git-okstra) || {
	echo "error: the okstra {{HOOK}} hook cannot find git-okstra ($installed is gone and git-okstra is not on PATH)" >&2
	echo "hint: put git-okstra on PATH and run 'git okstra hooks install', or delete $0" >&2
	exit 1
}
{{FAST}}exec "$okstra" hook {{HOOK}} "$@"
