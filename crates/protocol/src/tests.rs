use std::io::Cursor;

use proptest::prelude::*;
use rask_graph::{parse_graph, Key, Plan, PlanOptions, Registry, Value};

use crate::frame::{self, FrameError, HEADER_LEN};
use crate::io::{read_message, write_message, StreamError};
use crate::*;

const MAX: usize = 1 << 20;

fn sample_plan() -> Plan {
    let g = parse_graph("{'x': 1, 'y': (add, 'x', 2), 'z': (sum, [(inc, 'y'), 'x', 3.5, ('k', 1)])}").unwrap();
    Plan::build_with(&g, &[Key::str("z")], &Registry::new(), &PlanOptions::unoptimized()).unwrap()
}

#[test]
fn a_task_encoded_from_a_compiled_op_decodes_as_the_owned_message() {
    let plan = sample_plan();
    for node in 0..plan.len() as u32 {
        let inputs = vec![(0, WireValue::Inline(Value::Int(7)))];
        let bytes = frame::to_frame(&ToWorkerRef::run(3, node, plan.op(node), &inputs), MAX).unwrap();
        let decoded: ToWorker = frame::from_frame(&bytes, MAX).unwrap();
        let expected = ToWorker::Run(RunTask { run: 3, node, op: OpMsg::from(plan.op(node)), inputs });
        assert_eq!(decoded, expected);
    }
}

#[test]
fn a_task_carries_its_op_as_bytes_the_scheduler_need_not_read() {
    use crate::dist::{EncodedOp, TaskDef};
    let plan = sample_plan();
    for node in 0..plan.len() as u32 {
        let op = OpMsg::from(plan.op(node));
        let def =
            TaskDef { key: plan.key(node).clone().into(), op: EncodedOp::new(&op), deps: Vec::new(), hints: None };
        let wire = postcard::to_allocvec(&def).unwrap();
        let back: TaskDef = postcard::from_bytes(&wire).unwrap();
        assert_eq!(back.op.decode().unwrap(), op);
        // On the wire, the op's bytes and their length: nothing else.
        assert!(wire.len() <= postcard::to_allocvec(&def.key).unwrap().len() + back.op.len() + 4);
        assert_eq!(format!("{:?}", back.op), format!("{op:?}"));
    }
    // Bytes that are no op are an error, not a panic, when the worker reads them.
    let garbage: EncodedOp = postcard::from_bytes(&postcard::to_allocvec(&vec![0xffu8; 3]).unwrap()).unwrap();
    assert!(garbage.decode().is_err());
    assert!(format!("{garbage:?}").starts_with("EncodedOp(3 bytes"));
}

#[test]
fn short_and_long_ops_keep_their_bytes_inline_or_not_and_travel_alike() {
    use crate::dist::EncodedOp;
    assert_eq!(std::mem::size_of::<EncodedOp>(), 24, "an op stays 24 bytes inline");
    let short = OpMsg::Call("inc".into(), vec![OpMsg::Input(0)]);
    let long = OpMsg::Call("a_function_with_a_long_name".into(), (0..40).map(OpMsg::Input).collect());
    for (op, inline) in [(short, true), (long, false)] {
        let encoded = EncodedOp::new(&op);
        assert_eq!(encoded.len() <= 22, inline, "{op:?} is {} bytes", encoded.len());
        assert_eq!(encoded.len(), postcard::to_allocvec(&op).unwrap().len());
        let back: EncodedOp = postcard::from_bytes(&postcard::to_allocvec(&encoded).unwrap()).unwrap();
        assert!(back == encoded && back.decode().unwrap() == op);
        assert!(back.may_call(if inline { "inc" } else { "long_name" }) && !back.may_call("sum"));
    }
}

#[test]
fn resolved_ops_evaluate_like_the_originals() {
    let plan = sample_plan();
    let registry = Registry::new();
    let results: Vec<Value> = vec![Value::Int(1), Value::Int(3), Value::Int(4)];
    for node in 0..plan.len() as u32 {
        let op = OpMsg::from(plan.op(node)).resolve(&registry).unwrap();
        let input = |i: u32| results[i as usize].clone();
        assert_eq!(op.eval(&input), plan.op(node).eval(&input));
    }
}

#[test]
fn unknown_functions_and_wrong_arity_are_refused_by_name() {
    let registry = Registry::new();
    let unknown = OpMsg::Call("launch_missiles".into(), vec![]);
    assert_eq!(unknown.resolve(&registry).unwrap_err(), ResolveError::UnknownFunction("launch_missiles".into()));
    let arity = OpMsg::Call("inc".into(), vec![OpMsg::Input(0), OpMsg::Input(1)]);
    let err = arity.resolve(&registry).unwrap_err().to_string();
    assert!(err.contains("'inc'") && err.contains("exactly 1 argument") && err.contains("gives 2"), "{err}");
}

