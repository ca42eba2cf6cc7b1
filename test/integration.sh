#!/usr/bin/env bash
# test/integration.sh — runs every test/t/*.sh (each starts its own private server)
# and adds up their "N passed, N failed" lines. A file that ends without one failed.
set -uo pipefail
cd "$(dirname "$0")/t"
total_p=0 total_f=0
for t in $(ls *.sh | sort); do
	echo "--- $t"
	log=$(mktemp)
	bash "$t" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$t: ended without a result line (exit $status)"
		total_f=$((total_f + 1))
	else
		p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
		total_p=$((total_p + p)); total_f=$((total_f + f))
		[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && total_f=$((total_f + 1))
	fi
	rm -f "$log"
done
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$total_p" -gt 0 ]
