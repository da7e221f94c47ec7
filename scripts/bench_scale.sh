#!/usr/bin/env bash
# Real processes at scale (docs/PERFORMANCE.md, "Real processes at scale"): a localnet of
# N validators on this machine, measured idle and then at RATE tx/s, then stopped.
#   scripts/bench_scale.sh N [RATE] [SECONDS]
# VOTE_COLLECTOR=1 or 0 sets consensus.vote_collector in every node's config first
# (unset: as `hkchain init` made it, on from 16 validators).
# BASE_PORT (default 20000) places the nodes' ports: node K uses BASE+10K and BASE+10K+1.
# BATCH_MS sets block.batch_interval_ms on every node (default: the node's, 100).
# EMPTY_MS sets block.empty_block_interval_ms, VIEW_MS consensus.view_timeout_ms.
# KEEP_HOME=1 keeps the network's folder (each node's log is its nodeK/node.log).
# IDLE_SECONDS sets the idle run's length (default SECONDS; 0 skips it).
# CRASH=K kills K validators (SIGKILL) once the network is up, before the idle run: both
# runs then measure the others, with those K silent for good. They are spread over the
# proposer rotation (nodes n/2K, n/2K + n/K, …; node K proposes heights K, K + n, …), so a
# run of a few dozen heights meets some of their turns.
set -euo pipefail
# The nodes run the code of the checkout this script is in: `hkchain localnet` starts
# them with `python -m cli`, which imports from the working directory first, and the
# `hkchain` commands import from PYTHONPATH before the installed package. So another
# build is measured with its own copy of this script.
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
n=${1:?usage: scripts/bench_scale.sh N [RATE] [SECONDS]}
rate=${2:-20}
seconds=${3:-60}
base=${BASE_PORT:-20000}
home=$(mktemp -d /tmp/hkchain-scale-XXXXXX)
localnet=""
cleanup() {
  # SIGTERM: a background job of a script ignores SIGINT.
  if [ -n "$localnet" ]; then kill -TERM "$localnet" 2>/dev/null || true; wait "$localnet" 2>/dev/null || true; fi
  if [ -n "${KEEP_HOME:-}" ]; then echo "kept: $home" >&2; else rm -rf "$home"; fi
}
trap cleanup EXIT
hkchain init -n "$n" --home "$home/net" --base-port "$base" > "$home/init.out"
# set_all SECTION KEY JSON: the same setting in every node's config.json.
set_all() {
  python - "$home/net" "$1" "$2" "$3" <<'PY'
import json, pathlib, sys
net, section, key, value = sys.argv[1:]
for config in pathlib.Path(net).glob("node*/config.json"):
    doc = json.loads(config.read_text())
    doc.setdefault(section, {})[key] = json.loads(value)
    config.write_text(json.dumps(doc, indent=2))
PY
}
if [ -n "${VOTE_COLLECTOR:-}" ]; then
  set_all consensus vote_collector "$([ "$VOTE_COLLECTOR" = 1 ] && echo true || echo false)"
fi
if [ -n "${BATCH_MS:-}" ]; then set_all block batch_interval_ms "$BATCH_MS"; fi
if [ -n "${EMPTY_MS:-}" ]; then set_all block empty_block_interval_ms "$EMPTY_MS"; fi
if [ -n "${VIEW_MS:-}" ]; then set_all consensus view_timeout_ms "$VIEW_MS"; fi
collector=$(python -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["consensus"]["vote_collector"]))' "$home/net/node0/config.json")
hkchain localnet --home "$home/net" > "$home/localnet.out" 2>&1 &
localnet=$!
rpcs=()
for ((k = 0; k < n; k++)); do rpcs+=(--rpc "http://127.0.0.1:$((base + 10 * k))"); done
# Ready once every node has committed a block; a node that failed to start fails the run.
ready=0
for _ in $(seq 1 300); do
  ready=1
  for ((k = 0; k < n; k++)); do
    height=$(hkchain status --json --rpc "http://127.0.0.1:$((base + 10 * k))" 2>/dev/null \
      | python -c 'import json, sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0)
    if [ "$height" -lt 2 ]; then ready=0; break; fi
  done
  [ "$ready" = 1 ] && break
  sleep 2
done
if [ "$ready" != 1 ]; then
  echo "not every node of $n started (see $home/localnet.out):" >&2
  tail -n 5 "$home/localnet.out" >&2
  exit 1
fi
crash=${CRASH:-0}
if [ "$crash" -gt 0 ]; then
  down=()
  for ((i = 0; i < crash; i++)); do
    k=$(( (2 * i + 1) * n / (2 * crash) ))
    down+=("$k")
    pkill -9 -f -- "-m cli node start --home $home/net/node$k\$" || echo "node$k was not running" >&2
  done
  rpcs=()
  for ((k = 0; k < n; k++)); do
    [[ " ${down[*]} " == *" $k "* ]] || rpcs+=(--rpc "http://127.0.0.1:$((base + 10 * k))")
  done
  echo "== killed $crash of $n validators: ${down[*]/#/node}"
fi
idle_seconds=${IDLE_SECONDS:-$seconds}
if [ "$idle_seconds" -gt 0 ]; then
  echo "== $n validators (vote collector: $collector), idle, ${idle_seconds} s"
  hkchain bench "${rpcs[@]}" --workload idle --duration "$idle_seconds"
fi
echo "== $n validators (vote collector: $collector), ${rate} tx/s, ${seconds} s"
hkchain bench "${rpcs[@]}" --key "$home/net/operator.key" --rate "$rate" --duration "$seconds"
