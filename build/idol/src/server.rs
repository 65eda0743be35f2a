//! Server support generation: op decoding, checks and the dispatch loop.
//!
//! For an interface `Echo` the generated code defines:
//!
//! - `EchoOperation`, the op numbers (`num_derive::FromPrimitive`);
//! - `Echo_<op>_ARGS`, the packed message structs;
//! - `ECHO_MSG_SIZE` (the receive buffer: largest message) and
//!   `ECHO_REPLY_SIZE` (largest success reply), in bytes;
//! - `InOrderEchoImpl`, the trait the server implements: one method per op,
//!   taking the `RecvMessage`, the decoded args and the checked leases
//!   (`idol_runtime::Leased<R|W|RW, [u8]>`), and returning
//!   `Result<T, idol_runtime::RequestError<E>>` (`E` is
//!   `core::convert::Infallible` for `Simple` replies);
//! - `dispatch` (receive one message and serve it), `dispatch_n` (the same,
//!   also waiting for the server's notifications), and `handle_message`.
//!
//! Every message is checked before the server's method sees it, in this
//! order, and refused with `reply_fault` on the first failure: operation
//! number (`UndefinedOperation`), exact message size (`BadMessageSize`),
//! exact lease count (`BadLeases`), reply buffer large enough for the reply
//! (`ReplyBufferTooSmall`), each lease's access and maximum length
//! (`BadLeases`), `bool` args being 0 or 1 (`BadMessageContents`). Nothing
//! in the generated code can panic on a client's message.

use std::path::Path;

use crate::ast::{Interface, Op, Reply};
use crate::codegen::{self, Code};
use crate::Error;

/// How the server handles messages.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum ServiceStyle {
    /// One message at a time: each is answered before the next is received.
    InOrder,
}

/// Build-script entry point: generates the server support for the IDL file
/// `idl_path` (relative to the crate being built) into
/// `$OUT_DIR/out_file_name`.
pub fn build_server_support(
    idl_path: impl AsRef<Path>,
    out_file_name: &str,
    style: ServiceStyle,
) -> Result<(), Error> {
    crate::build_into_out_dir(idl_path.as_ref(), out_file_name, |iface| generate_server(iface, style))
}

/// The server support's source text.
pub fn generate_server(iface: &Interface, style: ServiceStyle) -> String {
    let ServiceStyle::InOrder = style;
    let name = &iface.name;
    let upper = crate::ast::screaming_snake(name);
    let trait_name = format!("InOrder{name}Impl");

    let mut code = Code::new();
    codegen::header(&mut code, iface, "Server support");
    codegen::op_enum(&mut code, iface, ", num_derive::FromPrimitive");
    codegen::args_structs(&mut code, iface);

    let msg_sizes: Vec<String> = iface.ops.values().map(|op| codegen::msg_size_expr(iface, op)).collect();
    let reply_sizes: Vec<String> = iface.ops.values().map(codegen::reply_size_expr).collect();
    code.doc(&format!("Size of the largest {name} message, in bytes: the server's receive buffer."));
    code.line("#[allow(dead_code)]");
    code.line(format!("pub const {upper}_MSG_SIZE: usize = idol_runtime::max_size(&[{}]);", msg_sizes.join(", ")));
    code.doc(&format!("Size of the largest {name} success reply, in bytes."));
    code.line("#[allow(dead_code)]");
    code.line(format!(
        "pub const {upper}_REPLY_SIZE: usize = idol_runtime::max_size(&[{}]);",
        reply_sizes.join(", ")
    ));
    code.line("");

    // The trait.
    code.doc(&format!("The server side of {name}: one method per op, called in arrival order."));
    code.line("///");
    code.doc(
        "Methods see only well-formed messages. Returning\n\
         `Err(RequestError::Fail(reason))` reply-faults the client;\n\
         `Err(RequestError::WentAway)` answers nobody.",
    );
    if iface.ops.values().any(|op| 2 + op.args.len() + op.leases.len() > 7) {
        code.line("#[allow(clippy::too_many_arguments)]");
    }
    code.open(format!("pub trait {trait_name} {{"));
    for (i, op) in iface.ops.values().enumerate() {
        if i > 0 {
            code.line("");
        }
        if let Some(doc) = &op.doc {
            code.doc(doc);
        }
        let mut params = vec!["&mut self".to_string(), "msg: &userlib::RecvMessage".to_string()];
        for (arg, ty) in &op.args {
            params.push(format!("{arg}: {}", ty.rust()));
        }
        for (lease, spec) in &op.leases {
            params.push(format!("{lease}: idol_runtime::Leased<idol_runtime::{}, [u8]>", spec.access_marker()));
        }
        let err = op.reply.err().unwrap_or("core::convert::Infallible");
        code.line(format!(
            "fn {}({}) -> Result<{}, idol_runtime::RequestError<{err}>>;",
            op.name,
            params.join(", "),
            op.reply.ok().rust()
        ));
    }
    code.close("}");
    code.line("");

    // Receive loops.
    code.doc(
        "The reply a server holds until its next receive (see\n\
         [`idol_runtime::Held`]): one per server loop, passed to every\n\
         `dispatch`.",
    );
    code.line(format!("pub type Held = idol_runtime::Held<{upper}_REPLY_SIZE>;"));
    code.line("");
    code.doc(
        "Sends the reply `held` holds (if any), receives one message\n\
         (ignoring notifications) and serves it, holding its reply.",
    );
    code.line("#[allow(dead_code)]");
    code.open(format!(
        "pub fn dispatch<S: {trait_name}>(buffer: &mut [u8; {upper}_MSG_SIZE], held: &mut Held, server: &mut S) {{"
    ));
    code.line("let msg = held.reply_recv(buffer, 0);");
    code.line("handle_message(buffer, &msg, held, server);");
    code.close("}");
    code.line("");
    code.doc(
        "Sends the reply `held` holds (if any), receives one message or\n\
         notification, waiting for the bits\n\
         `server.current_notification_mask()` names (after unmasking the\n\
         IRQs `server.take_irqs_to_enable()` names), and serves it.",
    );
    code.line("#[allow(dead_code)]");
    // Always inlined: the server's loop is its only caller, and as a
    // call of its own the timer server's loop paid a prologue, an
    // epilogue and its state through a pointer on every message (about
    // 12 instructions a request, traced under `cargo xtask bench`).
    code.line("#[inline(always)]");
    code.open(format!(
        "pub fn dispatch_n<S: {trait_name} + idol_runtime::NotificationHandler>(buffer: &mut [u8; {upper}_MSG_SIZE], held: &mut Held, server: &mut S) {{"
    ));
    code.line("let msg = held.serve_recv(buffer, server);");
    code.open("if msg.is_notification() {");
    code.line("server.handle_notification(msg.operation);");
    code.close("} else {");
    code.indent_in();
    code.line("handle_message(buffer, &msg, held, server);");
    code.close("}");
    code.close("}");
    code.line("");

    code.doc(
        "Serves one received message: `incoming` is the receive buffer (at\n\
         least the message's size), `msg` what `recv` returned. The answer\n\
         goes into `held`; malformed messages are refused with\n\
         `reply_fault` at once.",
    );
    code.line("#[allow(dead_code)]");
    code.open(format!(
        "pub fn handle_message<S: {trait_name}>(incoming: &[u8], msg: &userlib::RecvMessage, held: &mut Held, server: &mut S) {{"
    ));
    // The raw number is matched against each variant's value, rather than
    // first decoded into the enum and matched again: the compiler makes
    // the guards one jump table (seen in the timer server's code; the
    // bench measured 6 instructions less per request).
    code.open("match msg.operation {");
    for op in iface.ops.values() {
        code.line(format!(
            "n if n == {name}Operation::{} as u32 => held.hold(msg.sender, handle_{}(incoming, msg, server)),",
            codegen::variant(op),
            op.name
        ));
    }
    code.line("_ => userlib::sys_reply_fault(msg.sender, userlib::ReplyFaultReason::UndefinedOperation),");
    code.close("}");
    code.close("}");

    for op in iface.ops.values() {
        code.line("");
        handler(&mut code, iface, &trait_name, op);
    }
    code.finish()
}

