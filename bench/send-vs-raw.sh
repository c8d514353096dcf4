#!/usr/bin/env bash
# send-vs-raw.sh: does `drsync apply` send at pipe speed? It times an apply
# that snapshots a ~2 GiB subvolume and sends it in full to the drive, then
# one that sends an increment, against the same work by hand: `btrfs
# subvolume snapshot -r` and `btrfs send [-p parent] | btrfs receive`. Page
# caches are dropped before each. drsync's time includes everything an
# apply does (loading the desired state, observing, the source health
# check, journaling) except the restore test the first apply also runs (a
# proof the raw pipe does not make): its time, from the journal, is
# reported and taken off. Reports bytes per second, CPU time (user+sys,
# children included, of the best run) and TARGET lines: within 5% of the
# raw pipe, full and incremental. A report: it exits 0 even when a target
# is missed.
#
# Env: SIZE_MIB (2048) and FILES (8000) size the subvolume, INC_MIB (256)
# the increment; RUNS (3), best kept; DRSYNC a prebuilt binary.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-2048}
FILES=${FILES:-8000}
INC_MIB=${INC_MIB:-256}
RUNS=${RUNS:-3}
BENCH=send-vs-raw
. "$(dirname "$0")/lib.sh"
need_root "loop-mounted btrfs, dropping caches"
need_btrfs
need_jq
bench_workdir

build_drsync
build_tool verifybench

