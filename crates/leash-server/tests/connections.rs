//! `leash serve` on a real socket: a client that sends its headers or its
//! body too slowly, or sits idle, is dropped at the named limit;
//! connections are capped per address and in total; and every answer,
//! refusals included, carries the security headers.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_server::Options;
use leash_testkit::shop::{self, Shop};
use leash_testkit::Kind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The short limit each test sets, and how late the server may be.
const SHORT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_millis(1_500);
/// The server's clock starts a little before the test's.
const SLACK: Duration = Duration::from_millis(200);

struct Served {
    addr: SocketAddr,
    agent: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _shop: Shop,
}

async fn serve(options: Options) -> Served {
    let shop = shop::build(Kind::Sqlite).await.unwrap();
    let engine = Engine::open(parse_policy("leash.toml", shop::POLICY).unwrap(), shop.store.clone()).await.unwrap();
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let agent = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(leash_server::serve_on_with(Arc::new(engine), listener, options, async {
        let _ = rx.await;
    }));
    Served { addr, agent, stop: Some(tx), task, _shop: shop }
}

impl Served {
    /// Stops the server and checks that it drained and returned.
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let ended = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "the server stops when told: {ended:?}");
    }
}

/// A connection from a loopback address of the test's choosing (all of
/// 127.0.0.0/8 is this machine on Linux).
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    socket.connect(to).await.unwrap()
}

async fn connect(to: SocketAddr) -> TcpStream {
    connect_from(Ipv4Addr::LOCALHOST, to).await
}

/// How long until the server closes the connection (end of stream or a
/// reset), reading and discarding whatever it sends; None if it is still
/// open at `within`.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.ok().map(|()| started.elapsed())
}

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn code(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        v["code"].as_str().unwrap_or_default().to_string()
    }

    /// The headers `headers::security_headers` promises on every answer.
    fn assert_security_headers(&self) {
        assert_eq!(self.header("x-frame-options"), Some("DENY"), "{}", self.head);
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"), "{}", self.head);
        let csp = self.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{}", self.head);
    }
}

/// One answer with a Content-Length body, read off a kept-alive connection;
/// None if it does not arrive within `within`.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<Resp> {
    let read = async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut buf).await.ok().filter(|n| *n > 0)?;
            bytes.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let mut resp = Resp { status, head, body: String::new() };
        let length: usize = resp.header("content-length")?.parse().ok()?;
        while bytes.len() < head_end + length {
            let n = stream.read(&mut buf).await.ok().filter(|n| *n > 0)?;
            bytes.extend_from_slice(&buf[..n]);
        }
        resp.body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
        Some(resp)
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

