#!/usr/bin/env bash
# The web front end's tests (docs/web.md), self-contained: builds the bundle from the contract
# (types generated from openapi.yaml, `tsc --noEmit`, esbuild), then starts a local stack of
# its own on free ports — DynamoDB Local in memory with a fresh table, the table's event-stream
# runner, the API (`cargo lambda watch`) verifying the local OIDC provider's RS256 tokens
# through its JWKS, the OIDC provider (web/oidc.mjs) and the console server (web/server.mjs) —
# and runs the Playwright tests in Debian's headless Chromium (/usr/bin/chromium; nothing
# downloads a browser): sign-in, create, publish, the widget, refused close, admin flags,
# pause, extend, CSV, draw, support report, axe on every page, and the budgets.
#
#   bash scripts/web-test.sh                 # everything
#   bash scripts/web-test.sh tests/unit.spec.ts   # arguments go to `playwright test`
#
# The end-to-end tests are one story, run in order (each builds on the last): run them whole.
#
# Screenshots of every page at 360 and 1280 px, and budgets.json (the measured budgets), go to
# target/web-screenshots/; a failed test's trace to target/web-test-results/. Everything it
# starts is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WEB="$ROOT/web"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM_PATH" ] || {
  log "no Chromium at $CHROMIUM_PATH; run scripts/bootstrap.sh test (it installs Debian's chromium)"
  exit 1
}
# The web dependencies, when missing or stale (scripts/bootstrap.sh installs them the same way).
if ! cmp -s "$WEB/package-lock.json" "$WEB/node_modules/.installed-lock.json" 2>/dev/null; then
  log "installing the web dependencies (npm ci, pinned in web/package-lock.json)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$WEB" --no-audit --no-fund --loglevel=error
  cp "$WEB/package-lock.json" "$WEB/node_modules/.installed-lock.json"
fi

log "web: types from openapi.yaml, tsc --noEmit, esbuild"
npm run --prefix "$WEB" --silent build

start_local_stack web
WEB_PIDS=()
stop_web() {
  local pid
  for pid in "${WEB_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # cargo-lambda may start a session of its own, which `kill -- -$API_PID` does not reach:
  # the API's whole tree by parentage first.
  if [ -n "${API_PID:-}" ]; then kill_tree "$API_PID"; fi
}
# start_local_stack's trap, with the web's processes stopped first; the run's status is handed
# on through $? (with errexit off: a failed run's `(exit 1)` must not end the trap early).
trap 'status=$?; stop_web; set +e; (exit "$status"); stop_local_stack' EXIT

API_PORT=$(free_port)
OIDC_PORT=$(free_port)
CONSOLE_PORT=$(free_port)
export LOCAL_API_PORT=$API_PORT LOCAL_OIDC_PORT=$OIDC_PORT LOCAL_CONSOLE_PORT=$CONSOLE_PORT
export JWT_ISSUER="http://127.0.0.1:$OIDC_PORT" JWT_AUDIENCE=gharart-group-buys-local
export VISITOR_PASS_DIFFICULTY=8
# The storefront of another origin (the demo page at localhost, the API at 127.0.0.1), whose
# widget the browser tests drive through CORS.
export STOREFRONT_ORIGINS="http://localhost:$CONSOLE_PORT"
export LOCAL_EVENTS_FILE="$STATE/events.jsonl"
export DEMO_HANDLE=acme-decor

log "lifecycle events to $LOCAL_EVENTS_FILE"
"${OPERATOR[@]}" event-stream >>"$STATE/events.log" 2>&1 &
WEB_PIDS+=($!)

log "OIDC provider on http://127.0.0.1:$OIDC_PORT (log: $STATE/oidc.log)"
node "$WEB/oidc.mjs" >>"$STATE/oidc.log" 2>&1 &
WEB_PIDS+=($!)
log "console on http://127.0.0.1:$CONSOLE_PORT (log: $STATE/web.log)"
node "$WEB/server.mjs" >>"$STATE/web.log" 2>&1 &
WEB_PIDS+=($!)

API_LOG="$STATE/api.log"
log "API on http://127.0.0.1:$API_PORT, verifying $JWT_ISSUER's tokens (log: $API_LOG)"
start_api "$API_PORT" "$API_LOG"
# Every function once, before the browser: the tests' timeouts should not have to absorb a
# function's start under `cargo lambda watch`.
log "starting every function"
warm_up_functions "http://127.0.0.1:$API_PORT" "$API_LOG"
for port in "$OIDC_PORT" "$CONSOLE_PORT"; do
  wait_for_port "$port" 30 || {
    log "nothing listens on port $port"
    tail -n 20 "$STATE/oidc.log" "$STATE/web.log" >&2
    exit 1
  }
done

SCREENSHOT_DIR="$ROOT/target/web-screenshots"
rm -rf "$SCREENSHOT_DIR"
mkdir -p "$SCREENSHOT_DIR"
log "browser tests (Playwright, $CHROMIUM_PATH, headless)"
status=0
(
  cd "$WEB"
  CONSOLE_URL="http://127.0.0.1:$CONSOLE_PORT" SCREENSHOT_DIR="$SCREENSHOT_DIR" \
    CHROMIUM_PATH="$CHROMIUM_PATH" WEB_TEST_OUTPUT="$ROOT/target/web-test-results" \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    node_modules/.bin/playwright test "$@"
) || status=$?
if [ "$status" != 0 ]; then
  log "browser tests failed; the API's last lines:"
  tail -n 30 "$API_LOG" >&2 || true
fi
if [ -f "$SCREENSHOT_DIR/budgets.json" ]; then
  log "budgets measured (target/web-screenshots/budgets.json): $(tr -d '\n ' <"$SCREENSHOT_DIR/budgets.json")"
fi
log "screenshots: $(find "$SCREENSHOT_DIR" -name '*.png' | wc -l) in target/web-screenshots/"
exit "$status"
