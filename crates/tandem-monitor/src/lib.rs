//! tandem-monitor: health checks with HAProxy's semantics and the replication-status poller that
//! publishes the topology snapshot the proxy routes by.
//!
//! Each check is a real login as the monitor user plus a few queries (so a node that accepts TCP
//! but cannot serve is down): global variables (`read_only`, `server_id`, auto_increment settings,
//! GTID positions) and the replica status. Results feed [`Health`] (rise/fall), [`NodeStatus`]
//! (derived lag, broken replication, catch-up) and the sticky writer [`Election`]. Parsing and
//! decisions are pure and unit-tested; the poller only does the I/O.

pub mod durations;
mod election;
mod fence;
mod gtid;
mod health;
mod poller;
mod snapshot;
mod status;

pub use election::{
    Candidate, Election, ElectionSettings, Failback, Failover, OperatorError, WriterChange,
};
pub use fence::{fence, FenceReport, FenceSettings};
pub use gtid::GtidPosition;
pub use health::{Health, HealthSettings, Transition};
pub use poller::{
    check, CheckFailure, Event, Monitor, MonitorSettings, NodeConfig, Operation, CATCH_UP_WAIT,
};
pub use snapshot::{Check, NodeSnapshot, Snapshot};
pub use status::{
    replica_status_query, Channel, Flavor, IoState, NodeStatus, Row, StatusError,
    VARIABLES_QUERY_MARIADB, VARIABLES_QUERY_MYSQL, VERSION_QUERY,
};
