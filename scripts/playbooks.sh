#!/usr/bin/env bash
# Runs the executable docs as tests: every ```bash playbook or ```bash walkthrough block of a
# Markdown file, in order, as one script, against a local stack of the runner's own (DynamoDB
# Local on disk in a temporary directory, the table's event stream followed as scripts/dev.sh
# follows it, and `cargo lambda watch`), stopping at the first failed command or `check`.
# Everything it starts is stopped on exit.
#
#   bash scripts/playbooks.sh                                        # every playbook
#   bash scripts/playbooks.sh docs/playbooks/05-daily-write-limit.md # some
#   bash scripts/playbooks.sh docs/walkthrough.md                    # the walkthrough
#
# The playbooks (docs/playbooks/) run with a small daily write limit per handle, which one of
# them reaches; any other file runs with the service's defaults, as scripts/dev.sh serves it.
# The two are not mixed in one run.
#
# Each file runs in its own bash with `set -euo pipefail` from the repository root and the
# variables scripts/dev.sh's banner prints: API (base URL), TOKEN (an owner JWT of acme-decor,
# as dev.sh mints it), OPERATOR (the operator tool with --local), DYNAMODB_ENDPOINT and
# TABLE_NAME (the table), API_LOG (the API's log) and LOCAL_EVENTS_FILE (the lifecycle
# events); besides those API_PORT, DYNAMODB_LOCAL (`$DYNAMODB_LOCAL stop|start` takes
# DynamoDB Local away and brings it back, data kept) and EVENT_STREAM (`$EVENT_STREAM
# stop|start` stops the event runner and starts it again, with the LOCAL_EVENTS_REFUSE of the
# caller's environment: playbook 8's fault).
# PLAYBOOKS_VERBOSE=1 streams each file's transcript; otherwise it is shown on failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# kill_pid_file FILE: stops the process whose pid FILE holds, if any, and removes FILE. The
# pids of what a playbook may stop and start live in files, since a playbook's shell cannot
# hand one back to the runner.
kill_pid_file() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$1"
}

# `scripts/playbooks.sh dynamodb stop|start`: what $DYNAMODB_LOCAL runs inside a playbook.
dynamodb_control() {
  local pid_file="$PLAYBOOK_STATE/dynamodb.pid"
  case "${1:-}" in
    stop)
      kill_pid_file "$pid_file"
      for _ in $(seq 1 100); do
        if ! (echo >"/dev/tcp/127.0.0.1/$PLAYBOOK_DYNAMODB_PORT") 2>/dev/null; then
          log "DynamoDB Local stopped"
          return 0
        fi
        sleep 0.1
      done
      log "DynamoDB Local did not stop"
      return 1
      ;;
    start)
      start_dynamodb_local "$PLAYBOOK_DYNAMODB_PORT" "$PLAYBOOK_STATE/dynamodb"
      echo "$DYNAMODB_LOCAL_PID" >"$pid_file"
      # Tracked by the file only: after a playbook restarts it, this pid is stale, and
      # stop_services must not kill whatever process has it by then.
      unset DYNAMODB_LOCAL_PID
      log "DynamoDB Local is back on port $PLAYBOOK_DYNAMODB_PORT"
      ;;
    *)
      echo "usage: scripts/playbooks.sh dynamodb stop|start" >&2
      return 2
      ;;
  esac
}

# `scripts/playbooks.sh event-stream stop|start`: what $EVENT_STREAM runs inside a playbook.
event_stream_control() {
  local pid_file="$PLAYBOOK_STATE/events.pid"
  case "${1:-}" in
    stop)
      kill_pid_file "$pid_file"
      log "event runner stopped"
      ;;
    start)
      target/debug/gharart-operator --local event-stream >>"$PLAYBOOK_STATE/events.log" 2>&1 &
      echo $! >"$pid_file"
      log "event runner started${LOCAL_EVENTS_REFUSE:+, refusing $LOCAL_EVENTS_REFUSE}"
      ;;
    *)
      echo "usage: scripts/playbooks.sh event-stream stop|start" >&2
      return 2
      ;;
  esac
}

if [ "${1:-}" = dynamodb ]; then
  : "${PLAYBOOK_STATE:?only inside a playbook run by scripts/playbooks.sh}"
  dynamodb_control "${2:-}"
  exit
fi
if [ "${1:-}" = event-stream ]; then
  : "${PLAYBOOK_STATE:?only inside a playbook run by scripts/playbooks.sh}"
  event_stream_control "${2:-}"
  exit
fi

# extract FILE: the file's marked blocks as one script, each announced with its line.
extract() {
  awk -v file="$1" '
    /^[[:space:]]*```bash (playbook|walkthrough)[[:space:]]*$/ {
      inside = 1; blocks++
      printf "printf %s >&2\n", "\"\\n--- " file " line " NR ": block " blocks "\\n\""
      next
    }
    inside && /^[[:space:]]*```[[:space:]]*$/ { inside = 0; next }
    inside { print }
    END {
      if (inside) { print "unterminated ```bash block in " file > "/dev/stderr"; exit 1 }
      if (!blocks) exit 3
    }' "$1"
}

STARTED=$SECONDS
PLAYBOOK_STATE=$(mktemp -d "${TMPDIR:-/tmp}/gharart-playbooks.XXXXXX")
export PLAYBOOK_STATE

