// The route is a type: this binary links its own handler only. An instance serves one
// request at a time, on one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    group_buy::run::<group_buy::endpoint!(Route::GetGroupBuyStats)>().await
}
