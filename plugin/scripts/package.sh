#!/bin/sh
# Zip dist/ as <id>/ the way Grafana's packaging does.
set -eu
dist=$1 id=$2 zip=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a "$dist" "$tmp/$id"
rm -f "$zip"
zip_abs=$(cd "$(dirname "$zip")" && pwd)/$(basename "$zip")
(cd "$tmp" && zip -qr "$zip_abs" "$id")
echo "wrote $zip"
