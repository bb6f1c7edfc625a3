//! `tandem`: the thin binary. Parses the command line, loads and validates the configuration,
//! installs the tracing subscriber and runs the proxy engine until SIGTERM/SIGINT.
//!
//! ```text
//! tandem --config tandem.toml                 run the proxy (SIGHUP reloads the file)
//! tandem check --config tandem.toml           validate and print the resolved setup
//! tandem explain "SELECT ..." [--config f]    how one statement is read and routed
//! tandem import-haproxy haproxy.cfg           a Tandem config from a HAProxy one
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` that ignores a closed stdout (`tandem check | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
use tandem_proxy::{Config, ReadYourWrites};

#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "MySQL-protocol-aware proxy for master-master pairs"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short, global = true, default_value = "tandem.toml")]
    config: PathBuf,
    /// Log format, overriding `[log] format`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<Format>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate the configuration and print the resolved setup.
    Check,
    /// Show how Tandem reads one statement and where a fresh session would send it; with a
    /// configuration that has `[http]`, also the node it would go to now.
    Explain {
        /// The statement.
        sql: String,
    },
    /// Turn a HAProxy config (TCP mode, `option mysql-check`, `server ... weight W check`
    /// lines) into a Tandem config on stdout; what cannot be carried over goes to stderr.
    ImportHaproxy {
        /// The HAProxy configuration file.
        file: PathBuf,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Cmd::Explain { sql }) => return explain(sql, &cli.config),
        Some(Cmd::ImportHaproxy { file }) => return import_haproxy(file),
        _ => {}
    }
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tandem: {}: {e}", cli.config.display());
            return ExitCode::from(2);
        }
    };
    if let Some(Cmd::Check) = cli.command {
        print_setup(&config);
        return ExitCode::SUCCESS;
    }
    init_logging(&config, cli.log_format);
    // Every client and backend connection is a file descriptor: raise the soft limit to the hard
    // one (as HAProxy does for its maxconn) and say so when it is still short.
    let want = config.proxy.max_connections as u64 * 2 + 64;
    match rlimit::increase_nofile_limit(want) {
        Ok(have) if have < want => tracing::warn!(
            have,
            want,
            "file descriptor limit below 2 x max_connections; raise `ulimit -n` (LimitNOFILE)"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the file descriptor limit"),
    }
    // One single-threaded event loop per worker thread (HAProxy's model): this thread is worker 0
    // (it also accepts and runs the monitor), the others only run sessions.
    let threads = match config.proxy.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = match tandem_proxy::Workers::start(threads - 1) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("tandem: cannot start the worker threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config, workers)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stdout: the level from `RUST_LOG` or `[log] level`, human (colours on a terminal
/// only) or JSON lines.
fn init_logging(config: &Config, format: Option<Format>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        Some(f) => matches!(f, Format::Json),
        None => config.log.format == tandem_proxy::config::LogFormat::Json,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(std::io::stdout().is_terminal()).init();
    }
}

/// `tandem explain`.
fn explain(sql: &str, config_path: &std::path::Path) -> ExitCode {
    let e = tandem_proxy::explain(sql, &tandem_router::Dialect::default());
    out!("statement  {}", e.digest);
    out!("kind       {}", e.kind);
    out!(
        "flags      {}",
        if e.flags.is_empty() { "-" } else { &e.flags }
    );
    match e.route {
        "reader" => out!("route      reader (a read any healthy node may serve)"),
        _ => out!("route      writer ({})", e.reasons),
    }
    let Ok(config) = Config::load(config_path) else {
        return ExitCode::SUCCESS;
    };
    let Some(http) = &config.http else {
        return ExitCode::SUCCESS;
    };
    match live_nodes(http) {
        Ok((writer, readers)) if e.route == "reader" => {
            out!("now        one of: {}", readers.join(", "));
            let _ = writer;
        }
        Ok((writer, _)) => out!(
            "now        {}",
            writer.unwrap_or_else(|| "no writer".into())
        ),
        Err(err) => out!("now        unknown (admin HTTP at {}: {err})", http.listen),
    }
    ExitCode::SUCCESS
}

/// The writer and the readers, from a running Tandem's `/status`.
fn live_nodes(
    http: &tandem_proxy::config::HttpConfig,
) -> Result<(Option<String>, Vec<String>), String> {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect_timeout(&http.listen, std::time::Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let auth = base64_encode(format!("{}:{}", http.user, http.password).as_bytes());
    let req = format!(
        "GET /status HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n",
        http.listen
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    let json = body.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let writer = v["writer"].as_str().map(str::to_owned);
    let readers = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| matches!(n["role"].as_str(), Some("reader" | "writer")))
        .filter_map(|n| n["name"].as_str().map(str::to_owned))
        .collect();
    Ok((writer, readers))
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `tandem import-haproxy`.
fn import_haproxy(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tandem: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match tandem_proxy::haproxy::import_named(&text, &file.display().to_string()) {
        Ok(imported) => {
            out!("{}", imported.toml.trim_end());
            for note in &imported.notes {
                eprintln!("note: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tandem: {}: {e}", file.display());
            ExitCode::from(2)
        }
    }
}

/// The client listener, with an accept backlog sized for connection-per-request bursts (std's
/// default is 128; the kernel caps it at `net.core.somaxconn`).
fn listen(
    addr: std::net::SocketAddr,
    max_connections: usize,
) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(max_connections.clamp(128, 65_535)).unwrap_or(4096))
}

async fn serve(
    config: Config,
    workers: tandem_proxy::Workers,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = listen(config.proxy.listen, config.proxy.max_connections)
        .map_err(|e| format!("cannot listen on {}: {e}", config.proxy.listen))?;
    tandem_proxy::run_on(listener, config, shutdown_signal(), workers).await?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutdown requested");
}

fn print_setup(c: &Config) {
    out!("configuration OK");
    out!("listen           {}", c.proxy.listen);
    out!("max_connections  {}", c.proxy.max_connections);
    out!("write_hold       {:?}", c.proxy.write_hold);
    out!(
        "before login     max_handshake_size {} B, handshake_timeout {:?}, max_handshakes_per_address {}",
        c.proxy.max_handshake_size, c.proxy.handshake_timeout, c.proxy.max_handshakes_per_address
    );
    out!(
        "backends         pool_max_connections {} (lowered to the servers' max_connections less a reserve), pool_wait_timeout {:?}, connect_timeout {:?}, backend_timeout {:?}",
        c.proxy.pool_max_connections,
        c.proxy.pool_wait_timeout,
        c.proxy.connect_timeout,
        c.proxy.backend_timeout
    );
    match c.proxy.threads {
        0 => out!("threads          one event loop per core"),
        n => out!("threads          {n}"),
    }
    out!(
        "health           inter {:?}, downinter {:?}, rise {}, fall {}, timeout {:?}",
        c.health.inter,
        c.health.downinter,
        c.health.rise,
        c.health.fall,
        c.health.timeout
    );
    out!(
        "monitor user     {} (max_lag {:?})",
        c.monitor.user,
        c.monitor.max_lag
    );
    out!(
        "writer           failover {}, failback {}, fence {}, auto_increment_fence {}, verify_failure {}",
        c.writer.failover,
        c.writer.failback,
        c.writer.fence,
        c.writer.auto_increment_fence,
        c.writer.verify_failure
    );
    if let Some(a) = &c.admin {
        out!("admin            {} (user {})", a.listen, a.user);
    }
    if let Some(h) = &c.http {
        out!("admin HTTP       http://{} (user {})", h.listen, h.user);
    }
    if let Some(s) = c.proxy.slow_statement {
        out!("slow statements  logged from {s:?}");
    }
    match c.routing.read_your_writes {
        ReadYourWrites::Window(d) => out!("read_your_writes {d:?} window"),
        ReadYourWrites::Session => {
            out!("read_your_writes session (replicas that applied the session's last write)")
        }
        ReadYourWrites::Global => out!(
            "read_your_writes global (replicas that applied every write acknowledged before the read)"
        ),
        ReadYourWrites::Off => out!("read_your_writes off"),
    }
    let mut by_weight: Vec<_> = c.backends.iter().collect();
    by_weight.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.name.cmp(&b.name)));
    for (i, b) in by_weight.iter().enumerate() {
        let role = if i == 0 {
            "preferred writer"
        } else {
            "failover candidate / reader"
        };
        let reads = b.read_weight.map_or("even".to_owned(), |w| w.to_string());
        out!(
            "backend {:<8} {:<22} weight {:<5} reads {:<5} {role}",
            b.name,
            b.address,
            b.weight,
            reads
        );
    }
    for u in &c.users {
        let how = if u.password.is_some() {
            "password"
        } else {
            "password_hash"
        };
        let admin = if u.connection_admin {
            ", connection_admin: may KILL others' sessions"
        } else {
            ""
        };
        out!("user    {:<8} ({how}{admin})", u.name);
    }
}
