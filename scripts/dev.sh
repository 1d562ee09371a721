#!/usr/bin/env bash
# The one command to serve the API locally (docs/walkthrough.md starts here):
#
#   scripts/dev.sh                        # http://127.0.0.1:9000
#   LOCAL_API_PORT=9100 scripts/dev.sh    # a second instance, sharing nothing with the first
#   scripts/dev.sh --fresh                # the same, after deleting this port's data
#
# Installs what serving needs and is missing (scripts/bootstrap.sh serve), starts DynamoDB
# Local (data kept on disk), creates the table, mints a dev token, serves every route at its
# real path through `cargo lambda watch`, and follows the table's stream, appending each
# lifecycle event as one JSON line, as the deployed function publishes it to EventBridge; and
# runs the deployed schedule's work (due draws, expiry, closing-soon notices) every LOCAL_SCHEDULE_SECONDS
# (default 60), as the deployed schedule does.
# The web front end too (docs/web.md): it builds web/ (types from openapi.yaml, tsc, esbuild),
# starts the local OpenID Connect provider on LOCAL_OIDC_PORT (default LOCAL_API_PORT + 81:
# 9081) whose RS256 tokens the API verifies (JWT_ISSUER, JWT_AUDIENCE; the dev token below
# carries them too), and serves the console, the admin dashboard and the storefront widget's
# demo page on LOCAL_CONSOLE_PORT (default LOCAL_API_PORT + 80: 9080), /v2 proxied to the API.
# Everything of one instance lives in .local/<LOCAL_API_PORT>/: dynamodb/ (the database),
# api.log (the API's log, also shown here), events.jsonl (the events), events.log (their
# runner's log), schedule.log (one line per scheduled run), oidc.log and oidc-key.json (the
# OIDC provider's log and signing key) and web.log (the console server's log). It ends by printing the exports that the walkthrough and the playbooks use.
# Ctrl-C or SIGTERM stops everything it started.
# WEB=0 scripts/dev.sh serves the API alone, as before the web front end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

fresh=0
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "scripts/dev.sh: unknown argument $arg (see scripts/dev.sh --help)" >&2
      exit 2
      ;;
  esac
done

export LOCAL_API_PORT="${LOCAL_API_PORT:-9000}"
# 9000 → 8000, 9100 → 8100: a second instance gets a DynamoDB Local of its own.
export DYNAMODB_LOCAL_PORT="${DYNAMODB_LOCAL_PORT:-$((LOCAL_API_PORT - 1000))}"
export TABLE_NAME="${TABLE_NAME:-gharart-group-buys-local}"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_LOCAL_PORT"
# Visitor challenges a person's curl and a script's loop solve at once (the service's default
# is 18 zero bits); set it to try the real work.
export VISITOR_PASS_DIFFICULTY="${VISITOR_PASS_DIFFICULTY:-8}"
DEMO_HANDLE="${DEMO_HANDLE:-acme-decor}"
STATE=".local/$LOCAL_API_PORT"
export API_LOG="$STATE/api.log"
export LOCAL_EVENTS_FILE="$STATE/events.jsonl"
EVENTS_LOG="$STATE/events.log"
SCHEDULE_LOG="$STATE/schedule.log"
export LOCAL_SCHEDULE_SECONDS="${LOCAL_SCHEDULE_SECONDS:-60}"
# The web front end: 9000 → console 9080 and OIDC provider 9081; 9100 → 9180 and 9181.
WEB="${WEB:-1}"
export LOCAL_CONSOLE_PORT="${LOCAL_CONSOLE_PORT:-$((LOCAL_API_PORT + 80))}"
export LOCAL_OIDC_PORT="${LOCAL_OIDC_PORT:-$((LOCAL_API_PORT + 81))}"
if [ "$WEB" = 1 ]; then
  # The API verifies the local provider's tokens through its JWKS; the operator's dev token
  # (mint-jwt reads the same variables) carries this issuer and audience too, and so do the
  # tokens minted in another terminal once the banner's exports (which name them) are set.
  export JWT_ISSUER="${JWT_ISSUER:-http://127.0.0.1:$LOCAL_OIDC_PORT}"
  export JWT_AUDIENCE="${JWT_AUDIENCE:-gharart-group-buys-local}"
  # The console's origin, under both its names, is the local storefront (its demo page).
  export STOREFRONT_ORIGINS="${STOREFRONT_ORIGINS:-http://127.0.0.1:$LOCAL_CONSOLE_PORT,http://localhost:$LOCAL_CONSOLE_PORT}"
fi
# The operator tool acts only on the target it is given: here DynamoDB Local, as set above.
OPERATOR=("$ROOT/target/debug/gharart-operator" --local)

# One instance per port: a second one would share the database and the logs.
mkdir -p "$STATE"
exec {LOCK_FD}>"$STATE/lock"
if ! flock -n "$LOCK_FD"; then
  log "another scripts/dev.sh serves port $LOCAL_API_PORT ($STATE is in use); stop it, or pick another port: LOCAL_API_PORT=9100 scripts/dev.sh"
  exit 1
fi
PORTS=("$LOCAL_API_PORT" "$DYNAMODB_LOCAL_PORT")
[ "$WEB" != 1 ] || PORTS+=("$LOCAL_CONSOLE_PORT" "$LOCAL_OIDC_PORT")
for port in "${PORTS[@]}"; do
  if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is in use; choose others: LOCAL_API_PORT=<port> [DYNAMODB_LOCAL_PORT=<port>] [LOCAL_CONSOLE_PORT=<port>] [LOCAL_OIDC_PORT=<port>] scripts/dev.sh"
    exit 1
  fi
