//! Each route as a type, resolved at compile time: a Lambda binary names its route's type
//! (`group_buy::run::<group_buy::endpoint!(Route::X)>()`), so it links that route's handler and
//! the DynamoDB operations it makes, and nothing of the other routes.
//!
//! The caller is still resolved in one place, before any handler runs: `serve` resolves the
//! route's `Caller` type, which enforces the access `Route::access()` names (a constant
//! assertion per route, and a test, check that they agree), and hands the handler the typed
//! caller. The tests keep a route value (`App::handle`); `dispatch` maps it to the same `serve`.

use super::{Answer, Call, OwnerTarget, admin, owner, public, support};
use crate::app::{App, KeyByRoute, Keying, WithKey, WithoutKey};
use crate::auth::{Principal, Scope};
use crate::domain::{Handle, Slug};
use crate::error::ApiError;
use crate::routes::{Access, Route};
use crate::store::{Listing, StoreError};
use crate::visitor::Visitor;
use std::future::Future;

/// The caller a route's handler receives, already authenticated and authorized.
pub trait Caller: Sized + Send {
    /// The access this type enforces; it must be the route's `Route::access()`.
    const ACCESS: Access;

    /// Resolves the caller of the request: 401 or 403 when there is none that may call.
    fn resolve(call: &mut Call<'_>) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

/// A route's handler, with the caller type it takes.
pub trait Endpoint: Send + Sync + 'static {
    const ROUTE: Route;
    type Caller: Caller;
    /// `WithKey` for the routes that read `Idempotency-Key`, `WithoutKey` for the others.
    type Keying: Keying;

    fn handle(
        call: &mut Call<'_>,
        caller: Self::Caller,
    ) -> impl Future<Output = Result<Answer, ApiError>> + Send;

    /// A read the function's IAM policy allows, made once during init so that the first
    /// request finds credentials, the endpoint, the TLS configuration and a connection to
    /// DynamoDB ready. It reads a key that holds nothing; its outcome does not matter.
    fn warm_up(app: &App) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Serves a request of `E`: the caller first, as `Route::access()` says, then the handler.
pub async fn serve<E: Endpoint>(call: &mut Call<'_>) -> Result<Answer, ApiError> {
    let caller = E::Caller::resolve(call).await?;
    E::handle(call, caller).await
}

/// How a request finds its handler: at compile time (`Static`, the Lambda binaries) or from
/// the route it carries (`ByRoute`, the in-process tests).
pub trait Dispatch {
    /// How the requests treat `Idempotency-Key`.
    type Keying: Keying;

    fn answer(call: &mut Call<'_>) -> impl Future<Output = Result<Answer, ApiError>> + Send;
}

/// The route `E`, known at compile time.
pub struct Static<E>(std::marker::PhantomData<E>);

impl<E: Endpoint> Dispatch for Static<E> {
    type Keying = E::Keying;

    fn answer(call: &mut Call<'_>) -> impl Future<Output = Result<Answer, ApiError>> + Send {
        serve::<E>(call)
    }
}

/// The route of the call, matched at run time: every handler is reachable.
pub struct ByRoute;

impl Dispatch for ByRoute {
    type Keying = KeyByRoute;

    fn answer(call: &mut Call<'_>) -> impl Future<Output = Result<Answer, ApiError>> + Send {
        dispatch(call)
    }
}

/// The Lambda binary's type of `Route::X`: `group_buy::endpoint!(Route::X)`.
#[macro_export]
macro_rules! endpoint {
    (Route::$route:ident) => {
        $crate::handlers::endpoints::$route
    };
}

/// Anyone: the public reads ask for no credentials.
pub struct Anyone;

impl Caller for Anyone {
    const ACCESS: Access = Access::Public;

    async fn resolve(_: &mut Call<'_>) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// A handle owner allowed to read the path's handle (`group-buys:read`).
pub struct OwnerReading(pub(crate) OwnerTarget);

impl Caller for OwnerReading {
    const ACCESS: Access = Access::Owner(Scope::GroupBuysRead);

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.owner(Scope::GroupBuysRead).await.map(Self)
    }
}

/// A handle owner allowed to change the path's handle (`group-buys:write`).
pub struct OwnerWriting(pub(crate) OwnerTarget);

impl Caller for OwnerWriting {
    const ACCESS: Access = Access::Owner(Scope::GroupBuysWrite);

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.owner(Scope::GroupBuysWrite).await.map(Self)
    }
}

/// A public visitor: a signed-in user or an `X-Visitor-Id`.
impl Caller for Visitor {
    const ACCESS: Access = Access::Visitor;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.visitor().await
    }
}

/// Any identified caller (a support report): identified as a visitor is.
pub struct AnyCaller(pub Visitor);

impl Caller for AnyCaller {
    const ACCESS: Access = Access::Caller;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.visitor().await.map(Self)
    }
}

/// A platform admin.
pub struct PlatformAdmin(pub Principal);

impl Caller for PlatformAdmin {
    const ACCESS: Access = Access::PlatformAdmin;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.platform_admin().await.map(Self)
    }
}

