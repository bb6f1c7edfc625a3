//! The listener: accepts clients, enforces the connection cap (ERR 1040 beyond it) and the
//! handshake timeout, runs one task per session, and on shutdown stops accepting and lets
//! sessions finish up to `shutdown_timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tandem_monitor::{Monitor, MonitorSettings, NodeConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{info, info_span, warn, Instrument};

use crate::config::Config;
use crate::errors::{self, write_err};
use crate::frontend::{handshake, Outcome};
use crate::session::{ClientIo, Session};
use crate::shared::Shared;
use crate::workers::{Placement, Workers};

/// Why the proxy stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listener failed.
    #[error("listener: {0}")]
    Listen(#[from] std::io::Error),
}

/// Builds the monitor configuration from the proxy configuration.
pub fn monitor_config(config: &Config) -> MonitorSettings {
    MonitorSettings {
        nodes: config.backends.iter().map(node_config).collect(),
        user: config.monitor.user.clone(),
        password: config.monitor.password.clone(),
        health: config.health,
        election: config.writer.election(),
        max_lag: config.monitor.max_lag,
        fence: config.writer.fence_settings(),
    }
}

/// What the monitor watches of backend `b`.
pub(crate) fn node_config(b: &crate::config::BackendConfig) -> NodeConfig {
    NodeConfig {
        name: b.name.clone(),
        address: b.address.clone(),
        weight: b.weight,
        read_weight: b.read_weight,
        tls: b.validated_tls(),
    }
}

/// Runs the proxy on `listener` until `shutdown` completes, every session on the calling runtime.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyError> {
    run_on(listener, config, shutdown, Workers::none()).await
}

/// Runs the proxy on `listener` until `shutdown` completes. Sessions are spread over the calling
/// runtime (worker 0: it also accepts and runs the monitor) and the event loops of `workers`,
/// each session on the one with the fewest. The workers stop once every session has ended.
pub async fn run_on(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
    workers: Workers,
) -> Result<(), ProxyError> {
    let result = serve_sessions(listener, config, shutdown, &workers).await;
    if !workers.is_empty() {
        // Joining the worker threads blocks briefly: off the event loop.
        let _ = tokio::task::spawn_blocking(move || drop(workers)).await;
    }
    result
}

async fn serve_sessions(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
    workers: &Workers,
) -> Result<(), ProxyError> {
    let placement = Placement::new(workers.handles());
    let monitor = Monitor::spawn(monitor_config(&config));
    let events = monitor.subscribe();
    let shared = Shared::new(config, monitor, placement.live());
    // First, so an early `systemctl reload` never meets SIGHUP's default action (exit).
    let _reload_on_hangup = shared
        .config
        .source
        .is_some()
        .then(|| AbortOnDrop(tokio::spawn(reload_on_hangup(shared.clone()))));
    tokio::spawn(shared.clone().follow_server_caps());
    tokio::spawn(shared.clone().record_events(events));
    for (i, b) in shared.config.backends.iter().enumerate() {
        shared.start_follower(i, b);
    }
    let _followers = StopFollowers(shared.clone());
    let _server_users = shared
        .config
        .monitor
        .load_users
        .then(|| AbortOnDrop(tokio::spawn(crate::server_users::follow(shared.clone()))));
    let admin = spawn_admin(&shared).await?;
    let http = spawn_http(&shared).await?;
    let limit = Arc::new(Semaphore::new(shared.config.proxy.max_connections));
    let mut sessions = JoinSet::new();
    info!(listen = %listener.local_addr()?, "tandem listening");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    tokio::spawn(too_many(stream, "Too many connections"));
                    continue;
                };
                let shared = shared.clone();
                match placement.place() {
                    (None, seat) => {
                        sessions.spawn(async move {
                            serve(shared, stream, peer).await;
                            drop((permit, seat));
                        });
                    }
                    (Some(worker), seat) => {
                        // Re-registered with the worker's reactor, where the session runs.
                        let Ok(stream) = stream.into_std() else { continue };
                        sessions.spawn_on(async move {
                            if let Ok(stream) = TcpStream::from_std(stream) {
                                serve(shared, stream, peer).await;
                            }
                            drop((permit, seat));
                        }, worker);
                    }
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    drain(sessions, shared.proxy.load().shutdown_timeout).await;
    drop((admin, http));
    Ok(())
}

