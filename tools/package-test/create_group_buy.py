#!/usr/bin/env python3
"""The packaging test's scenario for CreateGroupBuyFunction (POST /v2/handles/{handle}/group-buys).

  create_group_buy.py events --token JWT [--handle acme-decor] [--stage dev] > events.json
  create_group_buy.py check --events events.json --results results.json [--launched-at EPOCH]

`events` writes API Gateway HTTP API events (payload format 2.0) as the deployed HttpApi sends
them to the function: a named stage, so rawPath and requestContext.http.path start with
/<stage> while routeKey does not; lower-case header names; pathParameters filled in by the
gateway; queryStringParameters and body left out when there are none. `check` asserts the
answers that tools/runtime-api-stub/stub.py recorded and prints them; it exits 1 on any
failed assertion.

The five invocations, in order, against a fresh table:

  1. create, with Idempotency-Key K           201 draft, version 1, Location, ETag, no-store
  2. the same request again, the same K       201 replayed (Idempotent-Replayed: true), read
                                              back from DynamoDB
  3. the same body, no Idempotency-Key        409 SLUG_TAKEN (the first write is in the table)
  4. another group-buy, its body base64-      201 (isBase64Encoded as the gateway sends a
     encoded                                  body it treats as binary)
  5. no Authorization header                  401 UNAUTHENTICATED, problem+json, WWW-Authenticate
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import time
import uuid

ROUTE = "/v2/handles/{handle}/group-buys"
LAMP = {
    "title": "Brass lamp, limited edition",
    "description": "Hand-cast, 40 pieces.",
    "currency": "INR",
    "unitPriceMinor": 249900,
    "minParticipants": 1,
    "maxParticipants": 40,
    "maxQuantityPerParticipant": 2,
}
RUG = {
    "title": "Jute rug, hand-woven",
    "description": "Natural jute, 120 x 180 cm.",
    "currency": "INR",
    "unitPriceMinor": 799900,
    "minParticipants": 5,
    "maxQuantityPerParticipant": 1,
}


def gateway_request_id() -> str:
    """An HTTP API request id looks like `JKJaXmPLvHcESHA=`."""
    return base64.b64encode(secrets.token_bytes(10)).decode()[:15] + "="


def http_api_event(method: str, route: str, params: dict, stage: str, headers: dict,
                   body: str | None = None, base64_body: bool = False) -> dict:
    path = route.format(**params)
    raw_path = f"/{stage}{path}"
    now = time.time()
    domain_prefix = "a1b2c3d4e5"
    domain = f"{domain_prefix}.execute-api.us-east-1.amazonaws.com"
    source_ip = "203.0.113.7"
    user_agent = "curl/8.5.0"
    trace = f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
    all_headers = {
        "accept": "*/*",
        "host": domain,
        "user-agent": user_agent,
        "x-amzn-trace-id": trace,
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body is not None:
        all_headers["content-length"] = str(len(body.encode()))
    all_headers.update({name.lower(): value for name, value in headers.items()})
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain_prefix,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": gateway_request_id(),
            "routeKey": f"{method} {route}",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": params,
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    return event


def events(token: str, handle: str, stage: str) -> list[dict]:
    auth = {"Authorization": f"Bearer {token}"}
    json_type = {"Content-Type": "application/json"}
    key = f"package-test-{uuid.uuid4()}"
    lamp = json.dumps(LAMP)
    create = lambda extra, body=lamp, b64=False: http_api_event(  # noqa: E731
        "POST", ROUTE, {"handle": handle}, stage, {**json_type, **extra}, body, b64)
    return [
        create({**auth, "Idempotency-Key": key, "X-Correlation-Id": "package-test-1"}),
        create({**auth, "Idempotency-Key": key}),
        create(auth),
        create(auth, json.dumps(RUG), True),
        create({}),
    ]


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def that(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def equal(self, actual, expected, what: str) -> None:
        self.that(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def http_response(invocation: dict, checks: Checks, n: int):
    """(status, lower-case headers, body as JSON) of an API Gateway v2 response payload."""
    if invocation.get("kind") != "response":
        checks.that(False, f"#{n}: the function answered {invocation.get('kind')!r} "
                           f"({invocation.get('errorType')}): {invocation.get('payload')!r}")
        return None
    payload = invocation["payload"]
    if not isinstance(payload, dict) or "statusCode" not in payload:
        checks.that(False, f"#{n}: not an API Gateway v2 response: {payload!r}")
        return None
    headers = {k.lower(): v for k, v in (payload.get("headers") or {}).items()}
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ",".join(values))
    raw = payload.get("body") or ""
    if payload.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8", "replace")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        checks.that(False, f"#{n}: the body is not JSON: {raw[:200]!r}")
        body = None
    return payload["statusCode"], headers, body


def check(args: argparse.Namespace) -> int:
    with open(args.events, encoding="utf-8") as f:
        sent = json.load(f)
    with open(args.results, encoding="utf-8") as f:
        record = json.load(f)
    checks = Checks()
    if record.get("initError"):
        checks.that(False, f"the function failed to initialise: {record['initError']!r}")
    if record.get("timedOut"):
        checks.that(False, "the stub timed out before every event was answered")
    invocations = record.get("invocations", [])
    checks.equal(len(invocations), len(sent), "invocations answered")

    handle = sent[0]["pathParameters"]["handle"]
    responses = {}
    for n, invocation in enumerate(invocations, start=1):
        parsed = http_response(invocation, checks, n)
        if parsed is None:
            continue
        status, headers, body = parsed
        responses[n] = parsed
        event = sent[invocation["index"]]
        # Every response carries the gateway's request id (README: the id support asks for).
        checks.equal(headers.get("x-request-id"), event["requestContext"]["requestId"],
                     f"#{n} x-request-id")
        checks.equal(headers.get("cache-control"), "no-store", f"#{n} cache-control")
        if status >= 400:
            checks.equal(headers.get("content-type"), "application/problem+json",
                         f"#{n} content-type")
            if isinstance(body, dict):
                checks.equal(body.get("status"), status, f"#{n} problem status")
                checks.equal(body.get("requestId"), event["requestContext"]["requestId"],
                             f"#{n} problem requestId")
        else:
            checks.equal(headers.get("content-type"), "application/json", f"#{n} content-type")

    def expect_created(n: int, title: str, slug: str) -> None:
        if n not in responses:
            return
        status, headers, body = responses[n]
        checks.equal(status, 201, f"#{n} status")
        body = body if isinstance(body, dict) else {}
        checks.equal(body.get("handle"), handle, f"#{n} handle")
        checks.equal(body.get("slug"), slug, f"#{n} slug")
        checks.equal(body.get("title"), title, f"#{n} title")
        checks.equal(body.get("status"), "draft", f"#{n} status field")
        checks.equal(body.get("version"), 1, f"#{n} version")
        checks.equal(headers.get("location"), f"/v2/handles/{handle}/group-buys/{slug}",
                     f"#{n} location")
        checks.equal(headers.get("etag"), '"1"', f"#{n} etag")

    lamp_slug = "brass-lamp-limited-edition"
    expect_created(1, LAMP["title"], lamp_slug)
    if 1 in responses:
        checks.equal(responses[1][1].get("x-correlation-id"), "package-test-1",
                     "#1 x-correlation-id")
        checks.that("idempotent-replayed" not in responses[1][1], "#1 is not a replay")
    expect_created(2, LAMP["title"], lamp_slug)
    if 1 in responses and 2 in responses:
        checks.equal(responses[2][1].get("idempotent-replayed"), "true", "#2 idempotent-replayed")
        checks.equal(responses[2][2], responses[1][2], "#2 body (the replay of #1)")
    if 3 in responses:
        status, _, body = responses[3]
        checks.equal(status, 409, "#3 status")
        checks.equal((body or {}).get("code"), "SLUG_TAKEN", "#3 code")
        checks.equal((body or {}).get("slug"), lamp_slug, "#3 slug")
    expect_created(4, RUG["title"], "jute-rug-hand-woven")
    if 5 in responses:
        status, headers, body = responses[5]
        checks.equal(status, 401, "#5 status")
        checks.equal((body or {}).get("code"), "UNAUTHENTICATED", "#5 code")
        checks.equal(headers.get("www-authenticate"), "Bearer", "#5 www-authenticate")

    report(record, sent, responses, args.launched_at)
    if checks.failures:
        print(f"FAILED: {len(checks.failures)} assertion(s):", file=sys.stderr)
        for failure in checks.failures:
            print(f"  - {failure}", file=sys.stderr)
        print("what the function answered:", file=sys.stderr)
        json.dump(invocations, sys.stderr, indent=2)
        print(file=sys.stderr)
        return 1
    print(f"all {len(sent)} responses as expected")
    return 0


def report(record: dict, sent: list, responses: dict, launched_at: float | None) -> None:
    for n, invocation in enumerate(record.get("invocations", []), start=1):
        event = sent[invocation["index"]]
        took = ""
        if invocation.get("answeredAt"):
            took = f"{(invocation['answeredAt'] - invocation['deliveredAt']) * 1000:7.1f} ms"
        status, _, body = responses.get(n, (invocation.get("kind"), {}, None))
        detail = (body or {}).get("code") or (body or {}).get("slug") or ""
        print(f"  #{n} {event['routeKey'].split()[0]} {event['rawPath']:<38} -> {status} "
              f"{detail:<28} {took}")
    if launched_at and record.get("firstNextAt"):
        print(f"  init under qemu (launch -> first /next): "
              f"{record['firstNextAt'] - launched_at:.2f} s")
    invocations = record.get("invocations") or []
    if launched_at and invocations and invocations[0].get("answeredAt"):
        print(f"  launch -> first response:                "
              f"{invocations[0]['answeredAt'] - launched_at:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("events", help="write the events (JSON) to stdout")
    make.add_argument("--token", required=True, help="an owner JWT for --handle")
    make.add_argument("--handle", default="acme-decor")
    make.add_argument("--stage", default="dev", help="the HttpApi stage (template: Stage)")
    verify = sub.add_parser("check", help="assert the recorded responses")
    verify.add_argument("--events", required=True)
    verify.add_argument("--results", required=True)
    verify.add_argument("--launched-at", type=float, help="when the function started (epoch s)")
    args = parser.parse_args()
    if args.command == "events":
        json.dump(events(args.token, args.handle, args.stage), sys.stdout, indent=2)
        print()
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
