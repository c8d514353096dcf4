#!/usr/bin/env bash
# sample-vs-find.sh: verify.Sample (which reads a btrfs snapshot's own btree
# and keeps the largest files in the sample) against `find -type f | shuf -n
# 50` on read-only snapshots of 200,000 and 2,000,000 empty files on a
# loop-mounted btrfs, warm caches, best of RUNS; and the sampler's peak RSS
# at both sizes. A report: it exits 0 even when a target is missed.
#
# Env: SIZES ("200000 2000000"), RUNS (5), IMAGE_GIB (4: a sparse image;
# 2,000,000 empty files take about 1 GiB of metadata).
set -euo pipefail

SIZES=${SIZES:-200000 2000000}
RUNS=${RUNS:-5}
IMAGE_GIB=${IMAGE_GIB:-4}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /var/tmp/sample-bench.XXXXXX)
MNT=$WORK/mnt
LOOP=""
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	[[ -n $LOOP ]] && losetup -d "$LOOP"
	rm -rf "$WORK"
}
trap cleanup EXIT

need() { # need TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	echo "installing $2 for $1" >&2
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need mkfs.btrfs btrfs-progs
need shuf coreutils
need find findutils
need awk gawk
[[ -x /usr/bin/time ]] || need /usr/bin/time time
command -v go >/dev/null || { echo "go is required to build the harness" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (loop devices, btrfs)" >&2; exit 1; }

HARNESS=$WORK/verifybench
(cd "$HERE" && go build -o "$HARNESS" ./bench/verifybench)

truncate -s "${IMAGE_GIB}G" "$WORK/img"
LOOP=$(losetup --find --show "$WORK/img")
mkfs.btrfs -q -m single -d single "$LOOP" 2>/dev/null
mkdir -p "$MNT"
mount "$LOOP" "$MNT"

. "$(dirname "$0")/lib.sh" # best, rate
verdict() { awk -v v="$1" -v max="$2" 'BEGIN{print (v <= max) ? "PASS" : "FAIL"}'; }

echo "== sampling 50 files from a read-only snapshot, best of $RUNS, warm caches, $(nproc) CPUs"
first_rss=""
for n in $SIZES; do
	btrfs -q subvolume create "$MNT/src$n"
	start=$(date +%s.%N)
	"$HARNESS" mkfiles "$MNT/src$n" "$n"
	made=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.0f", e - s}')
	btrfs -q subvolume snapshot -r "$MNT/src$n" "$MNT/snap$n"
	find "$MNT/snap$n" -type f >/dev/null # warm the caches for both contenders
	"$HARNESS" sample "$MNT/snap$n" 50 >/dev/null
	T_SAMPLE=$(best "$HARNESS" sample "$MNT/snap$n" 50)
	T_SHUF=$(best sh -c 'find "$1" -type f | shuf -n 50' sh "$MNT/snap$n")
	/usr/bin/time -o "$WORK/time" -f %M "$HARNESS" sample "$MNT/snap$n" 50 >/dev/null
	RSS=$(tail -1 "$WORK/time")
	printf '%8d files (made in %s s): verify.Sample %6s s, peak RSS %6d KiB | find|shuf -n 50 %6s s; load %s\n' \
		"$n" "$made" "$T_SAMPLE" "$RSS" "$T_SHUF" "$(cut -d' ' -f1 /proc/loadavg)"
	echo "TARGET sample-vs-find-$n: ${T_SAMPLE} s vs ${T_SHUF} s (target <= find|shuf) $(verdict "$T_SAMPLE" "$T_SHUF")"
	[[ -n $first_rss ]] || { first_rss=$RSS; first_n=$n; }
	last_rss=$RSS last_n=$n
	btrfs -q subvolume delete "$MNT/snap$n" "$MNT/src$n" >/dev/null
done
GROWTH=$(( last_rss - first_rss ))
echo "TARGET sample-rss-growth-btrfs: ${GROWTH} KiB from $first_n to $last_n files (target < 4096 KiB) $(verdict "$GROWTH" 4096)"
