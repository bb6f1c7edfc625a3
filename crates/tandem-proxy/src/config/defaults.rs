//! Default values of the configuration, in one place (the monitor's own sections take theirs
//! from its `Default` impls).

use super::ReadYourWrites;
use std::time::Duration;
pub fn max_connections() -> usize {
    4096
}
pub fn handshake_timeout() -> Duration {
    Duration::from_secs(10)
}
pub fn max_handshake_size() -> usize {
    64 * 1024 + 4 * 1024
}
pub fn max_handshakes_per_address() -> usize {
    512
}
pub fn write_hold() -> Duration {
    Duration::from_secs(5)
}
pub fn max_packet_size() -> usize {
    128 << 20
}
pub fn connect_timeout() -> Duration {
    Duration::from_secs(2)
}
pub fn pool_max_idle() -> usize {
    64
}
pub fn pool_max_connections() -> usize {
    900
}
pub fn backend_timeout() -> Duration {
    Duration::from_secs(8 * 3600)
}
pub fn pool_wait_timeout() -> Duration {
    Duration::from_secs(5)
}
pub fn pool_idle_timeout() -> Duration {
    Duration::from_secs(60)
}
pub fn multiplex() -> bool {
    true
}
pub fn busy_poll() -> Duration {
    Duration::from_micros(50)
}

pub fn multiplex_linger() -> Duration {
    Duration::from_millis(20)
}
pub fn shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}
pub fn max_lag() -> Duration {
    Duration::from_secs(10)
}
pub fn read_your_writes() -> ReadYourWrites {
    ReadYourWrites::Global
}
pub fn admin_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 6032))
}
pub fn http_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 9000))
}
pub fn users_refresh() -> Duration {
    Duration::from_secs(60)
}
