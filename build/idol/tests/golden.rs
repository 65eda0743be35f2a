//! Golden tests: the generated code for `golden/kitchen.idol` (which uses
//! every IDL feature) must match the checked-in files byte for byte, so any
//! change to generated code is reviewed as a diff. Run with `IDOL_BLESS=1`
//! to rewrite the golden files after an intended change.
//!
//! Also: every interface in `idl/` generates syntactically valid Rust.

use std::path::Path;

use idol::server::ServiceStyle;

fn check_golden(name: &str, actual: &str) {
    let path = Path::new("tests/golden").join(name);
    if std::env::var_os("IDOL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with IDOL_BLESS=1 to create it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the generated code, first at line {}:\n  golden:    {:?}\n  generated: {:?}\n\
             (IDOL_BLESS=1 rewrites it if the change is intended)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

fn assert_valid_rust(what: &str, text: &str) {
    if let Err(e) = syn::parse_file(text) {
        panic!("{what}: generated code does not parse: {e}\n{text}");
    }
}

#[test]
fn kitchen_client_matches_golden() {
    let iface = idol::parse_file("tests/golden/kitchen.idol").unwrap();
    let code = idol::client::generate_client(&iface);
    assert_valid_rust("kitchen client", &code);
    check_golden("kitchen.client.rs", &code);
}

#[test]
fn kitchen_server_matches_golden() {
    let iface = idol::parse_file("tests/golden/kitchen.idol").unwrap();
    let code = idol::server::generate_server(&iface, ServiceStyle::InOrder);
    assert_valid_rust("kitchen server", &code);
    check_golden("kitchen.server.rs", &code);
}

#[test]
fn generation_is_deterministic() {
    let a = idol::parse_file("tests/golden/kitchen.idol").unwrap();
    let b = idol::parse_file("tests/golden/kitchen.idol").unwrap();
    assert_eq!(idol::client::generate_client(&a), idol::client::generate_client(&b));
    assert_eq!(
        idol::server::generate_server(&a, ServiceStyle::InOrder),
        idol::server::generate_server(&b, ServiceStyle::InOrder)
    );
}

#[test]
fn every_interface_in_idl_generates_valid_rust() {
    let mut seen = 0;
    for entry in std::fs::read_dir("../../idl").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "idol") {
            let iface = idol::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_valid_rust(&format!("{} client", path.display()), &idol::client::generate_client(&iface));
            assert_valid_rust(
                &format!("{} server", path.display()),
                &idol::server::generate_server(&iface, ServiceStyle::InOrder),
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "expected idl/echo.idol and idl/console.idol, found {seen} files");
}

#[test]
fn generated_client_has_the_documented_shape() {
    let iface = idol::parse_file("../../idl/echo.idol").unwrap();
    let code = idol::client::generate_client(&iface);
    for needle in [
        "pub struct Echo {\n    task: core::cell::Cell<userlib::TaskId>,\n}",
        "impl From<userlib::TaskId> for Echo {",
        "pub fn echo(&self, value: u32) -> Result<u32, EchoError> {",
        "pub fn sum(&self, data: &[u8]) -> u32 {",
        "pub fn fill(&self, value: u8, out: &mut [u8]) -> u32 {",
        "pub fn crash(&self) -> Result<(), EchoError> {",
        "Err(idol_runtime::ServerRestarted) => Err(<EchoError as idol_runtime::ServerDeath>::server_died()),",
        "#[repr(C, packed)]\npub struct Echo_divide_ARGS {\n    pub dividend: u32,\n    pub divisor: u32,\n}",
    ] {
        assert!(code.contains(needle), "client lacks {needle:?}");
    }
}

#[test]
fn generated_server_has_the_documented_shape() {
    let iface = idol::parse_file("../../idl/echo.idol").unwrap();
    let code = idol::server::generate_server(&iface, ServiceStyle::InOrder);
    for needle in [
        "#[derive(Copy, Clone, Debug, Eq, PartialEq, num_derive::FromPrimitive)]\n#[repr(u16)]\npub enum EchoOperation {",
        "pub const ECHO_MSG_SIZE: usize",
        "pub const ECHO_REPLY_SIZE: usize",
        "pub trait InOrderEchoImpl {",
        "fn echo(&mut self, msg: &userlib::RecvMessage, value: u32) -> Result<u32, idol_runtime::RequestError<EchoError>>;",
        "fn sum(&mut self, msg: &userlib::RecvMessage, data: idol_runtime::Leased<idol_runtime::R, [u8]>) -> Result<u32, idol_runtime::RequestError<core::convert::Infallible>>;",
        "idol_runtime::Leased::<idol_runtime::W, [u8]>::claim(msg, 0, Some(256))?",
        "_ => userlib::sys_reply_fault(msg.sender, userlib::ReplyFaultReason::UndefinedOperation),",
        "n if n == EchoOperation::Echo as u32 => held.hold(msg.sender, handle_echo(incoming, msg, server)),",
        "pub fn dispatch_n<S: InOrderEchoImpl + idol_runtime::NotificationHandler>",
        "pub type Held = idol_runtime::Held<ECHO_REPLY_SIZE>;",
        "let msg = held.serve_recv(buffer, server);",
        "let flag = idol_runtime::decode_bool(args.flag)?;",
    ] {
        assert!(code.contains(needle), "server lacks {needle:?}");
    }
    // Nothing in the server path may panic on client input.
    for banned in ["unwrap", "expect(", "panic!", "[0]", "unreachable!"] {
        assert!(!code.contains(banned), "server code contains {banned:?}");
    }
}
