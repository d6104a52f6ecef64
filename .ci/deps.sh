#!/usr/bin/env bash
# Installs what minewatch's tests and demo need on a fresh Debian machine:
# the real components the tests run against (VictoriaMetrics, Alertmanager,
# promtool, softflowd, pmacct, nfdump, tshark, tcpreplay, PostgreSQL). Go modules and npm
# packages come from go.sum and package-lock.json when the build asks for them.
#
# They are installed as tools, not as services: Debian's packages of
# prometheus, victoria-metrics, alertmanager, nfdump, softflowd and pmacct
# enable and start a system service, which on a host with systemd would keep
# running for good and hold the ports the tests and the demo use (each starts
# its own copy on loopback). So during the install /usr/sbin/policy-rc.d
# forbids starting any service (exit 101, honoured by invoke-rc.d and
# deb-systemd-invoke), and afterwards every service unit or init script of a
# package this run installed is disabled. Idempotent, no stdin; run as root
# (or with sudo).
set -euo pipefail

need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
# check_file: for binaries outside PATH (PostgreSQL keeps its own in /usr/lib/postgresql/<version>/bin).
check_file() { compgen -G "$1" >/dev/null || need+=("$2"); }
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
# the case store's tests initdb a throwaway cluster (plugin/pkg/casestore/pgtest)
check_file '/usr/lib/postgresql/*/bin/initdb' postgresql
# The plugin harness: Debian's chromium (driven by playwright-core, never a downloaded browser) and
# CJK fonts so the editors' Chinese labels render.
check chromium chromium
check_file /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc fonts-noto-cjk
# the written report's DOCX is opened by a reader that is not ours (plugin/pkg/report)
check_file /usr/lib/python3/dist-packages/docx/__init__.py python3-docx
# exporter/probe: ordinary real servers the active prober must not confirm (nginx TLS + WebSocket, MQTT, sshd).
check_file /usr/sbin/nginx nginx
check mosquitto mosquitto
check_file /usr/sbin/sshd openssh-server
# minewatch blocklist: each format is loaded into its real tool (exporter/blocklist tests).
check nft nftables
check ipset ipset
check unbound unbound
check named bind9
check named-checkzone bind9-utils
check dnsmasq dnsmasq
# suricata: not in this machine's Debian archive (no installation candidate); the rules are checked by a syntax test instead.
check freeradius freeradius
check radclient freeradius-utils
check ip iproute2
# the meeting pack's test turns its PDF into PNG pages and text (plugin/pkg/pack)
check pdftoppm poppler-utils
check pdftotext poppler-utils
# The notice trace's tests (plugin/pkg/trace): a real DHCP server and client in a network namespace
# write the lease file, and FreeRADIUS with radclient writes the accounting detail file the trace reads.
check kea-dhcp4 kea-dhcp4-server
check dhcpd isc-dhcp-server
check dhclient isc-dhcp-client
check freeradius freeradius
check radclient freeradius-utils

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

# No service starts during the install. An existing policy-rc.d (Docker
# images ship one) is put back afterwards, even when the install fails.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved=$(mktemp)
  $SUDO cp -p "$policy" "$saved"
fi
restore_policy() {
  if [ -n "$saved" ]; then
    $SUDO cp -p "$saved" "$policy"
    $SUDO rm -f "$saved"
  else
    $SUDO rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# written by minewatch .ci/deps.sh for the time of its apt-get install\nexit 101\n' | $SUDO tee "$policy" >/dev/null
$SUDO chmod 755 "$policy"

before=$(dpkg-query -W -f '${Package}\n' 2>/dev/null | sort)
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
after=$(dpkg-query -W -f '${Package}\n' 2>/dev/null | sort)

# Disable what the new packages enabled (their dependencies' too), so that
# nothing starts at the next boot either.
new=()
for pkg in $(comm -13 <(echo "$before") <(echo "$after")); do
  while read -r path; do
    name=$(basename "$path")
    case "$path" in
      */systemd/system/*@.*) ;; # templates are enabled only by instance
      */systemd/system/*)
        if [ -d /run/systemd/system ]; then
          $SUDO systemctl disable --now "$name" >/dev/null 2>&1 || true
        elif command -v deb-systemd-helper >/dev/null 2>&1; then
          $SUDO deb-systemd-helper disable "$name" >/dev/null 2>&1 || true
        fi
        ;;
      /etc/init.d/*)
        $SUDO update-rc.d "$name" disable >/dev/null 2>&1 || true
        ;;
    esac
  done < <(dpkg -L "$pkg" 2>/dev/null | grep -E '^(/usr)?/lib/systemd/system/[^/]+\.(service|socket|timer)$|^/etc/init\.d/[^/]+$' || true)
  new+=("$pkg")
done
echo "deps: installed ${#new[@]} packages; their services are disabled and not running"