cleanup() {
  local status=$?
  # timeout passes the signal on to the playbook it runs.
  if [ -n "${PLAYBOOK_PID:-}" ]; then kill "$PLAYBOOK_PID" 2>/dev/null || true; fi
  stop_services
  kill_pid_file "$PLAYBOOK_STATE/events.pid"
  kill_pid_file "$PLAYBOOK_STATE/dynamodb.pid"
  # DynamoDB Local writes its files until it exits; give it a moment before removing them.
  sleep 0.2
  rm -rf "$PLAYBOOK_STATE"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $# -gt 0 ]; then playbooks=("$@"); else playbooks=(docs/playbooks/[0-9]*.md); fi
kinds=0
for playbook in "${playbooks[@]}"; do
  [ -f "$playbook" ] || { log "no such file: $playbook"; exit 2; }
  case "$playbook" in
    docs/playbooks/* | ./docs/playbooks/*) kinds=$((kinds | 1)) ;;
    *) kinds=$((kinds | 2)) ;;
  esac
done
if [ "$kinds" -eq 3 ]; then
  log "run the playbooks (docs/playbooks/) and other files in separate runs: their limits differ"
  exit 2
fi

log "building the functions and the operator tool (cargo build --workspace --bins)"
# Every binary, features resolved across the whole workspace: what `cargo lambda watch`
# runs (`cargo run --bin <function>` from the virtual workspace), so its first request of
# each function finds it built; `-p group-buy-functions` would build another variant.
cargo build --quiet --locked --workspace --bins

PLAYBOOK_DYNAMODB_PORT=$(free_port)
export PLAYBOOK_DYNAMODB_PORT
log "DynamoDB Local on port $PLAYBOOK_DYNAMODB_PORT (data in $PLAYBOOK_STATE/dynamodb)"
dynamodb_control start
export DYNAMODB_ENDPOINT="http://127.0.0.1:$PLAYBOOK_DYNAMODB_PORT"
TABLE_NAME="playbooks-$(date +%s)"
export TABLE_NAME
operator=(target/debug/gharart-operator --local)
"${operator[@]}" create-table >/dev/null
# As scripts/dev.sh's banner exports them (the path is relative to the repository root).
# shellcheck disable=SC2178 # a string here, unlike start_local_stack's array in lib.sh
export OPERATOR="${operator[*]}"
TOKEN=$("${operator[@]}" mint-jwt --sub demo-owner --handle acme-decor 2>/dev/null)
export TOKEN

if [ "$kinds" -eq 1 ]; then
  # Small enough for the daily-limit playbook to reach it in a few requests; every other
  # playbook uses a handle of its own and stays below it.
  export DAILY_WRITE_LIMIT_PER_HANDLE=5
fi
# A revoked token, a refused report: nothing here waits on the PAT cache.
export PAT_CACHE_SECONDS=2

export LOCAL_EVENTS_FILE="$PLAYBOOK_STATE/events.jsonl"
event_stream_control start

if [ "$kinds" -eq 2 ]; then
  # The deployed schedule's work, as scripts/dev.sh runs it. Not for the playbooks: playbook
  # 06 drills a stage whose schedule is not running, and runs the expiry itself.
  export LOCAL_SCHEDULE_SECONDS="${LOCAL_SCHEDULE_SECONDS:-5}"
  start_schedule "$PLAYBOOK_STATE/schedule.log"
fi

API_PORT=$(free_port)
API_LOG="$PLAYBOOK_STATE/api.log"
export API_PORT API_LOG API="http://127.0.0.1:$API_PORT"
export DYNAMODB_LOCAL="bash $ROOT/scripts/playbooks.sh dynamodb"
export EVENT_STREAM="bash $ROOT/scripts/playbooks.sh event-stream"
log "API on $API (log: $API_LOG)"
start_api "$API_PORT" "$API_LOG" || { tail -n 50 "$API_LOG"; exit 1; }

failed=0
for playbook in "${playbooks[@]}"; do
  script="$PLAYBOOK_STATE/$(basename "$playbook" .md).sh"
  transcript="$PLAYBOOK_STATE/$(basename "$playbook" .md).log"
  rc=0
  { echo "set -euo pipefail"; extract "$playbook"; } >"$script" || rc=$?
  if [ "$rc" -eq 3 ]; then continue; fi # no marked block: nothing to run (the index)
  [ "$rc" -eq 0 ] || { log "FAILED to read $playbook"; failed=1; break; }
  started=$SECONDS
  log "playbook $playbook"
  # In the background and waited for: bash runs the INT/TERM trap only once a foreground
  # child has ended, but interrupts `wait` at once.
  timeout "${PLAYBOOK_TIMEOUT:-240}" bash "$script" >"$transcript" 2>&1 &
  PLAYBOOK_PID=$!
  TAIL_PID=
  if [ "${PLAYBOOKS_VERBOSE:-0}" = 1 ]; then
    tail -n +1 -f --pid="$PLAYBOOK_PID" "$transcript" &
    TAIL_PID=$!
  fi
  wait "$PLAYBOOK_PID" || rc=$?
  PLAYBOOK_PID=
  # The verbose tail prints the transcript's last lines before the verdict.
  if [ -n "$TAIL_PID" ]; then wait "$TAIL_PID" || true; fi
  if [ "$rc" -ne 0 ]; then
    log "FAILED $playbook (exit $rc after $((SECONDS - started)) s); its transcript ends with:"
    tail -n 60 "$transcript" >&2
    log "the API log ends with:"
    tail -n 30 "$API_LOG" >&2
    failed=1
    break
  fi
  log "ok $playbook ($((SECONDS - started)) s)"
done

[ "$failed" -eq 0 ] || exit 1
log "all ${#playbooks[@]} passed in $((SECONDS - STARTED)) s"
