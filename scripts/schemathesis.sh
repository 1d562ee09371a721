#!/usr/bin/env bash
# Checks openapi.yaml against the API it describes: Schemathesis (PyPI, pinned, in a venv of its
# own) with all its checks against the real Lambda binaries served by `cargo lambda watch`, on
# a stack of its own (in-memory DynamoDB Local, a fresh table). Exits non-zero on any failure.
#
#   bash scripts/schemathesis.sh                 # as scripts/test.sh runs it
#   ST_MAX_TIME=30 ST_SEED=7 bash scripts/schemathesis.sh
#
# Bounded: at most ST_MAX_EXAMPLES (25) cases per operation and phase, and ST_MAX_TIME (150)
# seconds for the whole Schemathesis run. ST_SEED (20261124) makes a run reproducible.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
ST_VENV="$TOOLS/schemathesis"
ST="$ST_VENV/bin/st"
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-25}
MAX_TIME=${ST_MAX_TIME:-150}
SEED=${ST_SEED:-20261124}
# The examples of openapi.yaml's handle and groupBuySlug parameters: seeded below, so that the
# examples and coverage phases reach real group-buys, not only 403s and 404s.
HANDLE=acme-decor
SLUG=jute-rug-drop
STARTED=$SECONDS

# Idempotent: nothing to do when the pinned version is installed.
if ! { [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; }; then
  log "installing schemathesis $SCHEMATHESIS_VERSION in $ST_VENV"
  [ -x "$ST_VENV/bin/pip" ] || python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

start_local_stack schemathesis

# One credential for every route: an owner of $HANDLE (both scopes) who is also a platform
# admin. On the visitor routes (my-interest, support report) a valid JWT is a signed-in visitor
# (docs/contract.md, "Credentials"), so Schemathesis' one Authorization header serves all of them.
TOKEN=$("${OPERATOR[@]}" mint-jwt --sub schemathesis --handle "$HANDLE" --role platform-admin 2>/dev/null)

API_PORT=$(free_port)
API="http://127.0.0.1:$API_PORT"
API_LOG="$STATE/api.log"
log "API on $API (log: $API_LOG)"
start_api "$API_PORT" "$API_LOG" || { tail -n 50 "$API_LOG"; exit 1; }

# Every function once, before any generated request: Schemathesis would time a function's
# start under `cargo lambda watch`.
log "starting every function"
warm_up_functions "$API" "$API_LOG"

# Data for the generated requests to find: a published group-buy (and a draft) of $HANDLE.
# The first request to each function waits for `cargo lambda watch` to start it.
seed() {
  local method=$1 path=$2 body=${3:-} status
  status=$(curl -sS -o "$STATE/seed.out" -w '%{http_code}' -X "$method" "$API$path" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} --max-time 120)
  case "$status" in 2??) ;; *)
    log "seeding: $method $path answered $status"
    cat "$STATE/seed.out" >&2
    tail -n 30 "$API_LOG" >&2
    exit 1
    ;;
  esac
}
seed POST "/v2/handles/$HANDLE/group-buys" "{\"slug\":\"$SLUG\",\"title\":\"Jute rug\",
  \"currency\":\"INR\",\"unitPriceMinor\":249900,\"minParticipants\":2,\"maxParticipants\":40,
  \"maxQuantityPerParticipant\":3}"
seed POST "/v2/handles/$HANDLE/group-buys/$SLUG/publish"
seed PUT "/v2/public/group-buys/$HANDLE/$SLUG/my-interest" '{"quantity":2}'
seed POST "/v2/handles/$HANDLE/group-buys" '{"slug":"brass-lamp-draft","title":"Brass lamp",
  "currency":"EUR","unitPriceMinor":8999,"minParticipants":1}'

