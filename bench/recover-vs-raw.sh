#!/usr/bin/env bash
# recover-vs-raw.sh: `drsync recover` of a subvolume from the drive against
# what a person would type without it: `btrfs send | btrfs receive` of the
# replica into the snapshot directory, then `btrfs subvolume snapshot` of it
# at the source. drsync also verifies the whole recovered tree; that time is
# reported separately (from the journal's verify step), and the target is
# on the rest. A second TARGET line compares the whole recovery, verified,
# with the same by hand plus `diff -r` of the result against the replica
# (within 1.2x, as drills are). A report: it exits 0 even when a target is
# missed.
#
# Env: SIZE_MIB (2048) and FILES (8000) size the subvolume; RUNS (3) the
# repetitions, best time kept; DRSYNC a prebuilt binary (default: go build).
set -euo pipefail

# About 2 GiB, as issue 8 asks; the sandbox's pool image (6 GiB, sparse)
# holds the tree and, while a recovery runs, its received copy.
SIZE_MIB=${SIZE_MIB:-2048}
FILES=${FILES:-8000}
RUNS=${RUNS:-3}
BENCH=recover-vs-raw
. "$(dirname "$0")/lib.sh"
need_root "loop-mounted btrfs"
need_btrfs
need_jq
bench_workdir

build_drsync
build_tool verifybench

desired=$work/bench.cue
pool_and_drive_desired "$desired" 'restoreTest: {every: "1d", sampleSize: 50}'
"$drsync" sandbox up --dir "$sb" -f "$desired" >/dev/null
src=$sb/pool/data
snaps=$sb/pool/.snapshots/data
replicas=$sb/usb/.snapshots/data
rm -rf "${src:?}"/*
say "== building $FILES files, $SIZE_MIB MiB in $src"
"$work/verifybench" mktree "$src" "$FILES" "$SIZE_MIB"
"$drsync" apply --auto-approve -f "$desired" -t root="$sb" >/dev/null
snap=$(ls -1 "$replicas" | tail -n 1)
[[ -n $snap ]] || die "no replica after apply"

# lose: the disaster before each run, the source and its local snapshots.
lose() {
	btrfs subvolume delete -c "$src" >/dev/null
	local s
	for s in "$snaps"/*; do [[ -e $s ]] && btrfs subvolume delete -c "$s" >/dev/null; done
	btrfs subvolume sync "$sb/pool" >/dev/null # the space is free before the next run
	sync
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
best_drsync="" best_raw="" verify_s="" best_total="" best_checked=""
faster() { [[ -z $2 ]] || awk -v a="$1" -v b="$2" 'BEGIN{exit !(a<b)}'; }
for run in $(seq "$RUNS"); do
	lose
	t0=$(date +%s.%N)
	"$drsync" recover data --auto-approve --json -f "$desired" -t root="$sb" >"$work/recover.json" ||
		die "drsync recover failed: $(jq -r '.error // empty' "$work/recover.json")"
	t1=$(date +%s.%N)
	total=$(secs "$t0" "$t1")
	v=$(jq -s '[.[] | select(.action.kind == "recover" and .phase == "done" and (.action.reason | startswith("verify:")))] | last | .seconds' "$sb/state/journal.jsonl" | xargs printf "%.2f")
	net=$(awk -v t="$total" -v v="$v" 'BEGIN{printf "%.2f", t - v}')
	say "drsync recover run $run: ${total}s, of which verification ${v}s"
	if faster "$net" "$best_drsync"; then best_drsync=$net verify_s=$v; fi
	if faster "$total" "$best_total"; then best_total=$total; fi

	lose
	t0=$(date +%s.%N)
	btrfs send -q "$replicas/$snap" | btrfs receive "$snaps" >/dev/null 2>&1
	btrfs subvolume snapshot "$snaps/$snap" "$src" >/dev/null
	t1=$(date +%s.%N)
	diff -r "$replicas/$snap" "$src" >/dev/null || die "diff -r found differences"
	t2=$(date +%s.%N)
	raw=$(secs "$t0" "$t1")
	checked=$(secs "$t0" "$t2")
	say "raw send|receive + snapshot run $run: ${raw}s, + diff -r $(secs "$t1" "$t2")s = ${checked}s"
	if faster "$raw" "$best_raw"; then best_raw=$raw; fi
	if faster "$checked" "$best_checked"; then best_checked=$checked; fi
done
bytes=$(du -sb "$src" | cut -f1)
over=$(awk -v d="$best_drsync" -v r="$best_raw" 'BEGIN{printf "%.1f", 100 * (d - r) / r}')
verdict=$(awk -v o="$over" 'BEGIN{print (o <= 10) ? "PASS" : "FAIL"}')
say
say "== $((bytes / 1048576)) MiB, best of $RUNS, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
say "TARGET recover-vs-raw: drsync recover ${best_drsync}s without verification vs raw ${best_raw}s (${over}% over raw) (target within +10%) $verdict"
say "verification of the whole recovered tree: ${verify_s}s (reported separately)"
ratio=$(awk -v d="$best_total" -v r="$best_checked" 'BEGIN{printf "%.2f", d / r}')
verdict=$(awk -v x="$ratio" 'BEGIN{print (x <= 1.2) ? "PASS" : "FAIL"}')
say "TARGET recover-verified-vs-raw: drsync recover ${best_total}s with verification vs send|receive + snapshot + diff -r ${best_checked}s: ${ratio}x (target <= 1.2x) $verdict"
