#!/usr/bin/env bash
# Unpacks the Debian packages the demo runs (VictoriaMetrics with vmalert,
# Alertmanager) into .cache/debs/root when they are not installed: apt-get
# download + dpkg -x, no root needed.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v victoria-metrics >/dev/null 2>&1 || [ -x .cache/debs/root/usr/bin/victoria-metrics ] || need+=(victoria-metrics)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x .cache/debs/root/usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "demo: fetching ${need[*]} into .cache/debs (no root needed)"
mkdir -p .cache/debs/root
cd .cache/debs
if ! apt-get download "${need[@]}"; then
  # A fresh machine may have no package lists yet: only root can fetch them.
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get download "${need[@]}"
  else
    echo "demo: apt-get download failed; run 'sudo apt-get update' once, then 'make demo' again" >&2
    exit 1
  fi
fi
for d in *.deb; do dpkg -x "$d" root; done
