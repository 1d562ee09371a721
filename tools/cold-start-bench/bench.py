#!/usr/bin/env python3
"""Cold starts of a Lambda function process, timed against a local Runtime API.

Each cold start launches the function anew (a `bootstrap`, or Python under awslambdaric)
against a fresh Lambda Runtime API (tools/runtime-api-stub/stub.py's, with hooks), serves it
one event and then `--warm` more, and records:

  init      the exec of the function until its first GET /next (Lambda's Init Duration)
  first     the first event delivered until its response came back
  warm      the median of the other events, the same way
  CPU       of the process (every live thread's /proc/<pid>/task/*/schedstat) during init and
            during the first event, so that contention from other processes on the machine
            does not count
  peak RSS  VmHWM of /proc/<pid>/status once every event is answered

Every response must be a 200 (a 201 for the visitor pass route), or the run fails. With
"passes" in CONFIG.json ({"rotatingKey", "difficulty", "stage"}), the function is
`issue-visitor-pass` and each event of each run is a fresh challenge, signed here under the
key the function derives from the same current rotating key (shared/src/keys.rs,
challenge_keys;
shared/src/http/visitor_pass.rs, challenge_of) and solved, so that every redemption is a
first one: `POST /v2/public/visitor-passes`. A configuration with a "cgroup" runs the
process in that cgroup v1 CPU controller group from its first instruction (a /bin/sh wrapper
moves itself there, then execs the function): the CPU share of a 128 MB function. Init and
its CPU are counted from that exec, so the move (an RCU grace period) is not.

  bench.py events --token JWT --handle H --slug S --dir DIR   (create.json, publish.json, get.json)
  bench.py run --config CONFIG.json --runs 10 --out results.jsonl
  bench.py report results.jsonl [--markdown]

CONFIG.json: {"event": {...}, "configs": [{"label", "argv", "cwd", "env", "cgroup"}]}.
The configurations take turns (one cold start of each, then the next round), so that a
change in the machine's load spreads over all of them; the first round is a warm-up of
DynamoDB Local, socat and the page cache, and is not recorded.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS / "runtime-api-stub"))
sys.path.insert(0, str(TOOLS / "package-test"))
import create_group_buy  # noqa: E402 (the packaging test's API Gateway events, reused)
import stub  # noqa: E402 (the Runtime API stub of the packaging test, reused)

GROUP_BUYS = "/v2/handles/{handle}/group-buys"
PUBLISH = "/v2/handles/{handle}/group-buys/{groupBuySlug}/publish"
PUBLIC_GROUP_BUY = "/v2/public/group-buys/{handle}/{groupBuySlug}"
VISITOR_PASSES = "/v2/public/visitor-passes"


def challenge_key(rotating_key: bytes) -> bytes:
    """shared/src/keys.rs: HMAC-SHA256(the current rotating key, label), no parts."""
    return hmac.new(rotating_key, b"gharart/visitor-challenge/v2", hashlib.sha256).digest()


def solved_challenge(rotating_key: bytes, difficulty: int) -> tuple[str, str]:
    """A fresh challenge token, as the service issues it, and a nonce that solves it."""
    salt = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    signed = f"c1.{salt}.{difficulty}.{int(time.time()) + 300}"
    signature = hmac.new(challenge_key(rotating_key), signed.encode(), hashlib.sha256).digest()
    token = f"{signed}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{salt}{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - difficulty) == 0:
            return token, str(nonce)
        nonce += 1


def events_for(spec: dict, count: int) -> list:
    """The events of one cold start: the same one `count` times, or `count` fresh solved
    challenges to redeem; with "originSecret" in the spec, each with the header CloudFront
    adds (a deployed stage refuses requests without it)."""
    events = unverified_events(spec, count)
    origin = spec.get("originSecret")
    if origin:
        events = [dict(event, headers={**event.get("headers", {}), "x-origin-verify": origin})
                  for event in events]
    return events


def unverified_events(spec: dict, count: int) -> list:
    passes = spec.get("passes")
    if not passes:
        return [spec["event"]] * count
    key = passes["rotatingKey"].encode()
    events = []
    for _ in range(count):
        token, nonce = solved_challenge(key, passes["difficulty"])
        events.append(create_group_buy.http_api_event(
            "POST", VISITOR_PASSES, {}, passes["stage"], {"Content-Type": "application/json"},
            json.dumps({"challenge": token, "nonce": nonce})))
    return events


def task_cpu_ns(pid: int) -> int:
    """CPU time of every live thread of `pid`, in nanoseconds (schedstat: exact, not ticks)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (`T`: stopped), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None


