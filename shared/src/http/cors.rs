//! CORS for the public routes (API.md, Conventions): the storefront widget runs on pages of
//! other origins, the stage's storefronts (`STOREFRONT_ORIGINS`), and calls the public routes
//! from there. Owner, admin and support routes answer no CORS: the console is served from the
//! API's own origin, and a browser on any other page must not read their answers.
//!
//! An allowed origin is echoed (never `*`), with `Vary: Origin`, so that a shared cache (the
//! stage's CloudFront, which keys the cached public reads on `Origin`) never serves one
//! storefront's answer to another. Credentials travel in headers, never cookies, so no
//! `Access-Control-Allow-Credentials`.

use super::Reply;
use lambda_http::http::{HeaderMap, HeaderValue, Method, Response, header};
use lambda_http::{Body, Request};

/// What a storefront's script may send: credentials, a JSON body, the write conventions.
const ALLOWED_HEADERS: &str =
    "authorization, content-type, idempotency-key, if-match, x-correlation-id, x-visitor-pass";
/// What it may read besides the CORS-safelisted headers.
const EXPOSED_HEADERS: &str = "etag, idempotent-replayed, link, location, ratelimit, \
                               ratelimit-policy, retry-after, x-correlation-id, x-request-id";
/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// The request's `Origin`, if it is one of `allowed`.
pub fn allowed_origin<'r>(req: &'r Request, allowed: &[String]) -> Option<&'r str> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    allowed.iter().any(|a| a == origin).then_some(origin)
}

/// Lets `origin` read `response`.
pub fn allow(response: &mut Response<Body>, origin: &str) {
    let headers = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    add_vary_origin(headers);
}

/// `Vary: Origin`, beside what `Vary` already names (`Accept` on the CSV route).
fn add_vary_origin(headers: &mut HeaderMap) {
    let named = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"));
    if !named {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) for a path
/// whose CORS routes take `methods`; `None` when the request is no preflight, or asks for a
/// method none of them takes. It is 204 whatever the origin, and lets only an `allowed` one
/// send the request it asked about (without `Access-Control-Allow-Origin` a browser does not).
pub fn preflight(req: &Request, methods: &[&str], allowed: &[String]) -> Option<Reply> {
    if req.method() != Method::OPTIONS {
        return None;
    }
    let asked = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()?;
    if !methods.contains(&asked) {
        return None;
    }
    let reply = Reply::no_content()
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::VARY, "Origin");
    Some(match allowed_origin(req, allowed) {
        Some(origin) => reply
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, &methods.join(", "))
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECONDS),
        None => reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri("/v2/public/group-buys/acme-decor/cane-chair/my-interest");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).expect("a request")
    }

    #[test]
    fn only_a_configured_origin_is_allowed_and_echoed() {
        let allowed = vec!["https://shop.example".to_owned()];
        let req = request("GET", &[("origin", "https://shop.example")]);
        assert_eq!(allowed_origin(&req, &allowed), Some("https://shop.example"));
        for other in ["https://evil.example", "https://shop.example.evil", "null"] {
            let req = request("GET", &[("origin", other)]);
            assert_eq!(allowed_origin(&req, &allowed), None, "{other}");
        }
        assert_eq!(allowed_origin(&request("GET", &[]), &allowed), None);
    }

    #[test]
    fn an_allowed_answer_names_the_origin_and_varies_on_it_once() {
        let mut response = Reply::no_content()
            .header(header::VARY, "Accept")
            .into_response();
        allow(&mut response, "https://shop.example");
        allow(&mut response, "https://shop.example");
        let headers = response.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept", "Origin"]);
        assert!(
            headers
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }

    #[test]
    fn a_preflight_names_the_methods_and_headers_a_widget_needs() {
        let allowed = vec!["https://shop.example".to_owned()];
        let asking = |origin: &str, method: &str| {
            request(
                "OPTIONS",
                &[
                    ("origin", origin),
                    ("access-control-request-method", method),
                ],
            )
        };
        let methods = ["PUT", "GET", "DELETE"];
        let reply = preflight(&asking("https://shop.example", "PUT"), &methods, &allowed)
            .expect("a preflight");
        let headers = reply.response().headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "PUT, GET, DELETE"
        );
        assert!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .is_ok_and(|h| h.contains("x-visitor-pass") && h.contains("idempotency-key"))
        );
        let stranger = preflight(&asking("https://evil.example", "PUT"), &methods, &allowed)
            .expect("a preflight");
        assert!(
            stranger
                .response()
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert!(preflight(&asking("https://shop.example", "PATCH"), &methods, &allowed).is_none());
        assert!(preflight(&request("OPTIONS", &[]), &["GET"], &allowed).is_none());
    }
}
