#!/usr/bin/env bash
# Checks that openapi.yaml is usable by a code generator, as a new user would try it:
# openapi-python-client (PyPI, pinned, in a venv of its own) generates a Python client from
# openapi.yaml (any generator warning fails the run), and tests/generated-client/walkthrough.py
# drives the walkthrough's owner lifecycle and public half (docs/walkthrough.md) through that
# client only, against the real Lambda binaries served by `cargo lambda watch`, on a stack of
# its own (in-memory DynamoDB Local, a fresh table). Exits non-zero on any failure.
#
#   bash scripts/generated-client.sh
#
# The generated package is written to target/generated-client/gharart_client (replaced on
# every run; look at it there).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

GENERATOR_VERSION=0.29.1
VENV="$TOOLS/openapi-client"
GENERATOR="$VENV/bin/openapi-python-client"
OUT="$ROOT/target/generated-client"
HANDLE=acme-decor
STARTED=$SECONDS

# Idempotent: nothing to do when the pinned version is installed.
if ! { [ -x "$GENERATOR" ] &&
  "$GENERATOR" --version 2>/dev/null | grep -qx "openapi-python-client version: $GENERATOR_VERSION"; }; then
  log "installing openapi-python-client $GENERATOR_VERSION in $VENV"
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "openapi-python-client==$GENERATOR_VERSION"
fi

log "generating the client from openapi.yaml (openapi-python-client $GENERATOR_VERSION)"
mkdir -p "$OUT"
# --meta none: the bare package, imported through PYTHONPATH; its dependencies (httpx, attrs)
# are the generator's own, already in the venv. The post-generation hooks run ruff, also in
# the venv (hence PATH), offline.
PATH="$VENV/bin:$PATH" "$GENERATOR" generate \
  --path "$ROOT/openapi.yaml" \
  --config "$ROOT/tests/generated-client/config.yaml" \
  --meta none \
  --output-path "$OUT/gharart_client" \
  --overwrite \
  --fail-on-warning
# Imports every module: a generated file that does not even load fails here, not mid-walkthrough.
PYTHONPATH="$OUT" "$VENV/bin/python" -c '
import importlib, pkgutil, gharart_client, gharart_client.api.default as api, gharart_client.models
names = [m.name for m in pkgutil.iter_modules(api.__path__)]
for name in names:
    importlib.import_module(f"gharart_client.api.default.{name}")
print(f"  {len(names)} operations:", " ".join(sorted(names)))
'

start_local_stack generated-client
TOKEN=$("${OPERATOR[@]}" mint-jwt --handle "$HANDLE")

API_PORT=$(free_port)
API="http://127.0.0.1:$API_PORT"
API_LOG="$STATE/api.log"
log "API on $API (log: $API_LOG)"
start_api "$API_PORT" "$API_LOG" || { tail -n 50 "$API_LOG"; exit 1; }

log "the walkthrough's owner lifecycle and public half through the generated client"
if ! API="$API" TOKEN="$TOKEN" HANDLE="$HANDLE" PYTHONPATH="$OUT" \
  "$VENV/bin/python" "$ROOT/tests/generated-client/walkthrough.py"; then
  log "the walkthrough FAILED after $((SECONDS - STARTED)) s; the API log ends with:"
  tail -n 40 "$API_LOG" >&2
  exit 1
fi
log "generated client passed in $((SECONDS - STARTED)) s"
