#!/usr/bin/env bash
# mutate.sh [PACKAGE...]: mutation testing with gremlins, one package at a
# time, printing one line per package:
#   TARGET mutate-<package>: <efficacy>% killed (target >= N%) PASS|FAIL
# Efficacy is gremlins' killed / (killed + lived): the share of covered
# mutants some test notices. Targets: 95% for retention and snapname (btrbk's
# rules, ported), 90% for the rest. The heavy btrbk comparisons run small
# (DRSYNC_BTRBK_CASES=300, no dryrun on loop devices) since every mutant
# reruns its package's tests. Exits 1 when a package misses its target.
set -euo pipefail

GREMLINS=${GREMLINS:-$(go env GOPATH)/bin/gremlins}
[[ -x $GREMLINS ]] || { echo "mutate: $GREMLINS missing (make mutate installs it)" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -gt 0 ]] || set -- ./snapname ./retention ./schema ./verify ./reconcile

export DRSYNC_BTRBK_CASES=${DRSYNC_BTRBK_CASES:-300} DRSYNC_BTRBK_DRYRUN=${DRSYNC_BTRBK_DRYRUN:-skip}
out=$(mktemp -d /tmp/drsync-mutate.XXXXXX)
trap 'rm -rf "$out"' EXIT

failed=0
lines=()
for pkg in "$@"; do
	name=${pkg#./}
	name=${name//\//-}
	target=90
	case $name in retention | snapname) target=95 ;; esac
	echo "== gremlins unleash $pkg" >&2
	"$GREMLINS" unleash --output "$out/$name.json" "$pkg" >"$out/$name.txt" 2>&1 ||
		{ cat "$out/$name.txt" >&2; echo "mutate: gremlins failed on $pkg" >&2; exit 1; }
	grep -E '^ *(LIVED|TIMED OUT)' "$out/$name.txt" | sed "s|^ *|   $name: |" >&2 || true
	eff=$(awk -F': ' '/^Test efficacy:/ { sub(/%/, "", $2); print $2 }' "$out/$name.txt")
	[[ -n $eff ]] || { cat "$out/$name.txt" >&2; echo "mutate: no efficacy in gremlins' output for $pkg" >&2; exit 1; }
	verdict=$(awk -v e="$eff" -v t="$target" 'BEGIN { print (e >= t) ? "PASS" : "FAIL" }')
	[[ $verdict == PASS ]] || failed=1
	lines+=("TARGET mutate-$name: $eff% killed (target >= $target%) $verdict")
done
printf '%s\n' "${lines[@]}"
exit "$failed"
