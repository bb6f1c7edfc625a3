//! `tandem`: the thin binary. Parses the command line, loads and validates the configuration,
//! installs the tracing subscriber and runs the proxy engine until SIGTERM/SIGINT.
fn main() {}
