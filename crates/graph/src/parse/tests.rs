use super::*;

const SEED: &str =
    "{'x': 1,\n 'y': 2,\n 'z': (add, 'x', 'y'),\n 'w': (sum, ['x', 'y', 'z']),\n 'v': [(sum, ['w', 'z']), 2]}\n";

fn err(src: &str) -> ParseError {
    parse_graph(src).expect_err("input is malformed")
}

#[test]
fn seed_graph_parses_with_refs_tasks_and_lists() {
    let g = parse_graph(SEED).unwrap();
    assert_eq!(g.len(), 5);
    assert_eq!(g.get(&Key::from("x")), Some(&Expr::from(1)));
    assert_eq!(g.get(&Key::from("z")), Some(&Expr::call("add", [Expr::key("x"), Expr::key("y")])));
    let v = Expr::list([Expr::call("sum", [Expr::list([Expr::key("w"), Expr::key("z")])]), Expr::from(2)]);
    assert_eq!(g.get(&Key::from("v")), Some(&v));
}

#[test]
fn strings_that_are_not_keys_are_literals_and_tuple_keys_are_refs() {
    let g = parse_graph("{('x', 0): 1, ('x', 1): (add, ('x', 0), 'y'), 'n': ('x', 5)}").unwrap();
    assert_eq!(g.get(&Key::from(("x", 1i64))), Some(&Expr::call("add", [Expr::key(("x", 0i64)), Expr::from("y")])));
    assert_eq!(g.get(&Key::from("n")), Some(&Expr::Literal(Value::tuple([Value::str("x"), Value::Int(5)]))));
}

#[test]
fn python_literal_subset() {
    let src = r#"# a comment
    {
      'a': "it's",            # double quotes
      'b': 'tab\there\x41\u00e9',
      'c': b'\x00ab',
      'd': (1, 2.5, -3, 1e3, True, False, None, 0x1f, 1_000),
      'e': {'k': [1, 2,], 2: ()},
      'f': (inc,),
      'g': float('nan'),
      'h': (1),
    }"#;
    let g = parse_graph(src).unwrap();
    assert_eq!(g.get(&Key::from("a")), Some(&Expr::from("it's")));
    assert_eq!(g.get(&Key::from("b")), Some(&Expr::from("tab\thereAé")));
    assert_eq!(g.get(&Key::from("c")), Some(&Expr::Literal(Value::bytes(vec![0, b'a', b'b']))));
    let d = Value::tuple([
        1.into(),
        2.5.into(),
        (-3).into(),
        1000.0.into(),
        true.into(),
        false.into(),
        Value::None,
        31.into(),
        1000.into(),
    ]);
    assert_eq!(g.get(&Key::from("d")), Some(&Expr::Literal(d)));
    let e = Value::Dict(Arc::new(vec![("k".into(), Value::list([1.into(), 2.into()])), (2.into(), Value::tuple([]))]));
    assert_eq!(g.get(&Key::from("e")), Some(&Expr::Literal(e)));
    assert_eq!(g.get(&Key::from("f")), Some(&Expr::call("inc", [])));
    assert!(matches!(g.get(&Key::from("g")), Some(Expr::Literal(Value::Float(x))) if x.is_nan()));
    assert_eq!(g.get(&Key::from("h")), Some(&Expr::from(1)));
}

#[test]
fn errors_carry_line_column_and_what_was_expected() {
    let e = err("{'x': 1,\n 'y': (add, 'x' 2)}");
    assert_eq!((e.line, e.column), (2, 17));
    assert!(e.message.contains("expected ',' or ')'"), "{e}");

    let e = err("{'x': 1");
    assert!(e.message.contains("never closed"), "{e}");
    let e = err("{'x': 'abc}");
    assert!(e.message.contains("unterminated string"), "{e}");
    let e = err("{'x': add}");
    assert!(e.message.contains("`add` can only be a task's function"), "{e}");
    let e = err("{'x': 1, 'x': 2}");
    assert!(e.message.contains("defined twice"), "{e}");
    let e = err("{[1]: 2}");
    assert!(e.message.contains("keys must be"), "{e}");
    let e = err("{'x': 99999999999999999999}");
    assert!(e.message.contains("out of range"), "{e}");
    let e = err("{'x': 1} extra");
    assert!(e.message.contains("end of the input"), "{e}");
    let e = err("{'x': @}");
    assert_eq!((e.line, e.column), (1, 7));
    let e = err("");
    assert!(e.message.contains("'{'"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{{'x': {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(err(&deep).message.contains("nesting deeper"));
}

#[test]
fn keys_on_the_command_line() {
    assert_eq!(parse_key("x").unwrap(), Key::from("x"));
    assert_eq!(parse_key("'x y'").unwrap(), Key::from("x y"));
    assert_eq!(parse_key("('x', 0)").unwrap(), Key::from(("x", 0i64)));
    assert_eq!(parse_key("3").unwrap(), Key::Int(3));
    assert!(parse_key("[1]").is_err());
    assert!(parse_key("('x', 0").is_err());
}
