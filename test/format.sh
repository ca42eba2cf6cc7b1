#!/usr/bin/env bash
# test/format.sh FILE... — one check per C file: clang-format (with the checked-in
# .clang-format) would leave it unchanged. `make format` fixes what fails here.
set -u
passed=0 failed=0
echo "# $(clang-format --version)"
for f in "$@"; do
	if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "not ok - $f is not formatted (make format)"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
