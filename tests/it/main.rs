//! Integration tests: one binary, real MariaDB cn1/cn2 from `tandem-testkit`, real clients.

mod agreement;
mod auth;
mod caps;
mod cli;
mod clients;
mod cluster;
mod codec_client;
mod differential;
mod drivers;
mod failback;
mod failures;
mod faults;
mod hostile;
mod http;
mod idle;
mod integrity;
mod multiplex;
mod prestashop;
mod reload;
mod routing;
mod sessions;
mod support;
mod tls;
