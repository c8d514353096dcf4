#!/usr/bin/env bash
# watch-latency.sh: how long `drsync watch` takes from a push to the push's
# commit showing as last_applied_revision in /status when a signed webhook
# announces it, and what an idle `drsync watch` costs in CPU and memory over
# a minute.
#
#   bench/watch-latency.sh         # from anywhere; needs Go, git, curl, openssl
#
# Knobs (environment): PUSHES=20 IDLE_SECONDS=60 PORT=19813 INTERVAL=1h,
# DRSYNC=/path/to/drsync to benchmark that binary instead of building one.
#
# The remote is a local bare repository; the machine is a plain-directory
# sandbox (--storage dir) and --apply=false, so nothing needs root or btrfs:
# the latency measured is the watcher's (ls-remote, shallow clone, validate,
# plan), not an apply's. It is a report: it exits 0 even when a target is
# missed, non-zero only when something fails. Everything it makes (the watch
# process, the temp dir) is removed on exit.
set -euo pipefail

PUSHES=${PUSHES:-20}
IDLE_SECONDS=${IDLE_SECONDS:-60}
PORT=${PORT:-19813}
INTERVAL=${INTERVAL:-1h}      # long, so that only the webhook triggers fetches
TARGET_P90_MS=2000            # push-to-applied through the webhook
TARGET_IDLE_CPU_PCT=1         # of one core
TARGET_IDLE_RSS_MIB=64

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*"; }
die() { printf 'watch-latency: %s\n' "$*" >&2; exit 1; }

for c in git curl openssl; do command -v "$c" >/dev/null || die "$c missing"; done

tmp=$(mktemp -d)
watch_pid=
cleanup() {
	if [[ -n $watch_pid ]] && kill -0 "$watch_pid" 2>/dev/null; then
		kill -TERM "$watch_pid" 2>/dev/null || true
		wait "$watch_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z ${DRSYNC:-} ]]; then
	say "building drsync ..."
	(cd "$repo" && go build -o "$tmp/drsync" ./cmd/drsync)
	DRSYNC=$tmp/drsync
fi
"$DRSYNC" watch --help >/dev/null 2>&1 || die "$DRSYNC has no watch command (needs the CLI wiring of package watch)"

# ---------------------------------------------------------------- setup
root=$tmp/root
mkdir -p "$root/pool/.snapshots" "$root/pool/docs" "$root/usb"
echo hello > "$root/pool/docs/file.txt"

git() { command git -c user.name=bench -c user.email=bench@localhost "$@"; }
git init -q --bare --initial-branch=main "$tmp/remote.git"
git init -q --initial-branch=main "$tmp/work"
git -C "$tmp/work" remote add origin "$tmp/remote.git"
cat > "$tmp/work/drsync.cue" <<'CUE'
package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a"}
}
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: docs: {
	tier:   "1"
	source: "\(root)/pool/docs"
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}
	external: {location: "usb", schedule: "daily 03:00", retention: {daily: 3, weekly: 4}}
}
CUE
push() { # push N: commit a change to the desired state, print the commit
	printf '// push %s\n' "$1" >> "$tmp/work/drsync.cue"
	git -C "$tmp/work" add drsync.cue
	git -C "$tmp/work" commit -q -m "push $1"
	git -C "$tmp/work" push -q origin HEAD:main
	git -C "$tmp/work" rev-parse HEAD
}
first=$(push 0)

secret=$(openssl rand -hex 32)
printf '%s' "$secret" > "$tmp/secret"
chmod 600 "$tmp/secret"

base=http://127.0.0.1:$PORT
applied() { # the last_applied_revision in /status
	curl -fsS "$base/status" 2>/dev/null | sed -n 's/.*"last_applied_revision": *"\([^"]*\)".*/\1/p'
}
now_ms() { date +%s%3N; }
wait_applied() { # wait_applied COMMIT TIMEOUT_MS
	local deadline=$(( $(now_ms) + $2 ))
	until [[ $(applied) == "$1" ]]; do
		(( $(now_ms) < deadline )) || return 1
		sleep 0.01
	done
}

say "starting drsync watch on 127.0.0.1:$PORT ..."
"$DRSYNC" watch --repo "$tmp/remote.git" --branch main --path drsync.cue \
	--interval "$INTERVAL" --listen "127.0.0.1:$PORT" \
	--webhook-secret-file "$tmp/secret" --apply=false --work-dir "$tmp/watch" \
	-t "root=$root" --storage dir --log-level info \
	> "$tmp/watch.log" 2>&1 &
watch_pid=$!
wait_applied "$first" 30000 || { cat "$tmp/watch.log" >&2; die "the first commit was not reconciled within 30 s"; }

# ---------------------------------------------------------------- latency
say "measuring push-to-applied through the webhook ($PUSHES pushes) ..."
body='{"ref":"refs/heads/main"}'
signature="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -hex | awk '{print $NF}')"
latencies=()
for i in $(seq 1 "$PUSHES"); do
	commit=$(push "$i")
	start=$(now_ms)
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
		-H "X-Hub-Signature-256: $signature" --data "$body" "$base/hook")
	[[ $code == 202 ]] || die "webhook answered $code, want 202"
	wait_applied "$commit" 30000 || { tail -20 "$tmp/watch.log" >&2; die "push $i ($commit) not applied within 30 s"; }
	latencies+=($(( $(now_ms) - start )))
done
mapfile -t sorted < <(printf '%s\n' "${latencies[@]}" | sort -n)
n=${#sorted[@]}
p50=${sorted[$(( (n - 1) / 2 ))]}
p90=${sorted[$(( (n * 9 + 9) / 10 - 1 ))]}
say "push to applied: min ${sorted[0]} ms, median $p50 ms, p90 $p90 ms, max ${sorted[n-1]} ms"

# ---------------------------------------------------------------- idle
say "measuring an idle minute ($IDLE_SECONDS s) ..."
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$watch_pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep "$IDLE_SECONDS"
t1=$(ticks)
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$watch_pid/status")
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$watch_pid/status")
cpu_pct=$(awk -v d=$(( t1 - t0 )) -v hz="$hz" -v s="$IDLE_SECONDS" 'BEGIN {printf "%.2f", 100 * d / hz / s}')
rss_mib=$(( rss_kib / 1024 ))
say "idle: CPU ${cpu_pct}% of one core, RSS ${rss_mib} MiB (peak $(( hwm_kib / 1024 )) MiB)"

# ---------------------------------------------------------------- report
verdict() { if [[ $1 == 1 ]]; then echo PASS; else echo FAIL; fi; }
say ""
say "TARGET watch-p90-push-to-applied: ${p90} ms (target < ${TARGET_P90_MS} ms) $(verdict $(( p90 < TARGET_P90_MS )))"
say "TARGET watch-idle-cpu: ${cpu_pct}% (target < ${TARGET_IDLE_CPU_PCT}%) $(verdict "$(awk -v c="$cpu_pct" -v t="$TARGET_IDLE_CPU_PCT" 'BEGIN {print (c < t) ? 1 : 0}')")"
say "TARGET watch-idle-rss: ${rss_mib} MiB (target < ${TARGET_IDLE_RSS_MIB} MiB) $(verdict $(( rss_mib < TARGET_IDLE_RSS_MIB )))"
