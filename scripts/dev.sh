#!/usr/bin/env bash
# The one command to serve the API locally: installs what is missing, starts DynamoDB Local
# (data kept in .local/dynamodb), creates the table, prints a dev token, and serves every
# route at its real path on http://127.0.0.1:$LOCAL_API_PORT, its log lines shown here and
# kept in .local/api.log (the playbooks in docs/playbooks read them), and follows the table's
# stream: each lifecycle event is appended to $LOCAL_EVENTS_FILE (.local/events.jsonl) as one
# JSON line, as the deployed function publishes it to EventBridge. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh"

export LOCAL_API_PORT="${LOCAL_API_PORT:-9000}"
export DYNAMODB_LOCAL_PORT="${DYNAMODB_LOCAL_PORT:-8000}"
export TABLE_NAME="${TABLE_NAME:-gharart-group-buys-local}"
export DYNAMODB_ENDPOINT="${DYNAMODB_ENDPOINT:-http://127.0.0.1:$DYNAMODB_LOCAL_PORT}"
DEMO_HANDLE="${DEMO_HANDLE:-acme-decor}"
API_LOG="$ROOT/.local/api.log"
export LOCAL_EVENTS_FILE="${LOCAL_EVENTS_FILE:-$ROOT/.local/events.jsonl}"
EVENTS_LOG="$ROOT/.local/events.log"
# The operator tool acts only on the target it is given: here DynamoDB Local, as set above.
OPERATOR=("$ROOT/target/debug/gharart-operator" --local)

stop_all() {
  stop_services
  if [ -n "${TAIL_PID:-}" ]; then kill "$TAIL_PID" 2>/dev/null || true; fi
  if [ -n "${EVENTS_PID:-}" ]; then kill "$EVENTS_PID" 2>/dev/null || true; fi
}
trap stop_all EXIT INT TERM

log "DynamoDB Local on port $DYNAMODB_LOCAL_PORT (data in .local/dynamodb)"
start_dynamodb_local "$DYNAMODB_LOCAL_PORT" "$ROOT/.local/dynamodb"
# Every binary, features resolved across the whole workspace: what `cargo lambda watch`
# runs (`cargo run --bin <function>` from the virtual workspace), so its first request of
# each function finds it built; `-p group-buy-functions` would build another variant.
cargo build --quiet --workspace --bins
"${OPERATOR[@]}" create-table
TOKEN=$("${OPERATOR[@]}" mint-jwt --sub demo-owner --handle "$DEMO_HANDLE")

log "lifecycle events to ${LOCAL_EVENTS_FILE#"$ROOT/"} (runner log: .local/events.log)"
mkdir -p "$(dirname "$LOCAL_EVENTS_FILE")"
"${OPERATOR[@]}" event-stream >>"$EVENTS_LOG" 2>&1 &
EVENTS_PID=$!

log "serving on http://127.0.0.1:$LOCAL_API_PORT (log: .local/api.log)"
mkdir -p "$(dirname "$API_LOG")"
: >"$API_LOG"
tail -n +1 -F "$API_LOG" >&2 &
TAIL_PID=$!
start_api "$LOCAL_API_PORT" "$API_LOG"
cat <<MSG

  A dev token for handle $DEMO_HANDLE (scopes group-buys:read group-buys:write, 8 h):

  export TOKEN=$TOKEN

  curl -s http://127.0.0.1:$LOCAL_API_PORT/v2/handles/$DEMO_HANDLE/group-buys -H "Authorization: Bearer \$TOKEN"

  The README has the whole walkthrough; for the debugging playbooks (docs/playbooks):

  export API=http://127.0.0.1:$LOCAL_API_PORT OPERATOR="target/debug/gharart-operator --local"

  Lifecycle events (GroupBuyPublished, ThresholdReached, ...) as they happen:

  tail -f ${LOCAL_EVENTS_FILE#"$ROOT/"}

  Ctrl-C stops the API, the event stream and DynamoDB Local.

MSG
wait "$API_PID"