#[test]
fn every_prefix_of_a_frame_is_incomplete_not_wrong() {
    let bytes = frame::to_frame(&ToWorker::Exit, MAX).unwrap();
    let bytes = [bytes.clone(), frame::to_frame(&Value::str("next"), MAX).unwrap()].concat();
    let first_len = HEADER_LEN + 1;
    for cut in 0..first_len {
        assert_eq!(frame::split(&bytes[..cut], MAX), Ok(None), "prefix of {cut} bytes");
        let err = frame::from_frame::<ToWorker>(&bytes[..cut], MAX).unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{err}");
    }
    let (payload, used) = frame::split(&bytes, MAX).unwrap().unwrap();
    assert_eq!(used, first_len);
    assert_eq!(frame::decode_payload::<ToWorker>(payload), Ok(ToWorker::Exit));
    let err = frame::from_frame::<ToWorker>(&bytes, MAX).unwrap_err();
    assert!(matches!(err, FrameError::Corrupt(_)), "a second frame is not part of the first: {err}");
}

#[test]
fn oversized_frames_are_refused_from_the_header_alone() {
    let mut header = ((MAX + 1) as u32).to_le_bytes().to_vec();
    header.push(VERSION);
    assert_eq!(frame::split(&header, MAX), Err(FrameError::TooLarge { len: MAX + 1, max: MAX }));
    let big = Value::bytes(vec![0u8; 2000]);
    assert!(matches!(frame::to_frame(&big, 1000), Err(FrameError::TooLarge { max: 1000, .. })));
    // A stream reader refuses before allocating what the header claims.
    let mut stream = Cursor::new([u32::MAX.to_le_bytes().as_slice(), &[VERSION]].concat());
    let err = read_message::<_, ToWorker>(&mut stream, MAX).unwrap_err();
    assert!(matches!(err, StreamError::Frame(FrameError::TooLarge { .. })), "{err}");
}

#[test]
fn other_versions_are_refused() {
    let mut bytes = frame::to_frame(&ToWorker::Exit, MAX).unwrap();
    bytes[4] = VERSION + 1;
    assert_eq!(
        frame::from_frame::<ToWorker>(&bytes, MAX),
        Err(FrameError::Version { found: VERSION + 1, expected: VERSION })
    );
}

#[test]
fn corrupt_payloads_are_errors() {
    let mut bytes = frame::to_frame(&ToWorker::Exit, MAX).unwrap();
    *bytes.last_mut().unwrap() = 0x7f; // no such variant
    assert!(matches!(frame::from_frame::<ToWorker>(&bytes, MAX), Err(FrameError::Corrupt(_))));
}

#[test]
fn deeply_nested_values_are_refused_without_overflowing_the_stack() {
    // `List` is variant 6 of Value; each level is [6, 1] (one element), the leaf `None` is [0].
    let nested = |depth: usize| [[6u8, 1].repeat(depth), vec![0]].concat();
    let err = frame::decode_payload::<Value>(&nested(100_000)).unwrap_err();
    assert!(matches!(err, FrameError::Corrupt(_)), "{err}");
    let mut ok = Value::None;
    for _ in 0..150 {
        ok = Value::list([ok]);
    }
    assert_eq!(frame::decode_payload::<Value>(&nested(150)), Ok(ok.clone()), "the same encoding within the limit");
    let bytes = frame::to_frame(&ok, MAX).unwrap();
    assert_eq!(frame::from_frame::<Value>(&bytes, MAX), Ok(ok), "nesting within the limit round-trips");
}

#[test]
fn a_key_sent_as_the_bytes_the_scheduler_holds_arrives_as_the_key() {
    use crate::dist::{InlineBytes, WireKey};
    use rask_graph::Key;
    for key in [Key::from("x"), Key::tuple([Key::from("s"), Key::Int(3), Key::Int(123_456)])] {
        let encoded = WireKey::Encoded(InlineBytes::encode(&key).unwrap());
        let decoded = WireKey::Key(key.clone());
        let wire = postcard::to_allocvec(&encoded).unwrap();
        assert_eq!(wire, postcard::to_allocvec(&decoded).unwrap(), "one encoding either way");
        let back: WireKey = postcard::from_bytes(&wire).unwrap();
        assert!(matches!(&back, WireKey::Key(k) if *k == key));
        assert_eq!(back, encoded);
        assert_eq!(encoded.into_key(), key);
    }
    // Bytes that are no key are an error when read, not a panic.
    let garbage = postcard::to_allocvec(&vec![0xffu8; 3]).unwrap();
    assert!(postcard::from_bytes::<WireKey>(&garbage).is_err());
}