/// The id of no personal access token (ids are random and of another form).
const WARM_UP_PAT_ID: &str = "warm-up";
/// The group-buy key the public routes warm up with: a read of whatever is there, if anything.
const WARM_UP_HANDLE: &str = "lambda-warm-up";

/// The warm-up of a route that reads credentials: the lookup a personal access token costs.
async fn warm_up_credentials(app: &App) -> Result<(), StoreError> {
    app.store.get_pat(WARM_UP_PAT_ID).await.map(drop)
}

fn warm_up_target() -> Result<(Handle, Slug), StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("warm-up key: {e}"));
    Ok((
        Handle::parse(WARM_UP_HANDLE).map_err(corrupt)?,
        Slug::parse(WARM_UP_HANDLE).map_err(corrupt)?,
    ))
}

/// The warm-up of the public group-buy: the read its handler makes.
async fn warm_up_group_buy(app: &App) -> Result<(), StoreError> {
    let (handle, slug) = warm_up_target()?;
    app.store.get(&handle, &slug).await.map(drop)
}

/// The warm-up of the public list: the query its handler makes.
async fn warm_up_public_list(app: &App) -> Result<(), StoreError> {
    let (handle, _) = warm_up_target()?;
    app.store
        .list(&handle, Listing::Public, 1, None)
        .await
        .map(drop)
}

