//! Redeemed visitor challenges: one item per challenge, written once by a conditional put,
//! deleted by TTL when the challenge expires (after which it could not be redeemed anyway).

use super::{Store, StoreError, classify, n, observed, s};
use crate::table::layout::{CHALLENGE_REDEEMED_SK, challenge_pk};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};

/// The attribute that names the request whose redemption the item records.
const REDEMPTION: &str = "redemption";

/// Whether a challenge's redemption was the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redemption {
    First,
    AlreadyRedeemed,
}

impl Store {
    /// Marks the challenge of `salt` redeemed, once: the put holds only if no redemption of
    /// it exists, so of any number of concurrent redemptions exactly one is `First`. The
    /// item lives until `expires_epoch` (the challenge's own expiry).
    ///
    /// `redemption` is unique to the request: when the SDK sends the put again because the
    /// answer to one that committed was lost, the condition fails against the request's own
    /// item, which is told apart from another request's by it, and is still `First`.
    pub async fn redeem_challenge(
        &self,
        salt: &str,
        expires_epoch: i64,
        redemption: &str,
    ) -> Result<Redemption, StoreError> {
        let result = observed(
            self.client
                .put_item()
                .table_name(&self.table)
                .item(PARTITION_KEY, s(challenge_pk(salt)))
                .item(SORT_KEY, s(CHALLENGE_REDEEMED_SK))
                .item(TTL_ATTRIBUTE, n(expires_epoch))
                .item(REDEMPTION, s(redemption))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        );
        match result {
            Ok(_) => Ok(Redemption::First),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let ours = failed.item().and_then(|item| item.get(REDEMPTION))
                        == Some(&AttributeValue::S(redemption.to_owned()));
                    Ok(if ours {
                        Redemption::First
                    } else {
                        Redemption::AlreadyRedeemed
                    })
                }
                _ => Err(classify("PutItem", e)),
            },
        }
    }
}
