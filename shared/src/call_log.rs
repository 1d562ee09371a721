//! A record of every DynamoDB request a function sends, described the way IAM sees it: for
//! each item the action, the table or index, the partition key and the attribute names.
//!
//! DynamoDB Local ignores IAM, so nothing else would show that a deployed function is refused.
//! The tests run with `DYNAMODB_CALL_LOG` naming a file; every request is appended to it as one
//! JSON line, and `tests/iam` checks each against that function's policy in `template.yaml`.
//! The template never sets the variable: a deployed function records nothing. The record holds
//! key values (hashed visitor keys at most) and attribute names, never attribute values.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The variable that turns the record on, naming the file to append to.
pub const CALL_LOG_VARIABLE: &str = "DYNAMODB_CALL_LOG";

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `work` as the function `name` (a Lambda binary): the calls it makes are recorded as
/// that function's. Calls outside any function (test fixtures, the operator tool) are not.
pub async fn as_function<F: Future>(name: &'static str, work: F) -> F::Output {
    FUNCTION.scope(name, work).await
}

/// One DynamoDB request of one function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedCall {
    pub function: String,
    /// The API operation (`TransactWriteItems`, `Query`, …).
    pub operation: String,
    /// What IAM authorizes: one entry per item action (a transaction has several).
    pub accesses: Vec<ItemAccess>,
}

/// One authorization IAM makes for a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemAccess {
    /// The IAM action, e.g. `dynamodb:UpdateItem`.
    pub action: String,
    pub table: String,
    /// Set for a Query of a secondary index, whose resource is `table/<t>/index/<name>`.
    pub index: Option<String>,
    /// The partition key values (`dynamodb:LeadingKeys`).
    pub leading_keys: Vec<String>,
    /// Every top-level attribute name the request names (`dynamodb:Attributes`).
    pub attributes: Vec<String>,
}

/// The SDK interceptor that appends each request, as sent (retries included), to the file.
#[derive(Debug)]
pub struct CallLog {
    file: Mutex<File>,
}

impl CallLog {
    /// The call log of `DYNAMODB_CALL_LOG`, when set; an unusable path is an error at start.
    pub fn from_env() -> std::io::Result<Option<Self>> {
        let Some(path) = std::env::var_os(CALL_LOG_VARIABLE).map(PathBuf::from) else {
            return Ok(None);
        };
        let file = File::options().create(true).append(true).open(path)?;
        Ok(Some(Self {
            file: Mutex::new(file),
        }))
    }

    fn append(&self, call: &RecordedCall) -> Result<(), BoxError> {
        let mut line = serde_json::to_vec(call)?;
        line.push(b'\n');
        // One write per line: with O_APPEND, lines of concurrent processes do not interleave.
        let mut file = self.file.lock().map_err(|_| "call log lock poisoned")?;
        file.write_all(&line)?;
        Ok(())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(function) = FUNCTION.try_with(|f| *f) else {
            return Ok(());
        };
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit_once('.'))
            .map(|(_, operation)| operation.to_owned())
            .ok_or("a DynamoDB request without X-Amz-Target")?;
        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or(b"{}"))?;
        let call = RecordedCall {
            function: function.to_owned(),
            accesses: accesses(&operation, &body),
            operation,
        };
        self.append(&call)
    }
}

/// What IAM authorizes for a request body of `operation`.
pub fn accesses(operation: &str, body: &Value) -> Vec<ItemAccess> {
    let action = |name: &str| format!("dynamodb:{name}");
    match operation {
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.as_object()?.iter().next())
            .map(|(kind, item)| {
                let name = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => other,
                };
                single(action(name), item)
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, request)| batch(action(operation), table, request))
            .collect(),
        _ => vec![single(action(operation), body)],
    }
}

/// One item action (or a Query) with its table, key, expressions and names.
fn single(action: String, request: &Value) -> ItemAccess {
    let names = request["ExpressionAttributeNames"].as_object();
    let mut attributes = BTreeSet::new();
    let mut leading_keys = Vec::new();
    for keyed in [&request["Key"], &request["Item"]] {
        if let Some(item) = keyed.as_object() {
            attributes.extend(item.keys().cloned());
            leading_keys.extend(partition_key(item));
        }
    }
    for expression in [
        "UpdateExpression",
        "ConditionExpression",
        "ProjectionExpression",
        "KeyConditionExpression",
        "FilterExpression",
    ] {
        if let Some(text) = request[expression].as_str() {
            attributes.extend(top_level_names(text, names));
        }
    }
    let index = request["IndexName"].as_str().map(str::to_owned);
    if let Some(condition) = request["KeyConditionExpression"].as_str() {
        leading_keys.extend(queried_partition(
            condition,
            index.as_deref(),
            names,
            request["ExpressionAttributeValues"].as_object(),
        ));
    }
    ItemAccess {
        action,
        table: request["TableName"].as_str().unwrap_or_default().to_owned(),
        index,
        leading_keys,
        attributes: attributes.into_iter().collect(),
    }
}

