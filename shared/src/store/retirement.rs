//! Waitlist entries are kept 30 days after their group-buy closes (API.md, "Data retention"),
//! by TTL, without a scan and without making the close wait on an unbounded number of items.
//! The close's own transaction puts one small item in the `RETIRE` partition
//! (`retirement_put`); the scheduled function takes these oldest first, gives every waitlist
//! item of that group-buy (a Query of its own partition) `ttl` = the close + 30 days, and
//! deletes the item. After a close no write reaches those items any more (joins, changes and
//! promotions need an open group-buy), and setting a TTL again is harmless, so a retirement
//! cut short is simply done again by a later run. A draw campaign's entries, seed and ranks
//! (their own partitions, `store::draw`) are given the same expiry.

use super::{Store, StoreError, classify, encode, n, observed, part_key, pk_of, s};
use crate::deadline::Deadline;
use crate::domain::draw::DRAW_SHARDS;
use crate::domain::{Handle, Slug, Timestamp};
use crate::table::layout::{
    RETIREMENT_PK, WAITLIST_ITEMS_PREFIX, draw_pk, draw_shard_pk, retirement_sk,
};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Days a waitlist entry is kept after its group-buy closes.
pub const RETENTION_AFTER_CLOSE_DAYS: i64 = 30;
/// Items given their TTL at once.
const CONCURRENT_UPDATES: usize = 16;
/// No page of keys is started with less time left than this (a page is up to 1 MB of keys).
const TIME_PER_PAGE: Duration = Duration::from_secs(10);

/// A closed group-buy whose waitlist items still need their expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retirement {
    pub handle: Handle,
    pub slug: Slug,
    pub closed_at: Timestamp,
    /// A draw campaign: its entries, seed and ranks (`store::draw`) expire too.
    #[serde(default)]
    pub draw: bool,
}

impl Retirement {
    /// When the group-buy's waitlist items expire (epoch seconds).
    pub fn expires_epoch(&self) -> i64 {
        self.closed_at.as_datetime().timestamp() + RETENTION_AFTER_CLOSE_DAYS * 24 * 60 * 60
    }

    fn sort_key(&self) -> String {
        retirement_sk(
            &self.closed_at.to_string(),
            self.handle.as_str(),
            self.slug.as_str(),
        )
    }
}

/// The put of `retirement`, for the close's transaction.
pub(super) fn retirement_put(table: &str, retirement: &Retirement) -> Result<Put, StoreError> {
    let mut item = encode(retirement)?;
    item.extend(part_key(RETIREMENT_PK, &retirement.sort_key()));
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// The oldest `limit` closes whose waitlist items await their expiry.
    pub async fn retirements_due(&self, limit: i32) -> Result<Vec<Retirement>, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(RETIREMENT_PK))
            .limit(limit);
        Ok(self.page(query, None).await?.items)
    }

    /// Gives every waitlist item of `retirement`'s group-buy (and a draw's items) its `ttl`, a
    /// page at a time, then deletes the retirement. Returns the items given a TTL, or `None`
    /// when `deadline` came first: the retirement stays, and the next run carries on, reading
    /// past the items already done (a draw of 100,000 entries may take a few runs).
    pub async fn retire(
        &self,
        retirement: &Retirement,
        deadline: Deadline,
    ) -> Result<Option<usize>, StoreError> {
        let pk = pk_of(&retirement.handle, &retirement.slug);
        let expires = retirement.expires_epoch();
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .projection_expression("#pk, #sk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s(WAITLIST_ITEMS_PREFIX));
        let Some(mut retired) = self.expire_all(query, expires, deadline).await? else {
            return Ok(None);
        };
        if retirement.draw {
            let (handle, slug) = (retirement.handle.as_str(), retirement.slug.as_str());
            let partitions = (0..DRAW_SHARDS)
                .map(|shard| draw_shard_pk(handle, slug, shard))
                .chain([draw_pk(handle, slug)]);
            for partition in partitions {
                let query = self
                    .query()
                    .key_condition_expression("#pk = :pk")
                    .projection_expression("#pk, #sk")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .expression_attribute_names("#sk", SORT_KEY)
                    .expression_attribute_values(":pk", s(partition));
                match self.expire_all(query, expires, deadline).await? {
                    Some(done) => retired += done,
                    None => return Ok(None),
                }
            }
        }
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(part_key(RETIREMENT_PK, &retirement.sort_key())))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        observed(deleted).map_err(|e| classify("DeleteItem", e))?;
        Ok(Some(retired))
    }

    /// Sets `ttl` on every item `query` finds that has not this one yet (keys only), a page
    /// at a time; `None` when `deadline` came first.
    async fn expire_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        expires: i64,
        deadline: Deadline,
    ) -> Result<Option<usize>, StoreError> {
        use futures_util::{StreamExt, TryStreamExt};
        let query = query
            .filter_expression("attribute_not_exists(#ttl) OR #ttl <> :ttl")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":ttl", n(expires));
        let mut retired = 0;
        let mut start = None;
        loop {
            if deadline.too_close_for(TIME_PER_PAGE) {
                return Ok(None);
            }
            let (keys, last) = self.raw_page(query.clone(), start).await?;
            retired += keys.len();
            futures_util::stream::iter(keys)
                .map(|key| self.set_ttl(key, expires))
                .buffer_unordered(CONCURRENT_UPDATES)
                .try_collect::<()>()
                .await?;
            start = last;
            if start.is_none() {
                return Ok(Some(retired));
            }
        }
    }

    /// Sets `ttl` on the item of `key`, if it is still there.
    async fn set_ttl(&self, key: super::Item, expires: i64) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #ttl = :ttl")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":ttl", n(expires))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match observed(sent).map_err(|e| classify("UpdateItem", e)) {
            // Gone already (its TTL passed): nothing to keep.
            Ok(_) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
