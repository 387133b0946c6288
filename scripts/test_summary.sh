#!/usr/bin/env bash
# Sum up a `cargo test` log (the file named as $1): print "tests: N passed, N failed, N skipped",
# name each ignored test with its reason, and fail if any test failed or was skipped, or none ran.
set -euo pipefail
log=$1

sum() {
  grep '^test result:' "$log" | grep -o "[0-9]* $1" | awk '{n += $1} END {print n + 0}' || true
}

passed=$(sum passed)
failed=$(sum failed)
ignored=$(sum ignored)
echo "tests: $passed passed, $failed failed, $ignored skipped"
if [ "$ignored" -gt 0 ]; then
  echo "skipped (a test dependency is missing: see README.md, Testing):"
  sed -n 's/^test \(.*\) \.\.\. ignored, \(.*\)$/  \1: \2/p; s/^test \(.*\) \.\.\. ignored$/  \1/p' "$log"
fi
[ "$passed" -gt 0 ] && [ "$failed" -eq 0 ] && [ "$ignored" -eq 0 ]
