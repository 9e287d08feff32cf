#!/usr/bin/env bash
# Smoke test of the real cockpit under tmux (called by crates/dishloop/tests/tui_smoke.rs):
#  1. start `dishloop tui`, switch to Train, press Space, and check that the frame counter
#     rises between two captures of the pane; then `q` must exit with status 0 and leave the
#     terminal in its normal state (main screen, canonical mode, echo on);
#  2. start it with DISHLOOP_TUI_PANIC_TEST=1 (a deliberate panic after the first frames) and
#     check that the panic message is readable and the terminal is restored all the same.
# Usage: scripts/tui-smoke.sh path/to/dishloop   (exit 77 = skipped: no tmux)
set -euo pipefail
bin=${1:?usage: tui-smoke.sh path/to/dishloop}
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
command -v tmux >/dev/null 2>&1 || { echo "SKIP: tmux is not installed (scripts/setup.sh installs it)"; exit 77; }
sock="dishloop-smoke-$$"
work=$(mktemp -d)
tm() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() { tm kill-server >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
pane() { tm capture-pane -p -t smoke; }
fail() { echo "FAIL: $*"; echo "---- pane ----"; pane || true; exit 1; }
wait_for() { # pattern, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if pane | grep -q -- "$1"; then return 0; fi
    sleep 0.1
  done
  return 1
}
frames() { pane | grep -o 'frames \+[0-9]\+' | head -n1 | grep -o '[0-9]\+$' || echo 0; }
after='echo "DISHLOOP_EXIT rc=$?"; stty -a | tr " ;" "\n\n" | grep -x -e "-\?icanon" -e "-\?echo" | tr "\n" " "; echo; sleep 60'

# 1. Train view counts up; q exits cleanly.
tm new-session -d -s smoke -x 100 -y 30 -c "$work" \
  "'$bin' tui --configs '$work' --results '$work/r.csv' --brain '$work/b.yaml'; $after"
wait_for "1 Dashboard" 20 || fail "the cockpit did not start"
tm send-keys -t smoke 3
wait_for "Space start/pause" 5 || fail "key 3 did not open the Train view"
tm send-keys -t smoke Space
wait_for "playing" 10 || fail "Space did not start training"
sleep 1
f1=$(frames)
sleep 2
f2=$(frames)
echo "train frames: $f1 -> $f2"
[ "$f1" -gt 0 ] || fail "no frames after 1 s of training"
[ "$f2" -gt "$f1" ] || fail "the frame count did not rise ($f1 -> $f2)"
tm send-keys -t smoke q
wait_for "DISHLOOP_EXIT" 10 || fail "q did not exit"
pane | grep -q "DISHLOOP_EXIT rc=0" || fail "non-zero exit status"
pane | grep -q "1 Dashboard" && fail "the alternate screen was not left"
pane | grep -q -- "-icanon" && fail "raw mode was not turned off"
pane | grep -q -- " icanon" || pane | grep -q -- "^icanon" || fail "stty state missing"
echo "ok: q exits, terminal restored"
tm kill-session -t smoke

# 2. A panic restores the terminal too.
tm new-session -d -s smoke -x 100 -y 30 -c "$work" \
  "DISHLOOP_TUI_PANIC_TEST=1 '$bin' tui --configs '$work'; $after"
wait_for "DISHLOOP_EXIT" 20 || fail "the panic test did not end"
pane | grep -q "deliberate panic" || fail "the panic message is not visible"
pane | grep -q "DISHLOOP_EXIT rc=101" || fail "expected exit status 101 after a panic"
pane | grep -q -- "-icanon" && fail "raw mode was left on after a panic"
pane | grep -q "1 Dashboard" && fail "the alternate screen was not left after a panic"
echo "ok: a panic restores the terminal"
echo "PASS"
