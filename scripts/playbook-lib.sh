# Helpers for the executable docs (docs/walkthrough.md, docs/playbooks/): `source
# scripts/playbook-lib.sh` from the repository root, then `call` the API and `check` what it
# answered. Only curl and python3 are needed (no jq). scripts/playbooks.sh runs those docs
# with these, and the variables scripts/dev.sh's banner prints.
# shellcheck shell=bash

# cargo-lambda (for `cargo lambda invoke`) is installed in .tools/venv by scripts/bootstrap.sh.
if [ -d .tools/venv/bin ]; then PATH="$PWD/.tools/venv/bin:$PATH"; fi

: "${API:=http://127.0.0.1:${LOCAL_API_PORT:-9000}}"
# Where the local API's log lines go: scripts/dev.sh and scripts/playbooks.sh both write one.
: "${API_LOG:=.local/${LOCAL_API_PORT:-9000}/api.log}"
# Where the local lifecycle events go (scripts/dev.sh, scripts/playbooks.sh).
: "${LOCAL_EVENTS_FILE:=.local/${LOCAL_API_PORT:-9000}/events.jsonl}"

# call METHOD URL [CURL_OPTION...]: sends one request with `curl -sS` and sets `status`,
# `body`, `headers` and `request_id` (the x-request-id to quote in logs and support reports).
# Prints a one-line summary (method, path, status, request id) and the body on stderr, so a
# run's output reads as a transcript.
call() {
  local method=$1 url=$2 body_file header_file
  shift 2
  body_file=$(mktemp) header_file=$(mktemp)
  if ! status=$(curl -sS -o "$body_file" -D "$header_file" -w '%{http_code}' -X "$method" "$url" "$@"); then
    rm -f "$body_file" "$header_file"
    echo "call: curl could not reach $url" >&2
    return 1
  fi
  body=$(cat "$body_file")
  headers=$(tr -d '\r' <"$header_file")
  rm -f "$body_file" "$header_file"
  request_id=$(header x-request-id)
  printf '%s %s -> %s (x-request-id: %s)\n' "$method" "${url#"$API"}" "$status" "${request_id:--}" >&2
  if [ -n "$body" ]; then printf '  %s\n' "${body:0:600}" >&2; fi
}

# visitor_pass: a new visitor pass, obtained as a storefront's browser does: a challenge from
# POST /v2/public/visitor-challenges, solved (the first nonce 0, 1, 2, … whose SHA-256 of
# salt + nonce starts with the zero bits asked for), redeemed at POST /v2/public/visitor-passes.
# Prints the pass, for `-H "X-Visitor-Pass: $(visitor_pass)"`; never logs it.
visitor_pass() {
  local challenge redeemed
  challenge=$(curl -sS -f -X POST "$API/v2/public/visitor-challenges") \
    || { echo "visitor_pass: no challenge from $API" >&2; return 1; }
  redeemed=$(python3 -c '
import hashlib, json, sys
c = json.loads(sys.argv[1])
salt, bits, nonce = c["salt"], c["difficulty"], 0
while int.from_bytes(hashlib.sha256((salt + str(nonce)).encode()).digest(), "big") >> (256 - bits):
    nonce += 1
print(json.dumps({"challenge": c["challenge"], "nonce": str(nonce)}))
' "$challenge" | curl -sS -f -X POST "$API/v2/public/visitor-passes" \
    -H 'Content-Type: application/json' --data-binary @-) \
    || { echo "visitor_pass: the challenge was not redeemed" >&2; return 1; }
  json visitorPass "$redeemed"
}

# header NAME: the value of a header of the last response (case-insensitive name).
header() {
  printf '%s\n' "$headers" | awk -v name="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
    { split($0, kv, ":"); if (tolower(kv[1]) == name) { sub(/^[^:]*:[ \t]*/, ""); value = $0 } }
    END { print value }'
}

# json PATH [JSON]: a value of the last body (or of JSON), by a dotted path such as
# `groupBuy.participantCount` or `items.0.slug` (negative indexes count from the end).
# Strings print raw; numbers, booleans, null, objects and arrays print as JSON.
json() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[2])
for part in filter(None, sys.argv[1].split(".")):
    value = value[int(part)] if isinstance(value, list) else value.get(part)
