# bench/lib.sh: the set-up the sandbox benchmarks share. Source it after
# setting BENCH to the script's name (used in messages and the work
# directory's name). It gives say/die, root and tool checks, a work
# directory under /var/tmp ($work, with $sb for the sandbox and $drsync for
# the binary) torn down on exit (sandbox down, unmount, remove), building
# drsync (or copying $DRSYNC) and bench tools, dropping page caches, and
# the best time and median of several runs.
# shellcheck shell=bash

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*"; }
die() { say "$BENCH: $*" >&2; exit 1; }

# need_root says why the benchmark needs root.
need_root() { [[ $(id -u) == 0 ]] || die "needs root ($1)"; }
need_btrfs() { command -v btrfs >/dev/null || die "btrfs-progs not installed (scripts/install-deps.sh)"; }
need_jq() {
	command -v jq >/dev/null || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
	command -v jq >/dev/null || die "jq missing and apt-get install jq failed"
}

# bench_workdir makes the work directory and removes it on exit, unless
# something stays mounted below it (then it says so and leaves it).
bench_workdir() {
	work=$(mktemp -d "/var/tmp/drsync-$BENCH.XXXXXX")
	sb=$work/sb
	drsync=$work/drsync
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local rc=$?
	set +e
	[[ -x $drsync ]] && "$drsync" sandbox down --dir "$sb" >/dev/null 2>&1
	local mp
	for mp in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do umount "$mp" || umount -l "$mp"; done
	if findmnt -rn -o TARGET | grep -qF "$work/"; then
		say "$BENCH: still mounted under $work; leaving it" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}

# build_drsync puts drsync at $drsync: $DRSYNC if set, else a fresh build.
build_drsync() {
	if [[ -n ${DRSYNC:-} ]]; then
		cp "$DRSYNC" "$drsync"
	else
		(cd "$repo" && go build -o "$drsync" ./cmd/drsync) || die "go build ./cmd/drsync failed"
	fi
}

# build_tool builds ./bench/NAME into $work/NAME.
build_tool() { (cd "$repo" && go build -o "$work/$1" "./bench/$1") || die "go build ./bench/$1 failed"; }

# drop_caches makes the next contender read from the disk, as the first did.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# best runs a command RUNS times (output discarded, failures timed too)
# and prints its best wall time in seconds.
best() {
	local b="" t f
	f=$(mktemp)
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -o "$f" -f %e "$@" >/dev/null 2>&1 || true
		t=$(tail -1 "$f")
		if [[ -z $b ]] || awk -v t="$t" -v b="$b" 'BEGIN{exit !(t<b)}'; then b=$t; fi
	done
	rm -f "$f"
	echo "$b"
}

# median prints the median of the numbers on stdin, one per line (the mean
# of the middle two for an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# rate prints BYTES over SECONDS in MiB/s.
rate() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.0f", b / 1048576 / (s > 0 ? s : 0.001)}'; }

# pool_and_drive_desired FILE [TIER_FIELDS] [SUBVOLUME_FIELDS] writes the
# desired state the send, drill and recover benches share: one subvolume
# "data" snapshotted on the pool and replicated daily to a drive "usb",
# every generated file off. The extra fields go into its tier and its
# subvolume.
pool_and_drive_desired() {
	cat >"$1" <<EOF
package drsync

root: *"" | string @tag(root)
stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "$(cat /proc/sys/kernel/random/uuid)"}
}
tiers: "1": {rpo: "7d", rto: "1h"${2:+, $2}}
subvolumes: data: {
	tier: "1", source: "\(root)/pool/data"${3:+
	$3}
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}
	external: {location: "usb", schedule: "daily 03:00", retention: daily: 7}
}
EOF
}
