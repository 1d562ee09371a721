//! Every route of the API, one row each. A row is the whole declaration of a route: its
//! function, method and path, the caller type that enforces who may call it (so its access
//! is that type's, by construction), how the stage throttles it and reserves concurrency for
//! it, its handler and its warm-up read. From the rows come the `Route` values, each route's
//! type (`endpoint!`), the dispatch of the in-process tests, and, through `cargo xtask
//! generate`, the function's resources in `template.yaml` and the `cargo lambda watch` router.
//!
//! Each route is a type, resolved at compile time: a Lambda binary names its route's type
//! (`group_buy::run::<group_buy::endpoint!(Route::CloseGroupBuy)>()`), so it links that route's
//! handler and the DynamoDB operations it makes, and nothing of the other routes.

use super::app::App;
use super::call::{Answer, Call};
use super::handlers::{admin, draw, owner, passes, public, support};
use super::pipeline::{
    AnyCaller, Anyone, Caller, Dispatch, Endpoint, KeyByRoute, OwnerReading, OwnerWriting,
    PlatformAdmin, WithKey, WithoutKey, answer, warm_up_credentials, warm_up_group_buy,
    warm_up_nothing, warm_up_public_list,
};
use super::spec::{Access, Concurrency, DEFAULT_ROUTE, RouteSpec, Throttle};
use crate::http::cors;
use crate::http::visitor::Visitor;
use crate::http::{ApiError, match_path};
use crate::store::StoreError;
use lambda_http::{Body, Request, RequestExt, Response};
use std::collections::HashMap;
use std::future::Future;

/// `WithKey` for a POST (every POST reads `Idempotency-Key`), `WithoutKey` otherwise.
macro_rules! keying {
    (POST) => {
        WithKey
    };
    ($other:ident) => {
        WithoutKey
    };
}

