//! Parser tests: what valid IDL means, and that every kind of mistake in an
//! IDL file is reported with the file, the op and what to fix.

use idol::ast::{Prim, Reply, Ty};

const FILE: &str = "idl/test.idol";

fn parse(text: &str) -> Result<idol::Interface, idol::Error> {
    idol::parse_str(FILE, text)
}

/// Parses `text`, expects an error, and checks that its text names the
/// file, `op` (if given), and contains every one of `needles`.
fn expect_error(text: &str, op: Option<&str>, needles: &[&str]) -> idol::Error {
    let e = match parse(text) {
        Ok(_) => panic!("parsed, but expected an error mentioning {needles:?}"),
        Err(e) => e,
    };
    let shown = e.to_string();
    assert!(shown.starts_with(FILE), "{shown:?} does not start with the file name");
    if let Some(op) = op {
        assert_eq!(e.op.as_deref(), Some(op), "{shown}");
        assert!(shown.contains(&format!("op \"{op}\"")), "{shown}");
    }
    for n in needles {
        assert!(shown.contains(n), "{shown:?} lacks {n:?}");
    }
    e
}

fn iface(ops: &str) -> String {
    format!("Interface(name: \"Test\", ops: {{\n{ops}\n}})")
}

#[test]
fn ops_are_numbered_from_one_in_declaration_order() {
    let i = parse(&iface(
        r#""zeta": (reply: Simple("()"), idempotent: true),
           "alpha": (reply: Simple("()"), idempotent: true),
           "mid": (reply: Simple("()"), idempotent: true),"#,
    ))
    .unwrap();
    let order: Vec<(&str, u16)> = i.ops.values().map(|o| (o.name.as_str(), o.number)).collect();
    assert_eq!(order, [("zeta", 1), ("alpha", 2), ("mid", 3)]);
}

#[test]
fn args_keep_declaration_order_and_types() {
    let i = parse(&iface(
        r#""op": (args: {"z": "u8", "a": "bool", "p": "crate::Point"}, reply: Result(ok: "u64", err: CLike("E"))),"#,
    ))
    .unwrap();
    let op = &i.ops["op"];
    let args: Vec<(&str, &Ty)> = op.args.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        args,
        [("z", &Ty::Prim(Prim::U8)), ("a", &Ty::Prim(Prim::Bool)), ("p", &Ty::Named("crate::Point".into()))]
    );
    assert_eq!(op.reply, Reply::Result { ok: Ty::Prim(Prim::U64), err: "E".into() });
    assert!(!op.idempotent, "idempotent defaults to false");
}

