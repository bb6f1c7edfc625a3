//! Integration tests: one binary, real MariaDB cn1/cn2 from `tandem-testkit`, real clients.

mod cli;
mod clients;
mod cluster;
mod codec_client;
mod failures;
mod faults;
mod hostile;
mod prestashop;
mod routing;
mod support;
