//! Integration tests, grouped by route. Each test gets a fresh table in DynamoDB Local.

mod admin_rollup;
mod auth;
mod authorization_matrix;
mod daily_limits;
mod deadline;
mod deployment;
mod draws;
mod dynamodb_errors;
mod expiry;
mod group_buy_create;
mod group_buy_extend;
mod group_buy_get;
mod group_buy_list;
mod group_buy_transitions;
mod http_conventions;
mod idempotency;
mod interests_csv;
mod lost_responses;
mod my_interest;
mod participation;
mod personal_access_tokens;
mod price_tiers;
mod public_group_buys;
mod support_report;
mod visitor_passes;
mod waitlist;
