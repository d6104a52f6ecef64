#!/bin/sh
# Prints go_plugin_build_manifest for the source tree ROOT: "sha256:path" for every .go file
# (paths relative to ROOT, node_modules and .git left out), the format grafana-plugin-sdk-go's
# build writes and Grafana's plugin validator (gomanifest) checks against the submitted source.
set -eu
cd "${1:-.}"
find . \( -name node_modules -o -name .git \) -prune -o -type f -name '*.go' -print |
  sed 's|^\./||' | LC_ALL=C sort |
  while IFS= read -r f; do
    printf '%s:%s\n' "$(tr -d '\r' <"$f" | sha256sum | cut -d' ' -f1)" "$f"
  done
