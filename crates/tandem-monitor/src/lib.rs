//! tandem-monitor: health checks with HAProxy's semantics and the replication-status poller that
//! publishes the topology snapshot the proxy routes by.
