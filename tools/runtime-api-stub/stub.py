#!/usr/bin/env python3
"""A local stand-in for the AWS Lambda Runtime API (2018-06-01), Python 3 standard library only.

It serves a fixed queue of events to one function process (a `bootstrap` that reads
AWS_LAMBDA_RUNTIME_API), records what the function answers, writes the record as JSON and
exits once every event has an answer. scripts/package-test.sh runs the arm64 `bootstrap` that
`sam build` produced under qemu-aarch64 against it.

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

  GET  /2018-06-01/runtime/invocation/next              the next event, with the
       Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn and -Trace-Id headers;
       once the queue is empty it holds the call open, as Lambda freezes an idle instance
  POST /2018-06-01/runtime/invocation/<id>/response     the function's result for <id>
  POST /2018-06-01/runtime/invocation/<id>/error        an invocation error for <id>
  POST /2018-06-01/runtime/init/error                   an initialisation error: the run ends

Usage:

  stub.py --events events.json --results results.json --port-file port [--port 0]
          [--function-arn ARN] [--function-timeout 10] [--timeout 300]

events.json holds a JSON array of events, delivered in order. results.json gets
{"startedAt", "firstNextAt", "initError", "timedOut", "invocations": [{"index", "requestId",
"deliveredAt", "answeredAt", "kind": "response"|"error", "contentType", "errorType",
"payload"}]}; times are Unix epoch seconds (floats). The listening port goes to --port-file
once the server accepts connections (bind to port 0 and read it back: no race for a port).

Exit status: 0 when every event was answered (response or error: asserting what came back is
the caller's job), 2 after an init error, 3 on --timeout, 1 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2018-06-01/runtime"
ANSWER = re.compile(rf"^{API}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


def trace_id() -> str:
    """An X-Ray trace header as Lambda sends it (not sampled)."""
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class Run:
    """The queue of events and what the function answered, shared by the handler threads."""

    def __init__(self, events: list, function_arn: str, function_timeout: float) -> None:
        self.events = events
        self.function_arn = function_arn
        self.function_timeout = function_timeout
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.next_index = 0
        self.pending: dict[str, dict] = {}
        self.record: dict = {
            "startedAt": time.time(),
            "firstNextAt": None,
            "initError": None,
            "timedOut": False,
            "invocations": [],
        }

    def take_next(self) -> dict | None:
        with self.lock:
            if self.record["firstNextAt"] is None:
                self.record["firstNextAt"] = time.time()
            if self.next_index >= len(self.events):
                return None
            index = self.next_index
            self.next_index += 1
            invocation = {
                "index": index,
                "requestId": str(uuid.uuid4()),
                "deliveredAt": time.time(),
                "answeredAt": None,
                "kind": None,
                "contentType": None,
                "errorType": None,
                "payload": None,
            }
            self.record["invocations"].append(invocation)
            self.pending[invocation["requestId"]] = invocation
            return invocation

    def answer(self, request_id: str, kind: str, content_type: str | None,
               error_type: str | None, body: bytes) -> bool:
        with self.lock:
            invocation = self.pending.pop(request_id, None)
            if invocation is None:
                return False
            invocation.update(
                answeredAt=time.time(),
                kind=kind,
                contentType=content_type,
                errorType=error_type,
                payload=decode(body),
            )
            if self.next_index >= len(self.events) and not self.pending:
                self.finished.set()
            return True

    def init_error(self, error_type: str | None, body: bytes) -> None:
        with self.lock:
            self.record["initError"] = {"errorType": error_type, "payload": decode(body)}
        self.finished.set()


def decode(body: bytes):
    """The payload as JSON when it is JSON, else as text."""
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def make_handler(run: Run):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "runtime-api-stub/1"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
            if os.environ.get("RUNTIME_API_STUB_LOG"):
                sys.stderr.write("runtime-api-stub: " + format % args + "\n")

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        # Trailers, if any, end with an empty line.
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != f"{API}/invocation/next":
                self.reply(404, {"errorMessage": f"no such endpoint: GET {self.path}"})
                return
            invocation = run.take_next()
            if invocation is None:
                # Nothing left: a real instance would be frozen here. Hold the call until the
                # stub exits; the caller then ends the function process.
                run.finished.wait()
                time.sleep(3600)
                return
            event = run.events[invocation["index"]]
            deadline_ms = int((time.time() + run.function_timeout) * 1000)
            self.reply(200, event, {
                "Lambda-Runtime-Aws-Request-Id": invocation["requestId"],
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": run.function_arn,
                "Lambda-Runtime-Trace-Id": trace_id(),
            })

        def do_POST(self) -> None:  # noqa: N802
            body = self.read_body()
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
            if self.path == f"{API}/init/error":
                self.reply(202, {"status": "OK"})
                run.init_error(error_type, body)
                return
            match = ANSWER.match(self.path)
            if not match:
                self.reply(404, {"errorMessage": f"no such endpoint: POST {self.path}"})
                return
            if run.answer(match["id"], match["kind"], self.headers.get("Content-Type"),
                          error_type, body):
                self.reply(202, {"status": "OK"})
            else:
                # What Lambda answers for an unknown or already answered request id.
                self.reply(400, {"errorMessage": f"invalid request id {match['id']}",
                                 "errorType": "InvalidRequestID"})

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="JSON array of events, in order")
    parser.add_argument("--results", required=True, help="where to write the record (JSON)")
    parser.add_argument("--port-file", required=True, help="where to write the port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--function-arn",
                        default="arn:aws:lambda:us-east-1:123456789012:function:local")
    parser.add_argument("--function-timeout", type=float, default=10.0,
                        help="seconds, for Lambda-Runtime-Deadline-Ms")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="give up after this many seconds")
    args = parser.parse_args()

    with open(args.events, encoding="utf-8") as f:
        events = json.load(f)
    if not isinstance(events, list) or not events:
        parser.error("--events must hold a non-empty JSON array")

    run = Run(events, args.function_arn, args.function_timeout)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(run))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(args.port_file + ".tmp", args.port_file)

    timed_out = not run.finished.wait(args.timeout)
    with run.lock:
        run.record["timedOut"] = timed_out
        with open(args.results, "w", encoding="utf-8") as f:
            json.dump(run.record, f, indent=2)
            f.write("\n")
    # Held /next calls are daemon threads: leaving main ends them with the process.
    if run.record["initError"] is not None:
        return 2
    return 3 if timed_out else 0


if __name__ == "__main__":
    sys.exit(main())
