#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test in the workspace (optimised test
# profile, see Cargo.toml). Installs what a fresh machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
