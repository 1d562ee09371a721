//! Every route of the API, once. `cargo xtask generate` derives each route's function, log
//! group, alarms and throttle in `template.yaml`, and the `cargo lambda watch` router in
//! `Cargo.toml`, from this table.

use crate::auth::Scope;
use std::collections::HashMap;

/// The role a platform admin's JWT carries (`roles` claim).
pub const PLATFORM_ADMIN: &str = "platform-admin";

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A handle owner's JWT with this scope and the handle in its `handles` claim.
    Owner(Scope),
    /// Anyone, no credentials.
    Public,
    /// A public visitor: a signed-in user's JWT or `X-Visitor-Id`.
    Visitor,
    /// Any authenticated caller (JWT, PAT) or identified visitor (`X-Visitor-Id`).
    Caller,
    /// A JWT with the role `platform-admin`.
    PlatformAdmin,
}

impl Access {
    /// `==` for constant evaluation: the binaries check at compile time that each route's
    /// caller type enforces the access this table names (`handlers::endpoints`).
    pub const fn same_as(self, other: Access) -> bool {
        match (self, other) {
            (Self::Owner(mine), Self::Owner(theirs)) => mine as u8 == theirs as u8,
            (Self::Public, Self::Public)
            | (Self::Visitor, Self::Visitor)
            | (Self::Caller, Self::Caller)
            | (Self::PlatformAdmin, Self::PlatformAdmin) => true,
            _ => false,
        }
    }
}

/// A route's API Gateway throttle: a row of `StageThrottles` in the template source
/// (`<name>Rate` and `<name>Burst`, per stage). Requests past it get API Gateway's 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Throttle {
    OwnerRead,
    OwnerWrite,
    PublicRead,
    Interest,
    Support,
    Admin,
}

impl Throttle {
    /// The key prefix in `StageThrottles`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OwnerRead => "OwnerRead",
            Self::OwnerWrite => "OwnerWrite",
            Self::PublicRead => "PublicRead",
            Self::Interest => "Interest",
            Self::Support => "Support",
            Self::Admin => "Admin",
        }
    }
}

/// A function's reserved concurrency: a row of `StageConcurrency` in the template source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Concurrency {
    PublicRead,
    Interest,
    OwnerRead,
    OwnerWrite,
    Support,
    Admin,
    /// The scheduled expiry (not a route).
    Expiry,
}

impl Concurrency {
    /// The key in `StageConcurrency`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PublicRead => "PublicRead",
            Self::Interest => "Interest",
            Self::OwnerRead => "OwnerRead",
            Self::OwnerWrite => "OwnerWrite",
            Self::Support => "Support",
            Self::Admin => "Admin",
            Self::Expiry => "Expiry",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    CreateGroupBuy,
    ListGroupBuys,
    GetGroupBuy,
    PublishGroupBuy,
    PauseGroupBuy,
    CloseGroupBuy,
    ExtendGroupBuy,
    ListInterests,
    ListPublicGroupBuys,
    GetPublicGroupBuy,
    RegisterInterest,
    GetMyInterest,
    WithdrawInterest,
    SubmitSupportReport,
    AdminGroupBuys,
}

impl Route {
    pub const ALL: [Route; 15] = [
        Self::CreateGroupBuy,
        Self::ListGroupBuys,
        Self::GetGroupBuy,
        Self::PublishGroupBuy,
        Self::PauseGroupBuy,
        Self::CloseGroupBuy,
        Self::ExtendGroupBuy,
        Self::ListInterests,
        Self::ListPublicGroupBuys,
        Self::GetPublicGroupBuy,
        Self::RegisterInterest,
        Self::GetMyInterest,
        Self::WithdrawInterest,
        Self::SubmitSupportReport,
        Self::AdminGroupBuys,
    ];

