# A foreign {{HOOK}} hook was here before okstra: it runs first, on its own copy of git's
# input, and its failure stops git.
chained="${0%/*}/{{HOOK}}.okstra-chained"
if [ -x "$chained" ]; then
	input=$(mktemp) || exit 1
	cat >"$input"
	exec 3<"$input" 4<"$input"
	rm -f "$input"
	{{RUN}} <&3 || exit $?
	exec 3<&- 0<&4 4<&-
fi