fn handler(code: &mut Code, iface: &Interface, trait_name: &str, op: &Op) {
    code.open(format!(
        "fn handle_{}<S: {trait_name}>(incoming: &[u8], msg: &userlib::RecvMessage, server: &mut S) -> Result<{}, idol_runtime::RequestError<u32>> {{",
        op.name,
        op.reply.ok().wire()
    ));
    if op.args.is_empty() {
        code.line("let _ = incoming;");
    }
    code.open("let spec = idol_runtime::OpSpec {");
    code.line(format!("msg_size: {},", codegen::msg_size_expr(iface, op)));
    code.line(format!("reply_size: {},", codegen::reply_size_expr(op)));
    code.line(format!("lease_count: {},", op.leases.len()));
    code.close("};");
    code.line("idol_runtime::check_message(msg, &spec)?;");
    for (i, (lease, spec)) in op.leases.iter().enumerate() {
        let max = match spec.max_len {
            Some(n) => format!("Some({n})"),
            None => "None".into(),
        };
        code.line(format!(
            "let {lease} = idol_runtime::Leased::<idol_runtime::{}, [u8]>::claim(msg, {i}, {max})?;",
            spec.access_marker()
        ));
    }
    if !op.args.is_empty() {
        code.line(format!(
            "let (args, _) = <{} as zerocopy::FromBytes>::read_from_prefix(incoming)",
            codegen::args_struct(iface, op)
        ));
        code.line("    .map_err(|_| userlib::ReplyFaultReason::BadMessageSize)?;");
        for (arg, ty) in &op.args {
            if ty.is_bool() {
                code.line(format!("let {arg} = idol_runtime::decode_bool(args.{arg})?;"));
            } else {
                code.line(format!("let {arg} = args.{arg};"));
            }
        }
    }
    let names: Vec<&str> =
        std::iter::once("msg").chain(op.args.keys().map(String::as_str)).chain(op.leases.keys().map(String::as_str)).collect();
    code.line(format!("server.{}({})", op.name, names.join(", ")));
    if op.reply.ok().is_bool() {
        code.line("    .map(u8::from)");
    }
    match &op.reply {
        Reply::Simple(_) => code.line("    .map_err(|e| e.map_runtime(|never| match never {}))"),
        Reply::Result { .. } => code.line("    .map_err(|e| e.map_runtime(|e| e as u32))"),
    }
    code.close("}");
}
