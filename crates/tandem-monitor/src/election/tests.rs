use super::*;
use crate::gtid::GtidPosition;
use crate::status::{Flavor, NodeStatus};
use std::time::{Duration, Instant};

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
        semi_sync: None,
        max_connections: None,
        max_user_connections: None,
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
        address: "",
        weight,
        up,
        status: Some(st),
        drained: false,
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

fn running(mut s: NodeStatus) -> NodeStatus {
    s.channels.push(crate::status::Channel {
        name: String::new(),
        source: "10.0.0.1:3306".into(),
        io: crate::status::IoState::Running,
        sql_running: true,
        last_io_errno: 0,
        last_io_error: String::new(),
        last_sql_errno: 0,
        last_sql_error: String::new(),
        seconds_behind: Some(0),
        relay_drained: true,
        gtid_io_pos: None,
    });
    s
}

fn at<'a>(
    name: &'a str,
    address: &'a str,
    weight: u32,
    up: bool,
    st: &'a NodeStatus,
) -> Candidate<'a> {
    Candidate {
        name,
        address,
        weight,
        up,
        status: Some(st),
        drained: false,
    }
}

#[test]
fn unverified_failure_is_a_partition_not_a_death() {
    let old = status("0-1-10", true, false);
    let seeing = running(status("0-1-10", true, false));
    let mut e = Election::new(ElectionSettings::default());
    fn nodes<'a>(up1: bool, old: &'a NodeStatus, b: &'a NodeStatus) -> Vec<Candidate<'a>> {
        vec![
            at("cn1", "10.0.0.1:3306", 256, up1, old),
            at("cn2", "10.0.0.2:3306", 1, true, b),
        ]
    }
    let cands = nodes(true, &old, &seeing);
    assert_eq!(e.update(&cands), Some(WriterChange::Initial));
    // We lose cn1, but cn2's IO thread still receives from it: no takeover.
    let cands = nodes(false, &old, &seeing);
    match e.update(&cands) {
        Some(WriterChange::Lost { why, .. }) => assert!(why.contains("still replicating"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.writer(), None);
    // cn2 loses it too (IO thread reconnecting): the failure is verified.
    let mut lost = seeing.clone();
    lost.channels[0].io = crate::status::IoState::Connecting;
    let cands = nodes(false, &old, &lost);
    assert_eq!(e.update(&cands), Some(WriterChange::Failover { from: 0 }));
    assert_eq!(e.writer(), Some(1));
}

#[test]
fn verification_can_be_turned_off() {
    let old = status("0-1-10", true, false);
    let seeing = running(status("0-1-10", true, false));
    let mut e = Election::new(ElectionSettings {
        verify_failure: false,
        ..ElectionSettings::default()
    });
    e.update(&[
        at("cn1", "a", 256, true, &old),
        at("cn2", "b", 1, true, &seeing),
    ]);
    assert_eq!(
        e.update(&[
            at("cn1", "a", 256, false, &old),
            at("cn2", "b", 1, true, &seeing)
        ]),
        Some(WriterChange::Failover { from: 0 })
    );
}

#[test]
fn catch_up_wait_is_bounded_then_the_writer_may_return() {
    let old = status("0-1-10", true, false);
    let behind = status("0-1-5", false, false);
    let t0 = Instant::now();
    let mut e = Election::new(ElectionSettings {
        catch_up_timeout: Some(Duration::from_secs(60)),
        ..ElectionSettings::default()
    });
    e.update_at(
        &[cand("cn1", 256, true, &old), cand("cn2", 1, true, &behind)],
        t0,
    );
    fn down<'a>(old: &'a NodeStatus, b: &'a NodeStatus) -> Vec<Candidate<'a>> {
        vec![cand("cn1", 256, false, old), cand("cn2", 1, true, b)]
    }
    assert!(matches!(
        e.update_at(&down(&old, &behind), t0 + Duration::from_secs(1)),
        Some(WriterChange::Lost { .. })
    ));
    assert_eq!(
        e.update_at(&down(&old, &behind), t0 + Duration::from_secs(30)),
        None
    );
    match e.update_at(&down(&old, &behind), t0 + Duration::from_secs(62)) {
        Some(WriterChange::GaveUp { from: 0, waited }) => {
            assert!(waited >= Duration::from_secs(60))
        }
        other => panic!("{other:?}"),
    }
    // Catching up afterwards does not promote: an operator decides now.
    let caught = status("0-1-10", true, false);
    assert_eq!(
        e.update_at(&down(&old, &caught), t0 + Duration::from_secs(63)),
        None
    );
    assert!(e.why_none(&down(&old, &caught)).contains("gave up"));
    // The old writer coming back takes its role again.
    assert_eq!(
        e.update_at(
            &[cand("cn1", 256, true, &old), cand("cn2", 1, true, &caught)],
            t0 + Duration::from_secs(64)
        ),
        Some(WriterChange::Returned)
    );
}

fn fenced() -> Election {
    Election::new(ElectionSettings {
        read_only_fence: true,
        ..ElectionSettings::default()
    })
}

#[test]
fn read_only_fence_follows_the_open_node_at_start() {
    // Another proxy failed over to cn2 earlier: cn1 is closed, cn2 open. A new proxy follows.
    let (closed, open) = (status("0-1-10", true, true), status("0-1-10", true, false));
    let mut e = fenced();
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &closed), cand("cn2", 1, true, &open)]),
        Some(WriterChange::Initial)
    );
    assert_eq!(e.writer(), Some(1));
    // Both closed (fresh deployment with read_only=ON in my.cnf): the best node, to be opened.
    let mut e = fenced();
    e.update(&[
        cand("cn1", 256, true, &closed),
        cand("cn2", 1, true, &closed),
    ]);
    assert_eq!(e.writer(), Some(0));
}