/// Declares each route's type: its caller type, its handler and its warm-up; and `dispatch`,
/// which maps a route value to the same types (a missing route fails to compile).
macro_rules! endpoints {
    ($(
        $(#[$doc:meta])*
        $route:ident: $caller:ty, $keying:ty, |$call:ident, $who:pat_param| $body:expr,
            warm_up: $warm:path;
    )*) => {
        $(
            $(#[$doc])*
            pub struct $route;

            impl Endpoint for $route {
                const ROUTE: Route = Route::$route;
                type Caller = $caller;
                type Keying = $keying;

                async fn handle($call: &mut Call<'_>, $who: $caller) -> Result<Answer, ApiError> {
                    $body
                }

                fn warm_up(app: &App) -> impl Future<Output = Result<(), StoreError>> + Send {
                    $warm(app)
                }
            }

            const _: () = assert!(
                Route::$route.access().same_as(<$caller as Caller>::ACCESS),
                concat!(stringify!($route), "'s caller type does not enforce its Route::access()"),
            );
            const _: () = assert!(
                matches!(
                    <$keying as Keying>::KEYED,
                    Some(keyed) if keyed == Route::$route.accepts_idempotency_key()
                ),
                concat!(stringify!($route), " reads Idempotency-Key exactly when it is a POST"),
            );
        )*

        /// Serves a request whose route is known only at run time (the in-process tests).
        pub async fn dispatch(call: &mut Call<'_>) -> Result<Answer, ApiError> {
            match call.route {
                $(Route::$route => serve::<$route>(call).await,)*
            }
        }

        /// Each route and the access its caller type enforces, for the test below.
        #[cfg(test)]
        const DECLARED: &[(Route, Access, Option<bool>)] =
            &[$((Route::$route, <$caller as Caller>::ACCESS, <$keying as Keying>::KEYED)),*];
    };
}

endpoints! {
    /// POST /v2/handles/{handle}/group-buys
    CreateGroupBuy: OwnerWriting, WithKey,
        |call, owner| owner::create(call, owner.0).await,
        warm_up: warm_up_credentials;
    /// GET /v2/handles/{handle}/group-buys
    ListGroupBuys: OwnerReading, WithoutKey,
        |call, owner| Ok(owner::list(call, owner.0).await?.into()),
        warm_up: warm_up_credentials;
    /// GET /v2/handles/{handle}/group-buys/{groupBuySlug}
    GetGroupBuy: OwnerReading, WithoutKey,
        |call, owner| Ok(owner::get(call, owner.0).await?.into()),
        warm_up: warm_up_credentials;
    /// POST …/publish
    PublishGroupBuy: OwnerWriting, WithKey,
        |call, owner| owner::transition(call, owner.0).await,
        warm_up: warm_up_credentials;
    /// POST …/pause
    PauseGroupBuy: OwnerWriting, WithKey,
        |call, owner| owner::transition(call, owner.0).await,
        warm_up: warm_up_credentials;
    /// POST …/close
    CloseGroupBuy: OwnerWriting, WithKey,
        |call, owner| owner::transition(call, owner.0).await,
        warm_up: warm_up_credentials;
    /// POST …/extend
    ExtendGroupBuy: OwnerWriting, WithKey,
        |call, owner| owner::extend(call, owner.0).await,
        warm_up: warm_up_credentials;
    /// GET …/interests
    ListInterests: OwnerReading, WithoutKey,
        |call, owner| Ok(owner::interests(call, owner.0).await?.into()),
        warm_up: warm_up_credentials;
    /// GET /v2/public/group-buys/{handle}
    ListPublicGroupBuys: Anyone, WithoutKey,
        |call, _anyone| Ok(public::list(call).await?.into()),
        warm_up: warm_up_public_list;
    /// GET /v2/public/group-buys/{handle}/{groupBuySlug}
    GetPublicGroupBuy: Anyone, WithoutKey,
        |call, _anyone| Ok(public::get(call).await?.into()),
        warm_up: warm_up_group_buy;
    /// PUT …/my-interest
    RegisterInterest: Visitor, WithoutKey,
        |call, visitor| Ok(public::register(call, visitor).await?.into()),
        warm_up: warm_up_credentials;
    /// GET …/my-interest
    GetMyInterest: Visitor, WithoutKey,
        |call, visitor| Ok(public::my_interest(call, visitor).await?.into()),
        warm_up: warm_up_credentials;
    /// DELETE …/my-interest
    WithdrawInterest: Visitor, WithoutKey,
        |call, visitor| Ok(public::withdraw(call, visitor).await?.into()),
        warm_up: warm_up_credentials;
    /// POST /v2/support/report
    SubmitSupportReport: AnyCaller, WithKey,
        |call, caller| support::submit(call, caller.0).await,
        warm_up: warm_up_credentials;
    /// GET /v2/platform-admin/group-buys
    AdminGroupBuys: PlatformAdmin, WithoutKey,
        |call, _admin| Ok(admin::group_buys(call).await?.into()),
        warm_up: warm_up_credentials;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_routes_types_enforce_its_access_and_idempotency() {
        assert_eq!(DECLARED.len(), Route::ALL.len());
        for route in Route::ALL {
            let declared: Vec<_> = DECLARED.iter().filter(|(r, ..)| *r == route).collect();
            assert_eq!(declared.len(), 1, "{route:?} has one type");
            let (_, access, keyed) = declared[0];
            assert_eq!(*access, route.access(), "{route:?}");
            assert_eq!(*keyed, Some(route.method() == "POST"), "{route:?}");
        }
    }
}
