#!/usr/bin/env bash
# Runs every fuzz target of the module for a fixed time each (default 15s; the first argument,
# or FUZZTIME, takes go test's -fuzztime forms: 10m, 5000x). A crash fails the run; go test then
# keeps the input under the package's testdata/fuzz/<Target>/, where plain `go test` replays it
# from then on: commit it with the fix. go test's own -timeout is off, since -fuzztime bounds each run.
#
#   hack/fuzz.sh            every target, 15s each
#   hack/fuzz.sh 10m        every target, 10 minutes each
#   hack/fuzz.sh 1m Route   the targets whose name contains Route
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-${FUZZTIME:-15s}}
filter=${2:-}
# Minimizing a new interesting input re-runs it many times and counts for no execution: keep it
# short, or large seeds eat the whole budget.
minimize=${FUZZMINIMIZETIME:-5s}

failed=()
ran=0
for pkg in $(go list ./...); do
	# A package whose tests do not build fails the run rather than being skipped.
	if ! list=$(go test -list '^Fuzz' "$pkg"); then
		echo "$pkg: cannot list its fuzz targets" >&2
		failed+=("$pkg")
		continue
	fi
	targets=$(grep '^Fuzz' <<<"$list" || true)
	for target in $targets; do
		if [[ -n $filter && $target != *"$filter"* ]]; then
			continue
		fi
		echo "== $target ($pkg) for $fuzztime"
		ran=$((ran + 1))
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" -timeout 0 2>&1 |
			{ grep -v '^fuzz: elapsed' || true; }; then
			failed+=("$target")
		fi
	done
done
if [[ $ran -eq 0 ]]; then
	echo "no fuzz target matched '$filter'" >&2
	exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzzing failed: ${failed[*]}; the inputs are under the packages' testdata/fuzz/" >&2
	exit 1
fi
echo "fuzzed $ran targets for $fuzztime each: no crash"
