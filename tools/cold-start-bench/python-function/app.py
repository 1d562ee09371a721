"""GET /v2/public/group-buys/{handle}/{groupBuySlug} in Python, for the cold-start bench only.

What a Python team would write with the usual tools (boto3, AWS Lambda Powertools' HTTP API
resolver and logger): the same read as the Rust function (one strongly consistent Query of the
group-buy's items, `SK` from `GB` to `GB$`), assembled into a public view, answered with the same
cache header. The client is made at import, during init, as Powertools recommends; like most
Python functions it makes no call to DynamoDB before the first event.
"""

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from boto3.dynamodb.types import TypeDeserializer

logger = Logger(service="group-buys")
app = APIGatewayHttpResolver()
dynamodb = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT"))
TABLE = os.environ["TABLE_NAME"]
deserialize = TypeDeserializer().deserialize
HIDDEN = {"PK", "SK", "version", "thresholdEdge"}
PUBLIC = {"published", "paused", "closed"}


def plain(value):
    """DynamoDB numbers come back as Decimal; JSON wants int or float."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float)):
        return int(value) if value == int(value) else float(value)
    return value


@app.get("/v2/public/group-buys/<handle>/<slug>")
def get_public_group_buy(handle: str, slug: str) -> Response:
    found = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="#pk = :pk AND #sk BETWEEN :first AND :last",
        ExpressionAttributeNames={"#pk": "PK", "#sk": "SK"},
        ExpressionAttributeValues={
            ":pk": {"S": f"GB#{handle}#{slug}"},
            ":first": {"S": "GB"},
            ":last": {"S": "GB$"},
        },
        ConsistentRead=True,
    )
    group_buy = {}
    for item in found["Items"]:
        group_buy.update({k: deserialize(v) for k, v in item.items()})
    if group_buy.get("status") not in PUBLIC:
        return Response(404, "application/problem+json",
                        json.dumps({"code": "GROUP_BUY_NOT_FOUND", "status": 404}))
    view = {k: plain(v) for k, v in group_buy.items()
            if k not in HIDDEN and not k.startswith("GSI")}
    return Response(200, "application/json", json.dumps(view),
                    headers={"Cache-Control": "public, max-age=10"})


@logger.inject_lambda_context
def handler(event, context):
    return app.resolve(event, context)
