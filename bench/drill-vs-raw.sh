#!/usr/bin/env bash
# drill-vs-raw.sh: what a full restore drill costs against doing it by hand.
# `drsync drill` receives the whole replica from the drive and compares every
# file with the local snapshot; by hand that is `btrfs send | btrfs receive`
# of the same replica and `diff -r` of the result against the snapshot. Page
# caches are dropped before each contender. Reports the drill's restore time
# (the RTO it measures) and verification time from its evidence, and a
# TARGET line: the drill as a whole within 1.2x of receive + diff -r. A
# report: it exits 0 even when the target is missed.
#
# Env: SIZE_MIB (2048) and FILES (8000) size the subvolume; RUNS (3) the
# repetitions, best time kept; DRSYNC a prebuilt binary (default: go build).
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-2048}
FILES=${FILES:-8000}
RUNS=${RUNS:-3}
BENCH=drill-vs-raw
. "$(dirname "$0")/lib.sh"
need_root "loop-mounted btrfs, dropping caches"
need_btrfs
need_jq
bench_workdir

build_drsync
build_tool verifybench

desired=$work/bench.cue
pool_and_drive_desired "$desired" "" 'drillTarget: "\(root)/pool/.drills"'
"$drsync" sandbox up --dir "$sb" -f "$desired" >/dev/null
src=$sb/pool/data
rm -rf "${src:?}"/*
say "== building $FILES files, $SIZE_MIB MiB in $src"
"$work/verifybench" mktree "$src" "$FILES" "$SIZE_MIB"
"$drsync" apply --auto-approve -f "$desired" -t root="$sb" >/dev/null
snap=$(ls -1 "$sb/usb/.snapshots/data" | tail -n 1)
[[ -n $snap ]] || die "no replica after apply"
local_snap=$sb/pool/.snapshots/data/$snap
replica=$sb/usb/.snapshots/data/$snap
scratch=$sb/pool/.raw-drill
mkdir -p "$scratch"

secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
better() { [[ -z $2 ]] || awk -v a="$1" -v b="$2" 'BEGIN{exit !(a<b)}'; }
best_drill="" best_raw="" best_restore="" best_verify="" raw_recv="" raw_diff=""
for run in $(seq "$RUNS"); do
	# A deleted subvolume's space comes back when the cleaner has run: the
	# pool holds the tree and one received copy at a time, not three.
	btrfs subvolume sync "$sb/pool" >/dev/null
	drop_caches
	t0=$(date +%s.%N)
	"$drsync" drill --subvolume data --json -f "$desired" -t root="$sb" >"$work/drill.json" || die "drill failed: $(cat "$work/drill.json")"
	t1=$(date +%s.%N)
	total=$(secs "$t0" "$t1")
	read -r result restore verify < <(jq -r '.reports[0] | "\(.result) \(.restoreSeconds // 0 | . * 100 | round / 100) \(.verifySeconds // 0 | . * 100 | round / 100)"' "$work/drill.json")
	[[ $result == pass ]] || die "drill result $result"
	say "drsync drill run $run: ${total}s (evidence: restore ${restore}s, verification ${verify}s)"
	if better "$total" "$best_drill"; then best_drill=$total best_restore=$restore best_verify=$verify; fi

	btrfs subvolume sync "$sb/pool" >/dev/null
	drop_caches
	t0=$(date +%s.%N)
	btrfs send -q "$replica" | btrfs receive -q "$scratch"
	t1=$(date +%s.%N)
	diff -r "$local_snap" "$scratch/$snap" >/dev/null || die "diff -r found differences"
	t2=$(date +%s.%N)
	raw=$(secs "$t0" "$t2")
	say "raw send|receive $(secs "$t0" "$t1")s + diff -r $(secs "$t1" "$t2")s = ${raw}s (run $run)"
	if better "$raw" "$best_raw"; then best_raw=$raw raw_recv=$(secs "$t0" "$t1") raw_diff=$(secs "$t1" "$t2"); fi
	btrfs subvolume delete -c "$scratch/$snap" >/dev/null
done
bytes=$(du -sb "$local_snap" | cut -f1)
ratio=$(awk -v d="$best_drill" -v r="$best_raw" 'BEGIN{printf "%.2f", d / r}')
verdict=$(awk -v x="$ratio" 'BEGIN{print (x <= 1.2) ? "PASS" : "FAIL"}')
say
say "== $((bytes / 1048576)) MiB in $FILES files, best of $RUNS, caches dropped before each, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
say "drill: restore (RTO) ${best_restore}s, verification ${best_verify}s; by hand: receive ${raw_recv}s, diff -r ${raw_diff}s"
say "TARGET drill-vs-raw: drsync drill ${best_drill}s vs receive + diff -r ${best_raw}s: ${ratio}x (target <= 1.2x) $verdict"
