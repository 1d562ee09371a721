//! TCP proxies between the service and DynamoDB Local that inject what DynamoDB Local never
//! does by itself: slow answers (`SlowProxy`: bytes from the client pass at once; every chunk
//! of the answer waits `delay` first) and lost answers (`LossyProxy`).

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct SlowProxy {
    pub addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        Self { addr, accepting }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    let answers = async {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            tokio::time::sleep(delay).await;
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(requests, answers);
}

/// A TCP proxy between the service and DynamoDB Local that loses answers: it forwards every
/// request, and for the first `times` requests of one operation it lets the request reach
/// DynamoDB, waits for DynamoDB's answer (so whatever the request does has been done), and
/// then closes the client's connection instead of relaying it. The SDK sees a connection
/// closed before its response, a transient error, and retries the same call.
///
/// It reads requests as the SDK sends them: HTTP/1.1, one at a time on a connection, each
/// with `Content-Length`. Answers are relayed as bytes, unparsed.
pub struct LossyProxy {
    pub addr: SocketAddr,
    seen: std::sync::Arc<Seen>,
    accepting: tokio::task::JoinHandle<()>,
}

/// What a `LossyProxy` saw of the operation it watches.
struct Seen {
    /// `X-Amz-Target` of the watched operation, e.g. `DynamoDB_20120810.TransactWriteItems`.
    target: String,
    /// Answers still to lose.
    to_lose: std::sync::Mutex<usize>,
    /// Every request of the operation, in order.
    requests: std::sync::Mutex<Vec<SeenRequest>>,
    /// Whether to remove `ClientRequestToken` from the operation's requests on the way.
    strip_tokens: bool,
}

/// One request of the watched operation.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// The request's JSON body, as forwarded.
    pub body: serde_json::Value,
    /// The status line of DynamoDB's answer when the proxy lost it (`HTTP/1.1 200 OK` means the
    /// write was done); `None` for an answer relayed.
    pub lost_answer: Option<String>,
}

impl SeenRequest {
    /// The request's `ClientRequestToken`, if it had one.
    pub fn client_request_token(&self) -> Option<&str> {
        self.body["ClientRequestToken"].as_str()
    }
}

impl LossyProxy {
    /// Listens on a free loopback port, forwards to `upstream` (`host:port`), and loses the
    /// answers to the first `times` requests of DynamoDB's `operation` (`TransactWriteItems`).
    pub async fn start(upstream: String, operation: &str, times: usize) -> Self {
        Self::launch(upstream, operation, times, false).await
    }

    /// As `start`, and removes `ClientRequestToken` from every request of `operation`: what
    /// the service would send without one (the control of the experiment; DynamoDB Local
    /// checks no signature, so the edited request is accepted).
    pub async fn start_without_tokens(upstream: String, operation: &str, times: usize) -> Self {
        Self::launch(upstream, operation, times, true).await
    }

    async fn launch(upstream: String, operation: &str, times: usize, strip_tokens: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen = std::sync::Arc::new(Seen {
            target: format!("DynamoDB_20120810.{operation}"),
            to_lose: std::sync::Mutex::new(times),
            requests: std::sync::Mutex::default(),
            strip_tokens,
        });
        let accepting = tokio::spawn({
            let seen = seen.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (upstream, seen) = (upstream.clone(), seen.clone());
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&upstream).await {
                            relay_or_lose(client, server, &seen).await;
                        }
                    });
                }
            }
        });
        Self {
            addr,
            seen,
            accepting,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request of the watched operation so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.requests.lock().expect("not poisoned").clone()
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// One HTTP/1.1 request off `from`: its head and body as they came, and its `X-Amz-Target`.
/// `None` at the end of the stream (or on anything this proxy cannot frame).
async fn read_request(
    from: &mut (impl AsyncReadExt + Unpin),
    buffered: &mut Vec<u8>,
) -> Option<(Vec<u8>, Option<String>, Vec<u8>)> {
    let head_end = loop {
        if let Some(at) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0; 16 * 1024];
        match from.read(&mut chunk).await {
            Ok(n @ 1..) => buffered.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    };
    let head: Vec<u8> = buffered.drain(..head_end).collect();
    let text = String::from_utf8_lossy(&head);
    let header = |name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let target = header("x-amz-target");
    let length: usize = header("content-length")?.parse().ok()?;
    while buffered.len() < length {
        let mut chunk = [0; 16 * 1024];
        match from.read(&mut chunk).await {
            Ok(n @ 1..) => buffered.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    let body = buffered.drain(..length).collect();
    Some((head, target, body))
}

async fn relay_or_lose(client: TcpStream, server: TcpStream, seen: &Seen) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Set just before a request whose answer is to be lost is forwarded: the SDK sends a
    // request only once it has read the previous answer, so the next bytes from DynamoDB are
    // that answer.
    let lose_next = std::sync::atomic::AtomicBool::new(false);
    let lost_at = std::sync::Mutex::new(None::<usize>);
    let requests = async {
        let mut buffered = Vec::new();
        while let Some((mut head, target, mut body)) =
            read_request(&mut client_read, &mut buffered).await
        {
            if target.as_deref() == Some(seen.target.as_str()) {
                if seen.strip_tokens {
                    (head, body) = without_token(&head, &body);
                }
                let mut to_lose = seen.to_lose.lock().expect("not poisoned");
                let mut requests = seen.requests.lock().expect("not poisoned");
                if *to_lose > 0 {
                    *to_lose -= 1;
                    lose_next.store(true, std::sync::atomic::Ordering::SeqCst);
                    *lost_at.lock().expect("not poisoned") = Some(requests.len());
                }
                requests.push(SeenRequest {
                    body: serde_json::from_slice(&body).unwrap_or_default(),
                    lost_answer: None,
                });
            }
            if server_write.write_all(&head).await.is_err()
                || server_write.write_all(&body).await.is_err()
            {
                return;
            }
        }
        let _ = server_write.shutdown().await;
        // The answers still to come are relayed; the connection ends when they end.
        std::future::pending::<()>().await;
    };
    let answers = async {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            if lose_next.load(std::sync::atomic::Ordering::SeqCst) {
                // DynamoDB has answered, so the write is done: record how, and hang up.
                let status = String::from_utf8_lossy(&buffer[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if let Some(at) = *lost_at.lock().expect("not poisoned") {
                    seen.requests.lock().expect("not poisoned")[at].lost_answer = Some(status);
                }
                return;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either side ending ends the connection: dropping the halves closes both sockets.
    tokio::select! {
        () = requests => {}
        () = answers => {}
    }
}

/// `head` and `body` with the body's `ClientRequestToken` removed and `Content-Length` set to
/// match.
fn without_token(head: &[u8], body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if let Some(fields) = json.as_object_mut() {
        fields.remove("ClientRequestToken");
    }
    let body = json.to_string().into_bytes();
    let head = String::from_utf8_lossy(head)
        .split_inclusive("\r\n")
        .map(|line| match line.split_once(':') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("content-length") => {
                format!("{key}: {}\r\n", body.len())
            }
            _ => line.to_owned(),
        })
        .collect::<String>()
        .into_bytes();
    (head, body)
}
