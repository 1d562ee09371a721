#!/usr/bin/env bash
# Lints openapi.yaml with Redocly CLI's recommended rules (pinned in tools/openapi-lint, installed
# there by `npm ci` when missing or stale): an error or a warning fails it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

LINT="$ROOT/tools/openapi-lint"
# The lock file installed last is kept beside the install: a changed pin installs again.
if ! cmp -s "$LINT/package-lock.json" "$LINT/node_modules/.installed-lock.json" 2>/dev/null; then
  log "installing Redocly CLI (npm, pinned in tools/openapi-lint)"
  npm ci --prefix "$LINT" --no-audit --no-fund --loglevel=error
  cp "$LINT/package-lock.json" "$LINT/node_modules/.installed-lock.json"
fi
# No telemetry, no update check: the test command talks to nothing it does not need.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
"$LINT/node_modules/.bin/redocly" lint openapi.yaml --max-problems 50 --format stylish
