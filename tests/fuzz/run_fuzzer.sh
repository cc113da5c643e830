#!/usr/bin/env bash
# run_fuzzer.sh BINARY CORPUS_DIR SECONDS: a short libFuzzer run over the seed corpus (read-only:
# new inputs go to a temporary directory), failing on any crash, leak or sanitizer report.
set -euo pipefail
bin=$1 corpus=$2 secs=${3:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -artifact_prefix="$work/" "$work" "$corpus" 2>"$work/log" || {
  tail -50 "$work/log"; exit 1; }
grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)' "$work/log" | tail -1
