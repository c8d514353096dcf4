#!/usr/bin/env bash
# Installs what the demo and the tests use, from Debian's packages, only
# when missing: a fresh machine of this kind has Go but not these.
set -euo pipefail

need=()
command -v btrfs >/dev/null || need+=(btrfs-progs)
command -v losetup >/dev/null || need+=(mount)
command -v getfattr >/dev/null || need+=(attr)
command -v btrbk >/dev/null || need+=(btrbk)
command -v faketime >/dev/null || need+=(faketime)
[ -x /usr/bin/time ] || need+=(time)
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v ip >/dev/null || need+=(iproute2)
command -v git-upload-pack >/dev/null || need+=(git)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# The hardening tests attack drsync as a real unprivileged user they create.
command -v useradd >/dev/null || need+=(passwd)
command -v setpriv >/dev/null || need+=(util-linux)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${need[*]}; run as root or install them" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
