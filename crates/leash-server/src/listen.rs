//! The accept loop of `leash serve`. hyper serves each connection over
//! HTTP/1.1 with a timer, so a client that sends its request head too
//! slowly, or nothing at all on a new or kept-alive connection, is dropped;
//! the router's timeout bounds the rest of a request, its body included.
//! Open connections are capped per client address and in total, so one
//! client cannot hold every socket and the process stays under its open-file
//! limit; over a cap a new connection is closed before a byte is read.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use crate::Options;

/// A request's head must arrive whole within this long of the connection
/// opening or of the previous answer ending: hyper runs one timer for both,
/// so this is also how long a kept-alive connection may sit idle.
pub const HEADER_READ_TIMEOUT_S: u64 = 10;
/// Open connections from one client address (behind a proxy: the proxy's).
pub const CONNECTIONS_PER_ADDRESS_MAX: usize = 64;
/// Open connections in all, well under the common limit of 1,024 open files.
pub const CONNECTIONS_MAX: usize = 512;
/// The pause after a failed accept (out of file descriptors, say), so the
/// loop does not spin while connections close.
const ACCEPT_ERROR_PAUSE_MS: u64 = 1_000;

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and lets each connection finish the request it is on.
pub(crate) async fn serve(listener: TcpListener, app: Router, options: &Options, shutdown: impl Future<Output = ()>) {
    let open = Arc::new(OpenConnections::new(options.connections_per_address, options.connections_max));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        match open.take(peer.ip()) {
            Ok(slot) => serve_connection(&http, &graceful, &app, stream, peer, slot),
            Err(full) => full.log(peer, &open),
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Spawns the connection's task; its slot is given back when it ends.
fn serve_connection(
    http: &http1::Builder,
    graceful: &GracefulShutdown,
    app: &Router,
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
) {
    let router = TowerToHyperService::new(app.clone());
    // What `into_make_service_with_connect_info` gave handlers.
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.call(req)
    });
    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
    tokio::spawn(async move {
        // Timeouts and clients going away end connections every day.
        if let Err(e) = connection.await {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
        drop(slot);
    });
}

async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) if client_left(&e) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot accept a connection; trying again in {ACCEPT_ERROR_PAUSE_MS} ms");
                tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
            }
        }
    }
}

/// The client gave up before its connection was taken: nothing is wrong here.
fn client_left(e: &io::Error) -> bool {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused)
}

/// Open connections per client address and in all. The map holds only
/// addresses with a connection open, so it is bounded by `max`.
struct OpenConnections {
    per_address_max: usize,
    max: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One open connection's place; dropping it gives the place back.
struct Slot {
    open: Arc<OpenConnections>,
    address: IpAddr,
}

/// Which cap refused a connection.
#[derive(Debug, PartialEq)]
enum Full {
    Address,
    Total,
}

impl OpenConnections {
    fn new(per_address_max: usize, max: usize) -> OpenConnections {
        OpenConnections { per_address_max, max, counts: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent under a panic elsewhere: each update is
        // made whole while the lock is held.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(self: &Arc<Self>, address: IpAddr) -> Result<Slot, Full> {
        let address = client_of(address);
        let mut counts = self.lock();
        if counts.total >= self.max {
            return Err(Full::Total);
        }
        let from_address = counts.by_address.get(&address).copied().unwrap_or(0);
        if from_address >= self.per_address_max {
            return Err(Full::Address);
        }
        counts.by_address.insert(address, from_address + 1);
        counts.total += 1;
        debug_assert_eq!(counts.total, counts.by_address.values().sum::<usize>());
        Ok(Slot { open: self.clone(), address })
    }
}

/// The client an address stands for, as the per-address cap counts it. An
/// IPv4 client of a dual-stack listener is its IPv4 address; every loopback
/// address is this one machine (a local process may use all of 127/8); an
/// IPv6 address is its /64, which one host is usually given whole.
fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        a if a.is_loopback() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.open.lock();
        debug_assert!(counts.total > 0, "a slot given back twice");
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.address);
            }
        }
        debug_assert_eq!(counts.total, counts.by_address.values().sum::<usize>());
    }
}

impl Full {
    fn log(&self, peer: SocketAddr, open: &OpenConnections) {
        match self {
            Full::Address => tracing::warn!(
                %peer,
                limit = open.per_address_max,
                "refused a connection: this address already has the most connections open"
            ),
            Full::Total => {
                tracing::warn!(%peer, limit = open.max, "refused a connection: the most connections in all are open")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn caps_hold_per_address_and_in_all_and_free_on_drop() {
        let open = Arc::new(OpenConnections::new(2, 3));
        let a1 = open.take(A).ok();
        let _a2 = open.take(A).ok();
        assert_eq!(open.take(A).err(), Some(Full::Address));
        let _b1 = open.take(B).ok();
        assert_eq!(open.take(B).err(), Some(Full::Total));
        drop(a1);
        assert!(open.take(B).is_ok(), "a closed connection's place is free again");
    }

    #[test]
    fn a_mapped_ipv4_client_counts_as_its_ipv4_address() {
        let open = Arc::new(OpenConnections::new(1, 10));
        let _v4 = open.take(A).ok();
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(open.take(mapped).err(), Some(Full::Address));
        assert!(open.take(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_ok(), "loopback is another client");
    }

    #[test]
    fn loopback_is_one_client_and_ipv6_counts_by_its_64() {
        let open = Arc::new(OpenConnections::new(1, 10));
        let _one = open.take(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))).ok();
        assert_eq!(open.take(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))).err(), Some(Full::Address));
        assert_eq!(open.take(IpAddr::V6(Ipv6Addr::LOCALHOST)).err(), Some(Full::Address));
        let _v6 = open.take("2001:db8::1".parse().unwrap_or(A)).ok();
        assert_eq!(open.take("2001:db8::ffff:2".parse().unwrap_or(A)).err(), Some(Full::Address));
        assert!(open.take("2001:db8:0:1::1".parse().unwrap_or(A)).is_ok(), "another /64 is another client");
    }

    #[test]
    fn the_map_forgets_addresses_without_connections() {
        let open = Arc::new(OpenConnections::new(5, 5));
        drop(open.take(A).ok());
        assert!(open.lock().by_address.is_empty());
        assert_eq!(open.lock().total, 0);
    }
}
