#!/usr/bin/env bash
# Off-site targets against the raw tools on the same data (see README.md):
# S3 upload throughput and memory, ssh send time. Needs root, loop devices,
# sshd and versitygw (scripts/install-deps.sh). Prints TARGET lines.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/offsitebench "$@"