/// Sends `raw` on a fresh connection and reads the one answer.
async fn exchange(to: SocketAddr, raw: &[u8]) -> Resp {
    let mut stream = connect(to).await;
    stream.write_all(raw).await.unwrap();
    read_response(&mut stream, Duration::from_secs(5)).await.expect("an answer")
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// A working connection answers a health check.
async fn answers(stream: &mut TcpStream) -> bool {
    stream.write_all(HEALTHZ).await.is_ok()
        && read_response(stream, Duration::from_secs(5)).await.is_some_and(|r| r.status == 200)
}

#[tokio::test]
async fn headers_sent_too_slowly_are_dropped_at_the_header_timeout() {
    let served = serve(Options { header_read_timeout: SHORT, ..Options::default() }).await;
    let mut stream = connect(served.addr).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let closed = closed_after(&mut stream, SHORT + MARGIN).await;
    let closed = closed.unwrap_or_else(|| panic!("a half-sent head is still open after {:?}", SHORT + MARGIN));
    assert!(closed >= SHORT - SLACK, "dropped before the timeout: {closed:?}");
    // A connection that never sends a byte is dropped the same way.
    let mut silent = connect(served.addr).await;
    assert!(closed_after(&mut silent, SHORT + MARGIN).await.is_some(), "a silent connection stays open");
    served.stop().await;
}

#[tokio::test]
async fn a_half_sent_body_is_cut_at_the_request_timeout() {
    let served = serve(Options { request_timeout: SHORT, ..Options::default() }).await;
    let mut stream = connect(served.addr).await;
    let head = format!(
        "POST /api/v1/actions/set_status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        served.agent
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(br#"{"key": "1"#).await.unwrap();
    let started = Instant::now();
    let resp = read_response(&mut stream, SHORT + MARGIN).await;
    let resp = resp.unwrap_or_else(|| panic!("no answer within {:?} to a half-sent body", SHORT + MARGIN));
    assert!(started.elapsed() >= SHORT - SLACK, "cut early: {:?}", started.elapsed());
    assert_eq!(resp.status, 408, "{}", resp.head);
    assert!(!resp.code().is_empty(), "a JSON {{code, message}}: {}", resp.body);
    resp.assert_security_headers();
    assert!(closed_after(&mut stream, MARGIN).await.is_some(), "the connection ends with the answer");
    served.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let served = serve(Options { header_read_timeout: SHORT, ..Options::default() }).await;
    let mut stream = connect(served.addr).await;
    assert!(answers(&mut stream).await, "the first request is answered");
    let closed = closed_after(&mut stream, SHORT + MARGIN).await;
    let closed = closed.unwrap_or_else(|| panic!("an idle connection is still open after {:?}", SHORT + MARGIN));
    assert!(closed >= SHORT - SLACK, "closed before the idle timeout: {closed:?}");
    served.stop().await;
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused_and_the_rest_still_work() {
    let options = Options { connections_per_address: 2, ..Options::default() };
    let served = serve(options).await;
    let mut first = connect(served.addr).await;
    let mut second = connect(served.addr).await;
    let mut extra = connect(served.addr).await;
    assert!(closed_after(&mut extra, MARGIN).await.is_some(), "a third connection from one address is closed");
    assert!(answers(&mut first).await && answers(&mut second).await, "the first two still work");
    // Every loopback address is this one machine: 127.0.0.2 shares the cap
    // (another client's own cap is held by listen.rs's unit tests).
    let mut sibling = connect_from(Ipv4Addr::new(127, 0, 0, 2), served.addr).await;
    assert!(closed_after(&mut sibling, MARGIN).await.is_some(), "127/8 is one client, not 16 million");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = connect(served.addr).await;
        if answers(&mut again).await {
            break;
        }
        assert!(Instant::now() < deadline, "a slot freed by a closed connection is never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answers(&mut second).await);
    served.stop().await;
}

#[tokio::test]
async fn connections_over_the_total_cap_are_refused() {
    let options = Options { connections_per_address: 10, connections_max: 3, ..Options::default() };
    let served = serve(options).await;
    let mut held = Vec::new();
    for from in [1, 1, 2] {
        held.push(connect_from(Ipv4Addr::new(127, 0, 0, from), served.addr).await);
    }
    let mut extra = connect_from(Ipv4Addr::new(127, 0, 0, 3), served.addr).await;
    assert!(closed_after(&mut extra, MARGIN).await.is_some(), "a fourth connection in all is closed");
    for stream in &mut held {
        assert!(answers(stream).await, "the first three still work");
    }
    served.stop().await;
}

#[tokio::test]
async fn every_refusal_carries_the_security_headers() {
    let served = serve(Options::default()).await;
    let (addr, agent) = (served.addr, served.agent.clone());
    let foreign = exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n").await;
    assert_eq!((foreign.status, foreign.code().as_str()), (403, "forbidden_host"), "{}", foreign.body);
    foreign.assert_security_headers();
    // An unknown path is 404 with or without a token (the `/mcp` guard
    // covers `/mcp` only).
    let nowhere = format!("GET /no/such/page HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {agent}\r\n\r\n");
    let missing = exchange(addr, nowhere.as_bytes()).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    missing.assert_security_headers();
    let anonymous = exchange(addr, b"GET /no/such/page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert_eq!((anonymous.status, anonymous.code().as_str()), (404, "not_found"), "{}", anonymous.body);
    let method = exchange(addr, b"GET /api/v1/reverts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert_eq!(method.status, 405, "{}", method.body);
    method.assert_security_headers();
    // One byte over the limit: the server reads the whole body, so the
    // connection closes cleanly after the answer.
    let over = leash_server::BODY_BYTES_MAX + 1;
    let mut raw = format!(
        "POST /api/v1/actions/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {agent}\r\n\
         Content-Type: application/json\r\nContent-Length: {over}\r\n\r\n"
    )
    .into_bytes();
    raw.resize(raw.len() + over, b' ');
    let large = exchange(addr, &raw).await;
    assert_eq!(large.status, 413, "{}", large.body);
    large.assert_security_headers();
    let text = b"POST /api/v1/actions/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
    let media = exchange(addr, text).await;
    assert_eq!(media.status, 415, "{}", media.body);
    media.assert_security_headers();
    served.stop().await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let served = serve(Options::default()).await;
    let mut stream = connect(served.addr).await;
    let head = format!(
        "POST /api/v1/actions/set_status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 50\r\n\r\n",
        served.agent
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut idle = connect(served.addr).await;
    assert!(answers(&mut idle).await);
    let addr = served.addr;
    let stopping = tokio::spawn(served.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(closed_after(&mut idle, MARGIN).await.is_some(), "an idle connection closes at shutdown");
    let body = format!("{:<50}", r#"{"key": "1", "set": {"status": "solved"}}"#);
    stream.write_all(body.as_bytes()).await.unwrap();
    let resp = read_response(&mut stream, Duration::from_secs(5)).await.expect("the call in flight is answered");
    assert_eq!(resp.status, 200, "{}", resp.body);
    stopping.await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "no new connections after shutdown");
}
