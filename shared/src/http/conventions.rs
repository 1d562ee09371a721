//! HTTP conventions shared by every route: request ids, bodies, parameters, replies.

use crate::http::ApiError;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
const MAX_CORRELATION_ID_LEN: usize = 128;

/// The ids a request is known by: API Gateway's request id when there is one, else the
/// Lambda request id, else (in-process tests) a fresh one; and the client's correlation id.
#[derive(Clone, Debug)]
pub struct RequestIds {
    pub request_id: String,
    pub correlation_id: Option<String>,
}

impl RequestIds {
    pub fn of(req: &Request) -> Self {
        let gateway = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
            _ => None,
        };
        let request_id = gateway
            .filter(|id| !id.is_empty())
            .or_else(|| {
                req.lambda_context_ref()
                    .map(|ctx| ctx.request_id.clone())
                    .filter(|id| !id.is_empty())
            })
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // Echoed and logged, so only a short, printable value is accepted.
        let correlation_id = req
            .headers()
            .get(&CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= MAX_CORRELATION_ID_LEN
                    && v.bytes().all(|b| b.is_ascii_graphic())
            })
            .map(str::to_owned);
        Self {
            request_id,
            correlation_id,
        }
    }

    pub fn stamp(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID, value);
        }
        if let Some(value) = self
            .correlation_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert(CORRELATION_ID, value);
        }
    }
}

/// The path parameters of the route whose path template is `template` (`{param}` syntax):
/// from API Gateway when it sent them, else matched from the raw path (Function URLs and
/// `cargo lambda watch` send none).
pub fn path_params(req: &Request, template: &str) -> Result<HashMap<String, String>, ApiError> {
    let from_gateway = req.path_parameters();
    if !from_gateway.is_empty() {
        return Ok(from_gateway
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect());
    }
    match_path(template, req.raw_http_path())
        .or_else(|| match_path(template, req.uri().path()))
        .ok_or(ApiError::RouteNotFound)
}

/// Matches a concrete path against a path template, yielding its parameters.
pub fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let template: Vec<&str> = template.split('/').collect();
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

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// The body as a JSON object; `None` when there is no body. 413 over 16 KiB, 415 when it is
/// not declared as JSON, 400 when it is not a JSON object.
pub fn json_object(req: &Request) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(req.headers()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::MalformedJson("expected a JSON object".into())),
        Err(e) => Err(ApiError::MalformedJson(format!(
            "line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// An `If-Match` precondition on the group-buy's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    Absent,
    Any,
    Versions(Vec<String>),
}

impl IfMatch {
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(header::IF_MATCH) else {
            return Self::Absent;
        };
        let raw = value.to_str().unwrap_or_default().trim();
        if raw == "*" {
            return Self::Any;
        }
        Self::Versions(
            raw.split(',')
                .map(|tag| {
                    tag.trim()
                        .trim_start_matches("W/")
                        .trim_matches('"')
                        .to_owned()
                })
                .collect(),
        )
    }

    /// 412 `VERSION_MISMATCH` unless `version` satisfies the precondition.
    pub fn check(&self, version: u64) -> Result<(), ApiError> {
        match self {
            Self::Absent | Self::Any => Ok(()),
            Self::Versions(tags) if tags.iter().any(|t| *t == version.to_string()) => Ok(()),
            Self::Versions(_) => Err(ApiError::VersionMismatch { current: version }),
        }
    }
}

/// The representations a list of participants has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Json,
    Csv,
}

impl ListFormat {
    /// What `Accept` prefers: CSV when it ranks `text/csv` above `application/json` (by
    /// q-value, then by how specific the range naming it is, so `text/csv, */*` is CSV);
    /// JSON otherwise, also without `Accept` and when it accepts neither, since RFC 9110
    /// (12.5.1) lets a server disregard `Accept` rather than answer 406.
    pub fn of(headers: &HeaderMap) -> Self {
        let ranges: Vec<(mime::Mime, f32)> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|range| range.trim().parse::<mime::Mime>().ok())
            .map(|range| {
                let q = range
                    .get_param("q")
                    .and_then(|q| q.as_str().parse::<f32>().ok())
                    .filter(|q| (0.0..=1.0).contains(q))
                    .unwrap_or(1.0);
                (range, q)
            })
            .collect();
        let csv = preference(&ranges, &mime::TEXT_CSV);
        let json = preference(&ranges, &mime::APPLICATION_JSON);
        match csv {
            Some((q, specificity)) if q > 0.0 && Some((q, specificity)) > json => Self::Csv,
            _ => Self::Json,
        }
    }
}

