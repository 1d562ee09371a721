//! Redeemed visitor challenges: one item per challenge, written once by a conditional put,
//! deleted by TTL when the challenge expires (after which it could not be redeemed anyway).

use super::{Store, StoreError, classify, n, observed, s};
use crate::table::layout::{CHALLENGE_REDEEMED_SK, challenge_pk};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

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
    pub async fn redeem_challenge(
        &self,
        salt: &str,
        expires_epoch: i64,
    ) -> Result<Redemption, StoreError> {
        let result = observed(
            self.client
                .put_item()
                .table_name(&self.table)
                .item(PARTITION_KEY, s(challenge_pk(salt)))
                .item(SORT_KEY, s(CHALLENGE_REDEEMED_SK))
                .item(TTL_ATTRIBUTE, n(expires_epoch))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        );
        match result {
            Ok(_) => Ok(Redemption::First),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Ok(Redemption::AlreadyRedeemed)
                }
                _ => Err(classify("PutItem", e)),
            },
        }
    }
}
