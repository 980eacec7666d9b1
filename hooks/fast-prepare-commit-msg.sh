{{STAMP}}# A valid stamp is consumed here; anything else, and every decision, is the binary's.
# (`read` fails at the end of a file without a newline: then it has read the whole file.)
if okstra_stamp_ready && [ -f "$okstra_stamp" ] && [ -r "$okstra_stamp" ]; then
	if ! IFS= read -r okstra_seen <"$okstra_stamp" && [ "$okstra_seen" = "$okstra_start" ]; then
		rm -f "$okstra_stamp" 2>/dev/null && exit 0
	fi
fi
