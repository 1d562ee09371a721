#!/usr/bin/env bash
# The one command to serve the API locally: installs what is missing, starts DynamoDB Local
# (data kept in .local/dynamodb), creates the table, prints a dev token, and serves every
# route at its real path on http://127.0.0.1:$LOCAL_API_PORT. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh"

export LOCAL_API_PORT="${LOCAL_API_PORT:-9000}"
export DYNAMODB_LOCAL_PORT="${DYNAMODB_LOCAL_PORT:-8000}"
export TABLE_NAME="${TABLE_NAME:-gharart-group-buys-local}"
export DYNAMODB_ENDPOINT="${DYNAMODB_ENDPOINT:-http://127.0.0.1:$DYNAMODB_LOCAL_PORT}"
DEMO_HANDLE="${DEMO_HANDLE:-acme-decor}"

trap stop_services EXIT INT TERM

log "DynamoDB Local on port $DYNAMODB_LOCAL_PORT (data in .local/dynamodb)"
start_dynamodb_local "$DYNAMODB_LOCAL_PORT" "$ROOT/.local/dynamodb"
cargo build --quiet -p group-buy-functions -p gharart-operator
cargo run --quiet -p gharart-operator -- create-table
TOKEN=$(cargo run --quiet -p gharart-operator -- mint-jwt --sub demo-owner --handle "$DEMO_HANDLE")

log "serving on http://127.0.0.1:$LOCAL_API_PORT"
start_api "$LOCAL_API_PORT"
cat <<MSG

  A dev token for handle $DEMO_HANDLE (scopes group-buys:read group-buys:write, 8 h):

  export TOKEN=$TOKEN

  curl -s http://127.0.0.1:$LOCAL_API_PORT/v2/handles/$DEMO_HANDLE/group-buys -H "Authorization: Bearer \$TOKEN"

  The README has the whole walkthrough. Ctrl-C stops the API and DynamoDB Local.

MSG
wait "$API_PID"
