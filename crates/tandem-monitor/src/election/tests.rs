use super::*;
use crate::gtid::GtidPosition;
use crate::status::{Flavor, NodeStatus};

fn status(gtid: &str, drained: bool, read_only: bool) -> NodeStatus {
    let mut s = NodeStatus {
        flavor: Flavor::MariaDb,
        version: "10.11.19-MariaDB".into(),
        server_id: 1,
        read_only,
        auto_increment_increment: 1,
        auto_increment_offset: 1,
        gtid_current: GtidPosition::parse_mariadb(gtid),
        gtid_binlog: None,
        gtid_slave: None,
        channels: vec![],
    };
    if !drained {
        s.channels.push(crate::status::Channel {
            name: String::new(),
            source: "127.0.0.1:3307".into(),
            io: crate::status::IoState::Connecting,
            sql_running: true,
            last_io_errno: 2003,
            last_io_error: String::new(),
            last_sql_errno: 0,
            last_sql_error: String::new(),
            seconds_behind: None,
            relay_drained: false,
            gtid_io_pos: None,
        });
    }
    s
}

fn cand<'a>(name: &'a str, weight: u32, up: bool, st: &'a NodeStatus) -> Candidate<'a> {
    Candidate {
        name,
        weight,
        up,
        status: Some(st),
    }
}

#[test]
fn initial_writer_is_highest_weight_then_sticky() {
    let (a, b) = (status("0-1-10", true, false), status("0-1-10", true, false));
    let mut e = Election::new(ElectionSettings::default());
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]),
        Some(WriterChange::Initial)
    );
    assert_eq!(e.writer(), Some(0));
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]),
        None
    );
}

#[test]
fn failover_waits_for_catch_up() {
    let a = status("0-1-10", true, false);
    let mut e = Election::new(ElectionSettings::default());
    let behind = status("0-1-9", true, false);
    e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &behind)]);
    // cn1 dies; cn2 has not applied 0-1-10 yet.
    let change = e.update(&[cand("cn1", 256, false, &a), cand("cn2", 1, true, &behind)]);
    assert!(
        matches!(change, Some(WriterChange::Lost { from: 0, .. })),
        "{change:?}"
    );
    assert_eq!(e.writer(), None);
    // cn2 drained but its relay log still has events: still not.
    let undrained = status("0-1-10", false, false);
    assert_eq!(
        e.update(&[
            cand("cn1", 256, false, &a),
            cand("cn2", 1, true, &undrained)
        ]),
        None
    );
    assert_eq!(e.writer(), None);
    let caught = status("0-1-10", true, false);
    assert_eq!(
        e.update(&[cand("cn1", 256, false, &a), cand("cn2", 1, true, &caught)]),
        Some(WriterChange::Failover { from: 0 })
    );
    assert_eq!(e.writer(), Some(1));
}

#[test]
fn manual_failback_keeps_the_new_writer() {
    let a = status("0-1-10", true, false);
    let b = status("0-1-10", true, false);
    let mut e = Election::new(ElectionSettings::default());
    e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]);
    e.update(&[cand("cn1", 256, false, &a), cand("cn2", 1, true, &b)]);
    assert_eq!(e.writer(), Some(1));
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]),
        None
    );
    assert_eq!(
        e.writer(),
        Some(1),
        "manual failback: cn1 returns as a reader"
    );
    let nodes = [cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)];
    assert!(matches!(
        e.set_writer(0, &nodes),
        Ok(WriterChange::Manual { from: Some(1) })
    ));
    assert_eq!(e.writer(), Some(0));
}

#[test]
fn auto_failback_only_when_caught_up() {
    let settings = ElectionSettings {
        failback: Failback::Auto,
        ..Default::default()
    };
    let mut e = Election::new(settings);
    let old = status("0-1-10", true, false);
    let b = status("0-2-15", true, false);
    e.update(&[cand("cn1", 256, false, &old), cand("cn2", 1, true, &b)]);
    assert_eq!(e.writer(), Some(1));
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &old), cand("cn2", 1, true, &b)]),
        None,
        "cn1 lacks cn2's writes"
    );
    let back = status("0-2-15", true, false);
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &back), cand("cn2", 1, true, &b)]),
        Some(WriterChange::Failback { from: 1 })
    );
}

#[test]
fn returning_writer_resumes_and_failover_off_never_promotes() {
    let settings = ElectionSettings {
        failover: Failover::Off,
        ..Default::default()
    };
    let mut e = Election::new(settings);
    let a = status("0-1-10", true, false);
    let b = status("0-1-10", true, false);
    e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]);
    assert!(e
        .update(&[cand("cn1", 256, false, &a), cand("cn2", 1, true, &b)])
        .is_some());
    assert_eq!(e.writer(), None);
    assert_eq!(
        e.update(&[cand("cn1", 256, false, &a), cand("cn2", 1, true, &b)]),
        None
    );
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &a), cand("cn2", 1, true, &b)]),
        Some(WriterChange::Returned)
    );
    assert_eq!(e.writer(), Some(0));
}

#[test]
fn read_only_nodes_never_write_and_ties_break_by_name() {
    let ro = status("0-1-1", true, true);
    let rw = status("0-1-1", true, false);
    let mut e = Election::new(ElectionSettings::default());
    e.update(&[cand("cn1", 256, true, &ro), cand("cn2", 1, true, &rw)]);
    assert_eq!(e.writer(), Some(1));
    let mut e = Election::new(ElectionSettings::default());
    e.update(&[cand("b", 5, true, &rw), cand("a", 5, true, &rw)]);
    assert_eq!(e.writer(), Some(1));
    let mut e = Election::new(ElectionSettings::default());
    assert_eq!(e.update(&[cand("cn1", 256, true, &ro)]), None);
    assert!(e
        .why_none(&[cand("cn1", 256, true, &ro)])
        .contains("read_only"));
}
