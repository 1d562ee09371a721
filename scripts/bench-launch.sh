#!/usr/bin/env bash
# The launch load test (docs/benchmarks.md, "The launch load test"): first registrations on one campaign from
# many concurrent Lambda sandboxes of the release `register-interest`, each a process with a
# Runtime API of its own (one event at a time, as Lambda runs them), against DynamoDB Local;
# the counts checked exact; then the same transactions through the store's own registration
# write (`gharart-operator bench-registrations`) at the same concurrency, the local ceiling,
# and the ratio.
#
#   scripts/bench-launch.sh [--sandboxes 200] [--registrations 2000] [--rounds 3] [--binary PATH] [--draw]
#   scripts/bench-launch.sh --dev-server [--concurrency "1 10 50"] [--timeout 30] [--instances N]
#
# --draw makes the campaign a draw: every PUT enters it (202) instead of registering; the
# ceiling is the store's own entry write (`bench-registrations --draw`).
# --binary loads that build instead of building one (x86-64 is fine: the ratio is what counts);
# the ceiling's client, the operator, is always the release build of this tree.
# --dev-server measures `cargo lambda watch` (scripts/dev.sh's server) instead: PUT my-interest
# at each concurrency, each request given --timeout seconds (tools/launch-load-test/dev_server.py);
# --instances N passes `--concurrency N` to it (instances per function; scripts/dev.sh runs 1).
# Results go to target/launch-load-test/<time>/ (results.json, report.md, the functions'
# output). Exits non-zero when a count is off or a registration failed.
#
# Measured on the 2-core machine: about 2 minutes with the defaults (plus the release build
# when it is stale, several minutes with fat LTO); --dev-server about 2 minutes, 3 more for a
# level at which it stops answering (every request waits out --timeout).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SANDBOXES=200 REGISTRATIONS=2000 ROUNDS=3 BINARY="" DRAW=() DEV_SERVER=0 CONCURRENCY="1 10 50" TIMEOUT=30 INSTANCES=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sandboxes) SANDBOXES=$2; shift 2 ;;
    --registrations) REGISTRATIONS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --draw) DRAW=(--draw); shift ;;
    --dev-server) DEV_SERVER=1; shift ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --instances) INSTANCES=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done

# Every sandbox holds a few descriptors in this process (its listening socket, the function's
# connections, its log) and two in the function.
needed=$((SANDBOXES * 8 + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
  ulimit -n "$needed" 2>/dev/null || { log "ulimit -n is $(ulimit -n); $needed needed"; exit 1; }
fi

OUT="$ROOT/target/launch-load-test/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
trap stop_services EXIT

if [ "$DEV_SERVER" = 0 ]; then
  # The ceiling's client is release-built as the function is: a debug client would take more
  # of the cores DynamoDB Local runs on. One cargo call, so the shared crate builds once.
  if [ -z "$BINARY" ]; then
    log "cargo build --release: register-interest and gharart-operator (this machine's target)"
    cargo build --quiet --locked --release -p group-buy-functions -p gharart-operator \
      --bin register-interest --bin gharart-operator
    BINARY="$ROOT/target/release/register-interest"
  else
    log "cargo build --release -p gharart-operator (the ceiling's client)"
    cargo build --quiet --locked --release -p gharart-operator
  fi
fi
if [ "$DEV_SERVER" = 1 ]; then
  # What `cargo lambda watch` runs, as scripts/dev.sh builds it.
  log "cargo build --workspace --bins (debug, what cargo lambda watch runs)"
  cargo build --quiet --locked --workspace --bins
else
  log "building the seeding tools (debug: gharart-operator, create-group-buy, publish-group-buy)"
  cargo build --quiet --locked -p gharart-operator -p group-buy-functions --bin create-group-buy --bin publish-group-buy
fi

DYNAMODB_PORT=$(free_port)
log "DynamoDB Local on port $DYNAMODB_PORT (in memory)"
start_dynamodb_local "$DYNAMODB_PORT"
log "DynamoDB Local up"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT"
export TABLE_NAME="launch-$(date +%s)"
# DynamoDB Local keeps tables per access key and region: every process here uses these. No
# STAGE or secrets from the caller's shell: the dev secret signs and verifies the token.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=ASIALAUNCHLOADTEST00 \
  AWS_SECRET_ACCESS_KEY=launchloadtest AWS_SESSION_TOKEN=launchloadtest
unset STAGE JWT_HS256_SECRET JWT_JWKS JWT_ISSUER JWT_AUDIENCE VISITOR_HASH_KEY
HANDLE=acme-decor
target/debug/gharart-operator --local create-table >/dev/null
TOKEN=$(target/debug/gharart-operator --local mint-jwt --handle "$HANDLE")

if [ "$DEV_SERVER" = 1 ]; then
  API_PORT=$(free_port)
  log "cargo lambda watch on port $API_PORT, $INSTANCES instance(s) per function (log: $OUT/api.log)"
  if [ "$INSTANCES" = 1 ]; then
    start_api "$API_PORT" "$OUT/api.log"
  else
    # start_api with one more flag (its own process group, which stop_services ends).
    export VISITOR_PASS_DIFFICULTY="${VISITOR_PASS_DIFFICULTY:-8}"
    (exec setsid cargo lambda watch --ignore-changes --disable-cors --concurrency "$INSTANCES" -A 127.0.0.1 \
      -P "$API_PORT") >>"$OUT/api.log" 2>&1 &
    API_PID=$!
    wait_for_port "$API_PORT" 120 || { log "cargo lambda watch did not start"; exit 1; }
  fi
  python3 tools/launch-load-test/dev_server.py --api "http://127.0.0.1:$API_PORT" \
    --token "$TOKEN" --handle "$HANDLE" --concurrency "$CONCURRENCY" --timeout "$TIMEOUT" |
    tee "$OUT/report.md"
  log "report: $OUT/report.md"
  exit 0
fi

log "$REGISTRATIONS registrations from $SANDBOXES sandboxes of $BINARY (results in $OUT)"
# With pipefail, a failed check (load.py's status) fails the pipeline and the script.
python3 tools/launch-load-test/load.py --binary "$BINARY" --seed-functions "$ROOT/target/debug" \
  --operator "$ROOT/target/release/gharart-operator" --endpoint "$DYNAMODB_ENDPOINT" --table "$TABLE_NAME" --token "$TOKEN" --handle "$HANDLE" \
  --sandboxes "$SANDBOXES" --registrations "$REGISTRATIONS" --rounds "$ROUNDS" --dynamodb-pid "$DYNAMODB_LOCAL_PID" \
  --out "$OUT" "${DRAW[@]}" | tee "$OUT/report.md"
log "report: $OUT/report.md"
