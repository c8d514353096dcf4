#!/usr/bin/env bash
# plan-vs-btrbk.sh: time `drsync plan` against `btrbk dryrun` on the same
# 6,000 snapshots (6 subvolumes x 1,000) in a loop-mounted btrfs sandbox, check
# that both tools would delete the same snapshots, and measure drsync's peak
# memory. The timed plans are of an unchanged desired state, as on a machine
# planning hourly, so drsync takes the evaluated state from its cache (kept in
# the workspace); the first plan after an edit, which evaluates CUE, is timed
# and reported too.
#
#   sudo bench/plan-vs-btrbk.sh            # from anywhere; needs root and Go
#
# Knobs (environment): SUBVOLS=6 SNAPS=1000 INTERVAL_H=8 RUNS=20 PARALLEL=4,
# DRSYNC=/path/to/drsync to benchmark that binary instead of building one.
#
# Speed and memory are reported as TARGET lines and do not change the exit
# status (they depend on the machine); any snapshot the two tools would
# delete differently does: the script then exits 1. Everything it makes
# (sandbox, loop devices, temp dir) is removed on exit.
set -euo pipefail

SUBVOLS=${SUBVOLS:-6}
SNAPS=${SNAPS:-1000}        # per subvolume
INTERVAL_H=${INTERVAL_H:-8} # hours between snapshots, going back in time
RUNS=${RUNS:-20}            # timed runs per command (wall medians of 10 moved by ±15 % run to run)
PARALLEL=${PARALLEL:-4}     # concurrent `btrfs subvolume snapshot` during setup
TARGET_SPEEDUP=30           # drsync plan at least this many times faster (issue 12)
TARGET_RSS_MIB=64           # drsync plan's peak RSS below this

# Both tools read names and compute retention in local time: make it the same.
export TZ=UTC LC_ALL=C

BENCH=plan-vs-btrbk
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # repo, say, die, median

[[ $(id -u) -eq 0 ]] || die "needs root (loop devices, mounts, btrfs snapshots)"

