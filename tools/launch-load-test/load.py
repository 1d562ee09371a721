#!/usr/bin/env python3
"""The launch load test: first registrations on one campaign from many Lambda sandboxes at once.

A sandbox is one process of the release `register-interest` with a Lambda Runtime API of its
own (tools/runtime-api-stub/stub.py's, served from this process on a port per sandbox), so each
runs one event at a time, as Lambda runs them. Every sandbox is started and initialised (its
first GET /next) before any event is let through; then all at once. Each event is a distinct
anonymous visitor's `PUT /v2/public/group-buys/{handle}/{groupBuySlug}/my-interest` (API
Gateway HTTP API v2, built as the packaging test builds them), quantities 1..3 in turn. The
group-buy (`minParticipants` half the registrations, `maxParticipants` all of them) is created
and published through the service's own functions.

Every answer must be a 201. An answer that is not is an error, and its visitor then does what
a client does, the same request again (through one more sandbox, after the spike), whose
answer tells whether the first one had been written (200, created false) or not (201). The
counts are then read back from DynamoDB Local and must be exact: participantCount == the
visitors registered (201s, and errors whose retry found them written) == interest items,
unitCount == the quantities sent == the sum over the items, and the rollup shards
(`ROLLUP#0..7`/`TOTALS`) add up to every group-buy's counts, with `thresholdMet` once per
group-buy that met its threshold.

The baseline: the transaction each registration commits (interest put, tally update, rollup
shard, daily limit counter: shared/src/store/interests.rs and riders.rs, the same items,
expressions and conditions) issued straight at DynamoDB Local on a second group-buy at the same
concurrency, each worker one call at a time on its own connection, and checked the same way.
Its throughput is the local ceiling the sandboxes are measured against. The same client first
commits `--warm-up` registrations on a group-buy of their own, unmeasured, so that no measured
run pays for DynamoDB Local's JIT warm-up. `--rounds` rounds of both, each on fresh
group-buys (and fresh sandboxes); the report gives medians over the rounds.

  load.py --binary target/release/register-interest --seed-functions target/debug \\
          --endpoint http://127.0.0.1:PORT --table T --token JWT --out DIR \\
          [--sandboxes 200] [--registrations 2000] [--rounds 3] [--dynamodb-pid PID]

Prints a Markdown report; writes DIR/results.json and the sandboxes' output to DIR/logs/.
Exits 1 when any count is off or any registration was not answered 201.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cold-start-bench"))
import bench  # noqa: E402 (the cold-start bench: its Runtime API server, the seeding events)
from bench import create_group_buy, stub  # noqa: E402

MY_INTEREST = "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest"
MAX_QUANTITY = 3
# shared/src/api/handlers/public.rs: INTEREST_ATTEMPTS, and the back-off after a conflict.
INTEREST_ATTEMPTS = 12
# shared/src/store/rollup.rs: ROLLUP_SHARDS.
ROLLUP_SHARDS = 8
# shared/src/configuration.rs: DAILY_INTEREST_WRITES_PER_VISITOR's default.
DAILY_INTEREST_WRITES = 100
# What a sandbox and the seeding functions get from Lambda and template.yaml. No STAGE: local
# mode, the documented dev secret and visitor hash key (as the packaging test runs it).
FUNCTION_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "_HANDLER": "bootstrap",
    "JWT_JWKS": "", "JWT_ISSUER": "", "JWT_AUDIENCE": "", "RUST_LOG": "info",
}
AWS_ENV_NAMES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def iso(at: datetime.datetime) -> str:
    """A Timestamp as the service stores it (milliseconds, Z)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- sandboxes ----------------------------------------------------------------------------------

