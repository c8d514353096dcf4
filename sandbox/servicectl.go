package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/schema"
)

// ServiceScript is where, below its root, a sandbox installs its stand-in
// for systemctl: `ServiceScript stop|start SERVICE`. A desired state
// declares it as its services' stop and start commands in a sandbox (the
// homelab example does when root is set), so drsync recover stops and
// starts the sandbox's Prometheus for real. The other kinds run no process
// in a sandbox: for them the script has nothing to do.
const ServiceScript = "usr/local/libexec/drsync-sandbox-service"

// serviceStateDir holds the pid of each service process the script runs.
const serviceStateDir = ".drsync-sandbox-services"

// writeServiceScript installs the sandbox's service script for the
// desired state's services.
func writeServiceScript(dir string, d *schema.Desired) error {
	state := filepath.Join(dir, serviceStateDir)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	var cases strings.Builder
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		if svc.Kind != schema.ServicePrometheus {
			continue
		}
		argv, err := prometheusCommand(svc)
		if err != nil {
			return err
		}
		pid := shellwords.Quote(filepath.Join(state, name+".pid"))
		storage := shellwords.Quote("--storage.tsdb.path=" + svc.DataDir)
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = shellwords.Quote(a)
		}
		fmt.Fprintf(&cases, "'start %s')\n\tstart_server %s %s\n\t;;\n", name, pid, strings.Join(quoted, " "))
		fmt.Fprintf(&cases, "'stop %s')\n\tstop_server %s %s\n\t;;\n", name, pid, storage)
	}
	script := fmt.Sprintf(serviceScriptTemplate, shellwords.Quote(filepath.Join(dir, pidFile)), cases.String())
	path := filepath.Join(dir, ServiceScript)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(script), 0o755)
}

// The script starts a server detached (its own session, no output held
// open) and records its pid twice: for its own stop, and in the file
// sandbox down reads. It stops a server only while the pid still runs
// with the sandbox's storage path (pids are reused), and waits until it
// is gone or a zombie (its command line is then empty), so the data can
// be replaced.
const serviceScriptTemplate = `#!/bin/sh
# Installed by drsync sandbox up: this sandbox's stand-in for systemctl.
# Usage: drsync-sandbox-service stop|start SERVICE
set -eu
sandbox_pids=%s

start_server() {
	pidfile=$1
	shift
	setsid "$@" </dev/null >/dev/null 2>&1 &
	echo $! >"$pidfile"
	echo $! >>"$sandbox_pids"
}

stop_server() {
	pid=$(cat "$1" 2>/dev/null) || return 0
	tries=0
	while tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -e "$2"; do
		[ "$tries" -gt 0 ] || kill "$pid"
		tries=$((tries + 1))
		if [ "$tries" -gt 300 ]; then
			echo "pid $pid did not stop within 30s" >&2
			exit 1
		fi
		sleep 0.1
	done
	rm -f "$1"
}

case "${1:-} ${2:-}" in
%s'start '* | 'stop '*)
	# Nothing runs this service in a sandbox.
	;;
*)
	echo "usage: $0 stop|start SERVICE" >&2
	exit 2
	;;
esac
`