def status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def cgroup_throttled(cgroup: str | None) -> tuple[int, int]:
    """(nr_throttled, throttled_time ns) of the cgroup, (0, 0) without one."""
    if not cgroup:
        return 0, 0
    stats = {}
    with open(os.path.join(cgroup, "cpu.stat"), encoding="ascii") as f:
        for line in f:
            name, value = line.split()
            stats[name] = int(value)
    return stats.get("nr_throttled", 0), stats.get("throttled_time", 0)


class TimedRun(stub.Run):
    """stub.Run that also samples the function's CPU at the end of init and of the first event."""

    def __init__(self, events: list, function_arn: str, function_timeout: float) -> None:
        super().__init__(events, function_arn, function_timeout)
        self.pid: int | None = None
        self.pid_known = threading.Event()
        self.cpu_at_launch_ns = 0
        self.cpu_at_init_ns: int | None = None
        self.cpu_at_first_ns: int | None = None

    def take_next(self) -> dict | None:
        first = self.record["firstNextAt"] is None
        invocation = super().take_next()
        if first:
            self.pid_known.wait(5)
            if self.pid is not None:
                self.cpu_at_init_ns = task_cpu_ns(self.pid) - self.cpu_at_launch_ns
        return invocation

    def answer(self, request_id, kind, content_type, error_type, body) -> bool:
        answered = super().answer(request_id, kind, content_type, error_type, body)
        with self.lock:
            firsts = [i for i in self.record["invocations"] if i["index"] == 0]
            if self.cpu_at_first_ns is None and firsts and firsts[0]["answeredAt"] is not None:
                if self.pid is not None:
                    self.cpu_at_first_ns = task_cpu_ns(self.pid)
        return answered


