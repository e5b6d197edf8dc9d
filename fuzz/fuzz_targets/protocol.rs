//! The protocol decoder on arbitrary bytes: frames cut from a stream, messages decoded, ops
//! resolved against the registry. Nothing may panic, overflow the stack or allocate without
//! bound; whatever decodes must re-encode to bytes that decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rask_graph::Registry;
use rask_protocol::dist::{ClientMsg, DataReply, DataRequest, FromDistWorker, Greeting, Hello, ToClient, ToDistWorker, Verdict};
use rask_protocol::{frame, FromWorker, ToWorker};

/// Decodes `payload` as a `T`; whatever decodes must survive a round trip.
fn round_trip<T>(payload: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(message) = frame::decode_payload::<T>(payload) {
        let again = frame::to_frame(&message, usize::MAX).expect("a decoded message re-encodes");
        assert_eq!(frame::from_frame::<T>(&again, usize::MAX).as_ref(), Ok(&message));
    }
}

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let registry = Registry::new();
    let mut rest = data;
    // A stream of frames, as a socket or ring reader would cut it.
    while let Ok(Some((payload, used))) = frame::split(rest, MAX) {
        if let Ok(message) = frame::decode_payload::<ToWorker>(payload) {
            let again = frame::to_frame(&message, usize::MAX).expect("a decoded message re-encodes");
            assert_eq!(frame::from_frame::<ToWorker>(&again, usize::MAX).as_ref(), Ok(&message));
            if let ToWorker::Run(task) = message {
                let _ = task.op.resolve(&registry);
            }
        }
        round_trip::<FromWorker>(payload);
        // The distributed layer's messages, as a scheduler, worker or client reads them.
        round_trip::<Greeting>(payload);
        round_trip::<Hello>(payload);
        round_trip::<Verdict>(payload);
        round_trip::<ClientMsg>(payload);
        round_trip::<ToClient>(payload);
        round_trip::<ToDistWorker>(payload);
        round_trip::<FromDistWorker>(payload);
        round_trip::<DataRequest>(payload);
        round_trip::<DataReply>(payload);
        rest = &rest[used..];
    }
});
