//! The `ClientRequestToken` of a transaction.
//!
//! A transaction can commit while its answer is lost (a dropped connection, an attempt timeout).
//! The SDK then sends the same call again, and without a token DynamoDB runs it again: against
//! its own effect, its conditions fail, and the caller is told 409 `SLUG_TAKEN` for its own
//! new draft, 412 after its transition applied, `created: false` for its first registration,
//! or 500 for a report that was stored. With a token, DynamoDB recognises the call for 10
//! minutes after it completed and answers success without writing again.
//!
//! The token is set on the call's input, which the SDK serialises once and resends as it is
//! on every attempt, so all attempts of one call carry it. (The SDK would fill in a random
//! one per call by itself, as the API marks the member an idempotency token; deriving it here
//! makes the guarantee explicit and independent of that, and ties it to the request.)
//!
//! Within a request it is derived from the request id and the transaction's content:
//! - another transaction of the same request (a handler deciding again after a race) gets
//!   another token. Reusing a token with other content within the 10 minutes would be
//!   refused with `IdempotentParameterMismatch`;
//! - the same transaction sent again by the same request is one write: recognised if it
//!   committed, run if it did not (a cancelled transaction does not use up its token);
//! - two requests never share a token, even with identical content: each request is its own
//!   intent, and the request id (API Gateway's, unique per request) keeps them apart.
//!
//! Outside a request (the scheduled expiry, the tools) every call gets a fresh random token.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// DynamoDB's limit on the token's length.
const MAX_LEN: usize = 36;

