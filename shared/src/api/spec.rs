//! What a route is, as data: its function, method, path, who may call it and how it is
//! deployed. `routes` declares one row per route and gives each its `RouteSpec`; everything
//! below the route table (the call, the handlers, the pipeline) sees a route only as this.

use crate::auth::Scope;

/// The role a platform admin's JWT carries (`roles` claim).
pub const PLATFORM_ADMIN: &str = "platform-admin";

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A handle owner's JWT with this scope and the handle in its `handles` claim.
    Owner(Scope),
    /// Anyone, no credentials.
    Public,
    /// A public visitor: a signed-in user's JWT or a visitor pass (`X-Visitor-Pass`).
    Visitor,
    /// Any authenticated caller (JWT, PAT) or visitor pass (`X-Visitor-Pass`).
    Caller,
    /// A JWT with the role `platform-admin`.
    PlatformAdmin,
}

/// The stage's per-route throttle a route gets (`StageThrottles` in template.yaml: the rows
/// `<name>Rate` and `<name>Burst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    OwnerRead,
    OwnerWrite,
    PublicRead,
    /// The public writes that issue visitor challenges and passes.
    VisitorPass,
    Interest,
    Support,
    Admin,
}

impl Throttle {
    pub const fn name(self) -> &'static str {
        match self {
            Self::OwnerRead => "OwnerRead",
            Self::OwnerWrite => "OwnerWrite",
            Self::PublicRead => "PublicRead",
            Self::VisitorPass => "VisitorPass",
            Self::Interest => "Interest",
            Self::Support => "Support",
            Self::Admin => "Admin",
        }
    }
}

/// The reserved concurrency a function gets (`StageConcurrency` in template.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    PublicRead,
    VisitorPass,
    Interest,
    OwnerRead,
    OwnerWrite,
    Support,
    Admin,
    Expiry,
}

impl Concurrency {
    pub const fn name(self) -> &'static str {
        match self {
            Self::PublicRead => "PublicRead",
            Self::VisitorPass => "VisitorPass",
            Self::Interest => "Interest",
            Self::OwnerRead => "OwnerRead",
            Self::OwnerWrite => "OwnerWrite",
            Self::Support => "Support",
            Self::Admin => "Admin",
            Self::Expiry => "Expiry",
        }
    }
}

/// API Gateway's route key for the requests no other route takes (`Unmatched`'s path).
pub const DEFAULT_ROUTE: &str = "$default";

/// One route, as its row in `routes` declares it.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The Lambda binary (and `cargo lambda watch` function) that serves it.
    pub function: &'static str,
    pub method: &'static str,
    /// The path template, in the `{param}` syntax API Gateway and the watch router share.
    pub path: &'static str,
    pub access: Access,
    /// Whether it reads `Idempotency-Key` (every POST does).
    pub keyed: bool,
    pub throttle: Throttle,
    pub concurrency: Concurrency,
}

impl RouteSpec {
    /// API Gateway's key of the route: `GET /v2/...`, or `$default`.
    pub fn route_key(&self) -> String {
        if self.path == DEFAULT_ROUTE {
            DEFAULT_ROUTE.to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}