fn batch(action: String, table: &str, request: &Value) -> ItemAccess {
    let names = request["ExpressionAttributeNames"].as_object();
    let mut attributes = BTreeSet::new();
    let mut leading_keys = Vec::new();
    for key in request["Keys"].as_array().into_iter().flatten() {
        if let Some(key) = key.as_object() {
            attributes.extend(key.keys().cloned());
            leading_keys.extend(partition_key(key));
        }
    }
    if let Some(text) = request["ProjectionExpression"].as_str() {
        attributes.extend(top_level_names(text, names));
    }
    ItemAccess {
        action,
        table: table.to_owned(),
        index: None,
        leading_keys,
        attributes: attributes.into_iter().collect(),
    }
}

fn partition_key(item: &Map<String, Value>) -> Option<String> {
    item.get(crate::table::PARTITION_KEY)?["S"]
        .as_str()
        .map(str::to_owned)
}

/// The partition key value a key condition names (`#pk = :pk`), for the table or the index.
fn queried_partition(
    condition: &str,
    index: Option<&str>,
    names: Option<&Map<String, Value>>,
    values: Option<&Map<String, Value>>,
) -> Option<String> {
    let key = match index {
        None => crate::table::PARTITION_KEY,
        Some(index) => {
            crate::table::INDEXES
                .iter()
                .find(|i| i.name == index)?
                .partition_key
        }
    };
    let resolve = |token: &str| resolve_name(token, names);
    let tokens: Vec<&str> = condition.split_whitespace().collect();
    tokens.windows(3).find_map(|w| match w {
        [name, "=", value] if resolve(name) == key => {
            values?.get(*value)?["S"].as_str().map(str::to_owned)
        }
        [value, "=", name] if resolve(name) == key => {
            values?.get(*value)?["S"].as_str().map(str::to_owned)
        }
        _ => None,
    })
}

fn resolve_name(token: &str, names: Option<&Map<String, Value>>) -> String {
    match token.strip_prefix('#') {
        Some(_) => names
            .and_then(|names| names.get(token))
            .and_then(Value::as_str)
            .unwrap_or(token)
            .to_owned(),
        None => token.to_owned(),
    }
}

/// Words of an expression grammar that are not attribute names.
const EXPRESSION_WORDS: &[&str] = &[
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
];

/// The top-level attribute names an expression names: `#placeholders` resolved, values
/// (`:v`), grammar words and numbers skipped, `a.b[0]` counted as `a`.
pub fn top_level_names(expression: &str, names: Option<&Map<String, Value>>) -> Vec<String> {
    expression
        .split(|c: char| !(c.is_alphanumeric() || "#:_.".contains(c)))
        .filter_map(|token| token.split('.').next())
        .filter(|head| {
            !(head.is_empty()
                || head.starts_with(':')
                || head.starts_with(|c: char| c.is_ascii_digit())
                || EXPRESSION_WORDS.contains(head))
        })
        .map(|head| resolve_name(head, names))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transaction_is_one_access_per_item() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"PK": {"S": "GB#a#b"}, "SK": {"S": "GB"}, "title": {"S": "x"}},
                     "ConditionExpression": "attribute_not_exists(#pk)",
                     "ExpressionAttributeNames": {"#pk": "PK"}}},
            {"Update": {"TableName": "t", "Key": {"PK": {"S": "LIMIT#owner-writes#a#2026-11-24"}, "SK": {"S": "LIMIT"}},
                        "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #ttl = :ttl",
                        "ExpressionAttributeNames": {"#count": "count", "#ttl": "ttl"}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "ROLLUP"}, "SK": {"S": "x"}},
                                "ConditionExpression": "attribute_exists(PK)"}}
        ]});
        let found = accesses("TransactWriteItems", &body);
        let actions: Vec<_> = found.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem"
            ]
        );
        assert_eq!(found[1].leading_keys, ["LIMIT#owner-writes#a#2026-11-24"]);
        assert_eq!(found[1].attributes, ["PK", "SK", "count", "ttl"]);
        assert_eq!(found[0].attributes, ["PK", "SK", "title"]);
    }

    #[test]
    fn an_index_query_names_the_index_partition() {
        let body = json!({"TableName": "t", "IndexName": "GSI3",
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :p)",
            "ExpressionAttributeNames": {"#pk": "GSI3PK", "#sk": "GSI3SK"},
            "ExpressionAttributeValues": {":pk": {"S": "PUBLIC#acme"}, ":p": {"S": "2"}}});
        let [access] = accesses("Query", &body).try_into().expect("one access");
        assert_eq!(access.index.as_deref(), Some("GSI3"));
        assert_eq!(access.leading_keys, ["PUBLIC#acme"]);
        assert_eq!(access.attributes, ["GSI3PK", "GSI3SK"]);
    }

    #[test]
    fn nested_paths_count_as_their_top_level_attribute() {
        let names = json!({"#a": "counts", "#b": "byStatus"});
        assert_eq!(
            top_level_names("SET #a.#b = :v, plain[0] = :w", names.as_object()),
            ["counts", "plain"]
        );
    }
}