    pub const fn method(self) -> &'static str {
        match self {
            Self::ListGroupBuys
            | Self::GetGroupBuy
            | Self::ListInterests
            | Self::ListPublicGroupBuys
            | Self::GetPublicGroupBuy
            | Self::GetMyInterest
            | Self::AdminGroupBuys => "GET",
            Self::CreateGroupBuy
            | Self::PublishGroupBuy
            | Self::PauseGroupBuy
            | Self::CloseGroupBuy
            | Self::ExtendGroupBuy
            | Self::SubmitSupportReport => "POST",
            Self::RegisterInterest => "PUT",
            Self::WithdrawInterest => "DELETE",
        }
    }

    /// Whether the route reads `Idempotency-Key` (every POST does). A constant, so that the
    /// binaries of the other routes carry none of the idempotency code.
    pub const fn accepts_idempotency_key(self) -> bool {
        matches!(
            self,
            Self::CreateGroupBuy
                | Self::PublishGroupBuy
                | Self::PauseGroupBuy
                | Self::CloseGroupBuy
                | Self::ExtendGroupBuy
                | Self::SubmitSupportReport
        )
    }

    pub const fn access(self) -> Access {
        match self {
            Self::ListGroupBuys | Self::GetGroupBuy | Self::ListInterests => {
                Access::Owner(Scope::GroupBuysRead)
            }
            Self::CreateGroupBuy
            | Self::PublishGroupBuy
            | Self::PauseGroupBuy
            | Self::CloseGroupBuy
            | Self::ExtendGroupBuy => Access::Owner(Scope::GroupBuysWrite),
            Self::ListPublicGroupBuys | Self::GetPublicGroupBuy => Access::Public,
            Self::RegisterInterest | Self::GetMyInterest | Self::WithdrawInterest => {
                Access::Visitor
            }
            Self::SubmitSupportReport => Access::Caller,
            Self::AdminGroupBuys => Access::PlatformAdmin,
        }
    }

    /// The path template, in the `{param}` syntax API Gateway and the watch router share.
    pub fn path(self) -> &'static str {
        match self {
            Self::CreateGroupBuy | Self::ListGroupBuys => "/v2/handles/{handle}/group-buys",
            Self::GetGroupBuy => "/v2/handles/{handle}/group-buys/{groupBuySlug}",
            Self::PublishGroupBuy => "/v2/handles/{handle}/group-buys/{groupBuySlug}/publish",
            Self::PauseGroupBuy => "/v2/handles/{handle}/group-buys/{groupBuySlug}/pause",
            Self::CloseGroupBuy => "/v2/handles/{handle}/group-buys/{groupBuySlug}/close",
            Self::ExtendGroupBuy => "/v2/handles/{handle}/group-buys/{groupBuySlug}/extend",
            Self::ListInterests => "/v2/handles/{handle}/group-buys/{groupBuySlug}/interests",
            Self::ListPublicGroupBuys => "/v2/public/group-buys/{handle}",
            Self::GetPublicGroupBuy => "/v2/public/group-buys/{handle}/{groupBuySlug}",
            Self::RegisterInterest | Self::GetMyInterest | Self::WithdrawInterest => {
                "/v2/public/group-buys/{handle}/{groupBuySlug}/my-interest"
            }
            Self::SubmitSupportReport => "/v2/support/report",
            Self::AdminGroupBuys => "/v2/platform-admin/group-buys",
        }
    }

    /// The Lambda binary (and `cargo lambda watch` function) that serves the route.
    pub const fn function(self) -> &'static str {
        match self {
            Self::CreateGroupBuy => "create-group-buy",
            Self::ListGroupBuys => "list-group-buys",
            Self::GetGroupBuy => "get-group-buy",
            Self::PublishGroupBuy => "publish-group-buy",
            Self::PauseGroupBuy => "pause-group-buy",
            Self::CloseGroupBuy => "close-group-buy",
            Self::ExtendGroupBuy => "extend-group-buy",
            Self::ListInterests => "list-interests",
            Self::ListPublicGroupBuys => "list-public-group-buys",
            Self::GetPublicGroupBuy => "get-public-group-buy",
            Self::RegisterInterest => "register-interest",
            Self::GetMyInterest => "get-my-interest",
            Self::WithdrawInterest => "withdraw-interest",
            Self::SubmitSupportReport => "submit-support-report",
            Self::AdminGroupBuys => "admin-group-buys",
        }
    }

    /// The route's throttle on `HttpApi` (its `RouteSettings` entry).
    pub const fn throttle(self) -> Throttle {
        match self {
            Self::ListGroupBuys | Self::GetGroupBuy | Self::ListInterests => Throttle::OwnerRead,
            Self::CreateGroupBuy
            | Self::PublishGroupBuy
            | Self::PauseGroupBuy
            | Self::CloseGroupBuy
            | Self::ExtendGroupBuy => Throttle::OwnerWrite,
            Self::ListPublicGroupBuys | Self::GetPublicGroupBuy => Throttle::PublicRead,
            Self::RegisterInterest | Self::GetMyInterest | Self::WithdrawInterest => {
                Throttle::Interest
            }
            Self::SubmitSupportReport => Throttle::Support,
            Self::AdminGroupBuys => Throttle::Admin,
        }
    }

    /// The reserved concurrency of the route's function (applied outside dev).
    pub const fn concurrency(self) -> Concurrency {
        match self {
            Self::ListGroupBuys | Self::GetGroupBuy | Self::ListInterests => Concurrency::OwnerRead,
            Self::CreateGroupBuy
            | Self::PublishGroupBuy
            | Self::PauseGroupBuy
            | Self::CloseGroupBuy
            | Self::ExtendGroupBuy => Concurrency::OwnerWrite,
            Self::ListPublicGroupBuys | Self::GetPublicGroupBuy => Concurrency::PublicRead,
            Self::RegisterInterest | Self::GetMyInterest | Self::WithdrawInterest => {
                Concurrency::Interest
            }
            Self::SubmitSupportReport => Concurrency::Support,
            Self::AdminGroupBuys => Concurrency::Admin,
        }
    }

    /// Matches a concrete path against the template, yielding its parameters. Used when no
    /// API Gateway path parameters came with the event (Function URLs, `cargo lambda watch`).
    pub fn match_path(self, path: &str) -> Option<HashMap<String, String>> {
        let template: Vec<&str> = self.path().split('/').collect();
        let actual: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if template.len() != actual.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (t, a) in template.iter().zip(&actual) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !a.is_empty() => {
                    params.insert(name.to_owned(), (*a).to_owned());
                }
                None if t == a => {}
                _ => return None,
            }
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_concrete_paths() {
        let params = Route::PublishGroupBuy
            .match_path("/v2/handles/acme/group-buys/lamp/publish")
            .expect("matches");
        assert_eq!(params["handle"], "acme");
        assert_eq!(params["groupBuySlug"], "lamp");
        assert!(
            Route::PublishGroupBuy
                .match_path("/v2/handles/acme/group-buys/lamp/pause")
                .is_none()
        );
        assert!(
            Route::GetGroupBuy
                .match_path("/v2/handles//group-buys/lamp")
                .is_none()
        );
        assert!(
            Route::ListGroupBuys
                .match_path("/v2/handles/acme/group-buys/")
                .is_some()
        );
    }

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
    fn access_comparison_in_constants_agrees_with_eq() {
        let all = [
            Access::Owner(Scope::GroupBuysRead),
            Access::Owner(Scope::GroupBuysWrite),
            Access::Public,
            Access::Visitor,
            Access::Caller,
            Access::PlatformAdmin,
        ];
        for a in all {
            for b in all {
                assert_eq!(a.same_as(b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn function_names_are_unique() {
        let mut names: Vec<_> = Route::ALL.iter().map(|r| r.function()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Route::ALL.len());
    }
}