/// The token for a transaction of `items`, in whatever request the caller serves.
pub(super) fn for_transaction(items: &[TransactWriteItem]) -> String {
    match crate::telemetry::request_id() {
        Some(request_id) => derived(&request_id, items),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// The first 144 bits of SHA-256 over the request id and a canonical encoding of `items`, as
/// 36 hex digits.
fn derived(request_id: &str, items: &[TransactWriteItem]) -> String {
    let mut canonical = Canonical(Sha256::new());
    canonical.text("gharart/TransactWriteItems/v1");
    canonical.text(request_id);
    canonical.count(items.len());
    for item in items {
        canonical.item(item);
    }
    canonical
        .0
        .finalize()
        .iter()
        .take(MAX_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Feeds a transaction to a hash in one fixed order: maps by sorted key, every string with its
/// length, every field tagged, so that different content never encodes the same.
struct Canonical(Sha256);

impl Canonical {
    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_be_bytes());
    }

    fn text(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.0.update(b);
    }

    fn optional(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.text("some");
                self.text(s);
            }
            None => self.text("none"),
        }
    }

    fn sorted<V>(map: &HashMap<String, V>) -> Vec<(&String, &V)> {
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_unstable_by_key(|(k, _)| *k);
        entries
    }

    fn attributes(&mut self, map: Option<&HashMap<String, AttributeValue>>) {
        let empty = HashMap::new();
        let map = map.unwrap_or(&empty);
        self.count(map.len());
        for (name, value) in Self::sorted(map) {
            self.text(name);
            self.value(value);
        }
    }

    fn names(&mut self, map: Option<&HashMap<String, String>>) {
        let empty = HashMap::new();
        let map = map.unwrap_or(&empty);
        self.count(map.len());
        for (placeholder, name) in Self::sorted(map) {
            self.text(placeholder);
            self.text(name);
        }
    }

    fn texts(&mut self, tag: &str, values: &[String]) {
        self.text(tag);
        self.count(values.len());
        for v in values {
            self.text(v);
        }
    }

    fn value(&mut self, value: &AttributeValue) {
        match value {
            AttributeValue::S(s) => {
                self.text("S");
                self.text(s);
            }
            AttributeValue::N(n) => {
                self.text("N");
                self.text(n);
            }
            AttributeValue::B(b) => {
                self.text("B");
                self.bytes(b.as_ref());
            }
            AttributeValue::Bool(b) => self.text(if *b { "BOOL:true" } else { "BOOL:false" }),
            AttributeValue::Null(b) => self.text(if *b { "NULL:true" } else { "NULL:false" }),
            AttributeValue::Ss(values) => self.texts("SS", values),
            AttributeValue::Ns(values) => self.texts("NS", values),
            AttributeValue::Bs(values) => {
                self.text("BS");
                self.count(values.len());
                for b in values {
                    self.bytes(b.as_ref());
                }
            }
            AttributeValue::L(values) => {
                self.text("L");
                self.count(values.len());
                for v in values {
                    self.value(v);
                }
            }
            AttributeValue::M(map) => {
                self.text("M");
                self.attributes(Some(map));
            }
            // A variant this SDK version does not know; its debug form is still content.
            other => {
                self.text("other");
                self.text(&format!("{other:?}"));
            }
        }
    }

    /// What every action shares after its own fields.
    fn conditions(
        &mut self,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
        values: Option<&HashMap<String, AttributeValue>>,
        on_failure: Option<&str>,
    ) {
        self.optional(condition);
        self.names(names);
        self.attributes(values);
        self.optional(on_failure);
    }

    fn item(&mut self, item: &TransactWriteItem) {
        if let Some(put) = item.put() {
            self.text("Put");
            self.text(put.table_name());
            self.attributes(Some(put.item()));
            self.conditions(
                put.condition_expression(),
                put.expression_attribute_names(),
                put.expression_attribute_values(),
                put.return_values_on_condition_check_failure()
                    .map(|r| r.as_str()),
            );
        }
        if let Some(update) = item.update() {
            self.text("Update");
            self.text(update.table_name());
            self.attributes(Some(update.key()));
            self.text(update.update_expression());
            self.conditions(
                update.condition_expression(),
                update.expression_attribute_names(),
                update.expression_attribute_values(),
                update
                    .return_values_on_condition_check_failure()
                    .map(|r| r.as_str()),
            );
        }
        if let Some(delete) = item.delete() {
            self.text("Delete");
            self.text(delete.table_name());
            self.attributes(Some(delete.key()));
            self.conditions(
                delete.condition_expression(),
                delete.expression_attribute_names(),
                delete.expression_attribute_values(),
                delete
                    .return_values_on_condition_check_failure()
                    .map(|r| r.as_str()),
            );
        }
        if let Some(check) = item.condition_check() {
            self.text("ConditionCheck");
            self.text(check.table_name());
            self.attributes(Some(check.key()));
            self.conditions(
                Some(check.condition_expression()),
                check.expression_attribute_names(),
                check.expression_attribute_values(),
                check
                    .return_values_on_condition_check_failure()
                    .map(|r| r.as_str()),
            );
        }
        self.text("end");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{Put, Update};

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn put(pk: &str, extra: &[(&str, AttributeValue)]) -> TransactWriteItem {
        let mut item: HashMap<String, AttributeValue> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        item.insert("PK".into(), s(pk));
        let put = Put::builder()
            .table_name("t")
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "PK")
            .build()
            .expect("put");
        TransactWriteItem::builder().put(put).build()
    }

    fn counter(by: u32) -> TransactWriteItem {
        let update = Update::builder()
            .table_name("t")
            .key("PK", s("LIMIT#x"))
            .update_expression("ADD #c :n")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":n", AttributeValue::N(by.to_string()))
            .build()
            .expect("update");
        TransactWriteItem::builder().update(update).build()
    }

    #[test]
    fn a_token_fits_dynamodb_and_is_the_same_for_the_same_request_and_content() {
        let many: Vec<(&str, AttributeValue)> = vec![
            ("a", s("1")),
            ("b", AttributeValue::N("2".into())),
            (
                "c",
                AttributeValue::M(HashMap::from([("x".into(), s("y"))])),
            ),
            (
                "d",
                AttributeValue::L(vec![s("z"), AttributeValue::Bool(true)]),
            ),
        ];
        let first = derived("req-1", &[put("GB#1", &many), counter(1)]);
        assert_eq!(first.len(), MAX_LEN);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        // Rebuilt from scratch: new maps with their own iteration order, same content.
        for _ in 0..20 {
            assert_eq!(derived("req-1", &[put("GB#1", &many), counter(1)]), first);
        }
    }

    #[test]
    fn another_request_or_other_content_is_another_token() {
        let base = derived("req-1", &[put("GB#1", &[]), counter(1)]);
        let others = [
            derived("req-2", &[put("GB#1", &[]), counter(1)]),
            derived("req-1", &[put("GB#2", &[]), counter(1)]),
            derived("req-1", &[put("GB#1", &[]), counter(2)]),
            derived("req-1", &[counter(1), put("GB#1", &[])]),
            derived("req-1", &[put("GB#1", &[])]),
            derived("req-1", &[put("GB#1", &[("a", s("1"))]), counter(1)]),
            derived(
                "req-1",
                &[
                    put("GB#1", &[("a", AttributeValue::N("1".into()))]),
                    counter(1),
                ],
            ),
        ];
        for other in &others {
            assert_ne!(other, &base);
        }
        let distinct: std::collections::HashSet<_> = others.iter().collect();
        assert_eq!(distinct.len(), others.len());
    }

    #[tokio::test]
    async fn outside_a_request_every_call_gets_a_fresh_token() {
        let items = [counter(1)];
        let (a, b) = (for_transaction(&items), for_transaction(&items));
        assert_ne!(a, b);
        assert!(a.len() <= MAX_LEN);
        let (c, d) = crate::telemetry::serving("req-9".into(), async {
            (for_transaction(&items), for_transaction(&items))
        })
        .await;
        assert_eq!(
            (c.as_str(), d.as_str()),
            (derived("req-9", &items).as_str(), c.as_str())
        );
    }
}
