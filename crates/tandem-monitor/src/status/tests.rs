use super::*;

fn row(pairs: &[(&str, Option<&str>)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
        .collect()
}

fn mariadb_vars(read_only: &str) -> Row {
    row(&[
        ("version", Some("10.11.19-MariaDB-0+deb12u1-log")),
        ("server_id", Some("2")),
        ("read_only", Some(read_only)),
        ("aii", Some("1")),
        ("aio", Some("1")),
        ("gtid_current", Some("0-1-42")),
        ("gtid_binlog", Some("0-1-42")),
        ("gtid_slave", Some("0-1-42")),
    ])
}

/// A MariaDB 10.11 `SHOW ALL SLAVES STATUS` row (the columns that matter, as the server names them).
fn mariadb_channel(
    io: &str,
    sql: &str,
    sbm: Option<&str>,
    read: &str,
    exec: &str,
    errno: &str,
) -> Row {
    row(&[
        ("Connection_name", Some("")),
        ("Master_Host", Some("127.0.0.1")),
        ("Master_Port", Some("3307")),
        ("Slave_IO_Running", Some(io)),
        ("Slave_SQL_Running", Some(sql)),
        ("Master_Log_File", Some("mysql-bin.000001")),
        ("Read_Master_Log_Pos", Some(read)),
        ("Relay_Master_Log_File", Some("mysql-bin.000001")),
        ("Exec_Master_Log_Pos", Some(exec)),
        ("Seconds_Behind_Master", sbm),
        ("Last_IO_Errno", Some("0")),
        ("Last_IO_Error", Some("")),
        ("Last_SQL_Errno", Some(errno)),
        (
            "Last_SQL_Error",
            Some(if errno == "0" {
                ""
            } else {
                "Duplicate entry '7' for key 'PRIMARY'"
            }),
        ),
        ("Gtid_IO_Pos", Some("0-1-42")),
    ])
}

#[test]
fn healthy_mariadb_replica() {
    let s = NodeStatus::parse(
        &mariadb_vars("OFF"),
        &[mariadb_channel("Yes", "Yes", Some("0"), "900", "900", "0")],
    )
    .expect("parses");
    assert_eq!(s.flavor, Flavor::MariaDb);
    assert_eq!(s.server_id, 2);
    assert!(!s.read_only);
    assert_eq!(s.replica_lag(), Some(Duration::ZERO));
    assert!(!s.replication_broken() && !s.replication_stopped());
    assert!(s.relay_drained());
    assert_eq!(
        s.gtid_current.as_ref().map(ToString::to_string).as_deref(),
        Some("0-1-42")
    );
}

#[test]
fn lagging_replica_reports_seconds_behind() {
    let s = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel("Yes", "Yes", Some("17"), "900", "500", "0")],
    )
    .expect("parses");
    assert_eq!(s.replica_lag(), Some(Duration::from_secs(17)));
    assert!(!s.relay_drained());
}

#[test]
fn dead_peer_is_not_staleness_of_the_survivor() {
    // The peer died: IO thread reconnecting, NULL lag, but everything received was applied.
    let s = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel(
            "Connecting",
            "Yes",
            None,
            "900",
            "900",
            "0",
        )],
    )
    .expect("parses");
    assert_eq!(s.replica_lag(), Some(Duration::ZERO));
    assert!(!s.replication_broken());
}

#[test]
fn dead_peer_with_undrained_relay_log_is_unknown_lag() {
    let s = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel(
            "Connecting",
            "Yes",
            None,
            "900",
            "400",
            "0",
        )],
    )
    .expect("parses");
    assert_eq!(s.replica_lag(), None);
}

#[test]
fn stop_slave_and_error_stop_are_told_apart() {
    let stopped = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel("No", "No", None, "900", "900", "0")],
    )
    .expect("parses");
    assert!(stopped.replication_stopped() && !stopped.replication_broken());
    assert_eq!(stopped.replica_lag(), None);
    let broken = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel("Yes", "No", None, "900", "800", "1062")],
    )
    .expect("parses");
    assert!(broken.replication_broken() && !broken.replication_stopped());
    assert_eq!(broken.channels[0].last_sql_errno, 1062);
}

#[test]
fn not_a_replica_has_zero_lag() {
    let s = NodeStatus::parse(&mariadb_vars("1"), &[]).expect("parses");
    assert!(s.read_only);
    assert_eq!(s.replica_lag(), Some(Duration::ZERO));
}

