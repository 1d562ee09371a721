//! The HTTP client of every AWS SDK client here: HTTP/1.1 over rustls (ring), with a small
//! pool of kept-alive connections.
//!
//! The SDK's own client (`aws-smithy-http-client`) was measured here and replaced (README,
//! "Cold start"): it always links HTTP/2 (h2, about 400 KB of each binary, twice over once
//! feature unification gives it to the Lambda runtime's client too), proxy support and a
//! general-purpose pool, none of which a function talking to DynamoDB over HTTP/1.1 uses; and
//! it reads the trust roots only from the system's store or PEM it panics on when unusable.
//!
//! What the SDK expects of a client, it does: the connect timeout of its settings; errors
//! classified as the SDK's own client classifies them (a timeout, an I/O failure, DNS and
//! closed connections included, is retried; anything else is not); connections kept alive and
//! reused, one request at a time each, dropped when closed, idle too long, or when a request
//! on them was abandoned midway (a timed-out attempt never leaves a half-read connection).

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Amazon Trust Services' five roots, with the provenance and fingerprints of each in the
/// header. Every AWS endpoint's certificate chains to one of them.
const AMAZON_ROOTS: &[u8] = include_bytes!("amazon-trust-services.pem");

/// With `DYNAMODB_ENDPOINT`, a PEM file of roots to trust besides Amazon's, for DynamoDB
/// Local behind a TLS terminator (the cold-start bench).
pub const EXTRA_CA_VARIABLE: &str = "DYNAMODB_CA_FILE";

/// Idle connections kept per client; more are closed once their request is done.
const MAX_IDLE: usize = 32;
/// An idle connection older than this is closed rather than reused: well under the idle
/// timeouts of AWS's load balancers, so a reused connection is one the server still keeps.
const MAX_IDLE_AGE: Duration = Duration::from_secs(20);

/// Trusting Amazon Trust Services' roots, compiled in, and the certificates of `extra`. The
/// functions' client: reading and parsing the system's store (about 150 roots, 0.7 to 3.8 ms
/// of CPU measured) is a tenth to half of what a 128 MB function gets in 100 ms; these five
/// take 0.02 ms.
pub fn amazon_roots_client(extra: Option<&[u8]>) -> Result<SharedHttpClient, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    add_pem_roots(&mut roots, AMAZON_ROOTS)?;
    if let Some(pem) = extra {
        add_pem_roots(&mut roots, pem)?;
    }
    client(roots)
}

/// Trusting the system's store (`SSL_CERT_FILE`, or the usual files and directories): the
/// operator's client, run on laptops that may sit behind a TLS-inspecting proxy.
pub fn system_roots_client() -> Result<SharedHttpClient, TlsError> {
    client(system_roots()?)
}

/// The system's store, refused when it holds no usable root.
fn system_roots() -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError(
            "no usable root certificate in the system's store".into(),
        ));
    }
    Ok(roots)
}

/// The roots of `DYNAMODB_CA_FILE`, read when the endpoint is overridden.
pub fn extra_roots_file() -> Result<Option<Vec<u8>>, TlsError> {
    let Some(path) = std::env::var_os(EXTRA_CA_VARIABLE) else {
        return Ok(None);
    };
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| TlsError(format!("{EXTRA_CA_VARIABLE} cannot be read: {e}")))
}

/// A client for small documents outside AWS (an identity provider's discovery document and
/// JWKS): GET only, trusting the system's store, which it reads when it is made (so a
/// function makes it only when it first needs it, not at init).
#[derive(Clone, Debug)]
pub struct DocumentClient(Client);

impl DocumentClient {
    pub fn with_system_roots() -> Result<Self, TlsError> {
        Ok(Self(client_of(system_roots()?)?))
    }

