#!/usr/bin/env bash
# Namespace benchmark: `rnetstat --all-netns` against a shell loop of `ip netns exec NS ss`
# over the same namespaces, and the host-only default against an older build, while NS
# namespaces of this script's own each hold CONN loopback connections. See docs/benchmarks.md.
#
# Usage: scripts/bench_netns.sh [NSxCONN]       (default: 30x100)
# Environment: RUNS=10 timed runs per command; BASELINE=path an older rnetstat for the
#              host-only rows. Needs root, ip (iproute2), ss, python3, hyperfine.
# Loopback only, inside namespaces the script makes; they are deleted on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-30x100}
[[ $size =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || { echo "bench_netns: size must be NSxCONN" >&2; exit 2; }
count=${BASH_REMATCH[1]}
connections=${BASH_REMATCH[2]}
runs=${RUNS:-10}
for tool in ip ss python3 hyperfine; do
  command -v "$tool" >/dev/null || { echo "bench_netns: needs $tool" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench_netns: needs root (ip netns add)" >&2; exit 1; }

cargo build --release --quiet
rnetstat=$PWD/target/release/rnetstat
prefix="rnetstat-bench-$$-"
work=$(mktemp -d)
holders=()
cleanup() {
  exec {hold}>&- 2>/dev/null || true
  for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do ip netns del "$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT

# Every holder reads this fifo: closing it ends them all.
mkfifo "$work/hold"
for i in $(seq 1 "$count"); do
  ns="$prefix$i"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" python3 -c '
import socket, sys
n = int(sys.argv[1])
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(n)
held = []
for _ in range(n):
    c = socket.create_connection(s.getsockname()); a, _ = s.accept(); held += [c, a]
print("ready", flush=True)
sys.stdin.read()' "$connections" <"$work/hold" >"$work/ready.$i" &
  holders+=($!)
done
exec {hold}>"$work/hold"
for i in $(seq 1 "$count"); do
  for _ in $(seq 100); do [ -s "$work/ready.$i" ] && break; sleep 0.1; done
  [ -s "$work/ready.$i" ] || { echo "bench_netns: namespace $i did not get ready" >&2; exit 1; }
done

cat >"$work/ssloop" <<LOOP
#!/bin/bash
ss -tanH
for ns in \$(ip netns list | awk '{print \$1}'); do ip netns exec "\$ns" ss -tanH; done
LOOP
chmod +x "$work/ssloop"
echo "sockets: rnetstat --all-netns -tan lists $("$rnetstat" --all-netns -tanH 2>/dev/null | wc -l), the ss loop $("$work/ssloop" | wc -l)" >&2

commands=(
  --command-name "rnetstat --all-netns -tan" "$rnetstat --all-netns -tan"
  --command-name "rnetstat --all-netns -tanp" "$rnetstat --all-netns -tanp"
  --command-name "ss -tanH, then ip netns exec NS ss -tanH for each" "$work/ssloop"
  --command-name "rnetstat -tan (host only)" "$rnetstat -tan"
)
if [ -n "${BASELINE:-}" ]; then
  commands+=(--command-name "baseline -tan (host only)" "$BASELINE -tan")
fi
echo "### $count namespaces x $connections connections ($(git describe --always --dirty), $(date -u +%FT%H:%MZ))"
echo
hyperfine -N --warmup 2 --runs "$runs" --output=null --export-markdown "$work/table.md" \
  "${commands[@]}" >&2
cat "$work/table.md"