/// Declares the routes, one row each (see the module's documentation).
macro_rules! routes {
    ($(
        $(#[$doc:meta])*
        $route:ident {
            function: $function:literal,
            $method:ident $path:literal,
            caller: $caller:ty,
            throttle: $throttle:ident,
            concurrency: $concurrency:ident,
            handler: |$call:ident, $who:pat_param| $body:expr,
            warm_up: $warm:path $(,)?
        }
    )*) => {
        /// A route of the API.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Route {
            $($(#[$doc])* $route,)*
        }

        impl Route {
            pub const ALL: [Route; [$(stringify!($route)),*].len()] = [$(Self::$route),*];

            /// The route's row.
            pub const fn spec(self) -> &'static RouteSpec {
                match self {
                    $(Self::$route => <$route as Endpoint>::SPEC,)*
                }
            }
        }

        $(
            $(#[$doc])*
            pub struct $route;

            impl Endpoint for $route {
                const SPEC: &'static RouteSpec = &RouteSpec {
                    function: $function,
                    method: stringify!($method),
                    path: $path,
                    access: <$caller as Caller>::ACCESS,
                    keyed: matches!(<keying!($method) as super::pipeline::Keying>::KEYED, Some(true)),
                    throttle: Throttle::$throttle,
                    concurrency: Concurrency::$concurrency,
                };
                type Caller = $caller;
                type Keying = keying!($method);

                async fn handle($call: &mut Call<'_>, $who: $caller) -> Result<Answer, ApiError> {
                    $body
                }

                fn warm_up(app: &App) -> impl Future<Output = Result<(), StoreError>> + Send {
                    $warm(app)
                }
            }
        )*

        /// Answers a request whose route is known only at run time (the in-process tests).
        async fn dispatch(call: &mut Call<'_>, route: Route) -> Result<Answer, ApiError> {
            match route {
                $(Route::$route => answer::<$route>(call).await,)*
            }
        }
    };
}

/// The Lambda binary's type of a route: `group_buy::endpoint!(Route::CloseGroupBuy)`.
#[macro_export]
macro_rules! endpoint {
    (Route::$route:ident) => {
        $crate::api::routes::$route
    };
    (Unmatched) => {
        $crate::api::routes::Unmatched
    };
}

routes! {
    /// POST /v2/handles/{handle}/group-buys
    CreateGroupBuy {
        function: "create-group-buy",
        POST "/v2/handles/{handle}/group-buys",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| owner::create(call, owner.0).await,
        warm_up: warm_up_credentials,
    }
    /// GET /v2/handles/{handle}/group-buys
    ListGroupBuys {
        function: "list-group-buys",
        GET "/v2/handles/{handle}/group-buys",
        caller: OwnerReading, throttle: OwnerRead, concurrency: OwnerRead,
        handler: |call, owner| Ok(owner::list(call, owner.0).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// GET /v2/handles/{handle}/group-buys/{groupBuySlug}
    GetGroupBuy {
        function: "get-group-buy",
        GET "/v2/handles/{handle}/group-buys/{groupBuySlug}",
        caller: OwnerReading, throttle: OwnerRead, concurrency: OwnerRead,
        handler: |call, owner| Ok(owner::get(call, owner.0).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// POST …/publish
    PublishGroupBuy {
        function: "publish-group-buy",
        POST "/v2/handles/{handle}/group-buys/{groupBuySlug}/publish",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| owner::transition(call, owner.0, owner::publish).await,
        warm_up: warm_up_credentials,
    }
    /// POST …/pause
    PauseGroupBuy {
        function: "pause-group-buy",
        POST "/v2/handles/{handle}/group-buys/{groupBuySlug}/pause",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| owner::transition(call, owner.0, owner::pause).await,
        warm_up: warm_up_credentials,
    }
    /// POST …/close
    CloseGroupBuy {
        function: "close-group-buy",
        POST "/v2/handles/{handle}/group-buys/{groupBuySlug}/close",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| owner::transition(call, owner.0, owner::close_outcome).await,
        warm_up: warm_up_credentials,
    }
    /// POST …/extend
    ExtendGroupBuy {
        function: "extend-group-buy",
        POST "/v2/handles/{handle}/group-buys/{groupBuySlug}/extend",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| owner::extend(call, owner.0).await,
        warm_up: warm_up_credentials,
    }
    /// POST …/draw
    RunDraw {
        function: "run-draw",
        POST "/v2/handles/{handle}/group-buys/{groupBuySlug}/draw",
        caller: OwnerWriting, throttle: OwnerWrite, concurrency: OwnerWrite,
        handler: |call, owner| draw::run(call, owner.0).await,
        warm_up: warm_up_credentials,
    }
    /// GET …/interests
    ListInterests {
        function: "list-interests",
        GET "/v2/handles/{handle}/group-buys/{groupBuySlug}/interests",
        caller: OwnerReading, throttle: OwnerRead, concurrency: OwnerRead,
        handler: |call, owner| Ok(owner::interests(call, owner.0).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// GET …/stats
    GetGroupBuyStats {
        function: "get-group-buy-stats",
        GET "/v2/handles/{handle}/group-buys/{groupBuySlug}/stats",
        caller: OwnerReading, throttle: OwnerRead, concurrency: OwnerRead,
        handler: |call, owner| Ok(owner::stats(call, owner.0).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// GET /v2/public/group-buys/{handle}
    ListPublicGroupBuys {
        function: "list-public-group-buys",
        GET "/v2/public/group-buys/{handle}",
        caller: Anyone, throttle: PublicRead, concurrency: PublicRead,
        handler: |call, _anyone| Ok(public::list(call).await?.into()),
        warm_up: warm_up_public_list,
    }
    /// GET /v2/public/group-buys/{handle}/{groupBuySlug}
    GetPublicGroupBuy {
        function: "get-public-group-buy",
        GET "/v2/public/group-buys/{handle}/{groupBuySlug}",
        caller: Anyone, throttle: PublicRead, concurrency: PublicRead,
        handler: |call, _anyone| Ok(public::get(call).await?.into()),
        warm_up: warm_up_group_buy,
    }
    /// GET /v2/public/group-buys/{handle}/{groupBuySlug}/draw
    GetDraw {
        function: "get-draw",
        GET "/v2/public/group-buys/{handle}/{groupBuySlug}/draw",
        caller: Anyone, throttle: PublicRead, concurrency: PublicRead,
        handler: |call, _anyone| Ok(draw::list(call).await?.into()),
        warm_up: warm_up_group_buy,
    }
    /// POST /v2/public/visitor-challenges
    IssueVisitorChallenge {
        function: "issue-visitor-challenge",
        POST "/v2/public/visitor-challenges",
        caller: Anyone, throttle: VisitorPass, concurrency: VisitorPass,
        handler: |call, _anyone| Ok(passes::challenge(call)?.into()),
        warm_up: warm_up_nothing,
    }
    /// POST /v2/public/visitor-passes
    IssueVisitorPass {
        function: "issue-visitor-pass",
        POST "/v2/public/visitor-passes",
        caller: Anyone, throttle: VisitorPass, concurrency: VisitorPass,
        handler: |call, _anyone| Ok(passes::redeem(call).await?.into()),
        warm_up: warm_up_nothing,
    }
    /// PUT …/my-interest
    RegisterInterest {
        function: "register-interest",
        PUT "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest",
        caller: Visitor, throttle: Interest, concurrency: Interest,
        handler: |call, visitor| Ok(public::register(call, visitor).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// GET …/my-interest
    GetMyInterest {
        function: "get-my-interest",
        GET "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest",
        caller: Visitor, throttle: Interest, concurrency: Interest,
        handler: |call, visitor| Ok(public::my_interest(call, visitor).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// DELETE …/my-interest
    WithdrawInterest {
        function: "withdraw-interest",
        DELETE "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest",
        caller: Visitor, throttle: Interest, concurrency: Interest,
        handler: |call, visitor| Ok(public::withdraw(call, visitor).await?.into()),
        warm_up: warm_up_credentials,
    }
    /// POST /v2/support/report
    SubmitSupportReport {
        function: "submit-support-report",
        POST "/v2/support/report",
        caller: AnyCaller, throttle: Support, concurrency: Support,
        handler: |call, caller| support::submit(call, caller.0).await,
        warm_up: warm_up_credentials,
    }
    /// GET /v2/platform-admin/group-buys
    AdminGroupBuys {
        function: "admin-group-buys",
        GET "/v2/platform-admin/group-buys",
        caller: PlatformAdmin, throttle: Admin, concurrency: Admin,
        handler: |call, _admin| Ok(admin::group_buys(call).await?.into()),
        warm_up: warm_up_credentials,
    }
}

/// The requests no route matches (API Gateway's `$default` route; under `cargo lambda watch`,
/// every other method of a route's path and every other path): 405 `METHOD_NOT_ALLOWED` with
/// `Allow` when routes have the path, else 404 `ROUTE_NOT_FOUND`, each as problem+json with
/// the request id, so that no gateway or dev-server page reaches a client. It reads and
/// writes nothing; its throttle and concurrency are a public read's.
pub struct Unmatched;

impl Endpoint for Unmatched {
    const SPEC: &'static RouteSpec = &RouteSpec {
        function: "route-not-found",
        method: "ANY",
        path: DEFAULT_ROUTE,
        access: Access::Public,
        keyed: false,
        throttle: Throttle::PublicRead,
        concurrency: Concurrency::PublicRead,
    };
    type Caller = Anyone;
    type Keying = WithoutKey;

    async fn handle(call: &mut Call<'_>, _: Anyone) -> Result<Answer, ApiError> {
        let req = call.req;
        let path = Some(req.raw_http_path())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| req.uri().path());
        // No route takes OPTIONS: a browser's preflight for a public route comes here.
        let cors_methods: Vec<&str> = Route::ALL
            .iter()
            .filter(|route| matches!(route.access(), Access::Public | Access::Visitor))
            .filter(|route| route.match_path(path).is_some())
            .map(|route| route.method())
            .collect();
        let storefronts = &call.app.settings.storefront_origins;
        if let Some(preflight) = cors::preflight(req, &cors_methods, storefronts) {
            return Ok(preflight.into());
        }
        Err(unmatched(req.method().as_str(), path))
    }

    fn warm_up(app: &App) -> impl Future<Output = Result<(), StoreError>> + Send {
        warm_up_nothing(app)
    }
}

/// Why no route takes `method` on `path`: the methods of the routes that have the path, or
/// no route at all.
fn unmatched(method: &str, path: &str) -> ApiError {
    let allow: Vec<&'static str> = Route::ALL
        .iter()
        .filter(|route| route.method() != method && route.match_path(path).is_some())
        .map(|route| route.method())
        .collect();
    if allow.is_empty() {
        ApiError::RouteNotFound
    } else {
        ApiError::MethodNotAllowed { allow }
    }
}

/// Every function that answers HTTP, as its row says: each route's, then `Unmatched`'s.
pub fn http_functions() -> impl Iterator<Item = &'static RouteSpec> {
    Route::ALL
        .iter()
        .map(|route| route.spec())
        .chain([Unmatched::SPEC])
}

impl Route {
    pub const fn function(self) -> &'static str {
        self.spec().function
    }

    pub const fn method(self) -> &'static str {
        self.spec().method
    }

    pub const fn path(self) -> &'static str {
        self.spec().path
    }

    pub const fn access(self) -> Access {
        self.spec().access
    }

    /// Whether the route reads `Idempotency-Key` (every POST does).
    pub const fn accepts_idempotency_key(self) -> bool {
        self.spec().keyed
    }

    pub const fn throttle(self) -> Throttle {
        self.spec().throttle
    }

    pub const fn concurrency(self) -> Concurrency {
        self.spec().concurrency
    }

    /// The parameters of a concrete path of this route, or `None` if it is not one.
    pub fn match_path(self, path: &str) -> Option<HashMap<String, String>> {
        match_path(self.path(), path)
    }
}

/// The route of the call, matched at run time: every handler is reachable.
struct ByRoute;

impl App {
    /// Serves one request of `route`, found at run time among every route's handler (the
    /// in-process tests), exactly as the route's binary serves it.
    pub async fn handle(&self, route: Route, req: Request) -> Response<Body> {
        self.respond::<ByRoute>(route.spec(), req).await
    }
}

impl Dispatch for ByRoute {
    type Keying = KeyByRoute;

    async fn answer(call: &mut Call<'_>) -> Result<Answer, ApiError> {
        let route = Route::ALL
            .iter()
            .copied()
            .find(|route| route.function() == call.spec.function)
            .ok_or(ApiError::RouteNotFound)?;
        dispatch(call, route).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_post_and_only_posts_accept_an_idempotency_key() {
        for route in Route::ALL {
            assert_eq!(
                route.accepts_idempotency_key(),
                route.method() == "POST",
                "{route:?}"
            );
        }
    }

    #[test]
    fn an_unmatched_request_is_told_the_methods_of_its_path() {
        let owner_path = "/v2/handles/acme-decor/group-buys/cane-chair";
        match unmatched("DELETE", owner_path) {
            ApiError::MethodNotAllowed { allow } => assert_eq!(allow, ["GET"]),
            other => panic!("{other:?}"),
        }
        match unmatched(
            "PATCH",
            "/v2/public/group-buys/acme-decor/cane-chair/my-interest/",
        ) {
            ApiError::MethodNotAllowed { allow } => assert_eq!(allow, ["PUT", "GET", "DELETE"]),
            other => panic!("{other:?}"),
        }
        for path in ["/", "/v2", "/v2/handles/acme-decor", "/v3/support/report"] {
            assert!(
                matches!(unmatched("GET", path), ApiError::RouteNotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn function_names_are_unique() {
        let mut names: Vec<_> = Route::ALL.iter().map(|r| r.function()).collect();
        names.push(Unmatched::SPEC.function);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Route::ALL.len() + 1);
    }
}
