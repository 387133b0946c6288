#!/usr/bin/env bash
# CPU and memory (the resident size at the end of the window, the largest over it, and the
# peak since start) of an idle `rnetstat --live` (or, with --watch among the flags, of
# `rnetstat --watch` writing to /dev/null) while the benchmark fixture holds connections.
# Usage: scripts/live_cpu.sh [CONNECTIONS/PROCESSES] [SECONDS] [-- FLAGS...]
#        (defaults: 10000/100, 30 s, flags -a). --live needs tmux. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-10000/100}
seconds=${2:-30}
shift $(($# < 2 ? $# : 2))
[ "${1:-}" = "--" ] && shift
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(-a)
[[ $size =~ ^([0-9]+)/([1-9][0-9]*)$ ]] || { echo "live_cpu: size must be N/P" >&2; exit 2; }
connections=${BASH_REMATCH[1]}
processes=${BASH_REMATCH[2]}
watch=false
for flag in "${flags[@]}"; do [ "$flag" = --watch ] && watch=true; done
$watch || command -v tmux >/dev/null || { echo "live_cpu: needs tmux (apt-get install tmux)" >&2; exit 1; }

cargo build --release --quiet
cargo build --release --quiet --example fixture
# RNETSTAT=path measures another build (e.g. an older one) in the same way.
rnetstat=${RNETSTAT:-$PWD/target/release/rnetstat}
server="rnetstat-live-cpu-$$"

fifo=$(mktemp -u)
mkfifo "$fifo"
target/release/examples/fixture --connections "$connections" --processes "$processes" <"$fifo" >"$fifo.out" 2>/dev/null &
fixture=$!
exec {hold}>"$fifo"
watcher=
cleanup() {
  [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
  tmux -L "$server" kill-server 2>/dev/null || true
  exec {hold}>&- || true
  wait "$fixture" 2>/dev/null || true
  rm -f "$fifo" "$fifo.out"
}
trap cleanup EXIT
until grep -q ready "$fifo.out" 2>/dev/null; do
  kill -0 "$fixture" 2>/dev/null || { echo "live_cpu: the fixture failed" >&2; exit 1; }
  sleep 0.2
done

if $watch; then
  "$rnetstat" "${flags[@]}" >/dev/null 2>&1 &
  watcher=$!
  pane_pid=$watcher
  mode=
else
  tmux -L "$server" -f /dev/null new-session -d -s live -x 160 -y 40 "$rnetstat --live ${flags[*]}"
  pane_pid=$(tmux -L "$server" list-panes -t live -F '#{pane_pid}')
  mode=--live
fi
# WARMUP=seconds before the window (default 3): at 100,000 connections the first snapshot and
# its merge, the peak, take longer than that.
sleep "${WARMUP:-3}"
ticks() { awk '{ print $14 + $15 }' "/proc/$pane_pid/stat"; }
rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$pane_pid/status"; }
peak() { awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pane_pid/status"; }
start=$(ticks)
# The resident size each second of the window: its largest is what the window needed, the
# peak (VmHWM) includes the first snapshot's merge before the window.
most=0
for ((second = 0; second < seconds; second++)); do
  sleep 1
  now=$(rss)
  [ "$now" -gt "$most" ] && most=$now
done
end=$(ticks)
hz=$(getconf CLK_TCK)
sockets=$(ss -tanH | wc -l)
awk -v s="$start" -v e="$end" -v hz="$hz" -v secs="$seconds" -v size="$size" \
  -v flags="${mode:+$mode }${flags[*]}" -v last="$(rss)" -v most="$most" -v peak="$(peak)" \
  -v sockets="$sockets" 'BEGIN {
  cpu = (e - s) / hz
  printf "| %s (%d TCP sockets) | `%s` | %.2f s | %.1f%% | %d MiB | %d MiB | %d MiB |\n",
    size, sockets, flags, cpu, 100 * cpu / secs, last, most, peak
}'
