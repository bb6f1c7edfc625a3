//! The response-stream machine fed arbitrary packet sequences for arbitrary commands and
//! capabilities, both as structured packets and as a raw byte stream; it must never panic and
//! must stay consistent (no step after Done, `is_done` agrees with the steps).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tandem_protocol::{Capabilities, Command, PacketHeader, ResponseStream, Step, MAX_PAYLOAD_LEN};

#[derive(Arbitrary, Debug)]
struct Pkt {
    from_client: bool,
    continued: bool,
    seq_skew: u8,
    payload: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    cmd: u8,
    caps: u64,
    packets: Vec<Pkt>,
    raw: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let Some(cmd) = Command::from_u8(input.cmd) else { return };
    let caps = Capabilities::from_bits_retain(input.caps);

    let mut rs = ResponseStream::new(cmd, caps);
    let mut seq = 1u8;
    let mut done = rs.is_done();
    for p in &input.packets {
        let len = if p.continued { MAX_PAYLOAD_LEN as u32 } else { p.payload.len().min(MAX_PAYLOAD_LEN - 1) as u32 };
        let header = PacketHeader { len, seq: seq.wrapping_add(p.seq_skew % 4) };
        seq = header.seq.wrapping_add(1);
        let r = if p.from_client { rs.feed_client(header, &p.payload) } else { rs.feed(header, &p.payload) };
        match r {
            Ok(Step::Done(o)) => {
                assert!(!done, "done twice");
                done = true;
                assert!(rs.is_done());
                assert_eq!(rs.outcome(), Some(&o));
            }
            Ok(_) => assert!(!rs.is_done() || done),
            Err(_) => break,
        }
    }

    let mut rs = ResponseStream::new(cmd, caps);
    if let Ok(scan) = rs.scan(&input.raw) {
        assert!(scan.consumed <= input.raw.len());
        assert_eq!(scan.step.is_done(), rs.is_done() && cmd.expects_response());
    }
});
