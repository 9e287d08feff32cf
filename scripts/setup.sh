#!/usr/bin/env bash
# Installs what a fresh machine lacks for the test suite (idempotent, quiet when satisfied).
set -euo pipefail
need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing ${need[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || echo "setup: could not install ${need[*]}; tests that need them skip" >&2
fi
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt >/dev/null 2>&1 || true
