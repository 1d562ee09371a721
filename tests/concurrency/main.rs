//! Heavy concurrency tests: hundreds of requests at once against one group-buy. They are a
//! test binary of their own so that their load on DynamoDB Local never slows the
//! functional tests, which cargo runs in another process, one binary after the other.

mod draw;
mod idempotency;
mod interest;
mod rollup;
mod waitlist;
