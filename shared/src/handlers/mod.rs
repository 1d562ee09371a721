//! Route handlers. Each takes a `Call` and returns a reply or an `ApiError`; the wrapper in
//! `app` turns errors into problem+json and writes the log line.

mod owner;

use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::domain::{Handle, Slug};
use crate::error::ApiError;
use crate::http::{Reply, path_params};
use crate::routes::Route;
use crate::telemetry::RequestLog;
use crate::validation::FieldError;
use lambda_http::Request;
use std::collections::HashMap;

/// One request being served.
pub struct Call<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub route: Route,
    pub request_id: &'a str,
    pub log: RequestLog,
}

pub async fn dispatch(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    match call.route {
        Route::CreateGroupBuy => owner::create(call).await,
        Route::ListGroupBuys => owner::list(call).await,
        Route::GetGroupBuy => owner::get(call).await,
        Route::PublishGroupBuy | Route::PauseGroupBuy | Route::CloseGroupBuy => {
            owner::transition(call).await
        }
    }
}

/// A path parameter parsed into its domain type; 400 naming the parameter otherwise.
fn path_param<T>(
    params: &HashMap<String, String>,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ApiError> {
    let raw = params.get(name).map(String::as_str).unwrap_or_default();
    parse(raw).map_err(|message| ApiError::Validation(vec![FieldError::new(name, message)]))
}

/// An owner route's caller and target: authenticated (401), then the path read (400), then
/// authorized for the handle with `scope` (403).
pub(crate) struct OwnerTarget {
    pub principal: Principal,
    pub handle: Handle,
    pub slug: Option<Slug>,
}

impl Call<'_> {
    pub(crate) fn owner(&mut self, scope: Scope) -> Result<OwnerTarget, ApiError> {
        let principal = self.app.auth.authenticate(self.req.headers())?;
        self.log.caller = Some(principal.kind.as_str());
        let params = path_params(self.req, self.route)?;
        let handle = path_param(&params, "handle", Handle::parse)?;
        self.log.handle = Some(handle.to_string());
        let slug = if params.contains_key("groupBuySlug") {
            let slug = path_param(&params, "groupBuySlug", Slug::parse)?;
            self.log.slug = Some(slug.to_string());
            Some(slug)
        } else {
            None
        };
        principal.authorize(&handle, scope)?;
        Ok(OwnerTarget {
            principal,
            handle,
            slug,
        })
    }
}
