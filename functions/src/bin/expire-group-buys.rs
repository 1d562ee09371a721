// The scheduled run's future nests the runtime, the call-log scope and the paging loop; a
// release build for arm64 (LTO) needs more than the default 128 levels to lay it out.
#![recursion_limit = "256"]

// One run at a time per instance: one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::expiry::run().await
}
