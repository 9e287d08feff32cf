#!/usr/bin/env bash
# Side-by-side benchmark: dishloop against Brian2 (C++ standalone) and NEST on this machine.
#
# usage: scripts/bench-peers.sh [install] [dishloop bench flags ...]
#   install      only create the peers' Python environment (brian2 2.9.0, nest-simulator
#                3.10.0) with ../shared/bench/peers/install.sh, then exit
#   otherwise    build dishloop (release) and run `dishloop bench --peers "$@"`; the bench
#                installs the peers itself when the environment is missing.
# env:  VENV       the peers' environment (default: target/bench/venv-peers)
#       PEERS_DIR  the peer scripts (default: ../shared/bench/peers)
# Examples:
#   scripts/bench-peers.sh --quick --json                    # a few minutes
#   scripts/bench-peers.sh --json | tee target/bench/full.txt # 10 s simulated per case
#   scripts/bench-peers.sh --cases coba --threads 1,2 --repeats 3
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-target/bench/venv-peers}"
PEERS_DIR="${PEERS_DIR:-../shared/bench/peers}"

if [ "${1:-}" = "install" ]; then
    mkdir -p "$(dirname "$VENV")"
    exec bash "$PEERS_DIR/install.sh" "$VENV"
fi

cargo build --release -p dishloop >&2
exec target/release/dishloop bench --peers --venv "$VENV" --peers-dir "$PEERS_DIR" "$@"