done
if [ "$fresh" = 1 ]; then
  log "--fresh: deleting $STATE (database, logs, events)"
  find "$STATE" -mindepth 1 -not -name lock -delete
fi

stop_all() {
  trap - EXIT INT TERM
  stop_services
  for pid in "${BUILD_PID:-}" "${EVENTS_PID:-}" "${TAIL_PID:-}" "${OIDC_PID:-}" "${WEB_PID:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  # DynamoDB Local writes its files until it exits.
  for pid in "${API_PID:-}" "${DYNAMODB_LOCAL_PID:-}" "${EVENTS_PID:-}" "${SCHEDULE_PID:-}"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
}
trap stop_all EXIT
# In the background and waited for, below: bash runs these traps only once a foreground
# command has ended, but interrupts `wait` at once.
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/scripts/bootstrap.sh" serve

log "DynamoDB Local on port $DYNAMODB_LOCAL_PORT (data in $STATE/dynamodb)"
start_dynamodb_local "$DYNAMODB_LOCAL_PORT" "$ROOT/$STATE/dynamodb"
# Every binary, features resolved across the whole workspace: what `cargo lambda watch`
# runs (`cargo run --bin <function>` from the virtual workspace), so its first request of
# each function finds it built; `-p group-buy-functions` would build another variant.
log "building the functions and the operator tool (cargo build --workspace --bins)"
cargo build --quiet --locked --workspace --bins &
BUILD_PID=$!
wait "$BUILD_PID"
BUILD_PID=
"${OPERATOR[@]}" create-table
TOKEN=$("${OPERATOR[@]}" mint-jwt --sub demo-owner --handle "$DEMO_HANDLE")

log "lifecycle events to $LOCAL_EVENTS_FILE (runner log: $EVENTS_LOG)"
"${OPERATOR[@]}" event-stream >>"$EVENTS_LOG" 2>&1 &
EVENTS_PID=$!

log "the schedule every $LOCAL_SCHEDULE_SECONDS s: due draws, expiry and closing-soon notices (log: $SCHEDULE_LOG)"
start_schedule "$SCHEDULE_LOG"

log "serving on http://127.0.0.1:$LOCAL_API_PORT (log: $API_LOG)"
: >"$API_LOG"
tail -n +1 -F "$API_LOG" >&2 &
TAIL_PID=$!
start_api "$LOCAL_API_PORT" "$ROOT/$API_LOG"
if [ "$WEB" = 1 ]; then
  log "web: types from openapi.yaml, tsc --noEmit, esbuild (web/dist)"
  npm run --prefix "$ROOT/web" --silent build >/dev/null
  log "OIDC provider on http://127.0.0.1:$LOCAL_OIDC_PORT (log: $STATE/oidc.log)"
  OIDC_KEY_FILE="$ROOT/$STATE/oidc-key.json" DEMO_HANDLE="$DEMO_HANDLE" \
    node "$ROOT/web/oidc.mjs" >>"$STATE/oidc.log" 2>&1 &
  OIDC_PID=$!
  log "console on http://127.0.0.1:$LOCAL_CONSOLE_PORT (log: $STATE/web.log)"
  node "$ROOT/web/server.mjs" >>"$STATE/web.log" 2>&1 &
  WEB_PID=$!
  for port in "$LOCAL_OIDC_PORT" "$LOCAL_CONSOLE_PORT"; do
    wait_for_port "$port" 30 || { log "nothing listens on port $port (see $STATE/oidc.log, $STATE/web.log)"; exit 1; }
  done
fi
sleep 0.5 # the log's first lines before the banner, not after it
cat <<MSG

  Serving http://127.0.0.1:$LOCAL_API_PORT: every route, its log here and in $API_LOG.
  Lifecycle events: tail -f $LOCAL_EVENTS_FILE
  Scheduled runs (every $LOCAL_SCHEDULE_SECONDS s): tail -f $SCHEDULE_LOG
  Walkthrough: docs/walkthrough.md. Playbooks: docs/playbooks/.
$(if [ "$WEB" = 1 ]; then cat <<WEBMSG
  Console: http://127.0.0.1:$LOCAL_CONSOLE_PORT/ (sign in as demo: owner of $DEMO_HANDLE; admin: platform admin)
  Storefront demo: http://127.0.0.1:$LOCAL_CONSOLE_PORT/storefront-demo.html?handle=$DEMO_HANDLE&slug=<slug>
    (without &slug=, every public group-buy of the handle). OIDC provider: $JWT_ISSUER (docs/web.md)
WEBMSG
fi)
  Ctrl-C stops the API, the event stream, the schedule, DynamoDB Local and the web servers.

  In another terminal, from $ROOT (an owner token of $DEMO_HANDLE, 8 h):

export API=http://127.0.0.1:$LOCAL_API_PORT
export TOKEN=$TOKEN
export DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT TABLE_NAME=$TABLE_NAME
export OPERATOR="target/debug/gharart-operator --local"
export API_LOG=$API_LOG LOCAL_EVENTS_FILE=$LOCAL_EVENTS_FILE
${JWT_ISSUER:+export JWT_ISSUER=$JWT_ISSUER JWT_AUDIENCE=${JWT_AUDIENCE:-}}

MSG
wait "$API_PID"
