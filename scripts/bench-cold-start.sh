#!/usr/bin/env bash
# Cold-start bench of GET /v2/public/group-buys/{handle}/{groupBuySlug} (docs/benchmarks.md, "Cold start").
#
#   sudo scripts/bench-cold-start.sh [--runs 10] [--warm 20] [--binary LABEL=PATH]...
#                                    [--no-python] [--no-quota] [--no-tls] [--route pass]
#                                    [--secret]
#
# --secret runs the Rust function as a deployed stage does: STAGE=dev and SECRET_ID, its keys
# read at init from Secrets Manager (moto's server, from scripts/bootstrap.sh test; behind the
# same socat TLS as DynamoDB in the TLS conditions): what reading the secret adds to init.
# It implies --no-python (the Python function reads no secret).
#
# --route pass benches POST /v2/public/visitor-passes instead (issue-visitor-pass, Rust only):
# every event a fresh challenge signed by bench.py under the dev server key and solved, so
# that each is a first redemption (one conditional PutItem), answered 201.
#
# A release build of get-public-group-buy for this machine (x86-64 is fine: the bench compares
# configurations on one machine) and a Python 3 function doing the same read with boto3 and
# AWS Lambda Powertools (tools/cold-start-bench/python-function, run by awslambdaric from a
# venv in .tools/cold-start-bench), each started `--runs` times against a Lambda Runtime API
# on loopback (tools/cold-start-bench/bench.py, on tools/runtime-api-stub/stub.py): init, the
# first event, `--warm` warm events, CPU and peak RSS; medians, and Python-to-Rust ratios.
#
# Four conditions each: full CPU or the CPU share of a 128 MB function (a cgroup v1 CPU quota
# of 7.2 % of one core: 7200 us per 100000 us period), and DynamoDB Local over plain HTTP or
# over TLS (socat terminating TLS 1.3 with a certificate chain this script makes: a root CA,
# an intermediate and a leaf for localhost, RSA 2048 like DynamoDB's own; the root joins the
# system's roots in a bundle boto3 trusts (AWS_CA_BUNDLE), and the Rust function trusts it as
# DYNAMODB_CA_FILE besides Amazon's roots; builds that loaded the system's roots get the bundle
# as SSL_CERT_FILE).
#
# --binary LABEL=PATH benches that bootstrap instead of building one (repeatable: compare an
# older build with the current one in one session). Results: target/cold-start-bench/<time>/
# (results.jsonl, report.md, the functions' output). Needs root for the cgroup (or --no-quota).
#
# Measured on the 2-core machine: about 5 minutes with the defaults (the Python function's
# cold starts under the quota take seconds each).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

RUNS=10 WARM=20 PYTHON_SIDE=1 QUOTA=1 TLS=1 ROUTE=get FUNCTION=get-public-group-buy SECRET=0
BINARIES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --warm) WARM=$2; shift 2 ;;
    --binary) BINARIES+=("$2"); shift 2 ;;
    --no-python) PYTHON_SIDE=0; shift ;;
    --no-quota) QUOTA=0; shift ;;
    --no-tls) TLS=0; shift ;;
    --secret) SECRET=1 PYTHON_SIDE=0; shift ;;
    --route)
      case "$2" in
        get) ROUTE=get FUNCTION=get-public-group-buy ;;
        pass) ROUTE=pass FUNCTION=issue-visitor-pass PYTHON_SIDE=0 ;;
        *) log "--route is get or pass"; exit 2 ;;
      esac
      shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done

for tool in socat openssl java; do
  command -v "$tool" >/dev/null || { log "missing $tool (apt-get install socat openssl; scripts/bootstrap.sh for java)"; exit 1; }
done
if [ "$QUOTA" = 1 ] && [ ! -w /sys/fs/cgroup/cpu ]; then
  log "the CPU quota needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu (or --no-quota)"
  exit 1
fi

OUT="$ROOT/target/cold-start-bench/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
SOCAT_PID="" CGROUP="" MOTO_PID="" SECRETS_SOCAT_PID=""
cleanup() {
  for pid in "$SOCAT_PID" "$MOTO_PID" "$SECRETS_SOCAT_PID"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  stop_services
  # The cgroup can go once its processes have (bench.py kills each function it started).
  if [ -n "$CGROUP" ]; then rmdir "$CGROUP" 2>/dev/null || true; fi
}
trap cleanup EXIT

