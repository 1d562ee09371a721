#!/usr/bin/env bash
# Benchmarks that can be rerun: DynamoDB round trips and capacity per keyed POST against the
# idempotency anchor and per route (tests/bench), then the visitor passes' CPU and the draw of
# 100,000 entries (DRAW_BENCH_ENTRIES), built optimized (the cpu-bench profile). Starts its
# own DynamoDB Local; prints markdown tables.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh" serve
trap stop_services EXIT
DYNAMODB_PORT=$(free_port)
start_dynamodb_local "$DYNAMODB_PORT"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT"
cargo test --quiet --locked -p group-buy-tests --test bench -- --ignored --nocapture --test-threads=1 \
  --skip pass_cpu --skip draw_of
cargo test --quiet --locked --profile cpu-bench -p group-buy-tests --test bench -- --ignored --nocapture \
  --test-threads=1 pass_cpu draw_of
