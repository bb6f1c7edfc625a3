//! tandem-proxy: the engine — listener, client sessions, backend pools, relay, configuration.