#[test]
fn read_only_fence_adopts_a_node_another_proxy_opened() {
    let (open, closed) = (status("0-1-10", true, false), status("0-1-10", true, true));
    let mut e = fenced();
    e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &closed)]);
    assert_eq!(e.writer(), Some(0));
    // Our writer shows read-only for a moment (being opened, or closed by an operator): kept.
    assert_eq!(
        e.update(&[
            cand("cn1", 256, true, &closed),
            cand("cn2", 1, true, &closed)
        ]),
        None
    );
    assert_eq!(e.writer(), Some(0));
    // cn2 goes from read-only to writable while cn1 still is: someone took over. Follow.
    let cn2_open = status("0-1-10", true, false);
    assert_eq!(
        e.update(&[
            cand("cn1", 256, true, &open),
            cand("cn2", 1, true, &cn2_open)
        ]),
        Some(WriterChange::Adopted { from: 0 })
    );
    assert_eq!(e.writer(), Some(1));
}

#[test]
fn read_only_fence_does_not_adopt_a_node_that_came_back_writable() {
    // cn2 was never seen read-only (it restarted with read_only=OFF): it is closed, not followed.
    let open = status("0-1-10", true, false);
    let mut e = fenced();
    e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, false, &open)]);
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &open)]),
        None
    );
    assert_eq!(e.writer(), Some(0));
}

#[test]
fn read_only_fence_follows_another_proxys_failover_even_with_failover_off() {
    let (open, closed) = (status("0-1-10", true, false), status("0-1-10", true, true));
    let mut e = Election::new(ElectionSettings {
        read_only_fence: true,
        failover: Failover::Off,
        ..ElectionSettings::default()
    });
    e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &closed)]);
    assert!(matches!(
        e.update(&[
            cand("cn1", 256, false, &open),
            cand("cn2", 1, true, &closed)
        ]),
        Some(WriterChange::Lost { .. })
    ));
    let cn2_open = status("0-1-10", true, false);
    assert_eq!(
        e.update(&[
            cand("cn1", 256, false, &open),
            cand("cn2", 1, true, &cn2_open)
        ]),
        Some(WriterChange::Adopted { from: 0 })
    );
}

