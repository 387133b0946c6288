#!/usr/bin/env bash
# Scale benchmark: rnetstat against ss, netstat and lsof while a fixture holds N loopback
# TCP connections over P processes. See docs/benchmarks.md.
#
# Usage: scripts/bench.sh [SIZES...]     each size is CONNECTIONS/PROCESSES
#                                        (default: 10000/100 100000/200)
# Environment:
#   RUNS=5           timed runs per command (after one warmup run)
#   BENCH_OUT=file   also write the tables to this file
#   FIXTURE=path     use this fixture binary instead of building the `fixture` example
#   UNIX_PAIRS=50000 Unix socket pairs for the -x part (0 skips it)
#   BASELINE=path    also time this (older) rnetstat binary, as "baseline -a -n -p" and
#                    "baseline -a -n", for before/after figures in the same run
#
# Progress and hyperfine's own output go to stderr; the markdown tables go to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
repo_root=$PWD
runs=${RUNS:-5}
bench_out=${BENCH_OUT:-}
# Loopback only: the fixture binds 127.0.0.1, and nothing here talks to any other address.
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000/100 100000/200)

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}

[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$runs'"
for size in "${sizes[@]}"; do
  [[ $size =~ ^[0-9]+/[1-9][0-9]*$ ]] || die "size '$size' is not CONNECTIONS/PROCESSES (e.g. 10000/100)"
done

# --- tools -------------------------------------------------------------------------------
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=("time (GNU time at /usr/bin/time)")
if [ ${#missing[@]} -gt 0 ]; then
  die "missing ${missing[*]}; install with: apt-get update && apt-get install -y hyperfine time"
fi
for tool in ss:iproute2 netstat:net-tools lsof:lsof python3:python3 cargo:cargo curl:curl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 ||
    die "missing ${tool%%:*}; install it (Debian package ${tool#*:})"
done

# --- build -------------------------------------------------------------------------------
log "building rnetstat (cargo build --release)"
cargo build --release >&2
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
rnetstat=$target_dir/release/rnetstat
if [ -n "${FIXTURE:-}" ]; then
  fixture=$(realpath "$FIXTURE")
else
  log "building the fixture (cargo build --release --example fixture)"
  cargo build --release --example fixture >&2 ||
    die "could not build the fixture example; Cargo.toml needs [[example]] name = \"fixture\", path = \"benches/fixture.rs\" (or set FIXTURE=/path/to/fixture)"
  fixture=$target_dir/release/examples/fixture
fi
[ -x "$rnetstat" ] || die "no rnetstat binary at $rnetstat"
[ -x "$fixture" ] || die "no fixture binary at $fixture"
baseline_bin=
if [ -n "${BASELINE:-}" ]; then
  baseline_bin=$(realpath "$BASELINE")
  [ -x "$baseline_bin" ] || die "BASELINE=$BASELINE is not an executable"
fi

# --- fixture lifecycle -------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/rnetstat-bench.XXXXXX")
fixture_pid=
fixture_feed=
serve_pid=

tcp_socket_count() { ss -tanH | wc -l; }

stop_fixture() {
  [ -n "$fixture_pid" ] || return 0
  # Closing the fixture's stdin is its clean stop; SIGTERM, then SIGKILL, if it lingers.
  if [ -n "$fixture_feed" ]; then
    exec {fixture_feed}>&-
    fixture_feed=
  fi
  local waited=0
  while kill -0 "$fixture_pid" 2>/dev/null; do
    case $waited in
      100) kill -TERM "$fixture_pid" 2>/dev/null || true ;;
      200) kill -KILL "$fixture_pid" 2>/dev/null || true ;;
    esac
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$fixture_pid" 2>/dev/null || true
  fixture_pid=
}

wait_for_sockets_gone() {
  local baseline=$1 deadline=$((SECONDS + 90))
  # Children die with the parent; allow a little slack for unrelated sockets and stray TIME_WAITs.
  while [ "$(tcp_socket_count)" -gt $((baseline + 100)) ]; do
    if [ $SECONDS -ge $deadline ]; then
      log "warning: $(tcp_socket_count) TCP sockets remain (baseline $baseline); continuing"
      return 0
    fi
    sleep 0.5
  done
}

stop_serve() {
  [ -n "$serve_pid" ] || return 0
  kill -TERM "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
}

# `rnetstat --serve` on a free loopback port; sets serve_url.
start_serve() {
  "$rnetstat" --serve 127.0.0.1:0 2>"$work/serve.err" &
  serve_pid=$!
  local deadline=$((SECONDS + 30))
  serve_url=
  until [ -n "$serve_url" ]; do
    serve_url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$work/serve.err" | head -1 || true)
    kill -0 "$serve_pid" 2>/dev/null || die "rnetstat --serve failed: $(cat "$work/serve.err")"
    [ $SECONDS -lt $deadline ] || die "rnetstat --serve did not say where it serves"
    [ -n "$serve_url" ] || sleep 0.1
  done
}

cleanup() {
  stop_serve
  stop_fixture
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_fixture() {
  local connections=$1 processes=$2
  rm -f "$work/fixture.in"
  mkfifo "$work/fixture.in"
  "$fixture" --connections "$connections" --processes "$processes" "${@:3}" \
    <"$work/fixture.in" >"$work/fixture.out" 2>"$work/fixture.err" &
  fixture_pid=$!
  # Holding the fifo's write end open keeps the fixture running; closing it stops it.
  exec {fixture_feed}>"$work/fixture.in"
  local deadline=$((SECONDS + 300))
  until grep -q '^ready ' "$work/fixture.out" 2>/dev/null; do
    if ! kill -0 "$fixture_pid" 2>/dev/null; then
      cat "$work/fixture.err" >&2
      fixture_pid=
      die "fixture failed for $connections/$processes (its error is above)"
    fi
    [ $SECONDS -lt $deadline ] || die "fixture not ready after 300 s for $connections/$processes"
    sleep 0.1
  done
  log "$(cat "$work/fixture.err")"
}

# Measurements only count while the fixture still holds every connection it opened.
check_fixture() {
  local connections=$1 when=$2 status=0 established
  if ! kill -0 "$fixture_pid" 2>/dev/null; then
    wait "$fixture_pid" || status=$?
    fixture_pid=
    cat "$work/fixture.err" >&2
    die "fixture exited (status $status) $when"
  fi
  established=$(ss -tanH state established | wc -l)
  [ "$established" -ge $((2 * connections)) ] ||
    die "only $established established TCP sockets $when, expected at least $((2 * connections)); did the fixture's children die?"
}

# --- machine facts -----------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
commit=$(git -C "$repo_root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
tool_versions="$(ss -V 2>&1 | head -1 | sed 's/^ss utility, //'); $(netstat -V 2>&1 | head -1); lsof $(lsof -v 2>&1 | sed -n 's/^ *revision: *//p' | head -1); $(hyperfine --version)"

emit() {
  # Tables go to stdout and, with BENCH_OUT, to that file as well.
  if [ -n "$bench_out" ]; then
    printf '%s\n' "$*" | tee -a "$bench_out"
  else
    printf '%s\n' "$*"
  fi
}

[ -z "$bench_out" ] || : >"$bench_out"
emit "### Scale benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
emit ""
emit "- rnetstat commit: \`$commit\`"
emit "- machine: $(nproc) CPUs ($cpu_model), $mem_gib GiB RAM, Linux $(uname -r)"
emit "- tools: $tool_versions"
[ -z "$baseline_bin" ] || emit "- baseline: \`$baseline_bin\` (\`$("$baseline_bin" -V 2>/dev/null || echo '?')\`)"
emit "- method: hyperfine -N --warmup 1 --runs $runs, stdout to /dev/null; peak RSS from one /usr/bin/time -v run"

# --- the benchmark -----------------------------------------------------------------------
# With a baseline, each of its commands is timed right after the same command of this build:
# the machine drifts over minutes, so neighbours compare best.
names=("rnetstat -a -n -p")
[ -z "$baseline_bin" ] || names+=("baseline -a -n -p")
names+=("rnetstat -a -n")
[ -z "$baseline_bin" ] || names+=("baseline -a -n")
names+=(
  "rnetstat -a --json"
  "ss -tuanp"
  "ss -tuan"
  "netstat -tuanp"
  "lsof -nP -i"
  # Filters (docs/filters.md): P is the port of the fixture's busiest listener.
  "rnetstat -tan"
  "rnetstat -tn 'sport = :P'"
  "ss -tn 'sport = :P'"
  "rnetstat -tn state established 'dport = :P'"
  "ss -tn state established 'dport = :P'"
  # TCP internals (-i): tcp_info for every socket.
  "rnetstat -tan -i"
  "ss -tani"
  # Fleet (docs/metrics.md): one scrape of a running --serve, one --metrics, one --csv.
  "curl --serve /metrics"
  "rnetstat --metrics"
  "rnetstat -a --csv"
)

for size in "${sizes[@]}"; do
  connections=${size%/*}
  processes=${size#*/}
  baseline=$(tcp_socket_count)
  log "size $size: starting fixture ($connections connections over $processes processes)"
  start_fixture "$connections" "$processes"
  check_fixture "$connections" "once ready"
  established=$(ss -tanH state established | wc -l)
  udp_sockets=$(ss -uanH | wc -l)
  # The local port most established sockets share: a listener of the fixture.
  port=$(ss -tanH state established | awk '{ n = split($3, a, ":"); print a[n] }' |
    sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
  [[ $port =~ ^[0-9]+$ ]] || die "could not find a listener port of the fixture"
  start_serve
  series=$(curl -sf "$serve_url" | grep -vc '^#')

  # Same command lines for both measurements (shell words, as hyperfine -N parses them);
  # rnetstat by absolute path so PATH can't interfere.
  printf -v rnetstat_word '%q' "$rnetstat"
  commands=("$rnetstat_word -a -n -p")
  if [ -n "$baseline_bin" ]; then
    printf -v baseline_word '%q' "$baseline_bin"
    commands+=("$baseline_word -a -n -p")
  fi
  commands+=("$rnetstat_word -a -n")
  [ -z "$baseline_bin" ] || commands+=("$baseline_word -a -n")
  commands+=(
    "$rnetstat_word -a --json"
    "ss -tuanp"
    "ss -tuan"
    "netstat -tuanp"
    "lsof -nP -i"
    "$rnetstat_word -tan"
    "$rnetstat_word -tn 'sport = :$port'"
    "ss -tn 'sport = :$port'"
    "$rnetstat_word -tn state established 'dport = :$port'"
    "ss -tn state established 'dport = :$port'"
    "$rnetstat_word -tan -i"
    "ss -tani"
    "curl -sf -o /dev/null $serve_url"
    "$rnetstat_word --metrics"
    "$rnetstat_word -a --csv"
  )

  # One run per command under GNU time: peak RSS, line count, and a check that it exits 0.
  : >"$work/rss.tsv"
  for i in "${!commands[@]}"; do
    argv=()
    eval "argv=(${commands[$i]})"
    if ! lines=$(/usr/bin/time -v -o "$work/time.txt" "${argv[@]}" 2>"$work/stderr.txt" | wc -l); then
      check_fixture "$connections" "after '${names[$i]}' failed"
      cat "$work/stderr.txt" "$work/time.txt" >&2
      die "'${names[$i]}' failed during the RSS run"
    fi
    rss_kib=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$work/time.txt")
    printf '%s\t%s\t%s\n' "${names[$i]}" "$rss_kib" "$lines" >>"$work/rss.tsv"
  done

  hyperfine_args=(-N --warmup 1 --runs "$runs" --output=null --export-json "$work/times.json")
  for i in "${!commands[@]}"; do
    hyperfine_args+=(--command-name "${names[$i]}" "${commands[$i]}")
  done
  log "size $size: timing ${#commands[@]} commands, $runs runs each"
  hyperfine "${hyperfine_args[@]}" >&2
  check_fixture "$connections" "after timing"
  serve_peak=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$serve_pid/status")
  stop_serve

  table=$(python3 - "$work/times.json" "$work/rss.tsv" "$port" "$series" <<'PY'
import json, sys

results = json.load(open(sys.argv[1]))["results"]
rss = {}
for row in open(sys.argv[2]):
    name, kib, lines = row.rstrip("\n").split("\t")
    rss[name] = (int(kib) / 1024, int(lines))
median = {r["command"]: r["median"] for r in results}
base = median["ss -tuanp"]

print("| command | median s | peak MiB | ratio to `ss -tuanp` | output lines |")
print("|---|---:|---:|---:|---:|")
for r in results:
    name = r["command"]
    mib, lines = rss[name]
    print(f"| `{name}` | {r['median']:.3f} | {mib:.1f} | {r['median'] / base:.2f} | {lines} |")

def ratio(a, b):
    return f"{a} / {b} = **{median[a] / median[b]:.2f}**"

print()
print("Key ratios (median time): "
      + ratio("rnetstat -a -n -p", "ss -tuanp") + "; "
      + ratio("rnetstat -a -n -p", "netstat -tuanp") + "; "
      + ratio("rnetstat -a -n", "ss -tuan")
      + ("; " + ratio("rnetstat -a -n -p", "baseline -a -n -p") + "; "
         + ratio("rnetstat -a -n", "baseline -a -n") if "baseline -a -n -p" in median else ""))
print()
print("Filters (P = " + sys.argv[3] + "): "
      + ratio("rnetstat -tn 'sport = :P'", "ss -tn 'sport = :P'") + "; "
      + ratio("rnetstat -tn state established 'dport = :P'", "ss -tn state established 'dport = :P'") + "; "
      + ratio("rnetstat -tn 'sport = :P'", "rnetstat -tan") + "; "
      + ratio("rnetstat -tn state established 'dport = :P'", "rnetstat -tan") + "; "
      + ratio("rnetstat -tan -i", "ss -tani"))
print()
print("Fleet: " + ratio("curl --serve /metrics", "rnetstat -a -n -p") + "; "
      + ratio("rnetstat --metrics", "rnetstat -a -n -p") + "; "
      + ratio("rnetstat -a --csv", "rnetstat -a --json")
      + f"; series in one scrape: **{sys.argv[4]}** (peak MiB of the curl row is curl's own)")
PY
)

  emit ""
  emit "#### $connections connections over $processes processes"
  emit ""
  emit "During the run: $established established TCP sockets, $udp_sockets UDP sockets, $(tcp_socket_count) TCP sockets in all (ss)."
  emit ""
  emit "$table"
  emit ""
  emit "The \`--serve\` process's peak RSS after all its scrapes: $serve_peak MiB."

  log "size $size: stopping fixture"
  stop_fixture
  wait_for_sockets_gone "$baseline"
done

# --- Unix sockets (-x) ---------------------------------------------------------------------
# UNIX_PAIRS connected Unix stream pairs (default 50000; 0 skips this part) over 100 processes.
unix_pairs=${UNIX_PAIRS:-50000}
[[ $unix_pairs =~ ^[0-9]+$ ]] || die "UNIX_PAIRS must be a number, got '$unix_pairs'"
if [ "$unix_pairs" -gt 0 ]; then
  log "unix: starting fixture ($unix_pairs unix socket pairs over 100 processes)"
  start_fixture 0 100 --udp 0 --unix "$unix_pairs"
  unix_sockets=$(ss -xaH | wc -l)
  unix_names=("rnetstat -xa" "ss -xa" "rnetstat -xap" "ss -xap")
  unix_commands=("$rnetstat_word -xa" "ss -xa" "$rnetstat_word -xap" "ss -xap")
  hyperfine_args=(-N --warmup 1 --runs "$runs" --output=null --export-json "$work/unix.json")
  for i in "${!unix_commands[@]}"; do
    hyperfine_args+=(--command-name "${unix_names[$i]}" "${unix_commands[$i]}")
  done
  hyperfine "${hyperfine_args[@]}" >&2
  table=$(python3 - "$work/unix.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
median = {r["command"]: r["median"] for r in results}
print("| command | median s | ratio to ss |")
print("|---|---:|---:|")
for r in results:
    name = r["command"]
    base = median["ss -xap" if name.endswith("p") else "ss -xa"]
    print(f"| `{name}` | {r['median']:.3f} | {r['median'] / base:.2f} |")
PY
)
  emit ""
  emit "#### $unix_pairs Unix socket pairs over 100 processes"
  emit ""
  emit "During the run: $unix_sockets Unix sockets in all (ss)."
  emit ""
  emit "$table"
  stop_fixture
fi