/// The q-value `ranges` give `offer` and how specific the range that gives it is (2 for
/// `type/subtype`, 1 for `type/*`, 0 for `*/*`): the most specific matching range decides.
fn preference(ranges: &[(mime::Mime, f32)], offer: &mime::Mime) -> Option<(f32, u8)> {
    ranges
        .iter()
        .filter_map(|(range, q)| {
            let specificity = match (range.type_(), range.subtype()) {
                (mime::STAR, mime::STAR) => 0,
                (t, mime::STAR) if t == offer.type_() => 1,
                (t, s) if t == offer.type_() && s == offer.subtype() => 2,
                _ => return None,
            };
            Some((specificity, *q))
        })
        .max_by_key(|(specificity, _)| *specificity)
        .map(|(specificity, q)| (q, specificity))
}

/// A successful response under construction.
pub struct Reply(Response<Body>);

impl Reply {
    pub fn json(status: StatusCode, body: &Value) -> Self {
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Self(response)
    }

    pub fn csv(status: StatusCode, body: String) -> Self {
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        Self(response)
    }

    /// Owner, admin and visitor-specific responses must not be cached anywhere.
    pub fn private(self) -> Self {
        self.header(header::CACHE_CONTROL, "no-store")
    }

    /// Public group-buy reads may be cached briefly by browsers and CDNs.
    pub fn public_cache(self) -> Self {
        self.header(header::CACHE_CONTROL, "public, max-age=10")
    }

    pub fn no_content() -> Self {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Self(response)
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.0.headers_mut().insert(name, value);
        }
        self
    }

    pub fn response(&self) -> &Response<Body> {
        &self.0
    }

    pub fn into_response(self) -> Response<Body> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_concrete_paths() {
        let publish = "/v2/handles/{handle}/group-buys/{groupBuySlug}/publish";
        let params =
            match_path(publish, "/v2/handles/acme/group-buys/lamp/publish").expect("matches");
        assert_eq!(params["handle"], "acme");
        assert_eq!(params["groupBuySlug"], "lamp");
        assert!(match_path(publish, "/v2/handles/acme/group-buys/lamp/pause").is_none());
        let get = "/v2/handles/{handle}/group-buys/{groupBuySlug}";
        assert!(match_path(get, "/v2/handles//group-buys/lamp").is_none());
        let list = "/v2/handles/{handle}/group-buys";
        assert!(match_path(list, "/v2/handles/acme/group-buys/").is_some());
    }

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).expect("header value")))
            .collect()
    }

    #[test]
    fn if_match_accepts_strong_weak_and_lists() {
        let m = IfMatch::of(&headers(&[(header::IF_MATCH, "W/\"2\", \"3\"")]));
        assert!(m.check(3).is_ok() && m.check(2).is_ok());
        assert!(matches!(
            m.check(4),
            Err(ApiError::VersionMismatch { current: 4 })
        ));
        assert!(
            IfMatch::of(&headers(&[(header::IF_MATCH, "*")]))
                .check(9)
                .is_ok()
        );
        assert!(IfMatch::of(&HeaderMap::new()).check(9).is_ok());
    }

    #[test]
    fn accept_picks_csv_only_when_it_prefers_it() {
        let format = |accept: &str| ListFormat::of(&headers(&[(header::ACCEPT, accept)]));
        for csv in [
            "text/csv",
            "text/csv; charset=utf-8",
            "TEXT/CSV",
            "text/*",
            "text/csv, */*",
            "application/json;q=0.5, text/csv",
            "text/csv;q=0.9, application/*;q=0.8",
        ] {
            assert_eq!(format(csv), ListFormat::Csv, "{csv}");
        }
        for json in [
            "application/json",
            "*/*",
            "application/json, text/csv",
            "text/csv;q=0.5, application/json",
            "text/csv;q=0",
            "application/xml",
            "text/html, */*;q=0.1",
            "not a media type",
            "",
        ] {
            assert_eq!(format(json), ListFormat::Json, "{json}");
        }
        assert_eq!(ListFormat::of(&HeaderMap::new()), ListFormat::Json);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(&headers(&[(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8"
        )])));
        assert!(is_json(&headers(&[(
            header::CONTENT_TYPE,
            "application/merge-patch+json"
        )])));
        assert!(!is_json(&headers(&[(header::CONTENT_TYPE, "text/plain")])));
        assert!(!is_json(&HeaderMap::new()));
    }
}
