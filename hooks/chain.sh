# A foreign {{HOOK}} hook was here before okstra: it runs first and its failure stops git.
chained="${0%/*}/{{HOOK}}.okstra-chained"
if [ -x "$chained" ]; then
	{{RUN}} || exit $?
fi