#[test]
fn mysql8_replica_status_columns() {
    let vars = row(&[
        ("version", Some("8.0.36")),
        ("server_id", Some("11")),
        ("read_only", Some("0")),
        ("aii", Some("1")),
        ("aio", Some("1")),
        (
            "gtid_current",
            Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"),
        ),
    ]);
    let ch = row(&[
        ("Channel_Name", Some("")),
        ("Source_Host", Some("10.0.0.1")),
        ("Source_Port", Some("3306")),
        ("Replica_IO_Running", Some("Yes")),
        ("Replica_SQL_Running", Some("Yes")),
        ("Source_Log_File", Some("binlog.000003")),
        ("Read_Source_Log_Pos", Some("1200")),
        ("Relay_Source_Log_File", Some("binlog.000003")),
        ("Exec_Source_Log_Pos", Some("1200")),
        ("Seconds_Behind_Source", Some("3")),
        ("Last_SQL_Errno", Some("0")),
        (
            "Retrieved_Gtid_Set",
            Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"),
        ),
    ]);
    let s = NodeStatus::parse(&vars, &[ch]).expect("parses");
    assert_eq!(s.flavor, Flavor::MySql);
    assert_eq!(s.replica_lag(), Some(Duration::from_secs(3)));
    assert!(s.relay_drained());
    assert_eq!(s.channels[0].source, "10.0.0.1:3306");
    assert_eq!(
        replica_status_query(Flavor::MySql, "8.0.36"),
        "SHOW REPLICA STATUS"
    );
    assert_eq!(
        replica_status_query(Flavor::MySql, "5.7.44"),
        "SHOW SLAVE STATUS"
    );
    assert_eq!(
        replica_status_query(Flavor::MariaDb, "10.11.19-MariaDB"),
        "SHOW ALL SLAVES STATUS"
    );
}

#[test]
fn missing_or_null_columns_do_not_panic() {
    assert!(NodeStatus::parse(&row(&[]), &[]).is_err());
    let vars = row(&[
        ("version", Some("10.11.2-MariaDB")),
        ("read_only", Some("0")),
        ("gtid_current", None),
    ]);
    let s = NodeStatus::parse(&vars, &[row(&[("Slave_SQL_Running", None)])]).expect("parses");
    assert_eq!(s.gtid_current, None);
    assert_eq!(s.replica_lag(), None);
    let bad = row(&[
        ("version", Some("10.11.2-MariaDB")),
        ("read_only", Some("maybe")),
    ]);
    assert!(NodeStatus::parse(&bad, &[]).is_err());
}

#[test]
fn caught_up_needs_drained_relay_and_covering_gtid() {
    let old_writer = NodeStatus::parse(&mariadb_vars("0"), &[]).expect("parses");
    let mut cand = NodeStatus::parse(
        &mariadb_vars("0"),
        &[mariadb_channel(
            "Connecting",
            "Yes",
            None,
            "900",
            "900",
            "0",
        )],
    )
    .expect("parses");
    assert!(cand.caught_up_with(&old_writer));
    cand.gtid_current = GtidPosition::parse_mariadb("0-1-41");
    assert!(!cand.caught_up_with(&old_writer));
    cand.gtid_current = GtidPosition::parse_mariadb("0-1-42");
    cand.channels[0].relay_drained = false;
    assert!(!cand.caught_up_with(&old_writer));
}

#[test]
fn connection_cap_keeps_a_reserve() {
    let mut s = NodeStatus::parse(
        &[
            ("version".to_string(), Some("10.11.6-MariaDB".to_string())),
            ("read_only".to_string(), Some("0".to_string())),
            ("max_connections".to_string(), Some("151".to_string())),
            ("max_user_connections".to_string(), Some("0".to_string())),
        ]
        .into_iter()
        .collect(),
        &[],
    )
    .expect("parse");
    assert_eq!(s.connection_cap(), Some(136));
    s.max_user_connections = Some(50);
    assert_eq!(s.connection_cap(), Some(45));
    s.max_connections = Some(10);
    s.max_user_connections = Some(0);
    assert_eq!(s.connection_cap(), Some(6));
    s.max_connections = None;
    assert_eq!(s.connection_cap(), None);
}
