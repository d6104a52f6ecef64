#!/usr/bin/env bash
# Installs what minewatch's tests and demo need on a fresh Debian machine:
# the real components the tests run against (VictoriaMetrics, Alertmanager,
# promtool, softflowd, pmacct, nfdump, tshark, tcpreplay). Go modules and npm
# packages come from go.sum and package-lock.json when the build asks for them.
set -euo pipefail

need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check victoria-metrics victoria-metrics
check vmalert victoria-metrics
check promtool prometheus
check prometheus-alertmanager prometheus-alertmanager
check softflowd softflowd
check pmacctd pmacct
check nfcapd nfdump
check tshark tshark
check tcpreplay tcpreplay
check node nodejs
check npm npm
check zip zip
check python3 python3
# The plugin harness: Debian's chromium (driven by playwright-core, never a downloaded browser) and
# CJK fonts so the editors' Chinese labels render.
check chromium chromium
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)

if [ ${#need[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
# shellcheck disable=SC2207
need=($(printf '%s\n' "${need[@]}" | sort -u))
echo "deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
