#!/usr/bin/env python3
"""What the dev server (`cargo lambda watch`, scripts/dev.sh) takes: PUT my-interest at a
given number of requests in flight.

  dev_server.py --api http://127.0.0.1:PORT --token JWT [--handle acme-decor]
                [--concurrency "1 10 50"] [--requests-each 5] [--timeout 30]

Creates and publishes a group-buy through the API, then for each concurrency C runs C clients
at once, each sending --requests-each first registrations (a fresh anonymous visitor each, its
visitor pass obtained through the API before the level starts) one after the other, every
request given --timeout seconds. Prints per level: answered, timed out,
throughput, p50 and p99 of the answered. A level where nothing was answered ends the
measurement (the server is wedged: the next level would only wait).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile  # noqa: E402 (the load test's nearest-rank percentile)


def request(api: str, method: str, path: str, headers: dict, body: dict | None,
            timeout: float) -> tuple[int | str, float]:
    """(status or what went wrong, seconds) of one request on a connection of its own."""
    url = urllib.parse.urlsplit(api)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    began = time.perf_counter()
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, path, body=data,
                           headers={**headers, "Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - began
    except TimeoutError:
        return "timeout", time.perf_counter() - began
    except OSError as e:
        return type(e).__name__, time.perf_counter() - began
    finally:
        connection.close()


def exchange(api: str, path: str, body: dict | None, timeout: float) -> dict:
    """The JSON answer of a POST that must answer 201."""
    url = urllib.parse.urlsplit(api)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request("POST", path, body=None if body is None else json.dumps(body),
                           headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = answer.read()
        if answer.status != 201:
            raise SystemExit(f"POST {path} answered {answer.status}: {data[:300]!r}")
        return json.loads(data)
    finally:
        connection.close()


def visitor_pass(api: str, timeout: float) -> dict:
    """The header of a new visitor: a challenge, solved, redeemed for a pass."""
    challenge = exchange(api, "/v2/public/visitor-challenges", None, timeout)
    salt, bits, nonce = challenge["salt"], challenge["difficulty"], 0
    while int.from_bytes(hashlib.sha256(f"{salt}{nonce}".encode()).digest(), "big") >> (256 - bits):
        nonce += 1
    redeemed = exchange(api, "/v2/public/visitor-passes",
                        {"challenge": challenge["challenge"], "nonce": str(nonce)}, timeout)
    return {"X-Visitor-Pass": redeemed["visitorPass"]}


def level(args, path: str, concurrency: int) -> dict:
    outcomes: list[tuple[int | str, float]] = []
    lock = threading.Lock()
    # Every visitor's pass before the level: the level measures registrations.
    passes = [[visitor_pass(args.api, 120) for _ in range(args.requests_each)]
              for _ in range(concurrency)]

    def client(visitors: list[dict]) -> None:
        for visitor in visitors:
            outcome = request(args.api, "PUT", path, visitor, {"quantity": 1}, args.timeout)
            with lock:
                outcomes.append(outcome)

    clients = [threading.Thread(target=client, args=(visitors,)) for visitors in passes]
    began = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    seconds = time.perf_counter() - began
    answered = [s * 1000 for status, s in outcomes if isinstance(status, int)]
    statuses: dict[str, int] = {}
    for status, _ in outcomes:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"concurrency": concurrency, "sent": len(outcomes), "statuses": statuses,
            "answered": len(answered), "seconds": seconds,
            "p50": statistics.median(answered) if answered else None,
            "p99": percentile(answered, 99) if answered else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True, help="an owner JWT for --handle")
    parser.add_argument("--handle", default="acme-decor")
    parser.add_argument("--concurrency", default="1 10 50", help="levels, space-separated")
    parser.add_argument("--requests-each", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args()

    slug = f"dev-server-{int(time.time())}"
    owner = {"Authorization": f"Bearer {args.token}"}
    group_buys = f"/v2/handles/{args.handle}/group-buys"
    # The first call of each function also starts its process: generous timeouts.
    created, _ = request(args.api, "POST", group_buys, owner,
                         {"slug": slug, "title": "Dev server load", "currency": "INR",
                          "unitPriceMinor": 100, "minParticipants": 10}, 120)
    published, _ = request(args.api, "POST", f"{group_buys}/{slug}/publish", owner, None, 120)
    if (created, published) != (201, 200):
        print(f"seeding failed: create {created}, publish {published}", file=sys.stderr)
        return 1
    path = f"/v2/public/group-buys/{args.handle}/{slug}/my-interest"
    # One registration first, so that no level pays for starting register-interest.
    first, seconds = request(args.api, "PUT", path, visitor_pass(args.api, 120),
                             {"quantity": 1}, 120)
    print(f"`cargo lambda watch`, PUT my-interest: first call {first} in {seconds * 1000:.0f} ms "
          f"(starts the function); then {args.requests_each} registrations per client, "
          f"{args.timeout:.0f} s timeout each.\n")
    print("| in flight | sent | answered | statuses | registrations/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for concurrency in (int(c) for c in args.concurrency.split()):
        r = level(args, path, concurrency)
        ms = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
        print(f"| {concurrency} | {r['sent']} | {r['answered']} | {r['statuses']} | "
              f"{r['answered'] / r['seconds']:.1f} | {ms(r['p50'])} | {ms(r['p99'])} |",
              flush=True)
        if not r["answered"]:
            print("\nnothing answered: the server is wedged; no further levels.")
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