#[test]
fn keys_round_trip_and_deeply_nested_ones_are_refused() {
    use rask_graph::Key;
    let keys = [
        Key::from("x"),
        Key::Int(-3),
        Key::tuple([Key::from("s"), Key::Int(3), Key::Int(12345)]),
        Key::tuple([Key::tuple([Key::from("a"), Key::Int(1)]), Key::from("é"), Key::tuple([])]),
        Key::tuple((0..40).map(Key::Int)),
    ];
    for key in keys {
        let bytes = postcard::to_allocvec(&key).unwrap();
        assert_eq!(frame::decode_payload::<Key>(&bytes), Ok(key));
    }
    // `Tuple` is variant 2 of Key; each level is [2, 1] (one element), the leaf `Int(0)` [0, 0].
    let nested = |depth: usize| [[2u8, 1].repeat(depth), vec![0, 0]].concat();
    let err = frame::decode_payload::<Key>(&nested(100_000)).unwrap_err();
    assert!(matches!(err, FrameError::Corrupt(_)), "{err}");
    let mut ok = Key::Int(0);
    for _ in 0..150 {
        ok = Key::tuple([ok]);
    }
    assert_eq!(frame::decode_payload::<Key>(&nested(150)), Ok(ok), "the same encoding within the limit");
}

#[test]
fn streams_carry_frames_and_end_cleanly_or_report_truncation() {
    let mut buf = Vec::new();
    write_message(&mut buf, &ToWorker::Exit, MAX).unwrap();
    write_message(&mut buf, &FromWorker::Done(done()), MAX).unwrap();
    let mut stream = Cursor::new(buf.clone());
    assert_eq!(read_message::<_, ToWorker>(&mut stream, MAX).unwrap(), Some(ToWorker::Exit));
    assert_eq!(read_message::<_, FromWorker>(&mut stream, MAX).unwrap(), Some(FromWorker::Done(done())));
    assert_eq!(read_message::<_, FromWorker>(&mut stream, MAX).unwrap(), None);
    let mut cut = Cursor::new(buf[..buf.len() - 1].to_vec());
    read_message::<_, ToWorker>(&mut cut, MAX).unwrap();
    let err = read_message::<_, FromWorker>(&mut cut, MAX).unwrap_err();
    assert!(matches!(err, StreamError::Frame(FrameError::Truncated { .. })), "{err}");
}

fn done() -> TaskDone {
    TaskDone {
        run: 1,
        node: 2,
        result: Ok(WireValue::Shared(SharedRef {
            segment: "rask-1-2".into(),
            offset: 0,
            len: 80,
            layout: Layout::Array { dtype: rask_graph::DType::F64, shape: vec![10] },
        })),
        bytes_copied: 0,
        bytes_shared: 80,
        elapsed_us: 1_500,
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        ".{0,8}".prop_map(|s: String| Value::str(&s)),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::bytes),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::list),
            proptest::collection::vec(inner, 0..6).prop_map(Value::tuple),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn values_round_trip_through_frames(v in value()) {
        let bytes = frame::to_frame(&WireValue::Inline(v.clone()), MAX).unwrap();
        prop_assert_eq!(frame::from_frame::<WireValue>(&bytes, MAX), Ok(WireValue::Inline(v)));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = frame::from_frame::<ToWorker>(&bytes, MAX);
        let _ = frame::from_frame::<FromWorker>(&bytes, MAX);
        let _ = frame::decode_payload::<ToWorker>(&bytes);
        let _ = frame::decode_payload::<FromWorker>(&bytes);
    }
}

#[test]
fn lists_of_wire_values_nested_too_deep_are_refused() {
    let mut wire = WireValue::Inline(Value::Int(1));
    for _ in 0..10_000 {
        wire = WireValue::List(vec![wire]);
    }
    // Encoding recurses too; do it on a thread with room, as a hostile peer would off-process.
    let bytes = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let bytes = frame::to_frame(&wire, usize::MAX).unwrap();
            std::mem::forget(wire);
            bytes
        })
        .unwrap()
        .join()
        .unwrap();
    // Refused (postcard reports its own message, not ours), and without overflowing the stack.
    let err = frame::from_frame::<WireValue>(&bytes, usize::MAX).unwrap_err();
    assert!(matches!(err, frame::FrameError::Corrupt(_)), "{err}");
    let mut shallow = WireValue::List(vec![WireValue::Inline(Value::Int(1)), WireValue::List(vec![])]);
    for _ in 0..150 {
        shallow = WireValue::List(vec![shallow]);
    }
    let bytes = frame::to_frame(&shallow, usize::MAX).unwrap();
    assert_eq!(frame::from_frame::<WireValue>(&bytes, usize::MAX), Ok(shallow));
}