class QuietServer(ThreadingHTTPServer):
    """The stub's server, quiet about the connections of a function the bench killed."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def handler_class(run: TimedRun):
    class Handler(stub.make_handler(run)):
        # The stub writes a response's head and body apart; with Nagle's algorithm the body
        # would wait for the client's delayed ACK (40 ms on Linux) and time the stub, not the
        # function. Lambda's own Runtime API shows no such delay.
        disable_nagle_algorithm = True

    return Handler


def cold_start(config: dict, spec: dict, warm: int, timeout: float, log_dir: Path) -> dict:
    events = events_for(spec, 1 + warm)
    expected = 201 if spec.get("passes") else 200
    run = TimedRun(events, "arn:aws:lambda:us-east-1:123456789012:function:bench", 10.0)
    server = QuietServer(("127.0.0.1", 0), handler_class(run))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    env = dict(config["env"])
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
    cgroup = config.get("cgroup")
    # A /bin/sh wrapper moves itself into the cgroup (which waits for an RCU grace period,
    # about 10 ms, the bench's own), says so on a pipe and stops itself; the bench notes the
    # wrapper's CPU and the time, and lets it exec the function (same pid): every instruction
    # of the function runs under the quota, and init and its CPU count from that exec.
    ready_read, ready_write = os.pipe()
    enter = f'echo $$ > "$0/cgroup.procs" && ' if cgroup else ""
    # The pipe is the wrapper's standard input (sh names no descriptor above 9); the function
    # gets /dev/null.
    script = f'{enter}printf x >&0 && kill -STOP $$ && exec "$@" </dev/null'
    argv = ["/bin/sh", "-c", script, cgroup or "-", *config["argv"]]
    throttled_before = cgroup_throttled(cgroup)
    label = config["label"]
    stdout = open(log_dir / f"{label}.stdout", "ab")
    stderr = open(log_dir / f"{label}.stderr", "ab")
    process = subprocess.Popen(argv, cwd=config.get("cwd"), env=env, stdout=stdout,
                               stderr=stderr, stdin=ready_write)
    os.close(ready_write)
    started = os.read(ready_read, 1)
    os.close(ready_read)
    if not started:
        process.wait()
        raise RuntimeError(f"{label}: the wrapper failed (cgroup {cgroup}); see {log_dir}")
    while process_state(process.pid) not in ("T", None):
        time.sleep(0.0002)
    # The wrapper's own CPU, not the function's.
    run.cpu_at_launch_ns = task_cpu_ns(process.pid)
    launched_at = time.time()
    os.kill(process.pid, signal.SIGCONT)
    run.pid = process.pid
    run.pid_known.set()
    try:
        finished = run.finished.wait(timeout)
        peak_kib = status_kib(process.pid, "VmHWM")
        exited = process.poll()
    finally:
        process.send_signal(signal.SIGKILL)
        try:
            _, _, usage = os.wait4(process.pid, 0)
        except ChildProcessError:
            usage = None  # it had exited, and poll() reaped it: reported below
        server.shutdown()
        server.server_close()
        stdout.close()
        stderr.close()
    throttled_after = cgroup_throttled(cgroup)
    record = run.record
    if not finished or record["initError"] is not None or exited is not None:
        raise RuntimeError(f"{label}: the run failed (finished={finished}, exited={exited}, "
                           f"initError={record['initError']}); see {log_dir}/{label}.stderr")
    invocations = sorted(record["invocations"], key=lambda i: i["index"])
    for invocation in invocations:
        payload = invocation["payload"]
        status = payload.get("statusCode") if isinstance(payload, dict) else None
        if invocation["kind"] != "response" or status != expected:
            raise RuntimeError(f"{label}: event {invocation['index']} was answered with "
                               f"{invocation['kind']} {json.dumps(payload)[:500]}")
    durations = [(i["answeredAt"] - i["deliveredAt"]) * 1000 for i in invocations]
    ms = lambda ns: None if ns is None else ns / 1e6  # noqa: E731
    return {
        "label": label,
        "initMs": (record["firstNextAt"] - launched_at) * 1000,
        "firstMs": durations[0],
        "warmMs": statistics.median(durations[1:]) if len(durations) > 1 else None,
        "initCpuMs": ms(run.cpu_at_init_ns),
        "firstCpuMs": ms(None if run.cpu_at_first_ns is None or run.cpu_at_init_ns is None
                         else run.cpu_at_first_ns - run.cpu_at_launch_ns
                         - run.cpu_at_init_ns),
        "totalCpuMs": (usage.ru_utime + usage.ru_stime) * 1000 if usage else None,
        "peakRssKiB": peak_kib,
        "maxRssKiB": usage.ru_maxrss if usage else None,
        "throttled": throttled_after[0] - throttled_before[0],
        "throttledMs": (throttled_after[1] - throttled_before[1]) / 1e6,
    }


def run_command(args: argparse.Namespace) -> int:
    with open(args.config, encoding="utf-8") as f:
        spec = json.load(f)
    log_dir = Path(args.logs)
    log_dir.mkdir(parents=True, exist_ok=True)
    configs = [c for c in spec["configs"] if not args.only or c["label"] in args.only]
    with open(args.out, "a", encoding="utf-8") as out:
        for round_number in range(args.runs + 1):
            for config in configs:
                result = cold_start(config, spec, args.warm, args.timeout, log_dir)
                # Let a throttled cgroup's period roll over and the machine settle.
                time.sleep(args.pause)
                if round_number == 0:
                    continue  # the warm-up round
                result["round"] = round_number
                out.write(json.dumps(result) + "\n")
                out.flush()
                print(f"round {round_number:2d} {result['label']:<28} init {result['initMs']:8.1f} ms"
                      f"  first {result['firstMs']:7.1f} ms  warm {result['warmMs']:6.2f} ms"
                      f"  cpu {result['initCpuMs']:7.1f}+{result['firstCpuMs']:6.1f} ms"
                      f"  peak {result['peakRssKiB'] / 1024:5.1f} MiB", file=sys.stderr)
    return 0


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(path: str) -> list[dict]:
    by_label: dict[str, list[dict]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                result = json.loads(line)
                by_label.setdefault(result["label"], []).append(result)
    rows = []
    for label, results in by_label.items():
        row = {"label": label, "runs": len(results)}
        for key in ("initMs", "firstMs", "warmMs", "initCpuMs", "firstCpuMs", "peakRssKiB",
                    "throttled"):
            row[key] = median([r[key] for r in results])
        row["initPlusFirstMs"] = median([r["initMs"] + r["firstMs"] for r in results])
        row["firstOverWarm"] = median([r["firstMs"] / r["warmMs"] for r in results if r["warmMs"]])
        rows.append(row)
    return rows


def report_command(args: argparse.Namespace) -> int:
    rows = summarise(args.results)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| configuration | runs | init ms | first ms | init + first ms | warm ms | "
          "first / warm | CPU init + first ms | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['runs']} | {r['initMs']:.1f} | {r['firstMs']:.1f} | "
              f"{r['initPlusFirstMs']:.1f} | {r['warmMs']:.2f} | {r['firstOverWarm']:.1f} | "
              f"{r['initCpuMs']:.1f} + {r['firstCpuMs']:.1f} | {r['peakRssKiB'] / 1024:.1f} |")
    if args.ratio:
        base = {r["label"]: r for r in rows}
        print()
        print("| Python / Rust | init + first | first | warm | CPU init + first | peak RSS |")
        print("|---|---|---|---|---|---|")
        for pair in args.ratio:
            python_label, rust_label = pair.split("/")
            p, q = base.get(python_label), base.get(rust_label)
            if not p or not q:
                continue
            cpu = lambda r: r["initCpuMs"] + r["firstCpuMs"]  # noqa: E731
            print(f"| {python_label} / {rust_label} | {p['initPlusFirstMs'] / q['initPlusFirstMs']:.1f} | "
                  f"{p['firstMs'] / q['firstMs']:.1f} | {p['warmMs'] / q['warmMs']:.1f} | "
                  f"{cpu(p) / cpu(q):.1f} | {p['peakRssKiB'] / q['peakRssKiB']:.1f} |")
    return 0


def events_command(args: argparse.Namespace) -> int:
    """The seeding events (create and publish a group-buy) and the measured public GET."""
    auth = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    body = dict(create_group_buy.LAMP, slug=args.slug)
    event = create_group_buy.http_api_event
    handle = {"handle": args.handle}
    target = {"handle": args.handle, "groupBuySlug": args.slug}
    written = {
        "create.json": [event("POST", GROUP_BUYS, handle, args.stage, auth, json.dumps(body))],
        "publish.json": [event("POST", PUBLISH, target, args.stage, auth)],
        "get.json": event("GET", PUBLIC_GROUP_BUY, target, args.stage, {}),
    }
    for name, content in written.items():
        with open(os.path.join(args.dir, name), "w", encoding="utf-8") as f:
            json.dump(content, f)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure cold starts")
    run.add_argument("--config", required=True)
    run.add_argument("--out", required=True, help="JSON lines, appended to")
    run.add_argument("--logs", required=True, help="directory for the functions' output")
    run.add_argument("--runs", type=int, default=10, help="cold starts per configuration")
    run.add_argument("--warm", type=int, default=20, help="warm events after the first")
    run.add_argument("--pause", type=float, default=0.3, help="seconds between cold starts")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per cold start")
    run.add_argument("--only", action="append", help="a label to run (repeatable)")
    report = commands.add_parser("report", help="medians per configuration")
    report.add_argument("results")
    report.add_argument("--json", action="store_true")
    report.add_argument("--ratio", action="append",
                        help="PYTHON_LABEL/RUST_LABEL: a row of Python-to-Rust ratios")
    events = commands.add_parser("events", help="write the seeding and measured events")
    events.add_argument("--token", required=True)
    events.add_argument("--handle", required=True)
    events.add_argument("--slug", required=True)
    events.add_argument("--stage", default="dev")
    events.add_argument("--dir", required=True)
    args = parser.parse_args()
    command = {"run": run_command, "report": report_command, "events": events_command}
    return command[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
