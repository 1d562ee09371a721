#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::run(group_buy::Route::AdminGroupBuys).await
}
