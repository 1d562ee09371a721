// The table's stream in, the stage's EventBridge bus out (group_buy::events::lambda).

// One batch at a time per instance (one shard's batch): one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::events::lambda::run().await
}
