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

Every answer must be a 201, or a 503 (which the contract allows under load) whose retry
answers. An answer that is not a 201 is an error, and its visitor then does what
a client does, the same request again (through one more sandbox, after the spike), whose
answer tells whether the first one had been written (200, created false) or not (201). The
counts are then read back from DynamoDB Local and must be exact: participantCount == the
visitors registered (201s, and errors whose retry found them written) == interest items,
unitCount == the quantities sent == the sum over the items, and the rollup's totals
(`gharart-operator rollup`) add up to every group-buy's counts, with `thresholdMet` once per
group-buy that met its threshold.

The baseline: the transaction each registration commits, committed by the store's own
registration write (`gharart-operator bench-registrations`, operator/src/bench.rs: the same
Rust code as the function's, without the function around it) on a second group-buy at the same
concurrency, each worker one write at a time, and checked the same way. Nothing here builds an
item or a key: the counts are read back through the operator too. Its throughput is the local
ceiling the sandboxes are measured against. The same client first commits `--warm-up`
registrations on a group-buy of their own, unmeasured, so that no measured run pays for
DynamoDB Local's JIT warm-up; its table is only checked against itself (counters ==
items), since the client gives up on writes left without an answer. `--rounds` rounds of both, each on fresh group-buys (and fresh
sandboxes); the report gives medians over the rounds.

With `--draw` the campaign is a draw (`allocation: draw`, `drawAt` a day away): every PUT
enters the draw (202, `entry`), which writes the entry and one of its 16 shard items and
nothing shared by the whole campaign; the baseline is the store's own entry write
(`bench-registrations --draw`), and the counts checked are the entries: `draw.entryCount` ==
entries answered == entry items, and their quantities == the quantities sent;
`participantCount` stays 0.

  load.py --binary target/release/register-interest --seed-functions target/debug \\
          --operator target/release/gharart-operator \\
          --endpoint http://127.0.0.1:PORT --table T --token JWT --out DIR \\
          [--sandboxes 200] [--registrations 2000] [--rounds 3] [--dynamodb-pid PID]

Prints a Markdown report; writes DIR/results.json and the sandboxes' output to DIR/logs/.
Exits 1 when any count is off or any registration was not registered (201, or a 503 whose
retry answered 200 or 201).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cold-start-bench"))
import bench  # noqa: E402 (the cold-start bench: its Runtime API server, the seeding events)
from bench import create_group_buy, stub  # noqa: E402

MY_INTEREST = "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest"
MAX_QUANTITY = 3
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
    now = datetime.datetime.now(datetime.UTC)
    body = dict(create_group_buy.LAMP, slug=slug, minParticipants=threshold(registrations),
                maxParticipants=registrations, maxQuantityPerParticipant=MAX_QUANTITY,
                closesAt=iso(now + datetime.timedelta(days=7)))
    if args.draw:
        body |= {"allocation": "draw", "drawAt": iso(now + datetime.timedelta(days=1))}
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