# ---------------------------------------------------------------- tools
apt_updated=
apt_install() { # apt_install PACKAGE...: quiet, one `apt-get update` if needed
	command -v apt-get >/dev/null || return 1
	if [[ -z $apt_updated ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
		apt-get update -qq >/dev/null 2>&1 || true
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
need() { # need COMMAND PACKAGE: install PACKAGE when COMMAND is missing
	command -v "$1" >/dev/null && return 0
	say "installing $2 (for $1) ..."
	apt_install "$2" && command -v "$1" >/dev/null || die "$1 missing and \`apt-get install -y $2\` failed"
}
need btrfs btrfs-progs
need mkfs.btrfs btrfs-progs
need losetup mount
need btrbk btrbk
need faketime faketime
need jq jq
[[ -x /usr/bin/time ]] || { say "installing time (for /usr/bin/time -v) ..."; apt_install time || true; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing and \`apt-get install -y time\` failed"
have_hyperfine=1
if ! command -v hyperfine >/dev/null; then
	say "installing hyperfine ..."
	apt_install hyperfine && command -v hyperfine >/dev/null || { have_hyperfine=; say "hyperfine unavailable: timing with a date +%s.%N loop"; }
fi
[[ -n ${DRSYNC:-} ]] || command -v go >/dev/null || die "go not found: needed to build drsync from $repo (or set DRSYNC=binary)"

# ---------------------------------------------------------------- workspace
work=$(mktemp -d /tmp/drsync-bench.XXXXXX)
# drsync's cache of evaluated desired states, kept with the rest.
export DRSYNC_CACHE=$work/evalcache
sb=$work/sb
drsync=$work/drsync

cleanup() {
	local rc=$?
	set +e
	if [[ -x $drsync ]]; then
		"$drsync" sandbox down --dir "$sb" >/dev/null 2>&1 || say "drsync sandbox down failed; cleaning up by hand" >&2
	fi
	# By hand, for whatever sandbox down could not remove (or an Up that
	# failed before drsync was built).
	local mp img dev
	for mp in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do
		umount "$mp" || umount -l "$mp"
	done
	for img in "$sb"/.images/*.img; do
		[[ -e $img ]] || continue
		for dev in $(losetup -n -O NAME -j "$img"); do losetup -d "$dev"; done
	done
	if findmnt -rn -o TARGET | grep -qF "$work/"; then
		say "plan-vs-btrbk: still mounted under $work; leaving it" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "== drsync plan vs btrbk dryrun: $SUBVOLS subvolumes x $SNAPS snapshots (one every ${INTERVAL_H}h), $RUNS runs each"
say "   workspace $work"

if [[ -n ${DRSYNC:-} ]]; then
	say "-- using drsync binary $DRSYNC"
	cp "$DRSYNC" "$drsync"
else
	say "-- building drsync from $repo"
	(cd "$repo" && go build -o "$drsync" ./cmd/drsync) || die "go build ./cmd/drsync failed"
fi

# ---------------------------------------------------------------- desired state
subvols=()
for ((i = 1; i <= SUBVOLS; i++)); do subvols+=("$(printf 'sv%02d' "$i")"); done

# A fresh drive UUID: mkfs.btrfs refuses one another attached image has.
usb_uuid=$(cat /proc/sys/kernel/random/uuid)
desired=$work/bench.cue
{
	cat <<'EOF'
// Benchmark desired state: N subvolumes on one pool, daily local snapshots,
// weekly replicas to an external drive.
package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"

locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {
		external: true
		path:     "\(root)/usb/.snapshots"
		mount:    "\(root)/usb"
		uuid:     "@USB_UUID@"
	}
}

tiers: "1": {rpo: "7d", rto: "1h"}

_local: {location: "pool", schedule: "daily 02:00", retention: {min: "latest", daily: 7, weekly: 4, monthly: 12}}
_external: {location: "usb", schedule: "weekly sun 03:00", retention: {min: "latest", weekly: 8, monthly: 12}}

subvolumes: {
EOF
	for sv in "${subvols[@]}"; do
		printf '\t%s: {tier: "1", source: "\\(root)/pool/%s", snapshots: _local, external: _external}\n' "$sv" "$sv"
	done
	say "}"
} | sed "s/@USB_UUID@/$usb_uuid/" >"$desired"

# ---------------------------------------------------------------- sandbox
say "-- drsync sandbox up"
"$drsync" sandbox up --dir "$sb" -f "$desired" | sed -n 's/^/   /; /mounted\|created/p'
pool=$sb/pool
usb=$sb/usb
mountpoint -q "$pool" && mountpoint -q "$usb" || die "sandbox up did not mount $pool and $usb"

# Snapshot names going back in time from 25 hours ago (on the hour), so a
# daily 02:00 slot always lies between the newest snapshot and now: both tools
# then create one snapshot per subvolume, whatever the time of day.
newest=$((($(date +%s) / 3600 - 25) * 3600))
list=$work/snapshots.txt
for sv in "${subvols[@]}"; do
	mkdir -p "$pool/.snapshots/$sv" "$usb/.snapshots/$sv"
	for ((i = 0; i < SNAPS; i++)); do printf '@%d\n' $((newest - i * INTERVAL_H * 3600)); done |
		date -u -f - +%Y%m%dT%H%M |
		while read -r stamp; do printf '%s %s\n' "$pool/$sv" "$pool/.snapshots/$sv/$sv.$stamp"; done
done >"$list"
total=$(wc -l <"$list")
say "-- creating $total read-only snapshots ($PARALLEL in parallel) ..."
t0=$(date +%s.%N)
xargs -P "$PARALLEL" -n 2 btrfs subvolume snapshot -r <"$list" >/dev/null
t1=$(date +%s.%N)
for sv in "${subvols[@]}"; do
	n=$(find "$pool/.snapshots/$sv" -mindepth 1 -maxdepth 1 | wc -l)
	[[ $n -eq $SNAPS ]] || die "$sv: $n snapshots, want $SNAPS"
done
awk -v a="$t0" -v b="$t1" -v n="$total" 'BEGIN { printf "   done in %.1f s (%.1f ms per snapshot)\n", b - a, (b - a) * 1000 / n }'
say "   per subvolume: newest $(head -n 1 "$list" | sed 's|.*/||'), oldest $(tail -n 1 "$list" | sed 's|.*/||')"

# ---------------------------------------------------------------- btrbk configs
# The same policy in btrbk's words. Scenario "local" has no target; scenario
# "target" sends to the same external drive drsync uses.
write_btrbk_conf() { # write_btrbk_conf FILE with-target(0|1)
	{
		say "timestamp_format        long"
		say "snapshot_create         always"
		say "snapshot_preserve_min   latest"
		say "snapshot_preserve       7d 4w 12m"
		say "target_preserve_min     latest"
		say "target_preserve         8w 12m"
		say ""
		say "volume $pool"
		for sv in "${subvols[@]}"; do
			say "  subvolume $sv"
			say "    snapshot_dir  .snapshots/$sv"
			say "    snapshot_name $sv"
			if [[ $2 == 1 ]]; then say "    target send-receive $usb/.snapshots/$sv"; fi
		done
	} >"$1"
}
write_btrbk_conf "$work/btrbk-local.conf" 0
write_btrbk_conf "$work/btrbk-target.conf" 1

# ---------------------------------------------------------------- helpers
fmt_ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }

# median_seconds NAME COMMAND...: median wall time of RUNS runs (after 2 warm-ups)
median_seconds() {
	local name=$1
	shift
	if [[ -n $have_hyperfine ]]; then
		local json=$work/hyperfine-$name.json
		hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$json" --command-name "$name" -- "$(printf '%q ' "$@")" >"$work/hyperfine-$name.txt" 2>&1 ||
			{ cat "$work/hyperfine-$name.txt" >&2; die "hyperfine failed for $name"; }
		jq -r '.results[0].median' "$json"
	else
		local i a b
		"$@" >/dev/null
		"$@" >/dev/null
		for ((i = 0; i < RUNS; i++)); do
			a=$(date +%s.%N)
			"$@" >/dev/null
			b=$(date +%s.%N)
			awk -v a="$a" -v b="$b" 'BEGIN { printf "%.6f\n", b - a }'
		done | median
	fi
}

# cpu_seconds NAME: mean user+system CPU time per run (hyperfine only; "" otherwise).
# Unlike wall time it barely moves when other jobs compete for the CPUs.
cpu_seconds() {
	local json=$work/hyperfine-$1.json
	if [[ -f $json ]]; then jq -r '.results[0] | .user + .system' "$json"; fi
}

# peak_rss_kib COMMAND...: the largest "Maximum resident set size" of 3 runs
peak_rss_kib() {
	local i max=0 kib
	for i in 1 2 3; do
		/usr/bin/time -v -o "$work/time-v.txt" "$@" >/dev/null
		kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-v.txt")
		if ((kib > max)); then max=$kib; fi
	done
	say "$max"
}

# Deleted snapshot names, sorted: drsync "  -   prune NAME on LOC", btrbk "--- /path/NAME".
drsync_deletes() { awk '$1 == "-" && $2 == "prune" { print $3 }' "$1" | sort; }
btrbk_deletes() { awk '$1 == "---" && $2 ~ /^\// { n = split($2, p, "/"); print p[n] }' "$1" | sort; }

# compare SCENARIO BTRBK_CONF: one run of each, check btrbk sees the snapshots and
# that both would delete the same ones; prints the counts.
compare() {
	local sc=$1 conf=$2 now=$3
	"$drsync" plan -f "$desired" -t root="$sb" --now "$now" >"$work/drsync-$sc.txt"
	# faketime gives btrbk drsync's --now, to the second (btrbk has no --now).
	faketime "${now/T/ }:00" btrbk -c "$conf" dryrun >"$work/btrbk-$sc.txt" 2>"$work/btrbk-$sc.err" ||
		{ cat "$work/btrbk-$sc.err" >&2; die "btrbk dryrun failed ($sc)"; }
	drsync_deletes "$work/drsync-$sc.txt" >"$work/drsync-$sc.del"
	btrbk_deletes "$work/btrbk-$sc.txt" >"$work/btrbk-$sc.del"
	local dd bd
	dd=$(wc -l <"$work/drsync-$sc.del")
	bd=$(wc -l <"$work/btrbk-$sc.del")
	((bd > 0)) || { head -40 "$work/btrbk-$sc.txt" >&2; die "btrbk dryrun lists no deletions ($sc): it does not see the snapshots"; }
	say "   would delete:  drsync $dd, btrbk $bd snapshots"
	say "   would create:  drsync $(grep -cE '^ +\+ +snapshot ' "$work/drsync-$sc.txt" || true), btrbk $(grep -cE '^\+\+\+ /' "$work/btrbk-$sc.txt" || true) snapshots"
	say "   would send:    drsync $(grep -cE '^ +\+ +send ' "$work/drsync-$sc.txt" || true), btrbk $(grep -cE '^(\*\*\*|>>>) /' "$work/btrbk-$sc.txt" || true) snapshots"
	local differ
	differ=$(comm -3 "$work/drsync-$sc.del" "$work/btrbk-$sc.del" | wc -l)
	differing=$((differing + differ))
	if ((differ == 0)); then
		say "   agreement:     identical sets of deletions"
	else
		say "   agreement:     $differ DIFFERENT deletions (< drsync only, > btrbk only; first 10):"
		diff "$work/drsync-$sc.del" "$work/btrbk-$sc.del" | grep '^[<>]' | head -10 | sed 's/^/     /' || true
	fi
}

# bench SCENARIO BTRBK_CONF NOW: sets d_med, b_med (seconds)
bench() {
	local sc=$1 conf=$2 now=$3
	d_med=$(median_seconds "drsync-$sc" "$drsync" plan -f "$desired" -t root="$sb" --now "$now")
	b_med=$(median_seconds "btrbk-$sc" btrbk -c "$conf" dryrun)
	say "   drsync plan    median $(fmt_ms "$d_med")"
	say "   btrbk dryrun   median $(fmt_ms "$b_med")"
	say "   ratio          drsync is $(awk -v d="$d_med" -v b="$b_med" 'BEGIN { printf "%.1f", b / d }')x faster than btrbk dryrun"
	d_cpu=$(cpu_seconds "drsync-$sc") b_cpu=$(cpu_seconds "btrbk-$sc")
	if [[ -n $d_cpu ]]; then
		say "   CPU user+sys   drsync $(fmt_ms "$d_cpu"), btrbk $(fmt_ms "$b_cpu") (incl. its btrfs children): $(awk -v d="$d_cpu" -v b="$b_cpu" 'BEGIN { printf "%.1f", b / d }')x less CPU"
	fi
}

# The minute both tools plan at: drsync's --now, btrbk's clock under faketime
# for the comparison (the timed runs use the real clock, a minute later at most).
now=$(date +%Y-%m-%dT%H:%M)
differing=0 # snapshots only one of the tools would delete, over both scenarios

# ---------------------------------------------------------------- scenario 1: local
# The drive is unmounted (absent) and btrbk has no target: both tools do
# exactly the same work, local snapshot retention over all snapshots. This is
# the fair comparison; the targets are judged on it.
usb_dev=$(findmnt -n -o SOURCE --mountpoint "$usb")
umount "$usb"
say ""
say "== Scenario local (primary, fair): external drive absent, btrbk without target"
say "   drsync: plan with the drive unplugged; btrbk: $work/btrbk-local.conf (no target)"
compare local "$work/btrbk-local.conf" "$now"
bench local "$work/btrbk-local.conf" "$now"
local_d=$d_med local_b=$b_med local_dc=$d_cpu local_bc=$b_cpu
# The first plan after the desired state changes evaluates CUE again.
uncached_d=$(DRSYNC_CACHE=off median_seconds drsync-uncached "$drsync" plan -f "$desired" -t root="$sb" --now "$now")
say "   drsync plan    median $(fmt_ms "$uncached_d") with DRSYNC_CACHE=off (CUE evaluated, as after an edit)"
rss_kib=$(peak_rss_kib "$drsync" plan -f "$desired" -t root="$sb" --now "$now")
btrbk_rss_kib=$(peak_rss_kib btrbk -c "$work/btrbk-local.conf" dryrun)

# ---------------------------------------------------------------- scenario 2: target
# The drive is plugged in (empty) and btrbk sends to it. Not like for like:
# drsync plans one full send of the newest snapshot per subvolume, btrbk also
# plans to backfill every older snapshot target_preserve would keep, and it
# lists the target filesystem too. Informational only.
mount "$usb_dev" "$usb"
say ""
say "== Scenario target (informational): empty external drive present, btrbk sends to it"
say "   btrbk also plans backfilling older snapshots its target_preserve would keep, so it does more work here"
compare target "$work/btrbk-target.conf" "$now"
bench target "$work/btrbk-target.conf" "$now"
target_d=$d_med target_b=$b_med

# ---------------------------------------------------------------- summary
ratio=$(awk -v d="$local_d" -v b="$local_b" 'BEGIN { printf "%.1f", b / d }')
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
verdict_speed=$(awk -v d="$local_d" -v b="$local_b" -v t="$TARGET_SPEEDUP" 'BEGIN { print (b / d >= t) ? "PASS" : "FAIL" }')
verdict_rss=$(awk -v k="$rss_kib" -v t="$TARGET_RSS_MIB" 'BEGIN { print (k / 1024 < t) ? "PASS" : "FAIL" }')
say ""
say "== Summary ($total snapshots; scenario local, the like-for-like one)"
say "   machine:              $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (other load skews both tools)"
say "   timing by:            $([[ -n $have_hyperfine ]] && say "hyperfine $(hyperfine --version | awk '{print $2}'), median of $RUNS runs after 2 warm-ups" || say "date +%s.%N loop, median of $RUNS runs after 2 warm-ups")"
say "   drsync plan median:   $(fmt_ms "$local_d")"
say "   btrbk dryrun median:  $(fmt_ms "$local_b")"
say "   drsync is ${ratio}x faster than btrbk dryrun   (target >= ${TARGET_SPEEDUP}x: $verdict_speed)"
say "   uncached:             $(fmt_ms "$uncached_d") ($(awk -v d="$uncached_d" -v b="$local_b" 'BEGIN { printf "%.1f", b / d }')x) for the first plan after the desired state changes (CUE evaluated)"
if [[ -n $local_dc ]]; then
	say "   CPU time (user+sys):  drsync $(fmt_ms "$local_dc"), btrbk $(fmt_ms "$local_bc"): $(awk -v d="$local_dc" -v b="$local_bc" 'BEGIN { printf "%.1f", b / d }')x less (steadier than wall time on a busy machine)"
fi
say "   drsync peak memory:   ${rss_mib} MiB max RSS   (target < ${TARGET_RSS_MIB} MiB: $verdict_rss)"
say "   btrbk peak memory:    $(awk -v k="$btrbk_rss_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB max RSS (for reference)"
say "   with the drive present: drsync $(fmt_ms "$target_d"), btrbk $(fmt_ms "$target_b") ($(awk -v d="$target_d" -v b="$target_b" 'BEGIN { printf "%.1f", b / d }')x; btrbk plans backfill sends too)"
say ""
say "TARGET plan-speedup: ${ratio}x (target >= ${TARGET_SPEEDUP}x) $verdict_speed"
say "TARGET plan-peak-rss: ${rss_mib} MiB (target < ${TARGET_RSS_MIB} MiB) $verdict_rss"
say "TARGET deletions-differing: $differing (target 0) $( ((differing == 0)) && say PASS || say FAIL)"
if ((differing > 0)); then
	die "drsync and btrbk would delete different snapshots ($differing); see above"
fi
