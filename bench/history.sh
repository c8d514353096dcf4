#!/usr/bin/env bash
# history.sh: does plan stay flat over years of history? bench/historygen
# writes the journal that hourly reconciles of the example would leave after
# 1 day and after 10 years (synthetic, no btrfs: checkpointed, rotated into
# gzip segments and expired as runs do), then `drsync plan` is timed (median)
# and its peak RSS measured (largest of 3) on each.
#
#   bench/history.sh            # needs Go and /usr/bin/time (installed if missing)
#
# Knobs (environment): RUNS=31 YEARS=10 DRSYNC=/path/to/drsync.
# Ends with TARGET lines (10 years within 10% of 1 day); they do not change
# the exit status, which only a failed step does.
set -euo pipefail

RUNS=${RUNS:-31}
YEARS=${YEARS:-10}
TARGET_PCT=10
export TZ=UTC LC_ALL=C

BENCH=history
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # repo, say, die, median
example=$repo/examples/desired/homelab.cue

if [[ ! -x /usr/bin/time ]]; then
	say "installing time (for /usr/bin/time -v) ..."
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1; } ||
		die "/usr/bin/time missing and \`apt-get install -y time\` failed"
fi

work=$(mktemp -d /tmp/drsync-history.XXXXXX)
trap 'rm -rf "$work"' EXIT
drsync=${DRSYNC:-$work/drsync}
cd "$repo"
if [[ -z ${DRSYNC:-} ]]; then
	go build -o "$drsync" ./cmd/drsync || die "go build ./cmd/drsync failed"
fi
go build -o "$work/historygen" ./bench/historygen || die "go build ./bench/historygen failed"

end=$(date -u +%Y-%m-%dT%H:00:00Z)
gen() { # gen NAME HOURS
	local t0 t1
	t0=$(date +%s.%N)
	"$work/historygen" -f "$example" -t root="$work/$1" -hours "$2" -end "$end" 2>/dev/null || die "historygen $1 failed"
	t1=$(date +%s.%N)
	local state=$work/$1/var/lib/drsync
	say "   $1: $2 hourly runs generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f s", b - a }'): state dir $(du -sh "$state" | cut -f1)," \
		"$(find "$state" -name 'journal-*.jsonl.gz' | wc -l) segment(s), journal $(stat -c %s "$state/journal.jsonl") B, checkpoint $(stat -c %s "$state/journal.checkpoint.json") B"
}

time_ms() { # time_ms ROOT: wall time of one `drsync plan`
	local a b
	a=$(date +%s.%N)
	"$drsync" plan -f "$example" -t root="$work/$1" --now "$end" >/dev/null
	b=$(date +%s.%N)
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}

# median_ms: the median wall times of `drsync plan` over day and years, RUNS
# runs each after a warm-up, taken in turns: a plan takes about 20 ms, so
# the machine drifting between two series of runs would move the ratio
# more than the history does.
median_ms() {
	local i
	time_ms day >/dev/null
	time_ms years >/dev/null
	for ((i = 0; i < RUNS; i++)); do
		printf 'day %s\n' "$(time_ms day)"
		printf 'years %s\n' "$(time_ms years)"
	done >"$work/times"
	day_ms=$(awk '$1 == "day" { print $2 }' "$work/times" | median)
	years_ms=$(awk '$1 == "years" { print $2 }' "$work/times" | median)
}

peak_rss_kib() { # peak_rss_kib ROOT: the largest max RSS of 3 runs
	local i max=0 kib
	for i in 1 2 3; do
		/usr/bin/time -v -o "$work/time-v.txt" "$drsync" plan -f "$example" -t root="$work/$1" --now "$end" >/dev/null
		kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-v.txt")
		if ((kib > max)); then max=$kib; fi
	done
	say "$max"
}

say "== drsync plan over 1 day vs $YEARS years of hourly reconciles of $(basename "$example")"
gen day 24
gen years $((YEARS * 8766))
median_ms
day_kib=$(peak_rss_kib day) years_kib=$(peak_rss_kib years)
say "   plan median:   1 day $day_ms ms, $YEARS years $years_ms ms ($RUNS runs each)"
say "   plan peak RSS: 1 day $((day_kib / 1024)) MiB, $YEARS years $((years_kib / 1024)) MiB"
say "   machine:       $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
verdict() { awk -v a="$1" -v b="$2" -v t="$TARGET_PCT" 'BEGIN { r = (b / a - 1) * 100; printf "%+.1f%% (target <= +%d%%) %s", r, t, (r <= t) ? "PASS" : "FAIL" }'; }
say "TARGET history-plan-time: $(verdict "$day_ms" "$years_ms")"
say "TARGET history-plan-rss: $(verdict "$day_kib" "$years_kib")"