class GatedRun(stub.Run):
    """stub.Run whose events wait for `start`: a sandbox's first GET /next marks it initialised
    (`ready`), and nothing is delivered to any sandbox before every one is."""

    def __init__(self, events: list, function_arn: str, start: threading.Event) -> None:
        super().__init__(events, function_arn, 10.0)
        self.start = start
        self.ready = threading.Event()

    def take_next(self) -> dict | None:
        with self.lock:
            if self.record["firstNextAt"] is None:
                self.record["firstNextAt"] = time.time()
        self.ready.set()
        self.start.wait()
        return super().take_next()


class Sandbox:
    """One function process and its own Runtime API."""

    def __init__(self, name: str, binary: str, function: str, env: dict, events: list,
                 start: threading.Event, log: Path) -> None:
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
        self.run = GatedRun(events, arn, start)
        self.server = bench.QuietServer(("127.0.0.1", 0), bench.handler_class(self.run))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.server.server_address[1]}",
               "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_LOG_STREAM_NAME": name,
               "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}"}
        self.output = open(log, "ab")
        self.launched_at = time.time()
        self.process = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.output, stderr=subprocess.STDOUT)
        self.exited_early: int | None = None
        self.cpu_seconds = 0.0

    def kill(self) -> None:
        """Ends the process (as Lambda ends an instance), noting whether it had already ended."""
        self.exited_early = self.process.poll()
        if self.exited_early is None:
            self.process.send_signal(signal.SIGKILL)
        try:
            _, _, usage = os.wait4(self.process.pid, 0)
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            pass  # reaped by poll() above: it had exited, which the caller reports
        self.output.close()

    def close_server(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stop_all(sandboxes: list[Sandbox]) -> None:
    for sandbox in sandboxes:
        sandbox.kill()
    # shutdown() waits for the server's poll (0.5 s): all at once, not one after the other.
    closers = [threading.Thread(target=s.close_server) for s in sandboxes]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join()


def response(invocation: dict) -> tuple[int | str, dict]:
    """(status, body) of an answered invocation; the kind instead of a status when it failed."""
    payload = invocation.get("payload")
    if invocation.get("kind") != "response" or not isinstance(payload, dict):
        return f"invocation {invocation.get('kind')}", {}
    try:
        body = json.loads(payload.get("body") or "null")
    except ValueError:
        body = None
    return payload.get("statusCode"), body if isinstance(body, dict) else {}


def invoke(args, binary: str, events: list, name: str) -> list[dict]:
    """The events through one sandbox of `binary`, no gate: the answers, in order."""
    start = threading.Event()
    start.set()
    sandbox = Sandbox(name, binary, name, function_env(args), events, start,
                      args.out / "logs" / f"{name}.log")
    finished = sandbox.run.finished.wait(60)
    stop_all([sandbox])
    if not finished:
        raise SystemExit(f"{name}: no answer within 60 s; see {args.out}/logs/{name}.log")
    return sorted(sandbox.run.record["invocations"], key=lambda i: i["index"])


def function_env(args) -> dict:
    aws = {name: os.environ[name] for name in AWS_ENV_NAMES if name in os.environ}
    return {**FUNCTION_ENV, **aws, "TABLE_NAME": args.table, "DYNAMODB_ENDPOINT": args.endpoint,
            "LAMBDA_TASK_ROOT": str(Path(args.binary).resolve().parent)}


def seed(args, slug: str, registrations: int) -> None:
    """A published group-buy for `registrations` (its cap; the threshold half of it), created
    and published through the service's own functions."""
    auth = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    body = dict(create_group_buy.LAMP, slug=slug, minParticipants=threshold(registrations),
                maxParticipants=registrations, maxQuantityPerParticipant=MAX_QUANTITY,
                closesAt=iso(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7)))
    target = {"handle": args.handle, "groupBuySlug": slug}
    event = create_group_buy.http_api_event
    steps = [
        ("create-group-buy", event("POST", bench.GROUP_BUYS, {"handle": args.handle},
                                   args.stage, auth, json.dumps(body)), 201),
        ("publish-group-buy", event("POST", bench.PUBLISH, target, args.stage, auth), 200),
    ]
    for function, request, expected in steps:
        [answer] = invoke(args, os.path.join(args.seed_functions, function), [request], function)
        status, answered = response(answer)
        if status != expected:
            raise SystemExit(f"seeding {slug}: {function} answered {status} {answered}")