/// Stops the causal-read followers when the proxy stops.
struct StopFollowers(Arc<Shared>);

impl Drop for StopFollowers {
    fn drop(&mut self) {
        self.0.stop_followers(None);
    }
}

/// The MySQL-protocol admin listener, when configured.
async fn spawn_admin(shared: &Arc<Shared>) -> Result<Option<AbortOnDrop>, ProxyError> {
    let Some(a) = shared.config.admin.clone() else {
        return Ok(None);
    };
    let l = TcpListener::bind(a.listen).await?;
    info!(listen = %l.local_addr()?, "admin interface listening");
    Ok(Some(AbortOnDrop(tokio::spawn(crate::admin::serve(
        l,
        a,
        shared.clone(),
    )))))
}

/// The admin HTTP listener, when configured.
async fn spawn_http(shared: &Arc<Shared>) -> Result<Option<AbortOnDrop>, ProxyError> {
    let Some(h) = shared.config.http.clone() else {
        return Ok(None);
    };
    let l = TcpListener::bind(h.listen).await?;
    info!(listen = %l.local_addr()?, "admin HTTP listening");
    Ok(Some(AbortOnDrop(tokio::spawn(crate::http::serve(
        l,
        h,
        shared.clone(),
    )))))
}

/// SIGHUP re-reads the configuration file (like `POST /reload`).
async fn reload_on_hangup(shared: Arc<Shared>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            warn!("cannot listen for SIGHUP; reload with POST /reload");
            return;
        };
        while hangups.recv().await.is_some() {
            match crate::reload::reload(&shared).await {
                Ok(report) => {
                    info!(applied = ?report.applied, needs_restart = ?report.needs_restart, "SIGHUP: configuration reloaded")
                }
                Err(e) => {
                    warn!(error = %e, "SIGHUP: reload refused; the running configuration stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    drop(shared);
}

/// After the listener closed: lets running sessions finish within `deadline`, then cuts them.
async fn drain(mut sessions: JoinSet<()>, deadline: Duration) {
    info!(
        sessions = sessions.len(),
        "shutting down: waiting for sessions"
    );
    let drained = tokio::time::timeout(deadline, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            left = sessions.len(),
            "shutdown deadline passed; closing sessions"
        );
        sessions.shutdown().await;
    }
}

/// Stops a background task when the proxy stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A connection counted against its address's `max_handshakes_per_address` until dropped.
pub(crate) struct HandshakeSlot<'a> {
    shared: &'a Shared,
    ip: std::net::IpAddr,
}

impl<'a> HandshakeSlot<'a> {
    pub(crate) fn take(shared: &'a Shared, ip: std::net::IpAddr) -> Option<HandshakeSlot<'a>> {
        let cap = shared.proxy.load().max_handshakes_per_address;
        let mut n = shared.handshakes.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(HandshakeSlot { shared, ip })
    }
}

impl Drop for HandshakeSlot<'_> {
    fn drop(&mut self) {
        self.shared.handshakes.remove_if_mut(&self.ip, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

async fn too_many(mut stream: TcpStream, message: &str) {
    let mut out = BytesMut::new();
    write_err(&mut out, 0, errors::TOO_MANY_CONNECTIONS, message);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    let id = shared.conn_id();
    let span = info_span!("session", id, client = %peer, user = tracing::field::Empty);
    async move {
        let Some(in_handshake) = HandshakeSlot::take(&shared, peer.ip()) else {
            info!("too many connections from this address in the handshake");
            too_many(
                stream,
                "Too many unauthenticated connections from this address",
            )
            .await;
            return;
        };
        let mut io = ClientIo::new(stream, peer);
        let timeout = shared.proxy.load().handshake_timeout;
        let login = tokio::time::timeout(timeout, handshake(&mut io, &shared, id)).await;
        drop(in_handshake);
        let login = match login {
            Ok(Ok(Outcome::LoggedIn(login))) => login,
            Ok(Ok(Outcome::Rejected)) | Ok(Err(_)) => return,
            Err(_) => {
                info!("handshake timed out");
                return;
            }
        };
        tracing::Span::current().record("user", login.user.as_str());
        shared
            .stats
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Session::new(shared, io, login, id).run().await;
    }
    .instrument(span)
    .await
}