# shared/src/configuration.rs: DEV_ROTATING_KEYS, what the sandboxes run with (no STAGE).
PASS_KEY_ID = "v1"
DEV_ROTATING_KEY = b"gharart-local-rotating-key-v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def visitor_pass(visitor: str, expires: int, rotating_key: bytes = DEV_ROTATING_KEY,
                 kid: str = PASS_KEY_ID) -> str:
    """The visitor pass the service would issue for `visitor` under the rotating key `kid`
    (shared/src/keys.rs, visitor_pass_keys; shared/src/http/visitor_pass.rs, pass_of), signed
    here so that the spike
    measures registrations, not the proof of work of thousands of passes. The Rust tests hold
    the same test vector (`a_pass_signed_elsewhere_with_the_same_key_verifies`)."""
    label = b"gharart/visitor-pass/v2"
    derivation = hmac.new(rotating_key, label + len(kid).to_bytes(8, "big") + kid.encode(),
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
        if status == created_status(args) and body.get("created") is True:
            units += quantity_of(body)
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
            if status in (200, created_status(args)):
                units += quantity_of(body)
    driver_cpu = (driver_after.ru_utime + driver_after.ru_stime
                  - driver_before.ru_utime - driver_before.ru_stime)
    return {
        "finished": finished,
        "exitedEarly": sum(1 for s in sandboxes if s.exited_early is not None),
        "statuses": statuses,
        "created": statuses.get(str(created_status(args)), 0),
        "retried": retried,
        # Registered by the spike, as its answers and the retries of its errors tell.
        "registered": statuses.get(str(created_status(args)), 0)
        + retried.get(f"{created_status(args)} created", 0) + retried.get("200", 0),
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


def created_status(args) -> int:
    """A first registration's status: 201, or 202 for an entry in a draw."""
    return 202 if args.draw else 201


def quantity_of(body: dict) -> int:
    """The quantity an answer registered: the interest's, or the draw entry's."""
    return (body.get("interest") or body.get("entry") or {}).get("quantity", 0)


def process_cpu_seconds(pid: int | None) -> float | None:
    if not pid:
        return None
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


# --- the baseline: the same transactions, through the store ----------------------------------

def operator(args, *command: str, log: str = "operator") -> str:
    """stdout of `gharart-operator --local COMMAND` on the table; its stderr to DIR/logs/."""
    env = {**os.environ, "DYNAMODB_ENDPOINT": args.endpoint, "TABLE_NAME": args.table}
    with open(args.out / "logs" / f"{log}.log", "ab") as stderr:
        done = subprocess.run([args.operator, "--local", *command], env=env, stdout=subprocess.PIPE,
                              stderr=stderr, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gharart-operator {' '.join(command)} failed ({done.returncode}); "
                         f"see {args.out}/logs/{log}.log")
    return done.stdout.decode()


def direct(args, slug: str, count: int) -> dict:
    """`count` first registrations committed through the store by `--sandboxes` workers of
    `gharart-operator bench-registrations`, a refusal handled as the function handles it (the
    threshold edge decided again on the tally the refusal returned, a conflict backed off and
    tried again). Its CPU is the client's: the operator is this process's only child while it
    runs."""
    dynamodb_before = process_cpu_seconds(args.dynamodb_pid)
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    draw = ["--draw"] if args.draw else []
    run = json.loads(operator(args, "bench-registrations", "--handle", args.handle, "--slug", slug,
                              "--registrations", str(count), "--concurrency", str(args.sandboxes),
                              *draw, "--json", log=f"bench-registrations-{slug}"))
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        **run,
        "cpuSeconds": {
            "client": (client_after.ru_utime + client_after.ru_stime
                       - client_before.ru_utime - client_before.ru_stime),
            "dynamodbLocal": cpu_delta(dynamodb_before,
                                       process_cpu_seconds(args.dynamodb_pid)),
        },
    }


# --- the counts in the table --------------------------------------------------------------------

class Counts:
    """What DynamoDB Local holds, read strongly consistent through the operator."""

    def __init__(self, args) -> None:
        self.args = args

    def group_buy(self, slug: str) -> dict:
        """The tally's counts and the interest items recounted (`group-buy show`)."""
        shown = json.loads(operator(self.args, "group-buy", "show", "--handle", self.args.handle,
                                    "--slug", slug, "--history", "1", "--json"))
        gb = shown["groupBuy"]
        if gb.get("draw"):
            # A draw's entries: what it counts in its shards, and its entry items recounted.
            return {"participantCount": gb["participantCount"], "unitCount": gb["unitCount"],
                    "minParticipants": gb["minParticipants"],
                    "entryCount": gb["draw"]["entryCount"],
                    "entryItems": shown["entryRecords"], "entryUnits": shown["entryUnits"]}
        return {"participantCount": gb["participantCount"], "unitCount": gb["unitCount"],
                "minParticipants": gb["minParticipants"],
                "interestItems": shown["interestRecords"],
                "interestUnits": shown["interestUnits"]}

    def rollup(self) -> dict:
        summary = json.loads(operator(self.args, "rollup"))
        return {name: summary[name] for name in ("participants", "units", "thresholdMet")}


def check_group_buy(counts: Counts, slug: str, committed: int | None, units: int | None,
                    expected: int, units_sent: int, failures: list[str]) -> dict:
    """The tally and the interest items of `slug` against what was committed and sent; with
    `committed` None (the unmeasured warm-up, whose client gives up on writes left without an
    answer), only against each other."""
    tally = counts.group_buy(slug)
    if "entryCount" in tally:
        # Entries move no participant: the tally stays as published until the draw.
        if (tally["participantCount"], tally["unitCount"]) != (0, 0):
            failures.append(f"{slug}: a draw's entries moved its tally: {tally}")
        observed = {"entryCount": tally["entryCount"], "entryItems": tally["entryItems"]}
        if committed is not None:
            observed |= {"committed": committed, "sent": expected}
        if len(set(observed.values())) != 1:
            failures.append(f"{slug}: entry counts differ: {observed}")
        observed_units = {"entryQuantities": tally["entryUnits"]}
        if units is not None:
            observed_units |= {"committed": units, "sent": units_sent}
        if len(set(observed_units.values())) != 1:
            failures.append(f"{slug}: entry units differ: {observed_units}")
        return tally
    observed = {"participantCount": tally["participantCount"],
                "interestItems": tally["interestItems"]}
    if committed is not None:
        observed |= {"committed": committed, "sent": expected}
    if len(set(observed.values())) != 1:
        failures.append(f"{slug}: participant counts differ: {observed}")
    observed_units = {"unitCount": tally["unitCount"],
                      "interestQuantities": tally["interestUnits"]}
    if units is not None:
        observed_units |= {"committed": units, "sent": units_sent}
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
    what = "draw entries" if args.draw else "first registrations"
    print(f"{n} {what} on one group-buy from {args.sandboxes} at a time, "
          f"{len(rounds)} round(s), medians ({os.uname().machine}, {os.cpu_count()} cores, "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])} at the end).\n")
    print("| | registrations/s | p50 ms | p99 ms | max ms | errors | seconds |")
    print("|---|---|---|---|---|---|---|")
    print(row(f"{args.sandboxes} sandboxes of register-interest", sandboxes))
    print(row("the same transactions through the store (bench-registrations)", direct_runs))
    print(f"\nsandboxes / DynamoDB Local (throughput): median "
          f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    for number, r in enumerate(rounds, start=1):
        d = r["direct"]
        retried = (f" (their retries: {r['lambda']['retried']})" if r["lambda"]["retried"]
                   else "")
        unanswered = (f", {d['unanswered']} unanswered and tried again ({d['foundWritten']} "
                      f"found written)" if d["unanswered"] else "")
        print(f"round {number}: answers {r['lambda']['statuses']}{retried}; direct {d['committed']} "
              f"committed, {d['edgeRetries']} threshold-edge retries, {d['conflicts']} "
              f"conflicts{unanswered}, errors {d['errors'] or 0}")
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
        if args.draw:
            print("\ncounts exact: draw.entryCount == 202s == entry items, entry quantities == "
                  "quantities sent, participantCount and unitCount 0, rollup == the "
                  "group-buys' counts")
        else:
            print("\ncounts exact: participantCount == 201s == interest items, unitCount == "
                  "quantities sent == sum over the items, rollup == the group-buys' counts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the register-interest to load")
    parser.add_argument("--seed-functions", required=True,
                        help="directory of create-group-buy and publish-group-buy")
    parser.add_argument("--operator", required=True,
                        help="the gharart-operator of the baseline and the counts (a release build)")
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
    parser.add_argument("--draw", action="store_true",
                        help="entries in a draw campaign instead of first-come registrations")
    args = parser.parse_args()
    if args.registrations < 2 or args.sandboxes < 1 or args.rounds < 1 or args.warm_up < 0:
        parser.error("--registrations must be at least 2, --sandboxes and --rounds at least 1")
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    stamp = int(time.time())
    failures: list[str] = []
    # (slug, committed, units committed, units sent, registrations sent) of every group-buy.
    written = []
    warmed = None
    if args.warm_up:
        slug = f"launch-warm-up-{stamp}"
        seed(args, slug, args.warm_up)
        warmed = direct(args, slug, args.warm_up)
        written.append((slug, None, None, warmed["unitsSent"], args.warm_up))
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
        # A 503 is an answer the contract allows under load, when its retry (the same
        # request) then answers 200 or 201 (202 for an entry); anything else is a failure.
        first = str(created_status(args))
        allowed = {first, "503"}
        if (set(lambda_run["statuses"]) - allowed
                or set(lambda_run["retried"]) - {"200", f"{first} created"}
                or lambda_run["registered"] != args.registrations):
            failures.append(f"round {number}: answers other than {first} created: "
                            f"{lambda_run['statuses']} (their retries: {lambda_run['retried']})")
        baseline = direct(args, ceiling, args.registrations)
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
                   "warmUp": warmed, "rounds": rounds, "rollup": rollup, "failures": failures}, f)
    report(args, rounds, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
