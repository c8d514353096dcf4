#!/usr/bin/env bash
# coverage-slices.sh: how fast a coverage slice is chosen (verify.Slice, from
# directory entries alone) against `find -type f` over the same tree, and
# how fast a slice is verified (verify.CompareFiles, both copies read once)
# against `diff -r` over exactly the same files. A report: it exits 0 even
# when a target is missed.
#
# Env: SELECT_FILES ("200000 2000000") the trees for choosing, empty files
# on a loop-mounted btrfs; FILES (20000) and TOTAL_MIB (1024) the content
# tree; SLICES (4) how many slices it is cut into (slice 0 is verified);
# RUNS (5) repetitions, best time kept; WORK (a new dir under /var/tmp).
set -euo pipefail

SELECT_FILES=${SELECT_FILES:-"200000 2000000"}
FILES=${FILES:-20000}
TOTAL_MIB=${TOTAL_MIB:-1024}
SLICES=${SLICES:-4}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /var/tmp/coverage-bench.XXXXXX)}
MNT=$WORK/mnt
mkdir -p "$MNT"
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	rm -rf "$WORK"
}
trap cleanup EXIT

need() { # need TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	echo "installing $2 for $1" >&2
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need diff diffutils
need find findutils
need awk gawk
need mkfs.btrfs btrfs-progs
[[ -x /usr/bin/time ]] || need /usr/bin/time time
command -v go >/dev/null || { echo "go is required to build the harness" >&2; exit 1; }

(cd "$HERE" && go build -o "$WORK/slicebench" ./bench/slicebench && go build -o "$WORK/verifybench" ./bench/verifybench)

. "$(dirname "$0")/lib.sh" # best, rate
verdict() { awk -v v="$1" -v min="$2" 'BEGIN{print (v >= min) ? "PASS" : "FAIL"}'; }

# A sparse image: 2,000,000 empty files need about 1 GiB of metadata.
truncate -s 8G "$WORK/fs.img"
mkfs.btrfs -q -m single "$WORK/fs.img" >/dev/null 2>&1
mount -o loop "$WORK/fs.img" "$MNT"

echo "== choosing slice 0 of 12, warm dentry cache, $(nproc) CPUs"
for n in $SELECT_FILES; do
	echo "creating $n empty files"
	"$WORK/verifybench" mkfiles "$MNT/s$n" "$n"
	find "$MNT/s$n" -type f >/dev/null # warm the caches for both contenders
	T_SLICE=$(best "$WORK/slicebench" select "$MNT/s$n" 0 12)
	T_FIND=$(best find "$MNT/s$n" -type f)
	printf '%8d files: verify.Slice %6s s | find -type f %6s s | load %s\n' "$n" "$T_SLICE" "$T_FIND" "$(cut -d' ' -f1 /proc/loadavg)"
	echo "TARGET slice-select-$n: ${T_SLICE}s vs find ${T_FIND}s (target <= find) $(verdict "$(awk -v f="$T_FIND" -v s="$T_SLICE" 'BEGIN{print f - s}')" 0)"
	rm -rf "$MNT/s$n"
done

echo
echo "== verifying slice 0 of $SLICES of $FILES files, $TOTAL_MIB MiB, warm cache"
"$WORK/verifybench" mktree "$MNT/a" "$FILES" "$TOTAL_MIB"
cp -a "$MNT/a" "$MNT/b"
"$WORK/slicebench" link "$MNT/a" "$MNT/la" 0 "$SLICES"
"$WORK/slicebench" link "$MNT/b" "$MNT/lb" 0 "$SLICES"
find "$MNT/a" "$MNT/b" -type f -exec cat {} + >/dev/null
read -r BYTES _ mismatches < <("$WORK/slicebench" compare "$MNT/a" "$MNT/b" 0 "$SLICES")
[[ $mismatches == 0 ]] || echo "WARNING: CompareFiles reported $mismatches mismatches on identical trees"
T_SLICE=$(best "$WORK/slicebench" compare "$MNT/a" "$MNT/b" 0 "$SLICES")
T_DIFF=$(best diff -r "$MNT/la" "$MNT/lb")
printf '%-36s %8s s %8s MiB/s\n' "verify.Slice + CompareFiles" "$T_SLICE" "$(rate "$BYTES" "$T_SLICE")"
printf '%-36s %8s s %8s MiB/s\n' "diff -r (same files)" "$T_DIFF" "$(rate "$BYTES" "$T_DIFF")"
VS_DIFF=$(awk -v d="$T_DIFF" -v v="$T_SLICE" 'BEGIN{printf "%.2f", d / (v > 0 ? v : 0.001)}')
echo "TARGET slice-verify-vs-diff: ${VS_DIFF}x, $(rate "$BYTES" "$T_SLICE") MiB/s (target >= 1x) $(verdict "$VS_DIFF" 1)"
