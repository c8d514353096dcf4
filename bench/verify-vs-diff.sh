#!/usr/bin/env bash
# verify-vs-diff.sh: how fast verify.CompareTrees checks a full drill against
# `diff -r`, with a warm page cache (target 2x) and a cold one (caches
# dropped before every run, target 1.5x; needs root), and against the
# ceiling of just reading every byte (cat), and how verify.Sample compares
# with `find | shuf` in time and memory. A report: it exits 0 even when a
# target is missed.
#
# Env: FILES (20000) and TOTAL_MIB (1536) size the content tree; SAMPLE_FILES
# (200000) and SMALL_SAMPLE_FILES (20000) the sampling trees; RUNS (5) the
# repetitions, best time kept; WORK (a new dir under /var/tmp) the scratch.
set -euo pipefail

FILES=${FILES:-20000}
TOTAL_MIB=${TOTAL_MIB:-1536}
SAMPLE_FILES=${SAMPLE_FILES:-200000}
SMALL_SAMPLE_FILES=${SMALL_SAMPLE_FILES:-20000}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /var/tmp/verify-bench.XXXXXX)}
mkdir -p "$WORK"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

need() { # need TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	echo "installing $2 for $1" >&2
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need diff diffutils
need shuf coreutils
need find findutils
need awk gawk
[[ -x /usr/bin/time ]] || need /usr/bin/time time
command -v go >/dev/null || { echo "go is required to build the harness" >&2; exit 1; }

HARNESS=$WORK/verifybench
(cd "$HERE" && go build -o "$HARNESS" ./bench/verifybench)

. "$(dirname "$0")/lib.sh" # best, rate
verdict() { awk -v v="$1" -v min="$2" 'BEGIN{print (v >= min) ? "PASS" : "FAIL"}'; }

echo "== building $FILES files, $TOTAL_MIB MiB, and a cp -a copy in $WORK"
"$HARNESS" mktree "$WORK/a" "$FILES" "$TOTAL_MIB"
cp -a "$WORK/a" "$WORK/b"
BYTES=$(( $(find "$WORK/a" -type f -printf '%s\n' | awk '{s+=$1} END{print s}') * 2 ))
echo "warming the page cache"
find "$WORK/a" "$WORK/b" -type f -exec cat {} + >/dev/null
find "$WORK/a" "$WORK/b" -type f -exec cat {} + >/dev/null

read -r _ _ mismatches < <("$HARNESS" compare "$WORK/a" "$WORK/b")
[[ $mismatches == 0 ]] || echo "WARNING: CompareTrees reported $mismatches mismatches on identical trees"
T_VERIFY=$(best "$HARNESS" compare "$WORK/a" "$WORK/b")
T_DIFF=$(best diff -r "$WORK/a" "$WORK/b")
T_CAT=$(best sh -c 'find "$1" "$2" -type f -exec cat {} + >/dev/null' sh "$WORK/a" "$WORK/b")
# cpu_of CMD...: user+sys seconds of one run, the steadier figure on a shared machine.
cpu_of() { /usr/bin/time -o "$WORK/cpu" -f '%U %S' "$@" >/dev/null 2>&1 || true; awk 'END {printf "%.2f", $1 + $2}' "$WORK/cpu"; }
C_VERIFY=$(cpu_of "$HARNESS" compare "$WORK/a" "$WORK/b")
C_DIFF=$(cpu_of diff -r "$WORK/a" "$WORK/b")

echo
echo "== full-tree compare: $((BYTES / 1048576)) MiB read (both trees), best of $RUNS, warm cache, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-34s %8s s %8s MiB/s\n' "verify.CompareTrees" "$T_VERIFY" "$(rate "$BYTES" "$T_VERIFY")"
printf '%-34s %8s s %8s MiB/s\n' "diff -r" "$T_DIFF" "$(rate "$BYTES" "$T_DIFF")"
printf '%-34s %8s s %8s MiB/s\n' "find -exec cat (ceiling)" "$T_CAT" "$(rate "$BYTES" "$T_CAT")"
echo "CPU (user+sys, one run): verify.CompareTrees ${C_VERIFY}s, diff -r ${C_DIFF}s"
VS_DIFF=$(awk -v d="$T_DIFF" -v v="$T_VERIFY" 'BEGIN{printf "%.2f", d / v}')
VS_CAT=$(awk -v c="$T_CAT" -v v="$T_VERIFY" 'BEGIN{printf "%.0f", 100 * c / v}')
echo "TARGET verify-vs-diff: ${VS_DIFF}x (target >= 2x) $(verdict "$VS_DIFF" 2)"
echo "TARGET verify-throughput-vs-cat: ${VS_CAT}% (target >= 70%) $(verdict "$VS_CAT" 70)"

if [[ $(id -u) == 0 ]]; then
	# best_cold CMD...: best wall time of RUNS runs, page caches dropped before each.
	best_cold() {
		local b="" t
		for _ in $(seq "$RUNS"); do
			drop_caches
			/usr/bin/time -o "$WORK/cold" -f %e "$@" >/dev/null 2>&1 || true
			t=$(tail -1 "$WORK/cold")
			if [[ -z $b ]] || awk -v t="$t" -v b="$b" 'BEGIN{exit !(t<b)}'; then b=$t; fi
		done
		echo "$b"
	}
	T_VERIFY_COLD=$(best_cold "$HARNESS" compare "$WORK/a" "$WORK/b")
	T_DIFF_COLD=$(best_cold diff -r "$WORK/a" "$WORK/b")
	echo
	echo "== full-tree compare, cold cache (dropped before each run), best of $RUNS, load $(cut -d' ' -f1 /proc/loadavg)"
	printf '%-34s %8s s %8s MiB/s\n' "verify.CompareTrees" "$T_VERIFY_COLD" "$(rate "$BYTES" "$T_VERIFY_COLD")"
	printf '%-34s %8s s %8s MiB/s\n' "diff -r" "$T_DIFF_COLD" "$(rate "$BYTES" "$T_DIFF_COLD")"
	VS_DIFF_COLD=$(awk -v d="$T_DIFF_COLD" -v v="$T_VERIFY_COLD" 'BEGIN{printf "%.2f", d / v}')
	echo "TARGET verify-vs-diff-cold: ${VS_DIFF_COLD}x (target >= 1.5x) $(verdict "$VS_DIFF_COLD" 1.5)"
else
	echo "TARGET verify-vs-diff-cold: not measured, dropping caches needs root (target >= 1.5x) FAIL"
fi
rm -rf "$WORK/a" "$WORK/b"

echo
echo "== sampling 50 files"
for n in "$SMALL_SAMPLE_FILES" "$SAMPLE_FILES"; do
	"$HARNESS" mkfiles "$WORK/s$n" "$n"
	find "$WORK/s$n" -type f >/dev/null # warm the dentry cache for both contenders
	T_SAMPLE=$(best "$HARNESS" sample "$WORK/s$n" 50)
	T_SHUF=$(best sh -c 'find "$1" -type f | shuf -n 50' sh "$WORK/s$n")
	/usr/bin/time -o "$WORK/time" -f %M "$HARNESS" sample "$WORK/s$n" 50 >/dev/null
	RSS=$(tail -1 "$WORK/time")
	/usr/bin/time -o "$WORK/time" -f %M sh -c 'find "$1" -type f | shuf -n 50' sh "$WORK/s$n" >/dev/null
	RSS_SHUF=$(tail -1 "$WORK/time")
	printf '%7d files: verify.Sample %6s s, peak RSS %6d KiB | find|shuf -n 50 %6s s, its peak RSS %6d KiB\n' \
		"$n" "$T_SAMPLE" "$RSS" "$T_SHUF" "$RSS_SHUF"
	eval "RSS_$n=$RSS"
	rm -rf "$WORK/s$n"
done
small=RSS_$SMALL_SAMPLE_FILES large=RSS_$SAMPLE_FILES
GROWTH=$(( ${!large} - ${!small} ))
echo "TARGET sample-rss-growth: ${GROWTH} KiB from $SMALL_SAMPLE_FILES to $SAMPLE_FILES files (target < 4096 KiB) $(verdict $(( 4096 - GROWTH )) 0)"