# What the checks cannot know, as narrowly as it can be said. Operation-level settings:
cat >"$STATE/schemathesis.toml" <<'TOML'
# positive_data_acceptance expects 2xx (or 401/403/404/409/429) for schema-valid data. A valid
# If-Match can be stale (412 VERSION_MISMATCH) and a valid Idempotency-Key can have been used
# before with another body (422 IDEMPOTENCY_KEY_REUSED): answers about the state, not the data.
[[operations]]
include-operation-id = ["publishGroupBuy", "pauseGroupBuy", "closeGroupBuy", "extendGroupBuy", "runDraw"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429", "5xx"]

[[operations]]
include-operation-id = ["createGroupBuy", "submitSupportReport"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
# A schema-violating body can also be too large: 413, a rejection like any other.
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
TOML
# Failures dropped one by one, on the exact answer that explains them:
cat >"$STATE/gharart_schemathesis_hooks.py" <<'PY'
import os
import re

import schemathesis

# Schema-valid, refused for a reason no JSON Schema can state (checked by the server, and by
# the integration tests): a time in the past, one field against another, a title without a
# single letter or digit to derive a slug from.
CROSS_FIELD = {
    ("closesAt", "must be in the future"),
    ("maxParticipants", "must not be less than minParticipants"),
    ("slug", "cannot be derived from this title; send a slug"),
    ("historyCursor", "needs include=history"),
    ("waitlistLimit", "needs maxParticipants: without a cap there is no waitlist"),
    ("drawAt", "must be in the future"),
    ("drawAt", "must not be after closesAt"),
    ("drawAt", "is only for allocation draw"),
    ("drawAt", "is required with allocation draw"),
    ("maxParticipants", "is required with allocation draw: it is the number of winners"),
}
# The same for fields whose name or message carries an index or a time: a price tier against
# the group-buy's price and cap or the tier before it, and an extension's closesAt against the
# stored deadline.
CROSS_FIELD_PATTERNS = [
    re.compile(r"priceTiers\[\d+\]\.unitPriceMinor: must be (below the group-buy's unitPriceMinor|less than the previous tier's)"),
    re.compile(r"priceTiers\[\d+\]\.minParticipants: must (not be more than maxParticipants|be greater than the previous tier's)"),
    re.compile(r"closesAt: must be later than the current deadline \S+"),
]


def _cross_field(field, message):
    return (field, message) in CROSS_FIELD or any(
        p.fullmatch(f"{field}: {message}") for p in CROSS_FIELD_PATTERNS
    )


def _not_utf8(body):
    if not isinstance(body, (bytes, bytearray)):
        return False
    try:
        bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _not_ascii(value):
    return isinstance(value, str) and not value.isascii()


def _problem(response):
    try:
        problem = response.json()
    except Exception:
        return {}
    return problem if isinstance(problem, dict) else {}


def _emulator_error(response):
    """`cargo lambda watch`'s own 500: its problem body, without the request id that every
    answer of the functions carries."""
    names = {name.lower() for name in (response.headers or {})}
    return (
        response.status_code == 500
        and "x-request-id" not in names
        and b"httpstatuses.com/500" in response.content
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # `cargo lambda watch` cannot carry a body that is not UTF-8, or a header value that is
    # not ASCII, to the function: it answers a 500 of its own (this body; the function never
    # sees the request, nothing is logged). API Gateway sends such a body base64-encoded and
    # the function answers 400 MALFORMED_JSON, and a non-ASCII Idempotency-Key is 400
    # INVALID_IDEMPOTENCY_KEY: tests/api/http_conventions.rs covers both in-process.
    if response.status_code == 500 and b"httpstatuses.com/500" in response.content:
        if _not_utf8(case.body) or any(_not_ascii(v) for v in (case.headers or {}).values()):
            return False
    # Rarely (about once in 5,000 requests) `cargo lambda watch` answers a 500 of its own to
    # a request that never reaches a function (no log line): the same request sent again is
    # answered by the function. Such a case is sent once more, and the failure stands unless
    # the second answer is the function's; each one dropped is counted in the script's output.
    # A function that crashes or panics answers the same way the second time, so it still fails.
    if _emulator_error(response):
        sent = {name.lower() for name in (case.headers or {})}
        # As the run sends it: the command line's Authorization, unless the case has its own.
        extra = {} if "authorization" in sent else {"Authorization": os.environ["GHARART_AUTH"]}
        again = case.call(base_url=os.environ["GHARART_API"], headers=extra)
        if not _emulator_error(again):
            with open(os.environ["GHARART_EMULATOR_ERRORS"], "a") as seen:
                seen.write(f"{case.method} {case.formatted_path}: {again.status_code}\n")
            return False
    # Methods no route has (TRACE, ...) never reach a function: `cargo lambda watch` answers
    # 404 (API Gateway, in production, too). Only that answer of the emulator is dropped.
    if failure.code == "ST204" and b"the default function route is disabled" in response.content:
        return False
    if failure.code == "ST202":  # positive_data_acceptance
        problem = _problem(response)
        code = problem.get("code")
        # `cursor` is opaque and sealed: only a nextCursor the server issued for the same
        # list is accepted, and no schema can generate one.
        if code == "INVALID_CURSOR" and any(k.lower().endswith("cursor") for k in (case.query or {})):
            return False
        # A quantity within 1..100 above this group-buy's maxQuantityPerParticipant.
        if code == "QUANTITY_NOT_ALLOWED":
            return False
        # A visitor challenge is signed by the service, and a nonce must solve it: no schema
        # can generate one (tests/api/visitor_passes.rs redeems real ones).
        if code == "CHALLENGE_FAILED" and case.operation.path == "/v2/public/visitor-passes":
            return False
        if code == "VALIDATION_FAILED":
            errors = {(e.get("field"), e.get("message")) for e in problem.get("errors", [])}
            if errors and all(_cross_field(*e) for e in errors):
                return False
    return True
PY

log "schemathesis $SCHEMATHESIS_VERSION: all checks, at most $MAX_EXAMPLES examples per operation, $MAX_TIME s, seed $SEED"
rc=0
# From $STATE: Schemathesis keeps a crash cache in ./.schemathesis, and reports go there too.
# --generation-database none: no .hypothesis directory either.
# --workers 1: Python 3.11 before 3.11.8 can fail ast.parse in concurrent threads
# ("AST constructor recursion depth mismatch"), which Hypothesis calls while generating.
EMULATOR_ERRORS="$STATE/emulator-errors.txt"
: >"$EMULATOR_ERRORS"
(cd "$STATE" && SCHEMATHESIS_HOOKS=gharart_schemathesis_hooks PYTHONPATH="$STATE" \
  GHARART_API="$API" GHARART_AUTH="Bearer $TOKEN" GHARART_EMULATOR_ERRORS="$EMULATOR_ERRORS" \
  "$ST" --config-file "$STATE/schemathesis.toml" run "$ROOT/openapi.yaml" \
  --url "$API" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --seed "$SEED" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  -H "Authorization: Bearer $TOKEN") 2>&1 | tee "$STATE/st.log" || rc=$?

# "Test cases:" of its summary, e.g. "1234 generated, 1234 passed".
cases=$(grep -A1 '^Test cases:' "$STATE/st.log" | tail -n 1 | sed 's/^ *//' || true)
if [ "$rc" -ne 0 ]; then
  cp "$API_LOG" "${TMPDIR:-/tmp}/gharart-schemathesis-api.log"
  log "schemathesis FAILED (exit $rc; test cases ${cases:-?}) after $((SECONDS - STARTED)) s; the API log (kept in ${TMPDIR:-/tmp}/gharart-schemathesis-api.log) ends with:"
  tail -n 30 "$API_LOG" >&2
  exit "$rc"
fi
if [ -s "$EMULATOR_ERRORS" ]; then
  log "cargo lambda watch's own 500, answered by the function when sent again ($(wc -l <"$EMULATOR_ERRORS")):"
  cat "$EMULATOR_ERRORS" >&2
fi
log "schemathesis passed: test cases ${cases:-?}; $((SECONDS - STARTED)) s in all"
