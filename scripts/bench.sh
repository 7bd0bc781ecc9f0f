#!/usr/bin/env bash
# Benchmark of the whole pipeline on this machine (docs/performance.md): for each rate, a fresh
# broker and schema, the five services, orders-loadgen open loop for BENCH_SECS seconds, CPU time
# and peak memory of every process, then the raw broker rate (orders-brokerbench) on the same broker.
#
# It runs beside a dev stack without touching it: its own state dir (.local/bench), broker port,
# gRPC port and database. Settings: BENCH_RATES ("100 500 1000"), BENCH_SECS (60),
# BENCH_WAIT_SECS (180), BENCH_RECORDS (10000, for the raw broker rate), BENCH_RECORD_BYTES (1000).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ORDERS_STATE_DIR="$ROOT/.local/bench"
export KAFKA_BROKERS="${BENCH_BROKERS:-127.0.0.1:9193}"
export ORDERS_GRPC_ADDR="${BENCH_GRPC_ADDR:-127.0.0.1:50161}"
export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/orders_bench}"
export ORDERS_DB_SCHEMA=orders
export ORDERS_HTTP_PORT_BASE="${BENCH_HTTP_PORT_BASE:-9200}"
RATES="${BENCH_RATES:-100 500 1000}"
SECS="${BENCH_SECS:-60}"
WAIT="${BENCH_WAIT_SECS:-180}"
RECORDS="${BENCH_RECORDS:-10000}"
BYTES="${BENCH_RECORD_BYTES:-1000}"
OUT="$ORDERS_STATE_DIR/results"
STACK=(bash "$ROOT/scripts/stack.sh")
PROCS=(tansu orders-projector orders-enricher orders-risk orders-router orders-ingress)
TICKS="$(getconf CLK_TCK)"

log() { printf '==> bench: %s\n' "$*" >&2; }

pid_of() { cat "$ORDERS_STATE_DIR/run/$1.pid" 2>/dev/null || true; }

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Peak resident memory of a process in MiB (VmHWM).
peak_mib() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

fresh_stack() {
    "${STACK[@]}" down >/dev/null 2>&1 || true
    rm -rf "$ORDERS_STATE_DIR/tansu"
    "${STACK[@]}" databases >/dev/null
    psql "${DATABASE_URL}" -qc "DROP SCHEMA IF EXISTS orders CASCADE" >/dev/null 2>&1 || true
    "${STACK[@]}" up >/dev/null
}

mkdir -p "$OUT"
log "building the release binaries and the raw broker benchmark"
(cd "$ROOT" && cargo build --release --locked -p orders-bench)
"${STACK[@]}" build >/dev/null
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
report="$OUT/$stamp.md"
{
    echo "# Benchmark $stamp ($(nproc) cores, commit $(git -C "$ROOT" rev-parse --short HEAD))"
    echo
    echo "| rate | placed | decided | achieved/s | decided/s | ack p50/p99 ms | placed→decided p50/p99 ms | CPU s (tansu, projector, enricher, risk, router, ingress) | peak MiB (same order) | raw produce/s | raw consume/s |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"
} >"$report"

for rate in $RATES; do
    log "rate $rate/s: fresh broker and schema"
    fresh_stack
    declare -A before=()
    for p in "${PROCS[@]}"; do before[$p]="$(cpu_ticks "$(pid_of "$p")")"; done
    orders=$((rate * SECS))
    log "rate $rate/s: $orders orders over ${SECS}s"
    "$ROOT/target/release/orders-loadgen" --orders "$orders" --rate "$rate" --json \
        --wait-secs "$WAIT" --attempts 1 >"$OUT/$stamp-$rate.json" || true
    cpu=() mem=()
    for p in "${PROCS[@]}"; do
        pid="$(pid_of "$p")"
        cpu+=("$(awk -v a="${before[$p]}" -v b="$(cpu_ticks "$pid")" -v t="$TICKS" 'BEGIN {printf "%.1f", (b - a) / t}')")
        mem+=("$(peak_mib "$pid")")
    done
    log "rate $rate/s: raw broker rate ($RECORDS records of $BYTES bytes)"
    raw="$("$ROOT/target/release/orders-brokerbench" --records "$RECORDS" --size "$BYTES" \
        2>"$OUT/$stamp-$rate-broker.err" || echo '{}')"
    echo "$raw" >"$OUT/$stamp-$rate-broker.json"
    python3 - "$OUT/$stamp-$rate.json" "$raw" "$rate" "${cpu[*]}" "${mem[*]}" >>"$report" <<'PY'
import json, sys
path, raw, rate, cpu, mem = sys.argv[1:6]
try:
    s = json.load(open(path))
except Exception:
    s = {}
b = json.loads(raw or "{}")
lat = lambda k: "%s / %s" % (s.get(k, {}).get("p50", "?"), s.get(k, {}).get("p99", "?"))
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    rate, s.get("placed", "?"), s.get("decided", "?"), s.get("achieved_rate_per_s", "?"),
    s.get("throughput_per_s", "?"), lat("ack_latency_ms"), lat("decided_latency_ms"),
    ", ".join(cpu.split()), ", ".join(mem.split()), b.get("produce_per_s", "?"), b.get("consume_per_s", "?")))
PY
done
"${STACK[@]}" down >/dev/null 2>&1 || true
cat "$report"
log "results in $report (loadgen and broker JSON beside it)"