    /// The body of a 200 answer to `GET url`, at most `max_bytes`, within `timeout` in all.
    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let fetch = async {
            let request = http::Request::get(url)
                .header(http::header::ACCEPT, "application/json")
                .body(SdkBody::empty())
                .map_err(|e| FetchError(format!("not a URL: {e}")))?;
            let response = self
                .0
                .send_raw(request, Some(timeout))
                .await
                .map_err(|e| FetchError(format!("{e:?}")))?;
            if response.status() != http::StatusCode::OK {
                return Err(FetchError(format!("answered {}", response.status())));
            }
            let limited = http_body_util::Limited::new(response.into_body(), max_bytes);
            let body = http_body_util::BodyExt::collect(limited)
                .await
                .map_err(|e| FetchError(format!("the body: {e}")))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| FetchError(format!("no answer within {timeout:?}")))?
    }
}

/// A document that could not be fetched, and why (safe to log: no body, no credential).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(String);

/// A TLS configuration that cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

fn add_pem_roots(roots: &mut rustls::RootCertStore, pem: &[u8]) -> Result<(), TlsError> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| TlsError(format!("a root is not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| TlsError(format!("a root is unusable: {e}")))?;
        count += 1;
    }
    match count {
        0 => Err(TlsError("no certificate in the roots".into())),
        _ => Ok(()),
    }
}

fn client(roots: rustls::RootCertStore) -> Result<SharedHttpClient, TlsError> {
    Ok(SharedHttpClient::new(client_of(roots)?))
}

fn client_of(roots: rustls::RootCertStore) -> Result<Client, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Client {
        tls: TlsConnector::from(Arc::new(config)),
        idle: Arc::new(Mutex::new(Vec::new())),
    })
}

/// The client: its TLS configuration and its pool, shared by every connector it hands out.
#[derive(Clone)]
struct Client {
    tls: TlsConnector,
    idle: Arc<Mutex<Vec<Idle>>>,
}

struct Idle {
    origin: Origin,
    sender: SendRequest<SdkBody>,
    since: Instant,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("https::Client")
    }
}

impl HttpClient for Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.clone(),
            connect_timeout: settings.connect_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    client: Client,
    connect_timeout: Option<Duration>,
}

/// Where a connection goes: its scheme and authority.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let connect_timeout = self.connect_timeout;
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            client.send(request, connect_timeout).await
        })
    }
}

impl Client {
    async fn send(
        &self,
        request: http::Request<SdkBody>,
        connect_timeout: Option<Duration>,
    ) -> Result<HttpResponse, ConnectorError> {
        let response = self.send_raw(request, connect_timeout).await?;
        HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
            .map_err(|e| ConnectorError::other(e.into(), None))
    }

    /// Sends `request` on a pooled or new connection to its URL's origin.
    async fn send_raw(
        &self,
        mut request: http::Request<SdkBody>,
        connect_timeout: Option<Duration>,
    ) -> Result<http::Response<hyper::body::Incoming>, ConnectorError> {
        let origin = origin_of(request.uri())?;
        // HTTP/1.1 wants the path as the target, and the authority as Host (as SigV4 saw it).
        if !request.headers().contains_key(http::header::HOST) {
            let host = match request.uri().port_u16() {
                Some(port) => format!("{}:{port}", origin.host),
                None => origin.host.clone(),
            };
            let value =
                http::HeaderValue::from_str(&host).map_err(|e| ConnectorError::user(e.into()))?;
            request.headers_mut().insert(http::header::HOST, value);
        }
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse::<http::Uri>()
            .map_err(|e| ConnectorError::user(e.into()))?;
        *request.uri_mut() = target;

        let mut sender = match self.take_idle(&origin) {
            Some(sender) => sender,
            None => self.connect(&origin, connect_timeout).await?,
        };
        let response = sender.send_request(request).await.map_err(classify)?;
        // Back to the pool once sent: it takes the next request when this response's body has
        // been read (`is_ready`); a body dropped unread closes the connection instead.
        self.put_idle(origin, sender);
        Ok(response)
    }

    fn take_idle(&self, origin: &Origin) -> Option<SendRequest<SdkBody>> {
        let mut idle = self.idle.lock().ok()?;
        idle.retain(|c| !c.sender.is_closed() && c.since.elapsed() < MAX_IDLE_AGE);
        let found = idle
            .iter()
            .position(|c| c.origin == *origin && c.sender.is_ready())?;
        Some(idle.swap_remove(found).sender)
    }

