#!/usr/bin/env bash
# plan-scale.sh: does `drsync plan` scale to 100 subvolumes x 1,000
# snapshots? Creating 100,000 btrfs snapshots takes the better part of an
# hour, so this plans against a saved observation (`drsync plan --observed`)
# written by the script in the shape `drsync observe` prints: 100
# subvolumes, 1,000 read-only snapshots each (one every 8 hours), drive
# unplugged. It measures the planner, retention and output at that scale
# (plus decoding the 20 MB observation, which a real plan does not do); the
# listing of real snapshots is measured by plan-vs-btrbk.sh, per directory.
# Prints median wall and CPU time of RUNS runs, peak RSS, and TARGET lines:
# under 1 s and under 128 MiB. No root needed.
#
# Env: SUBVOLS (100), SNAPS (1000), RUNS (5), DRSYNC (default: go build).
set -euo pipefail

SUBVOLS=${SUBVOLS:-100}
SNAPS=${SNAPS:-1000}
RUNS=${RUNS:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
export TZ=UTC LC_ALL=C
work=$(mktemp -d /tmp/drsync-plan-scale.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v jq >/dev/null || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
drsync=$work/drsync
if [[ -n ${DRSYNC:-} ]]; then cp "$DRSYNC" "$drsync"; else (cd "$repo" && go build -o "$drsync" ./cmd/drsync); fi

root=$work/root
{
	cat <<EOF
package drsync
root: *"" | string @tag(root)
stateDir: "\(root)/state"
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "$(cat /proc/sys/kernel/random/uuid)"}
}
tiers: "1": {rpo: "7d", rto: "1h"}
_local: {location: "pool", schedule: "daily 02:00", retention: {min: "latest", daily: 7, weekly: 4, monthly: 12}}
_external: {location: "usb", schedule: "weekly sun 03:00", retention: {min: "latest", weekly: 8, monthly: 12}}
subvolumes: {
EOF
	for ((i = 1; i <= SUBVOLS; i++)); do printf '\ts%03d: {tier: "1", source: "\\(root)/pool/s%03d", snapshots: _local, external: _external}\n' "$i" "$i"; done
	echo "}"
} >"$work/scale.cue"

# Snapshot times go back from 25 hours before the plan's --now, on the hour.
now=$(date -u +%Y-%m-%dT%H:00)
newest=$(( $(date -u -d "$now" +%s) - 25 * 3600 ))
jq -n --argjson subvols "$SUBVOLS" --argjson snaps "$SNAPS" --argjson newest "$newest" --arg root "$root" '
	def uuid($s; $i): "\($s)" as $a | "\($i)" as $b |
		("00000000" + $a)[-8:] + "-0000-4000-8000-" + ("000000000000" + $b)[-12:];
	{drives: {usb: {present: false, reason: "nothing mounted at \($root)/usb"}},
	 subvolumes: ([range(1; $subvols + 1) | . as $s | ("s" + ("00" + tostring)[-3:]) as $n |
		{key: $n, value: {
			health: {uuid: uuid($s; 0), entries: 45, reference: "\($root)/pool/.snapshots/\($n)/\($n).\($newest | strftime("%Y%m%dT%H%M"))", referenceEntries: 45},
			local: [range($snaps - 1; -1; -1) | ($newest - . * 8 * 3600) as $t |
				{name: "\($n).\($t | strftime("%Y%m%dT%H%M"))", time: ($t | strftime("%Y-%m-%dT%H:%M:%SZ")), hasTime: true,
				 uuid: uuid($s; . + 1), parentUUID: uuid($s; 0), readOnly: true}]}}] | from_entries)}' >"$work/observed.json"

plan() { "$drsync" plan --observed "$work/observed.json" -f "$work/scale.cue" -t root="$root" --now "$now"; }
plan >"$work/plan.txt" || [[ $? == 2 ]] || { echo "plan-scale: drsync plan failed" >&2; exit 1; }
prunes=$(tail -n 1 "$work/plan.txt")
walls=() cpus=() rss=0
for _ in $(seq "$RUNS"); do
	/usr/bin/time -o "$work/time" -f '%e %U %S %M' "$drsync" plan --observed "$work/observed.json" -f "$work/scale.cue" -t root="$root" --now "$now" >/dev/null || true
	read -r e u s m <"$work/time"
	walls+=("$e") cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN{print u + s}')")
	((m > rss)) && rss=$m
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR + 1) / 2)]}'; }
wall=$(median "${walls[@]}") cpu=$(median "${cpus[@]}")
echo "== $SUBVOLS subvolumes x $SNAPS snapshots from a saved observation ($(du -h "$work/observed.json" | cut -f1)), median of $RUNS, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "   $prunes"
echo "   wall ${wall}s, CPU (user+sys) ${cpu}s, peak RSS $((rss / 1024)) MiB"
echo "TARGET plan-scale-time: ${wall}s wall, ${cpu}s CPU (target < 1s) $(awk -v w="$wall" 'BEGIN{print (w < 1) ? "PASS" : "FAIL"}')"
echo "TARGET plan-scale-rss: $((rss / 1024)) MiB (target < 128 MiB) $(awk -v r="$rss" 'BEGIN{print (r < 131072) ? "PASS" : "FAIL"}')"