#[test]
fn read_only_fence_does_not_adopt_a_restarted_replica() {
    // cn2 was seen read-only, went down, and restarted writable (SET GLOBAL does not persist):
    // not a takeover — it is closed again, not followed.
    let (open, closed) = (status("0-1-10", true, false), status("0-1-10", true, true));
    let mut e = fenced();
    e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &closed)]);
    e.update(&[
        cand("cn1", 256, true, &open),
        cand("cn2", 1, false, &closed),
    ]);
    assert_eq!(
        e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &open)]),
        None
    );
    assert_eq!(e.writer(), Some(0));
}

#[test]
fn read_only_fence_does_not_reopen_a_writer_that_came_back_read_only() {
    // cn1 restarted with read_only=ON while cn2 was still catching up: not simply "returned"
    // (another proxy may be opening cn2 right now); cn2 takes over once caught up.
    let (open, closed) = (status("0-1-10", true, false), status("0-1-10", true, true));
    let behind = status("0-1-5", false, true);
    let mut e = fenced();
    e.update(&[cand("cn1", 256, true, &open), cand("cn2", 1, true, &behind)]);
    assert!(matches!(
        e.update(&[
            cand("cn1", 256, false, &open),
            cand("cn2", 1, true, &behind)
        ]),
        Some(WriterChange::Lost { .. })
    ));
    assert_eq!(
        e.update(&[
            cand("cn1", 256, true, &closed),
            cand("cn2", 1, true, &behind)
        ]),
        None
    );
    assert_eq!(e.writer(), None);
    assert_eq!(
        e.update(&[
            cand("cn1", 256, true, &closed),
            cand("cn2", 1, true, &closed)
        ]),
        Some(WriterChange::Failover { from: 0 })
    );
    assert_eq!(e.writer(), Some(1));
}

#[test]
fn switchover_waits_for_catch_up_and_drained_nodes_never_write() {
    let mut e = Election::new(ElectionSettings::default());
    let w = status("0-1-20", true, false);
    let behind = status("0-1-15", true, false);
    let level = status("0-1-20", true, false);
    let nodes = [cand("cn1", 256, true, &w), cand("cn2", 1, true, &behind)];
    e.update(&nodes);
    assert_eq!(e.writer(), Some(0));
    assert_eq!(
        e.set_writer(1, &nodes),
        Err(OperatorError::NotCaughtUp("cn2".into()))
    );
    assert_eq!(e.writer(), Some(0), "a refused switchover changes nothing");
    let nodes = [cand("cn1", 256, true, &w), cand("cn2", 1, true, &level)];
    assert_eq!(e.switchover_target(0, &nodes), Some(1));
    assert!(matches!(
        e.set_writer(1, &nodes),
        Ok(WriterChange::Manual { from: Some(0) })
    ));
    // A drained node is never chosen, not even as the only writable one.
    let mut drained = cand("cn1", 256, true, &w);
    drained.drained = true;
    let nodes = [drained, cand("cn2", 1, true, &level)];
    assert_eq!(e.switchover_target(1, &nodes), None);
    assert_eq!(
        e.set_writer(0, &nodes),
        Err(OperatorError::NotWritable("cn1".into()))
    );
}

#[test]
fn at_start_a_lagging_higher_weight_node_does_not_take_the_writes() {
    // Tandem restarts after a failover to cn2: cn1 is back, writable, still catching up.
    let cn1 = status("0-2-40", true, false);
    let cn2 = status("0-2-55", true, false);
    let mut e = Election::new(ElectionSettings::default());
    let nodes = [cand("cn1", 256, true, &cn1), cand("cn2", 1, true, &cn2)];
    assert_eq!(e.update(&nodes), Some(WriterChange::Initial));
    assert_eq!(e.writer(), Some(1), "cn2 has what cn1 has not applied yet");
    // Level again: a fresh start picks by weight.
    let level = status("0-2-55", true, false);
    let mut e = Election::new(ElectionSettings::default());
    e.update(&[cand("cn1", 256, true, &level), cand("cn2", 1, true, &cn2)]);
    assert_eq!(e.writer(), Some(0));
    // Unknown GTIDs: weight decides, as before.
    let blind = status("", true, false);
    let mut e = Election::new(ElectionSettings::default());
    e.update(&[cand("cn1", 256, true, &blind), cand("cn2", 1, true, &blind)]);
    assert_eq!(e.writer(), Some(0));
}