# --- the functions -------------------------------------------------------------------------------
if [ ${#BINARIES[@]} -eq 0 ]; then
  log "cargo build --release --bin $FUNCTION (this machine's target)"
  cargo build --quiet --locked --release -p group-buy-functions --bin "$FUNCTION"
  BINARIES=("rust=$ROOT/target/release/$FUNCTION")
fi
log "building the seeding tools (debug: gharart-operator, create-group-buy, publish-group-buy)"
cargo build --quiet --locked -p gharart-operator -p group-buy-functions --bin create-group-buy --bin publish-group-buy

VENV="$TOOLS/cold-start-bench"
REQUIREMENTS="$ROOT/tools/cold-start-bench/python-function/requirements.txt"
if [ "$PYTHON_SIDE" = 1 ] && ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt" 2>/dev/null; then
  # Python 3.13, as Lambda's python3.13 runtime, when the machine has it (pyenv's too).
  python=""
  for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 python3; do
    if "$candidate" --version >/dev/null 2>&1; then python=$candidate; break; fi
  done
  log "Python function's venv in $VENV ($("$python" --version); pinned in $REQUIREMENTS)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi
if [ "$PYTHON_SIDE" = 1 ]; then "$VENV/bin/pip" freeze >"$OUT/python-packages.txt"; fi

# --- DynamoDB Local, its table and one published group-buy -------------------------------------
DYNAMODB_PORT=$(free_port)
log "DynamoDB Local on port $DYNAMODB_PORT (in memory)"
start_dynamodb_local "$DYNAMODB_PORT"
TABLE_NAME="cold-start-$(date +%s)"
HANDLE=acme-decor SLUG=brass-lamp-cold-start
# DynamoDB Local keeps tables per access key and region: every process here uses these.
AWS_ENV=(AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=ASIACOLDSTARTBENCH00
  AWS_SECRET_ACCESS_KEY=coldstartbench AWS_SESSION_TOKEN=coldstartbench)
local_env=(env -u STAGE -u JWT_HS256_SECRET -u JWT_JWKS -u VISITOR_HASH_KEY "${AWS_ENV[@]}"
  TABLE_NAME="$TABLE_NAME" DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT")
"${local_env[@]}" target/debug/gharart-operator --local create-table >/dev/null
TOKEN=$("${local_env[@]}" target/debug/gharart-operator --local mint-jwt --handle "$HANDLE")
python3 tools/cold-start-bench/bench.py events --token "$TOKEN" --handle "$HANDLE" --slug "$SLUG" \
  --dir "$OUT"
for step in create publish; do
  # Through the service's own functions, so the items are what the service writes.
  python3 tools/runtime-api-stub/stub.py --events "$OUT/$step.json" --results "$OUT/$step-result.json" \
    --port-file "$OUT/stub.port" --timeout 60 &
  stub_pid=$!
  for _ in $(seq 100); do [ -s "$OUT/stub.port" ] && break; sleep 0.1; done
  "${local_env[@]}" AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$OUT/stub.port")" RUST_LOG=warn \
    AWS_LAMBDA_FUNCTION_NAME="$step-group-buy" AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_LOG_STREAM_NAME=seed \
    AWS_LAMBDA_LOG_GROUP_NAME=seed "target/debug/$step-group-buy" >>"$OUT/seed.log" 2>&1 &
  function_pid=$!
  stub_status=0
  wait "$stub_pid" || stub_status=$?
  kill "$function_pid" 2>/dev/null || true
  wait "$function_pid" 2>/dev/null || true
  if [ "$stub_status" != 0 ]; then
    log "seeding ($step) failed; the function's output:"
    tail -n 30 "$OUT/seed.log" >&2
    exit 1
  fi
  rm -f "$OUT/stub.port"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["invocations"][0]["payload"]; sys.exit(0 if r["statusCode"] in (200, 201) else f"{sys.argv[1]}: {r}")' \
    "$OUT/$step-result.json"
done
log "seeded $HANDLE/$SLUG (published) in $TABLE_NAME"

# --- TLS: a CA, socat in front of DynamoDB Local ------------------------------------------------
if [ "$TLS" = 1 ]; then
  TLS_DIR="$OUT/tls"
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Cold-start bench root" \
      -keyout root.key -out root.pem -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=Cold-start bench intermediate" \
      -keyout intermediate.key -out intermediate.csr 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >intermediate.ext
    openssl x509 -req -in intermediate.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 \
      -extfile intermediate.ext -out intermediate.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout leaf.key -out leaf.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >leaf.ext
    openssl x509 -req -in leaf.csr -CA intermediate.pem -CAkey intermediate.key -CAcreateserial \
      -days 2 -extfile leaf.ext -out leaf.pem 2>/dev/null
    cat leaf.pem intermediate.pem >chain.pem
    # The system's roots and this one: what a function's trust store holds in AWS, plus one.
    cat /etc/ssl/certs/ca-certificates.crt root.pem >bundle.pem
  )
  TLS_PORT=$(free_port)
  # nodelay: without it socat's second TLS record of an answer waits for the client's delayed
  # ACK (40 ms), which DynamoDB's own endpoints do not do.
  socat "OPENSSL-LISTEN:$TLS_PORT,reuseaddr,fork,nodelay,cert=$TLS_DIR/chain.pem,key=$TLS_DIR/leaf.key,verify=0" \
    "TCP:127.0.0.1:$DYNAMODB_PORT,nodelay" 2>"$OUT/socat.log" &
  SOCAT_PID=$!
  wait_for_port "$TLS_PORT" 10 || { log "socat did not start"; exit 1; }
  log "socat: TLS on port $TLS_PORT in front of DynamoDB Local"
fi

# --- Secrets Manager (moto), with the stage's secret --------------------------------------------
SECRETS_PORT="" SECRETS_TLS_PORT="" ROTATING_KEY=gharart-local-rotating-key-v1
if [ "$SECRET" = 1 ]; then
  MOTO="$TOOLS/moto/bin/moto_server"
  [ -x "$MOTO" ] || { log "missing $MOTO: run scripts/bootstrap.sh test"; exit 1; }
  SECRETS_PORT=$(free_port)
  "$MOTO" -H 127.0.0.1 -p "$SECRETS_PORT" >"$OUT/moto.log" 2>&1 &
  MOTO_PID=$!
  wait_for_port "$SECRETS_PORT" 30 || { log "moto did not start"; exit 1; }
  ROTATING_KEY=cold-start-bench-rotating-key-0000000001
  secret=$(python3 -c 'import json, sys; print(json.dumps({"VISITOR_HASH_KEY": "cold-start-bench-pseudonym-key-00000001", "ROTATING_KEYS": "k1=" + sys.argv[1], "JWT_HS256_SECRET": "cold-start-bench-hs256-secret-000000001", "ORIGIN_SECRETS": "cold-start-bench-origin-secret-00000001"}))' "$ROTATING_KEY")
  curl -sS -f -o /dev/null "http://127.0.0.1:$SECRETS_PORT/" \
    -H 'x-amz-target: secretsmanager.CreateSecret' -H 'content-type: application/x-amz-json-1.1' \
    -H 'authorization: AWS4-HMAC-SHA256 Credential=ASIACOLDSTARTBENCH00/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0' \
    --data "$(python3 -c 'import json, sys; print(json.dumps({"Name": "gharart/group-buys/dev", "SecretString": sys.argv[1]}))' "$secret")"
  log "moto: Secrets Manager on port $SECRETS_PORT, secret gharart/group-buys/dev"
  if [ "$TLS" = 1 ]; then
    SECRETS_TLS_PORT=$(free_port)
    socat "OPENSSL-LISTEN:$SECRETS_TLS_PORT,reuseaddr,fork,nodelay,cert=$TLS_DIR/chain.pem,key=$TLS_DIR/leaf.key,verify=0" \
      "TCP:127.0.0.1:$SECRETS_PORT,nodelay" 2>"$OUT/socat-secrets.log" &
    SECRETS_SOCAT_PID=$!
    wait_for_port "$SECRETS_TLS_PORT" 10 || { log "socat did not start"; exit 1; }
  fi
fi

# --- the 128 MB CPU share ---------------------------------------------------------------------
if [ "$QUOTA" = 1 ]; then
  CGROUP="/sys/fs/cgroup/cpu/gharart-cold-start-$$"
  mkdir "$CGROUP"
  echo 100000 >"$CGROUP/cpu.cfs_period_us"
  echo 7200 >"$CGROUP/cpu.cfs_quota_us"
  log "cgroup $CGROUP: cpu.cfs_quota_us 7200 per 100000 (7.2 % of a core)"
fi

# --- the configurations -----------------------------------------------------------------------
python3 - "$OUT/config.json" "$OUT/get.json" "$ROOT" "$TABLE_NAME" "$DYNAMODB_PORT" "${TLS_PORT:-}" \
  "${TLS_DIR:-}" "$CGROUP" "$VENV" "$PYTHON_SIDE" "${AWS_ENV[*]}" "$FUNCTION" "$ROUTE" \
  "$SECRETS_PORT" "$SECRETS_TLS_PORT" "$ROTATING_KEY" "${BINARIES[@]}" <<'EOF'
import json, os, sys
(out, event, root, table, ddb_port, tls_port, tls_dir, cgroup, venv, python_side, aws_env,
 function, route, secrets_port, secrets_tls_port, rotating_key, *binaries) = sys.argv[1:]
aws = dict(item.split("=", 1) for item in aws_env.split())
lambda_env = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
    "AWS_LAMBDA_FUNCTION_NAME": f"gharart-group-buys-dev-{function}",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/gharart-group-buys-dev-{function}",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "TABLE_NAME": table, **aws,
}
def secrets(url):
    """A deployed stage's variables: its keys come from the secret at `url`."""
    if not secrets_port:
        return {}
    return {"STAGE": "dev", "SECRET_ID": "gharart/group-buys/dev",
            "SECRETS_MANAGER_ENDPOINT": url}
endpoints = {"http": (f"http://127.0.0.1:{ddb_port}", secrets(f"http://127.0.0.1:{secrets_port}"))}
if tls_port:
    bundle = os.path.join(tls_dir, "bundle.pem")
    # The Rust function trusts Amazon's roots and DYNAMODB_CA_FILE (with DYNAMODB_ENDPOINT);
    # builds before it loaded the system's (SSL_CERT_FILE); boto3 reads AWS_CA_BUNDLE.
    endpoints["tls"] = (f"https://localhost:{tls_port}",
                        {"SSL_CERT_FILE": bundle, "AWS_CA_BUNDLE": bundle,
                         "DYNAMODB_CA_FILE": os.path.join(tls_dir, "root.pem"),
                         **secrets(f"https://localhost:{secrets_tls_port}")})
cpus = {"full": None}
if cgroup:
    cpus["quota"] = cgroup
functions = []
for spec in binaries:
    label, path = spec.split("=", 1)
    functions.append((label, [path], os.path.dirname(path),
                      {"RUST_LOG": "info", "JWT_JWKS": "", "_HANDLER": "bootstrap"}))
if python_side == "1":
    task = os.path.join(root, "tools/cold-start-bench/python-function")
    functions.append(("python", [os.path.join(venv, "bin/python"), "-m", "awslambdaric",
                                 "app.handler"], task,
                      {"POWERTOOLS_SERVICE_NAME": "group-buys", "LOG_LEVEL": "INFO",
                       "LAMBDA_TASK_ROOT": task, "_HANDLER": "app.handler"}))
configs = []
for label, argv, cwd, extra in functions:
    for endpoint_name, (endpoint, trust) in endpoints.items():
        for cpu_name, group in cpus.items():
            env = {**lambda_env, **extra, "DYNAMODB_ENDPOINT": endpoint, **trust}
            configs.append({"label": f"{label} {endpoint_name} {cpu_name}", "argv": argv,
                            "cwd": cwd, "env": env, "cgroup": group})
spec = {"event": json.load(open(event)), "configs": configs}
if secrets_port:
    spec["originSecret"] = "cold-start-bench-origin-secret-00000001"
if route == "pass":
    # The current rotating key: the dev one (shared/src/configuration.rs, DEV_ROTATING_KEYS),
    # or the secret's with --secret; and a low difficulty: the server checks one hash
    # whatever it is, and the bench solves each.
    spec["passes"] = {"rotatingKey": rotating_key, "difficulty": 8, "stage": "dev"}
with open(out, "w") as f:
    json.dump(spec, f, indent=2)
EOF

log "measuring: $RUNS cold starts of each configuration, $WARM warm events each (results in $OUT)"
python3 tools/cold-start-bench/bench.py run --config "$OUT/config.json" --runs "$RUNS" \
  --warm "$WARM" --out "$OUT/results.jsonl" --logs "$OUT/logs"

ratios=()
for spec in "${BINARIES[@]}"; do
  [ "$PYTHON_SIDE" = 1 ] || break
  label=${spec%%=*}
  for condition in "http full" "http quota" "tls full" "tls quota"; do
    ratios+=(--ratio "python $condition/$label $condition")
  done
done
{
  echo "Cold starts of $FUNCTION, medians of $RUNS ($(uname -m), $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
  echo
  python3 tools/cold-start-bench/bench.py report "$OUT/results.jsonl" "${ratios[@]}"
} | tee "$OUT/report.md"
log "report: $OUT/report.md"
