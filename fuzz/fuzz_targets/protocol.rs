//! The protocol decoder on arbitrary bytes: frames cut from a stream, messages decoded, ops
//! resolved against the registry. Nothing may panic, overflow the stack or allocate without
//! bound; whatever decodes must re-encode to bytes that decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rask_graph::Registry;
use rask_protocol::{frame, FromWorker, ToWorker};

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
        if let Ok(message) = frame::decode_payload::<FromWorker>(payload) {
            let again = frame::to_frame(&message, usize::MAX).expect("a decoded message re-encodes");
            assert_eq!(frame::from_frame::<FromWorker>(&again, usize::MAX).as_ref(), Ok(&message));
        }
        rest = &rest[used..];
    }
});
