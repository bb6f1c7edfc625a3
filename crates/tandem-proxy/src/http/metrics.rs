//! `GET /metrics`: the status in the OpenMetrics text format (`prometheus-client`), built per
//! scrape from the same [`Status`] the page and `/status` show.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Status;

type Labels = Vec<(String, String)>;
type GaugeF = Gauge<f64, AtomicU64>;

/// The metrics text for one scrape.
pub fn render(status: &Status) -> String {
    let mut reg = Registry::with_prefix("tandem");
    nodes(&mut reg, status);
    traffic(&mut reg, status);
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out = "# metrics could not be encoded\n# EOF\n".to_owned();
    }
    out
}

fn node(name: &str) -> Labels {
    vec![("node".to_owned(), name.to_owned())]
}

fn gauge_family(reg: &mut Registry, name: &str, help: &str) -> Family<Labels, GaugeF> {
    let f = Family::<Labels, GaugeF>::default();
    reg.register(name, help, f.clone());
    f
}

fn nodes(reg: &mut Registry, status: &Status) {
    let up = gauge_family(reg, "node_up", "1 when the node passes its health checks");
    let writer = gauge_family(reg, "node_writer", "1 for the node taking the writes");
    let reader = gauge_family(reg, "node_reader", "1 when the node serves reads now");
    let drained = gauge_family(reg, "node_drained", "1 while the node is in maintenance");
    let read_only = gauge_family(reg, "node_read_only", "@@read_only as last checked");
    let weight = gauge_family(reg, "node_weight", "writer priority");
    let read_weight = gauge_family(reg, "node_read_weight", "read share (100 = default)");
    let lag = gauge_family(reg, "node_lag_seconds", "replication lag, when known");
    let latency = gauge_family(reg, "node_check_latency_seconds", "last health check");
    let io = gauge_family(
        reg,
        "node_replication_io_running",
        "1 when the IO thread runs",
    );
    let sql = gauge_family(
        reg,
        "node_replication_sql_running",
        "1 when the SQL thread runs",
    );
    let pool = gauge_family(reg, "pool_connections", "backend connections by state");
    let cap = gauge_family(reg, "pool_cap", "backend connection cap in force");
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    for n in &status.nodes {
        let l = node(&n.name);
        up.get_or_create(&l).set(flag(n.state == "up"));
        writer.get_or_create(&l).set(flag(n.role == "writer"));
        reader
            .get_or_create(&l)
            .set(flag(n.role == "writer" || n.role == "reader"));
        drained.get_or_create(&l).set(flag(n.drained));
        if let Some(ro) = n.read_only {
            read_only.get_or_create(&l).set(flag(ro));
        }
        weight.get_or_create(&l).set(f64::from(n.weight));
        read_weight
            .get_or_create(&l)
            .set(f64::from(n.read_weight.unwrap_or(100)));
        if let Some(s) = n.lag_seconds {
            lag.get_or_create(&l).set(s);
        }
        if let Some(ms) = n.check_latency_ms {
            latency.get_or_create(&l).set(ms / 1000.0);
        }
        for c in &n.replication {
            let mut lc = l.clone();
            lc.push(("source".to_owned(), c.source.clone()));
            io.get_or_create(&lc).set(flag(c.io == "running"));
            sql.get_or_create(&lc).set(flag(c.sql_running));
        }
        let busy = n.pool.live.saturating_sub(n.pool.idle);
        for (state, v) in [("busy", busy), ("idle", n.pool.idle)] {
            let mut lc = l.clone();
            lc.push(("state".to_owned(), state.to_owned()));
            pool.get_or_create(&lc).set(v as f64);
        }
        cap.get_or_create(&l).set(n.pool.cap as f64);
    }
}

fn counter(reg: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    reg.register(name, help, c);
}

fn traffic(reg: &mut Registry, status: &Status) {
    let c = &status.counters;
    let statements = Family::<Labels, Counter<u64>>::default();
    reg.register(
        "statements",
        "statements sent to a backend, by where they ran (the writer or a reader)",
        statements.clone(),
    );
    for (route, v) in [
        ("writer", c.statements_writer),
        ("reader", c.statements_reader),
    ] {
        statements
            .get_or_create(&vec![("route".to_owned(), route.to_owned())])
            .inc_by(v);
    }
    let reasons = Family::<Labels, Counter<u64>>::default();
    reg.register(
        "routed_to_writer",
        "text statements the router sent to the writer, by reason",
        reasons.clone(),
    );
    for (reason, v) in &c.routed_to_writer {
        reasons
            .get_or_create(&vec![("reason".to_owned(), reason.clone())])
            .inc_by(*v);
    }
    let logins = Family::<Labels, Counter<u64>>::default();
    reg.register(
        "logins",
        "accepted client logins, by how they were checked",
        logins.clone(),
    );
    for (how, v) in &c.logins {
        logins
            .get_or_create(&vec![("method".to_owned(), (*how).to_owned())])
            .inc_by(*v);
    }
    counter(
        reg,
        "misroutes",
        "reads a reader refused as writes (1792), re-run on the writer",
        c.misroutes,
    );
    counter(
        reg,
        "causal_reads_to_writer",
        "reads sent to the writer because no reader had applied the latest write",
        c.causal_to_writer,
    );
    counter(
        reg,
        "writes_refused_no_writer",
        "statements refused because no node could take writes",
        c.refused_no_writer,
    );
    counter(
        reg,
        "auth_failures",
        "refused client logins",
        c.auth_failures,
    );
    counter(reg, "writer_changes", "writer changes", c.writer_changes);
    counter(
        reg,
        "sessions",
        "client sessions opened",
        status.sessions.total,
    );
    counter(
        reg,
        "backend_connections_parked",
        "backend connections quiet sessions gave back to the pools (multiplexing)",
        c.parked,
    );
    let holding = gauge_family(
        reg,
        "sessions_holding_connections",
        "sessions keeping their backend connections while quiet, by what ties them there",
    );
    for (reason, n) in &status.sessions.holding {
        holding
            .get_or_create(&vec![("reason".to_owned(), (*reason).to_owned())])
            .set(*n as f64);
    }
    let open = Gauge::<i64>::default();
    open.set(i64::try_from(status.sessions.open).unwrap_or(i64::MAX));
    reg.register("sessions_open", "client sessions open now", open);
    let has_writer = Gauge::<i64>::default();
    has_writer.set(i64::from(status.writer.is_some()));
    reg.register("has_writer", "1 when a node takes the writes", has_writer);
}
