#!/usr/bin/env bash
# Run the Windows build (netstat2 backend) under wine against a loopback listener of our own.
# Needs: rustup target x86_64-pc-windows-gnu, gcc-mingw-w64-x86-64, wine64, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --target x86_64-pc-windows-gnu
out=target/x86_64-pc-windows-gnu/release
x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" scripts/wine/bcryptprimitives.c -ladvapi32
export WINEDEBUG=-all WINEPREFIX=${WINEPREFIX:-$PWD/target/wineprefix}
exe=$out/rnetstat.exe

# A listener that lives as long as this script (its stdin is a pipe we hold).
exec {listener_in}> >(python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()' >"$out/listener.port")
for _ in $(seq 50); do [ -s "$out/listener.port" ] && break; sleep 0.1; done
port=$(cat "$out/listener.port")

passed=0 failed=0
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
  fi
}

wine "$exe" -V >/dev/null 2>&1 || true # the first start creates the wine prefix
table=$(wine "$exe" -l -t -n)
check "table lists our listener 127.0.0.1:$port" \
  grep -Eq "^tcp +- +- +127\.0\.0\.1:$port +\*:\* +LISTEN$" <<<"$table"
json=$(wine "$exe" -l --json)
check "json lists our listener" python3 -c '
import json, sys
doc = json.loads(sys.argv[1])
assert doc["version"] == 2
assert any(s["local"]["port"] == int(sys.argv[2]) and s["state"] == "LISTEN"
           and s["recv_q"] is None for s in doc["sockets"])' "$json" "$port"
set +e
wine "$exe" --bogus >/dev/null 2>&1
status=$?
set -e
check "unknown flag exits 2" test "$status" -eq 2

exec {listener_in}>&-
echo "windows smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
