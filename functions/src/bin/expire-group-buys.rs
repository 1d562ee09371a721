#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::expiry::run().await
}
