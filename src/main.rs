//! `tandem`: the thin binary. Parses the command line, loads and validates the configuration,
//! installs the tracing subscriber and runs the proxy engine until SIGTERM/SIGINT.
//!
//! ```text
//! tandem --config tandem.toml          run the proxy
//! tandem check --config tandem.toml    validate and print the resolved setup
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate the configuration and print the resolved setup.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
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
    println!("configuration OK");
    println!("listen           {}", c.proxy.listen);
    println!("max_connections  {}", c.proxy.max_connections);
    println!("write_hold       {:?}", c.proxy.write_hold);
    println!(
        "before login     max_handshake_size {} B, handshake_timeout {:?}, max_handshakes_per_address {}",
        c.proxy.max_handshake_size, c.proxy.handshake_timeout, c.proxy.max_handshakes_per_address
    );
    println!(
        "backends         pool_max_connections {} (lowered to the servers' max_connections less a reserve), pool_wait_timeout {:?}, connect_timeout {:?}, backend_timeout {:?}",
        c.proxy.pool_max_connections,
        c.proxy.pool_wait_timeout,
        c.proxy.connect_timeout,
        c.proxy.backend_timeout
    );
    match c.proxy.threads {
        0 => println!("threads          one event loop per core"),
        n => println!("threads          {n}"),
    }
    println!(
        "health           inter {:?}, downinter {:?}, rise {}, fall {}, timeout {:?}",
        c.health.inter, c.health.downinter, c.health.rise, c.health.fall, c.health.timeout
    );
    println!(
        "monitor user     {} (max_lag {:?})",
        c.monitor.user, c.monitor.max_lag
    );
    println!(
        "writer           failover {}, failback {}, fence {}, auto_increment_fence {}, verify_failure {}",
        c.writer.failover,
        c.writer.failback,
        c.writer.fence,
        c.writer.auto_increment_fence,
        c.writer.verify_failure
    );
    if let Some(a) = &c.admin {
        println!("admin            {} (user {})", a.listen, a.user);
    }
    match c.routing.read_your_writes {
        ReadYourWrites::Window(d) => println!("read_your_writes {d:?} window"),
        ReadYourWrites::Session => {
            println!("read_your_writes session (replicas that applied the session's last write)")
        }
        ReadYourWrites::Global => println!(
            "read_your_writes global (replicas that applied every write acknowledged before the read)"
        ),
        ReadYourWrites::Off => println!("read_your_writes off"),
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
        println!(
            "backend {:<8} {:<22} weight {:<5} reads {:<5} {role}",
            b.name, b.address, b.weight, reads
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
        println!("user    {:<8} ({how}{admin})", u.name);
    }
}