def threshold(registrations: int) -> int:
    """minParticipants: half way, so that the threshold is met during the spike."""
    return max(1, registrations // 2)


# shared/src/configuration.rs: DEV_VISITOR_HASH_KEY, what the sandboxes run with (no STAGE).
DEV_VISITOR_HASH_KEY = b"gharart-local-visitor-hash-key"
PASS_KEY_ID = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def visitor_pass(visitor: str, expires: int, server_key: bytes = DEV_VISITOR_HASH_KEY,
                 kid: str = PASS_KEY_ID) -> str:
    """The visitor pass the service would issue for `visitor` (shared/src/keys.rs,
    visitor_pass_key; shared/src/http/visitor_pass.rs, pass_of), signed here so that the spike
    measures registrations, not the proof of work of thousands of passes. The Rust tests hold
    the same test vector (`a_pass_signed_elsewhere_with_the_same_key_verifies`)."""
    label = b"gharart/visitor-pass/v1"
    derivation = hmac.new(server_key, label + len(kid).to_bytes(8, "big") + kid.encode(),
                          hashlib.sha256).digest()
    signed = f"p1.{kid}.{visitor}.{expires}"
    signature = hmac.new(derivation, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(signature)}"


def registrations(count: int) -> list[tuple[str, int]]:
    """(visitor pass, quantity) of each registration: a fresh anonymous visitor each."""
    expires = int(time.time()) + 86_400
    return [(visitor_pass(_b64(os.urandom(16)), expires), 1 + i % MAX_QUANTITY)
            for i in range(count)]


def spike(args, slug: str) -> dict:
    """Every registration through `--sandboxes` sandboxes at once; timings and answers."""
    target = {"handle": args.handle, "groupBuySlug": slug}
    events = [
        create_group_buy.http_api_event(
            "PUT", MY_INTEREST, target, args.stage,
            {"Content-Type": "application/json", "X-Visitor-Pass": visitor},
            json.dumps({"quantity": quantity}))
        for visitor, quantity in registrations(args.registrations)
    ]
    env = function_env(args)
    start = threading.Event()
    sandboxes = []
    try:
        for i in range(args.sandboxes):
            share = events[i::args.sandboxes]
            sandboxes.append(Sandbox(f"sandbox-{i:03d}", args.binary, "register-interest", env,
                                     share, start, args.out / "logs" / f"sandbox-{i:03d}.log"))
        deadline = time.time() + 120
        for sandbox in sandboxes:
            if not sandbox.run.ready.wait(max(0.0, deadline - time.time())):
                raise SystemExit(f"a sandbox did not initialise within 120 s (exit status "
                                 f"{sandbox.process.poll()}); see {args.out}/logs")
        dynamodb_before = process_cpu_seconds(args.dynamodb_pid)
        driver_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        start.set()
        finished = all(s.run.finished.wait(max(0.0, started + args.timeout - time.time()))
                       for s in sandboxes)
        driver_after = resource.getrusage(resource.RUSAGE_SELF)
        dynamodb_after = process_cpu_seconds(args.dynamodb_pid)
    finally:
        stop_all(sandboxes)
    invocations = [(s.run.events[i["index"]], i) for s in sandboxes
                   for i in s.run.record["invocations"]]
    answered = [i for _, i in invocations if i["answeredAt"] is not None]
    ended = max((i["answeredAt"] for i in answered), default=started)
    statuses: dict[str, int] = {}
    units = 0
    failed = []
    for event, invocation in invocations:
        status, body = response(invocation)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 201 and body.get("created") is True:
            units += body.get("interest", {}).get("quantity", 0)
        else:
            failed.append(event)
    # What a visitor does after an error: the same request again. Its answer says whether the
    # first one had been written (200, created false) or not (201), so the counts can be
    # checked exactly whatever the errors were.
    retried: dict[str, int] = {}
    if failed:
        for answer in invoke(args, args.binary, failed, "register-interest-retries"):
            status, body = response(answer)
            kind = f"{status} created" if body.get("created") else str(status)
            retried[kind] = retried.get(kind, 0) + 1
            if status in (200, 201):
                units += body.get("interest", {}).get("quantity", 0)
    driver_cpu = (driver_after.ru_utime + driver_after.ru_stime
                  - driver_before.ru_utime - driver_before.ru_stime)
    return {
        "finished": finished,
        "exitedEarly": sum(1 for s in sandboxes if s.exited_early is not None),
        "statuses": statuses,
        "created": statuses.get("201", 0),
        "retried": retried,
        # Registered by the spike, as its answers and the retries of its errors tell.
        "registered": statuses.get("201", 0) + retried.get("201 created", 0)
        + retried.get("200", 0),
        "unitsRegistered": units,
        "unitsSent": sum(i % MAX_QUANTITY + 1 for i in range(args.registrations)),
        "seconds": ended - started,
        "latenciesMs": [(i["answeredAt"] - i["deliveredAt"]) * 1000 for i in answered],
        "initMs": [(s.run.record["firstNextAt"] - s.launched_at) * 1000 for s in sandboxes],
        "cpuSeconds": {
            # The functions' CPU over their whole life (init and the waits included).
            "functions": sum(s.cpu_seconds for s in sandboxes),
            "runtimeApiStubs": driver_cpu,
            "dynamodbLocal": cpu_delta(dynamodb_before, dynamodb_after),
        },
    }


def process_cpu_seconds(pid: int | None) -> float | None:
    if not pid:
        return None
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


# --- the baseline: the same transactions, straight at DynamoDB Local ----------------------------

def attribute_names(**names: str) -> dict:
    return {f"#{placeholder}": name for placeholder, name in names.items()}


def registration_transaction(table: str, pk: str, quantity: int, meets_threshold: bool,
                             now: datetime.datetime) -> dict:
    """The TransactWriteItems of a first registration (Store::write_interest's Register, with
    the daily limit rider), for a fresh visitor: keys as long as the service's (a 43-character
    visitor key, a 16-character participant)."""
    visitor_key = os.urandom(32).hex()[:43]
    participant = os.urandom(12).hex()[:16]
    stamp = iso(now)
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1),
                                         datetime.time.min, datetime.UTC)
    q = {"N": str(quantity)}
    one = {"N": "1"}
    put_interest = {"Put": {
        "TableName": table,
        "Item": {"PK": {"S": pk}, "SK": {"S": f"INT#{participant}"},
                 "participant": {"S": participant}, "quantity": q,
                 "createdAt": {"S": stamp}, "updatedAt": {"S": stamp}},
        "ConditionExpression": "attribute_not_exists(#pk)",
        "ExpressionAttributeNames": attribute_names(pk="PK"),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}
    update_tally = {"Update": {
        "TableName": table,
        "Key": {"PK": {"S": pk}, "SK": {"S": "GB#TALLY"}},
        "UpdateExpression": "SET #participants = #participants + :one, #units = #units + :q",
        "ConditionExpression": (
            "#status = :published AND (attribute_not_exists(#closesAt) OR "
            "attribute_type(#closesAt, :null) OR #closesAt > :now) AND "
            "(attribute_not_exists(#cap) OR attribute_type(#cap, :null) OR #participants < #cap)"
            " AND #maxQuantity >= :q AND #participants "
            + ("=" if meets_threshold else "<>") + " #edge"),
        "ExpressionAttributeNames": attribute_names(
            units="unitCount", status="status", closesAt="closesAt", cap="maxParticipants",
            maxQuantity="maxQuantityPerParticipant", participants="participantCount",
            edge="thresholdEdge"),
        "ExpressionAttributeValues": {":published": {"S": "published"}, ":null": {"S": "NULL"},
                                      ":now": {"S": stamp}, ":one": one, ":q": q},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}
    counters = [("participants", 1), ("units", quantity)] + ([("thresholdMet", 1)]
                                                            if meets_threshold else [])
    update_rollup = {"Update": {
        "TableName": table,
        "Key": {"PK": {"S": f"ROLLUP#{random.randrange(ROLLUP_SHARDS)}"}, "SK": {"S": "TOTALS"}},
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
        "ExpressionAttributeNames": {f"#c{i}": name for i, (name, _) in enumerate(counters)},
        "ExpressionAttributeValues": {f":c{i}": {"N": str(by)}
                                      for i, (_, by) in enumerate(counters)},
    }}
    count_limit = {"Update": {
        "TableName": table,
        "Key": {"PK": {"S": f"LIMIT#interest-writes#{visitor_key}#{now:%Y-%m-%d}"},
                "SK": {"S": "LIMIT"}},
        "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #ttl = :ttl",
        "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
        "ExpressionAttributeNames": attribute_names(count="count", ttl="ttl"),
        "ExpressionAttributeValues": {
            ":zero": {"N": "0"}, ":one": one, ":limit": {"N": str(DAILY_INTEREST_WRITES)},
            ":ttl": {"N": str(int((midnight + datetime.timedelta(days=1)).timestamp()))}},
    }}
    return {
        "TransactItems": [put_interest, update_tally, update_rollup, count_limit],
        "ClientRequestToken": str(uuid.uuid4()),
        "ReturnConsumedCapacity": "INDEXES",
    }


class DynamoDbConnection:
    """One keep-alive HTTP/1.1 connection to DynamoDB Local, one call at a time, each request
    signed (SigV4) as the SDK signs it, without boto3's client machinery: the client shares
    the cores DynamoDB Local runs on, and should take as little of them as it can."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        host_port = self.endpoint.split("://", 1)[1]
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.signer = botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                                             os.environ["AWS_SECRET_ACCESS_KEY"],
                                             os.environ.get("AWS_SESSION_TOKEN")),
            "dynamodb", os.environ.get("AWS_REGION", "us-east-1"))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, operation: str, body: dict) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body).encode()
        request = botocore.awsrequest.AWSRequest(
            "POST", self.endpoint + "/", data=data,
            headers={"Content-Type": "application/x-amz-json-1.0",
                     "X-Amz-Target": f"DynamoDB_20120810.{operation}"})
        self.signer.add_auth(request)
        head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        self.writer.write(f"POST / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status_line = await self.reader.readline()
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            raw = b"".join(chunks)
        else:
            raw = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), json.loads(raw or b"{}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def direct(args, slug: str, count: int, min_participants: int) -> dict:
    """`count` first registrations committed straight at DynamoDB Local by `--sandboxes`
    workers, each on its own connection, one transaction at a time; a refusal handled as the
    function handles it (the threshold edge corrected from what the refusal returned, a
    conflict backed off and tried again)."""
    pk = f"GB#{args.handle}#{slug}"
    work = registrations(count)
    latencies: list[float] = []
    outcome = {"committed": 0, "units": 0, "errors": {}, "edgeRetries": 0, "conflicts": 0}

    async def register(connection: DynamoDbConnection, quantity: int) -> None:
        meets = False
        began = time.perf_counter()
        for attempt in range(INTEREST_ATTEMPTS):
            transaction = registration_transaction(
                args.table, pk, quantity, meets, datetime.datetime.now(datetime.UTC))
            status, body = await connection.call("TransactWriteItems", transaction)
            if status == 200:
                latencies.append((time.perf_counter() - began) * 1000)
                outcome["committed"] += 1
                outcome["units"] += quantity
                return
            reasons = body.get("CancellationReasons") or [{}, {}]
            tally = reasons[1]
            if tally.get("Code") == "ConditionalCheckFailed":
                # What the function does with the tally a refusal returns: decide again on it
                # (here only the edge can have been wrong: the group-buy is open, below its
                # cap, and the quantity allowed).
                found = int(tally.get("Item", {}).get("participantCount", {}).get("N", -1))
                if (found + 1 == min_participants) != meets:
                    meets = not meets
                    outcome["edgeRetries"] += 1
                    continue
            if any(r.get("Code") == "TransactionConflict" for r in reasons):
                outcome["conflicts"] += 1
                await asyncio.sleep(random.randint(1, 10 * (attempt + 1)) / 1000)
                continue
            error = body.get("__type", str(status)).rsplit("#", 1)[-1]
            if body.get("CancellationReasons"):
                error += " " + "/".join(r.get("Code", "?") for r in reasons)
            outcome["errors"][error] = outcome["errors"].get(error, 0) + 1
            return
        outcome["errors"]["attempts exhausted"] = outcome["errors"].get("attempts exhausted", 0) + 1

    async def worker(share: list) -> None:
        connection = DynamoDbConnection(args.endpoint)
        try:
            for _, quantity in share:
                await register(connection, quantity)
        finally:
            connection.close()

    dynamodb_before = process_cpu_seconds(args.dynamodb_pid)
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(worker(work[i::args.sandboxes]) for i in range(args.sandboxes)))
    seconds = time.perf_counter() - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **outcome,
        "unitsSent": sum(q for _, q in work),
        "seconds": seconds,
        "latenciesMs": latencies,
        "cpuSeconds": {
            "client": (client_after.ru_utime + client_after.ru_stime
                       - client_before.ru_utime - client_before.ru_stime),
            "dynamodbLocal": cpu_delta(dynamodb_before,
                                       process_cpu_seconds(args.dynamodb_pid)),
        },
    }


# --- the counts in the table --------------------------------------------------------------------

class Counts:
    """What DynamoDB Local holds, read strongly consistent."""

    def __init__(self, args) -> None:
        self.table = args.table
        self.handle = args.handle
        self.dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint)

    def tally(self, slug: str) -> dict:
        item = self.dynamodb.get_item(
            TableName=self.table, ConsistentRead=True,
            Key={"PK": {"S": f"GB#{self.handle}#{slug}"}, "SK": {"S": "GB#TALLY"}})["Item"]
        return {name: int(item[name]["N"]) for name in
                ("participantCount", "unitCount", "minParticipants")}

    def interests(self, slug: str) -> tuple[int, int]:
        """(items, the sum of their quantities) under the group-buy's INT# sort keys."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :interest)",
            ExpressionAttributeValues={":pk": {"S": f"GB#{self.handle}#{slug}"},
                                       ":interest": {"S": "INT#"}},
            ProjectionExpression="quantity")
        quantities = [int(item["quantity"]["N"]) for page in pages for item in page["Items"]]
        return len(quantities), sum(quantities)

    def rollup(self) -> dict:
        totals = {"participants": 0, "units": 0, "thresholdMet": 0}
        for shard in range(ROLLUP_SHARDS):
            item = self.dynamodb.get_item(
                TableName=self.table, ConsistentRead=True,
                Key={"PK": {"S": f"ROLLUP#{shard}"}, "SK": {"S": "TOTALS"}}).get("Item", {})
            for name in totals:
                totals[name] += int(item.get(name, {}).get("N", 0))
        return totals


def check_group_buy(counts: Counts, slug: str, committed: int, units: int, expected: int,
                    units_sent: int, failures: list[str]) -> dict:
    """The tally and the interest items of `slug` against what was committed and sent."""
    tally = counts.tally(slug)
    items, item_units = counts.interests(slug)
    observed = {"participantCount": tally["participantCount"], "interestItems": items,
                "committed": committed, "sent": expected}
    if len(set(observed.values())) != 1:
        failures.append(f"{slug}: participant counts differ: {observed}")
    observed_units = {"unitCount": tally["unitCount"], "interestQuantities": item_units,
                      "committed": units, "sent": units_sent}
    if len(set(observed_units.values())) != 1:
        failures.append(f"{slug}: unit counts differ: {observed_units}")
    return tally


# --- report ---------------------------------------------------------------------------------------

def figures(run: dict, count: int, errors: int) -> dict:
    latencies = run["latenciesMs"] or [float("nan")]
    return {"throughput": count / run["seconds"], "p50": statistics.median(latencies),
            "p99": percentile(latencies, 99), "max": max(latencies), "errors": errors,
            "seconds": run["seconds"]}


def row(label: str, rounds: list[dict]) -> str:
    """Medians over the rounds; errors summed."""
    med = lambda key: statistics.median(r[key] for r in rounds)  # noqa: E731
    return (f"| {label} | {med('throughput'):.0f} | {med('p50'):.0f} | {med('p99'):.0f} | "
            f"{med('max'):.0f} | {sum(r['errors'] for r in rounds)} | {med('seconds'):.1f} |")


def cpu_ms(seconds: list, count: int) -> str:
    known = [s for s in seconds if s is not None]
    return f"{statistics.median(known) * 1000 / count:.1f}" if known else "n/a"


def report(args, rounds: list[dict], failures: list[str]) -> None:
    n = args.registrations
    sandboxes = [figures(r["lambda"], n, n - r["lambda"]["created"]) for r in rounds]
    direct_runs = [figures(r["direct"], n, sum(r["direct"]["errors"].values())) for r in rounds]
    ratios = [s["throughput"] / d["throughput"] for s, d in zip(sandboxes, direct_runs)]
    print(f"{n} first registrations on one group-buy from {args.sandboxes} at a time, "
          f"{len(rounds)} round(s), medians ({os.uname().machine}, {os.cpu_count()} cores, "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])} at the end).\n")
    print("| | registrations/s | p50 ms | p99 ms | max ms | errors | seconds |")
    print("|---|---|---|---|---|---|---|")
    print(row(f"{args.sandboxes} sandboxes of register-interest", sandboxes))
    print(row("the same transactions straight at DynamoDB Local", direct_runs))
    print(f"\nsandboxes / DynamoDB Local (throughput): median "
          f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    for number, r in enumerate(rounds, start=1):
        d = r["direct"]
        retried = (f" (their retries: {r['lambda']['retried']})" if r["lambda"]["retried"]
                   else "")
        print(f"round {number}: answers {r['lambda']['statuses']}{retried}; direct {d['committed']} "
              f"committed, {d['edgeRetries']} threshold-edge retries, {d['conflicts']} "
              f"conflicts, errors {d['errors'] or 0}")
    init = [ms for r in rounds for ms in r["lambda"]["initMs"]]
    print(f"sandbox init (launch to first /next, {args.sandboxes} launched together): median "
          f"{statistics.median(init):.0f} ms, max {max(init):.0f} ms")
    cpu = lambda run, key: [r[run]["cpuSeconds"][key] for r in rounds]  # noqa: E731
    print(f"CPU per registration, sandboxes: functions {cpu_ms(cpu('lambda', 'functions'), n)} "
          f"ms (their init included), Runtime API stubs "
          f"{cpu_ms(cpu('lambda', 'runtimeApiStubs'), n)} ms, DynamoDB Local "
          f"{cpu_ms(cpu('lambda', 'dynamodbLocal'), n)} ms; direct: client "
          f"{cpu_ms(cpu('direct', 'client'), n)} ms, DynamoDB Local "
          f"{cpu_ms(cpu('direct', 'dynamodbLocal'), n)} ms")
    if failures:
        print(f"\nFAILED: {len(failures)} check(s):")
        for failure in failures:
            print(f"  - {failure}")
    else:
        print("\ncounts exact: participantCount == 201s == interest items, unitCount == "
              "quantities sent == sum over the items, rollup == the group-buys' counts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the register-interest to load")
    parser.add_argument("--seed-functions", required=True,
                        help="directory of create-group-buy and publish-group-buy")
    parser.add_argument("--endpoint", required=True, help="DynamoDB Local's URL")
    parser.add_argument("--table", required=True)
    parser.add_argument("--token", required=True, help="an owner JWT for --handle")
    parser.add_argument("--handle", default="acme-decor")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--sandboxes", type=int, default=200)
    parser.add_argument("--registrations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="sandboxes then direct, each on a group-buy of its own")
    parser.add_argument("--warm-up", type=int, default=1000,
                        help="unmeasured direct registrations first (DynamoDB Local's JIT)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for the spike")
    parser.add_argument("--dynamodb-pid", type=int, help="to read DynamoDB Local's CPU")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    if args.registrations < 2 or args.sandboxes < 1 or args.rounds < 1 or args.warm_up < 0:
        parser.error("--registrations must be at least 2, --sandboxes and --rounds at least 1")
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    stamp = int(time.time())
    failures: list[str] = []
    # (slug, committed, units committed, units sent, registrations sent) of every group-buy.
    written = []
    if args.warm_up:
        slug = f"launch-warm-up-{stamp}"
        seed(args, slug, args.warm_up)
        warmed = asyncio.run(direct(args, slug, args.warm_up, threshold(args.warm_up)))
        written.append((slug, warmed["committed"], warmed["units"], warmed["unitsSent"],
                        args.warm_up))
    rounds = []
    for number in range(1, args.rounds + 1):
        launch, ceiling = f"launch-{stamp}-{number}", f"launch-direct-{stamp}-{number}"
        seed(args, launch, args.registrations)
        seed(args, ceiling, args.registrations)
        lambda_run = spike(args, launch)
        if not lambda_run["finished"]:
            failures.append(f"round {number}: not every registration was answered within "
                            f"{args.timeout} s")
        if lambda_run["exitedEarly"]:
            failures.append(f"round {number}: {lambda_run['exitedEarly']} sandbox(es) exited")
        if lambda_run["created"] != args.registrations:
            failures.append(f"round {number}: answers other than 201 created: "
                            f"{lambda_run['statuses']}")
        baseline = asyncio.run(direct(args, ceiling, args.registrations,
                                      threshold(args.registrations)))
        if baseline["errors"]:
            failures.append(f"round {number}: direct transactions failed: {baseline['errors']}")
        rounds.append({"lambda": lambda_run, "direct": baseline})
        written.append((launch, lambda_run["registered"], lambda_run["unitsRegistered"],
                        lambda_run["unitsSent"], args.registrations))
        written.append((ceiling, baseline["committed"], baseline["units"],
                        baseline["unitsSent"], args.registrations))

    counts = Counts(args)
    expected_rollup = {"participants": 0, "units": 0, "thresholdMet": 0}
    for slug, committed, units, units_sent, sent in written:
        tally = check_group_buy(counts, slug, committed, units, sent, units_sent, failures)
        expected_rollup["participants"] += tally["participantCount"]
        expected_rollup["units"] += tally["unitCount"]
        expected_rollup["thresholdMet"] += tally["participantCount"] >= tally["minParticipants"]
    rollup = counts.rollup()
    if rollup != expected_rollup:
        failures.append(f"rollup {rollup}, the group-buys' counts {expected_rollup}")

    with open(args.out / "results.json", "w", encoding="utf-8") as f:
        json.dump({"sandboxes": args.sandboxes, "registrations": args.registrations,
                   "rounds": rounds, "rollup": rollup, "failures": failures}, f)
    report(args, rounds, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