desired=$work/bench.cue
pool_and_drive_desired "$desired"
"$drsync" sandbox up --dir "$sb" -f "$desired" >/dev/null
src=$sb/pool/data
snaps=$sb/pool/.snapshots/data
replicas=$sb/usb/.snapshots/data
rm -rf "${src:?}"/*
say "== building $FILES files, $SIZE_MIB MiB in $src, and a $INC_MIB MiB increment"
"$work/verifybench" mktree "$src" "$FILES" "$SIZE_MIB"
"$work/verifybench" mktree "$work/inc" $((FILES / 8)) "$INC_MIB"

reset() { # no snapshots, no replicas, no journal, no increment
	local s
	for s in "$snaps"/* "$replicas"/*; do [[ -e $s ]] && btrfs subvolume delete -c "$s" >/dev/null; done
	btrfs subvolume sync "$sb/pool" >/dev/null
	btrfs subvolume sync "$sb/usb" >/dev/null
	rm -rf "$sb/state" "$src/inc"
	mkdir -p "$snaps" "$replicas"
}
add_increment() { cp -a "$work/inc" "$src/inc"; sync; }
now() { date +%s.%N; }
# cpu CMD...: runs CMD and adds its user+sys CPU time (children included) to $cpu_used.
# It returns CMD's exit status.
cpu() {
	local rc=0
	/usr/bin/time -o "$work/cpu" -f '%U %S' "$@" || rc=$?
	cpu_used=$(awk -v c="$cpu_used" 'END {printf "%.2f", c + $1 + $2}' "$work/cpu")
	return "$rc"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
better() { [[ -z $2 ]] || awk -v a="$1" -v b="$2" 'BEGIN{exit !(a<b)}'; }
apply() { cpu "$drsync" apply --auto-approve --now "$1" -f "$desired" -t root="$sb" >"$work/apply.out" || die "apply failed: $(cat "$work/apply.out")"; }
# proofs prints the seconds the journal gives restore tests and drills so far.
proofs() {
	[[ -f $sb/state/journal.jsonl ]] || { echo 0; return; }
	jq -s '[.[] | select((.action.kind == "test" or .action.kind == "drill") and .phase == "done") | .seconds] | add // 0' "$sb/state/journal.jsonl"
}
# net T0 T1 P0 P1: the wall time from T0 to T1 without the proofs' P1 - P0.
net() { awk -v a="$1" -v b="$2" -v p="$3" -v q="$4" 'BEGIN{printf "%.2f", b - a - (q - p)}'; }

d_full="" d_inc="" r_full="" r_inc=""
for run in $(seq "$RUNS"); do
	reset; drop_caches
	p0=$(proofs); cpu_used=0; t0=$(now); apply 2030-01-01T04:00; t1=$(now); full_cpu=$cpu_used; p1=$(proofs)
	[[ $(ls "$replicas" | wc -l) == 1 ]] || die "no replica after the first apply"
	add_increment; drop_caches
	cpu_used=0; t2=$(now); apply 2030-01-02T04:00; t3=$(now); inc_cpu=$cpu_used; p2=$(proofs)
	[[ $(ls "$replicas" | wc -l) == 2 ]] || die "no second replica after the second apply"
	full=$(net "$t0" "$t1" "$p0" "$p1") inc=$(net "$t2" "$t3" "$p1" "$p2")
	say "drsync apply run $run: full $(secs "$t0" "$t1")s, ${full}s without its restore test (CPU ${full_cpu}s with it), incremental $(secs "$t2" "$t3")s, ${inc}s without tests (CPU ${inc_cpu}s)"
	better "$full" "$d_full" && d_full=$full d_full_cpu=$full_cpu d_full_gross=$(secs "$t0" "$t1")
	better "$inc" "$d_inc" && d_inc=$inc d_inc_cpu=$inc_cpu

	reset; drop_caches
	cpu_used=0; t0=$(now)
	cpu btrfs subvolume snapshot -r "$src" "$snaps/raw.1" >/dev/null
	cpu sh -c 'btrfs send -q "$1" | btrfs receive "$2" >/dev/null 2>&1' sh "$snaps/raw.1" "$replicas"
	t1=$(now); full_cpu=$cpu_used
	add_increment; drop_caches
	cpu_used=0; t2=$(now)
	cpu btrfs subvolume snapshot -r "$src" "$snaps/raw.2" >/dev/null
	cpu sh -c 'btrfs send -q -p "$1" "$2" | btrfs receive "$3" >/dev/null 2>&1' sh "$snaps/raw.1" "$snaps/raw.2" "$replicas"
	t3=$(now); inc_cpu=$cpu_used
	say "raw snapshot + send|receive run $run: full $(secs "$t0" "$t1")s (CPU ${full_cpu}s), incremental $(secs "$t2" "$t3")s (CPU ${inc_cpu}s)"
	better "$(secs "$t0" "$t1")" "$r_full" && r_full=$(secs "$t0" "$t1") r_full_cpu=$full_cpu
	better "$(secs "$t2" "$t3")" "$r_inc" && r_inc=$(secs "$t2" "$t3") r_inc_cpu=$inc_cpu
done
full_bytes=$(du -sb --exclude=inc "$src" | cut -f1)
inc_bytes=$(du -sb "$src/inc" | cut -f1)
mibs() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.0f", b / 1048576 / (s > 0 ? s : 0.001)}'; }
over() { awk -v d="$1" -v r="$2" 'BEGIN{printf "%.1f", 100 * (d - r) / r}'; }
verdict() { awk -v o="$1" 'BEGIN{print (o <= 5) ? "PASS" : "FAIL"}'; }
say
say "== full $((full_bytes / 1048576)) MiB, increment $((inc_bytes / 1048576)) MiB, best of $RUNS, caches dropped before each, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
say "full: drsync $(mibs "$full_bytes" "$d_full") MiB/s, raw $(mibs "$full_bytes" "$r_full") MiB/s; incremental: drsync $(mibs "$inc_bytes" "$d_inc") MiB/s, raw $(mibs "$inc_bytes" "$r_inc") MiB/s"
say "CPU (user+sys, children included): full drsync ${d_full_cpu}s, raw ${r_full_cpu}s; incremental drsync ${d_inc_cpu}s, raw ${r_inc_cpu}s"
o=$(over "$d_full" "$r_full")
say "TARGET send-full-vs-raw: drsync ${d_full}s (${d_full_gross}s with its first restore test) vs raw ${r_full}s (${o}% over) (target within +5%) $(verdict "$o")"
o=$(over "$d_inc" "$r_inc")
say "TARGET send-incremental-vs-raw: drsync ${d_inc}s vs raw ${r_inc}s (${o}% over) (target within +5%) $(verdict "$o")"
