//! Redeemed visitor challenges: one item per challenge, written once by a conditional put,
//! deleted by TTL when the challenge expires (after which it could not be redeemed anyway).

use super::riders::PutOutcome;
use super::{Store, StoreError, n, s};
use crate::table::layout::{CHALLENGE_REDEEMED_SK, challenge_pk};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::Put;

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
        let put = Put::builder()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(challenge_pk(salt)))
            .item(SORT_KEY, s(CHALLENGE_REDEEMED_SK))
            .item(TTL_ATTRIBUTE, n(expires_epoch))
            .item(REDEMPTION, s(redemption))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(match self.put_unless_held(put).await? {
            PutOutcome::Written => Redemption::First,
            PutOutcome::Held(Some(holder)) if holder.get(REDEMPTION) == Some(&s(redemption)) => {
                Redemption::First
            }
            PutOutcome::Held(_) => Redemption::AlreadyRedeemed,
        })
    }
}