print(value if isinstance(value, str) else json.dumps(value))
' "$1" "${2:-$body}"
}

# json_len PATH [JSON]: the length of an array (or object) of the last body.
json_len() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[2])
for part in filter(None, sys.argv[1].split(".")):
    value = value[int(part)] if isinstance(value, list) else value.get(part)
print(len(value))
' "$1" "${2:-$body}"
}

# json_sum PATH FIELD [JSON]: the sum of FIELD over the array at PATH of the last body.
json_sum() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[3])
for part in filter(None, sys.argv[1].split(".")):
    value = value[int(part)] if isinstance(value, list) else value.get(part)
print(sum(item.get(sys.argv[2], 0) for item in value))
' "$1" "$2" "${3:-$body}"
}

# check ARGS...: `test ARGS`, saying what failed (and the last response) when it does not hold.
check() {
  if ! test "$@"; then
    printf 'check failed: test %s\n' "$*" >&2
    printf 'last response: %s %s\n' "${status:-}" "${body:-}" >&2
    return 1
  fi
}

# local_log REQUEST_ID: the local API's log lines of one request (the per-request line and
# any error line), the local stand-in for the `request-by-id` Logs Insights query. Waits a
# little: the log line can reach the file just after the response.
local_log() {
  local i
  for ((i = 0; i < 30; i++)); do
    if grep -F "\"requestId\":\"$1\"" "$API_LOG" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "local_log: no line with requestId $1 in $API_LOG" >&2
  return 1
}

# log_field REQUEST_ID FIELD: one field of a request's per-request log line ("message":"request").
log_field() {
  local_log "$1" | grep -F '"message":"request"' | tail -n 1 | python3 -c '
import json, sys
value = json.loads(sys.stdin.read()).get(sys.argv[1])
print(value if isinstance(value, str) else json.dumps(value))
' "$2"
}

# utc_in SECONDS: the time SECONDS from now, as the API writes times (RFC 3339, ms, UTC).
utc_in() {
  python3 -c '
import datetime, sys
at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(sys.argv[1]))
print(at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z")
' "$1"
}

# sleep_until TIME: waits until an RFC 3339 time has passed.
sleep_until() {
  python3 -c '
import datetime, sys, time
at = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
time.sleep(max(0.0, (at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()))
' "$1"
}

# events SLUG [COUNT]: the lifecycle events of one group-buy in $LOCAL_EVENTS_FILE, one line
# each (detail-type, then participantCount and outcome where the event has them), in the
# order they were appended. With COUNT, first waits up to 10 s for that many: the runner
# appends an event within a second or so of its write.
events() {
  python3 -c '
import json, sys, time
path, slug, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 10
while True:
    lines = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                detail = event.get("detail", {})
                if detail.get("slug") == slug:
                    fields = [event.get("detail-type")]
                    fields += [str(detail[k]) for k in ("participantCount", "outcome") if k in detail]
                    lines.append(" ".join(fields))
    except FileNotFoundError:
        pass
    if len(lines) >= want or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print("\n".join(lines))
if len(lines) < want:
    sys.exit("events: %d of %d events of %s in %s" % (len(lines), want, slug, path))
' "$LOCAL_EVENTS_FILE" "$1" "${2:-0}"
}

# utc_days N: 18:30 UTC, N days from today, as the API writes times (a deadline that reads
# the same in every run, whatever the time of day).
utc_days() {
  python3 -c '
import datetime, sys
day = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=int(sys.argv[1]))
print(day.isoformat() + "T18:30:00.000Z")
' "$1"
}
