#!/usr/bin/env bash
# Cockpit performance (issue 6): UI frame rate while training Pong at full speed on one core,
# and training speed with the UI open vs headless. Both runs are pinned to CPU 0 with taskset;
# the UI run draws into a detached tmux pane of the given size.
# Usage: scripts/tui-bench.sh [seconds=20] [cols=160] [rows=48] [agent=pursuit]
# Needs: a release build (cargo build -p dishloop --release), tmux, taskset.
set -euo pipefail
secs=${1:-20}; cols=${2:-160}; rows=${3:-48}; agent=${4:-pursuit}
cd "$(dirname "$0")/.."
bin=$PWD/target/release/dishloop
[ -x "$bin" ] || { echo "build first: cargo build -p dishloop --release"; exit 1; }
pin="taskset -c 0"
command -v taskset >/dev/null 2>&1 || pin=""
work=$(mktemp -d)
sock="dishloop-bench-$$"
trap 'tmux -L "$sock" kill-server >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== headless: $pin dishloop tui --headless --bench-s $secs --agent $agent"
$pin "$bin" tui --headless --bench-s "$secs" --agent "$agent" --json | tee "$work/headless.txt"

echo "== UI ${cols}x${rows}: $pin dishloop tui --view train --train --speed max --bench-s $secs --agent $agent"
tmux -L "$sock" -f /dev/null new-session -d -s b -x "$cols" -y "$rows" -c "$work" \
  "$pin '$bin' tui --configs '$work' --view train --train --speed max --agent $agent --bench-s $secs --json 2> '$work/ui.txt'; touch '$work/done'"
for ((i = 0; i < (secs + 30) * 10; i++)); do [ -e "$work/done" ] && break; sleep 0.1; done
cat "$work/ui.txt"
h=$(tail -n1 "$work/headless.txt" | sed 's/.*"frames_per_s":\([0-9.e+-]*\).*/\1/')
u=$(tail -n1 "$work/ui.txt" | sed 's/.*"frames_per_s":\([0-9.e+-]*\).*/\1/')
fps=$(tail -n1 "$work/ui.txt" | sed 's/.*"fps":\([0-9.e+-]*\).*/\1/')
i=$(tail -n1 "$work/ui.txt" | sed 's/.*"headless_frames_per_s":\([0-9.e+-]*\).*/\1/')
awk -v h="$h" -v u="$u" -v f="$fps" -v i="$i" 'BEGIN { printf "== result: UI %.1f fps; training %.0f frames/s with UI vs %.0f without drawing in the same process (%.1f %%) and %.0f in the separate headless run (%.1f %%)\n", f, u, i, 100*u/i, h, 100*u/h }'
