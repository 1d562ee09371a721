// The requests no route matches (API Gateway's `$default` route): 404 or 405 as problem+json.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::run::<group_buy::endpoint!(Unmatched)>().await
}