    fn put_idle(&self, origin: Origin, sender: SendRequest<SdkBody>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(Idle {
                origin,
                sender,
                since: Instant::now(),
            });
        }
    }

    async fn connect(
        &self,
        origin: &Origin,
        connect_timeout: Option<Duration>,
    ) -> Result<SendRequest<SdkBody>, ConnectorError> {
        let connecting = self.open(origin);
        match connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| ConnectorError::timeout("connecting timed out".into()))?,
            None => connecting.await,
        }
    }

    /// A new connection, its TLS handshake done, its HTTP/1.1 driver running on the runtime.
    async fn open(&self, origin: &Origin) -> Result<SendRequest<SdkBody>, ConnectorError> {
        let io_error = |e: std::io::Error| ConnectorError::io(e.into());
        let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(io_error)?;
        tcp.set_nodelay(true).map_err(io_error)?;
        if !origin.tls {
            return handshake(TokioIo::new(tcp)).await;
        }
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|e| ConnectorError::user(e.into()))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| {
            // A refused certificate is no passing failure; a broken connection is.
            match e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                true => ConnectorError::other(e.into(), None),
                false => io_error(e),
            }
        })?;
        handshake(TokioIo::new(tls)).await
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<SdkBody>, ConnectorError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(classify)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "DynamoDB connection closed");
        }
    });
    Ok(sender)
}

fn origin_of(uri: &http::Uri) -> Result<Origin, ConnectorError> {
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(ConnectorError::user("only http and https URLs".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| ConnectorError::user("a URL without a host".into()))?;
    // An IPv6 literal comes bracketed in a URL, not in a socket address.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Origin { tls, host, port })
}

/// As the SDK's own client classifies hyper's errors: what a new connection may cure is I/O.
fn classify(error: hyper::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_user() {
        ConnectorError::user(error.into())
    } else if error.is_closed() || error.is_canceled() || io_source(&error) {
        ConnectorError::io(error.into())
    } else if error.is_incomplete_message() {
        let transient = Some(aws_smithy_types::retry::ErrorKind::TransientError);
        ConnectorError::other(error.into(), transient)
    } else {
        ConnectorError::other(error.into(), None)
    }
}

fn io_source(error: &hyper::Error) -> bool {
    let mut next = std::error::Error::source(error);
    while let Some(e) = next {
        if e.is::<std::io::Error>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_amazon_roots_are_the_five_published_trust_anchors() {
        // Amazon Trust Services' published SHA-256 fingerprints (amazontrust.com/repository).
        let published = [
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
            "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
            "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
            "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
            "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
        ];
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .map(|cert| {
                let cert = cert.expect("PEM certificate");
                Sha256::digest(cert.as_ref())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(fingerprints, published);
        let mut roots = rustls::RootCertStore::empty();
        add_pem_roots(&mut roots, AMAZON_ROOTS).expect("usable trust anchors");
        assert_eq!(roots.len(), 5);
    }

    #[test]
    fn unusable_extra_roots_are_refused_not_panicked_on() {
        let mut roots = rustls::RootCertStore::empty();
        assert!(add_pem_roots(&mut roots, b"no certificate here").is_err());
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(add_pem_roots(&mut roots, garbage).is_err());
    }

    #[test]
    fn origins_and_default_ports() {
        let origin = |u: &str| origin_of(&u.parse().expect("uri")).expect("origin");
        assert_eq!(
            origin("https://dynamodb.us-east-1.amazonaws.com/"),
            Origin {
                tls: true,
                host: "dynamodb.us-east-1.amazonaws.com".into(),
                port: 443
            }
        );
        assert_eq!(origin("http://127.0.0.1:8000").port, 8000);
        assert_eq!(origin("http://[::1]:8000").host, "::1");
        assert!(origin_of(&"ftp://x/".parse().expect("uri")).is_err());
    }
}
