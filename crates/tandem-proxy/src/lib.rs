//! tandem-proxy: the engine — listener, client sessions, backend pools, relay, configuration.
//!
//! A client connects to Tandem as if it were MySQL. The proxy authenticates it itself (users from
//! the configuration, clear-text or `mysql_native_password` hashes), then routes each statement
//! with `tandem-router` over the topology `tandem-monitor` publishes: writes, transactions and
//! anything session-bound to the single writer, provably side-effect-free reads to a reader.
//! Responses are relayed as raw bytes; the codec's response-stream machine only finds where each
//! response ends and its final status flags, which feed the session policy.
//!
//! Entry point: [`run`] with a bound listener, a validated [`Config`] and a shutdown future, or
//! [`run_on`] to spread sessions over extra [`Workers`] (one event loop per thread).

mod admin;
mod causal;
mod client_io;
pub mod config;
mod digests;
mod errors;
mod explain;
mod frontend;
pub mod haproxy;
mod http;
mod pool;
mod relay;
mod reload;
mod server;
mod server_users;
mod session;
mod shared;
mod spin;
mod workers;

pub use config::{Config, ConfigError, ReadYourWrites};
pub use explain::{explain, Explanation};
pub use server::{run, run_on, ProxyError};
pub use workers::Workers;