#[test]
fn leases_default_and_max_len_forms() {
    let i = parse(&iface(
        r#""op": (leases: {
               "a": (type: "[u8]", read: true, max_len: Some(8)),
               "b": (type: "[u8]", write: true, max_len: 9),
               "c": (type: "[u8]", read: true, write: true),
           }, reply: Simple("()"), idempotent: true),"#,
    ))
    .unwrap();
    let l = &i.ops["op"].leases;
    assert_eq!((l["a"].read, l["a"].write, l["a"].max_len), (true, false, Some(8)));
    assert_eq!((l["b"].read, l["b"].write, l["b"].max_len), (false, true, Some(9)));
    assert_eq!((l["c"].read, l["c"].write, l["c"].max_len), (true, true, None));
    assert_eq!(l.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn syntax_error_names_file_position_and_op() {
    let text = iface(
        r#""good": (reply: Simple("()"), idempotent: true),
           "broken": (args: {"x": "u32"} reply: Simple("u32"), idempotent: true),"#,
    );
    let e = expect_error(&text, Some("broken"), &[]);
    let (line, _) = e.position.expect("syntax errors carry a position");
    assert_eq!(line, 3, "{e}");
}

#[test]
fn unknown_field_is_an_error() {
    expect_error(
        &iface(r#""sum": (argz: {"x": "u32"}, reply: Simple("u32"), idempotent: true),"#),
        Some("sum"),
        &["argz"],
    );
}

#[test]
fn missing_reply_is_an_error() {
    expect_error(&iface(r#""sum": (args: {"x": "u32"}),"#), Some("sum"), &["reply"]);
}

#[test]
fn unknown_reply_kind_is_an_error() {
    expect_error(&iface(r#""sum": (reply: Maybe("u32")),"#), Some("sum"), &["Maybe"]);
}

#[test]
fn duplicate_op_is_an_error() {
    expect_error(
        &iface(
            r#""echo": (reply: Simple("()"), idempotent: true),
               "echo": (reply: Simple("u32"), idempotent: true),"#,
        ),
        None,
        &["\"echo\" is declared twice"],
    );
}

#[test]
fn duplicate_arg_is_an_error() {
    expect_error(
        &iface(r#""op": (args: {"x": "u32", "x": "u8"}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["\"x\" is declared twice"],
    );
}

#[test]
fn unsupported_arg_type_names_the_arg() {
    expect_error(
        &iface(r#""op": (args: {"big": "u128 x"}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["arg \"big\"", "u128 x"],
    );
}

#[test]
fn unit_args_are_refused() {
    expect_error(
        &iface(r#""op": (args: {"nothing": "()"}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["arg \"nothing\"", "only allowed as a reply"],
    );
}

#[test]
fn lease_must_be_bytes() {
    expect_error(
        &iface(r#""op": (leases: {"d": (type: "[u32]", read: true)}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["lease \"d\"", "[u32]"],
    );
}

#[test]
fn lease_must_grant_access() {
    expect_error(
        &iface(r#""op": (leases: {"d": (type: "[u8]")}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["lease \"d\"", "neither read nor write"],
    );
}

#[test]
fn lease_and_arg_names_must_differ() {
    expect_error(
        &iface(
            r#""op": (args: {"d": "u8"}, leases: {"d": (type: "[u8]", read: true)}, reply: Simple("()"), idempotent: true),"#,
        ),
        Some("op"),
        &["lease \"d\"", "same name"],
    );
}

#[test]
fn simple_reply_must_be_idempotent() {
    expect_error(&iface(r#""op": (reply: Simple("u32")),"#), Some("op"), &["idempotent: true", "Result"]);
}

#[test]
fn reserved_parameter_names_are_refused() {
    expect_error(
        &iface(r#""op": (args: {"msg": "u32"}, reply: Simple("()"), idempotent: true),"#),
        Some("op"),
        &["arg \"msg\"", "generated code"],
    );
}

#[test]
fn op_names_must_be_snake_case_identifiers() {
    expect_error(&iface(r#""Echo": (reply: Simple("()"), idempotent: true),"#), Some("Echo"), &["snake_case"]);
    expect_error(&iface(r#""type": (reply: Simple("()"), idempotent: true),"#), Some("type"), &["keywords"]);
}

#[test]
fn op_names_must_give_distinct_variants() {
    expect_error(
        &iface(
            r#""a_1": (reply: Simple("()"), idempotent: true),
               "a1": (reply: Simple("()"), idempotent: true),"#,
        ),
        Some("a1"),
        &["clashes with op \"a_1\"", "A1"],
    );
}

#[test]
fn error_type_must_be_an_enum_name() {
    expect_error(
        &iface(r#""op": (reply: Result(ok: "u32", err: CLike("u32"))),"#),
        Some("op"),
        &["reply err", "C-like"],
    );
}

#[test]
fn interface_name_must_be_camel_case() {
    expect_error(r#"Interface(name: "echo", ops: {"a": (reply: Simple("()"), idempotent: true)})"#, None, &[
        "CamelCase",
    ]);
}

#[test]
fn interface_needs_ops() {
    expect_error(r#"Interface(name: "Echo", ops: {})"#, None, &["no ops"]);
}

#[test]
fn semantic_errors_point_at_the_op() {
    let e = expect_error(
        &iface(
            r#""ok": (reply: Simple("()"), idempotent: true),
               "bad": (reply: Simple("u32")),"#,
        ),
        Some("bad"),
        &[],
    );
    assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    assert!(e.to_string().starts_with("idl/test.idol:3:"), "{e}");
}

#[test]
fn unreadable_file_is_reported_with_its_path() {
    let e = idol::parse_file("does/not/exist.idol").unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("does/not/exist.idol: cannot read"), "{shown}");
    // Debug is the same text, so build scripts returning the error print it
    // readably.
    assert_eq!(format!("{e:?}"), shown);
}

#[test]
fn real_interfaces_parse() {
    let echo = idol::parse_file("../../idl/echo.idol").unwrap();
    assert_eq!(echo.name, "Echo");
    assert_eq!(echo.ops.keys().collect::<Vec<_>>(), ["echo", "sum", "fill", "negate", "divide", "crash"]);
    assert!(!echo.ops["crash"].idempotent);
    let console = idol::parse_file("../../idl/console.idol").unwrap();
    assert_eq!(console.ops["write"].leases["data"].max_len, Some(256));
}
