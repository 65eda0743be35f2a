//! Client stub generation: the typed API other tasks call.
//!
//! For an interface `Echo` the stub defines `pub struct Echo`, built from
//! the server's `TaskId` (`Echo::from(slots::ECHO)`), with one method per
//! op. Each method packs its args with zerocopy, attaches its leases,
//! sends, and decodes the reply:
//!
//! - success: the reply value (for `Result` ops, `Ok(value)`);
//! - an error code: the error enum's variant; a code the enum does not
//!   have decodes as its server-death variant (see
//!   `idol_runtime::ServerDeath`), never a panic;
//! - a dead code (the server restarted): the stub moves its `TaskId` to the
//!   new generation; an idempotent op is then sent again, a non-idempotent
//!   one returns the server-death variant (the server may or may not have
//!   acted on it: only the caller can decide what to do).
//!
//! Replies are received into zeroed buffers: bytes a server did not send
//! read as zero. A server generated from the same IDL always sends the
//! whole reply; this rule only makes a misbehaving one harmless.
//!
//! The stub also implements `From<E> for idol_runtime::RequestError<E>`
//! for each error enum, so it must be included in the crate that defines
//! the error enums (the interface's API crate).

use std::path::Path;

use crate::ast::{Interface, Op, Reply, Ty};
use crate::codegen::{self, Code};
use crate::Error;

/// Build-script entry point: generates the client stub for the IDL file
/// `idl_path` (relative to the crate being built) into
/// `$OUT_DIR/out_file_name`, for `include!(concat!(env!("OUT_DIR"), "/..."))`.
pub fn build_client_stub(idl_path: impl AsRef<Path>, out_file_name: &str) -> Result<(), Error> {
    crate::build_into_out_dir(idl_path.as_ref(), out_file_name, generate_client)
}

/// The client stub's source text.
pub fn generate_client(iface: &Interface) -> String {
    let mut code = Code::new();
    codegen::header(&mut code, iface, "Client stub");
    codegen::op_enum(&mut code, iface, "");
    codegen::args_structs(&mut code, iface);

    let name = &iface.name;
    match &iface.doc {
        Some(doc) => code.doc(doc),
        None => code.doc(&format!("Client of the {name} interface.")),
    }
    code.line("///");
    code.doc(
        "Holds the server's `TaskId`. When a call finds that the server has\n\
         restarted, the id moves to the new generation, so later calls reach\n\
         the new incarnation.",
    );
    code.line("#[derive(Clone, Debug)]");
    code.open(format!("pub struct {name} {{"));
    code.line("task: core::cell::Cell<userlib::TaskId>,");
    code.close("}");
    code.line("");

    code.open(format!("impl From<userlib::TaskId> for {name} {{"));
    code.open("fn from(task: userlib::TaskId) -> Self {");
    code.line("Self { task: core::cell::Cell::new(task) }");
    code.close("}");
    code.close("}");
    code.line("");

    if iface.ops.values().any(|op| 1 + op.args.len() + op.leases.len() > 7) {
        code.line("#[allow(clippy::too_many_arguments)]");
    }
    code.open(format!("impl {name} {{"));
    code.doc("The server's id as this client last saw it.");
    code.open("pub fn task_id(&self) -> userlib::TaskId {");
    code.line("self.task.get()");
    code.close("}");
    for op in iface.ops.values() {
        code.line("");
        method(&mut code, iface, op);
    }
    code.close("}");

    let mut seen = Vec::new();
    for err in iface.ops.values().filter_map(|op| op.reply.err()) {
        if seen.contains(&err) {
            continue;
        }
        seen.push(err);
        code.line("");
        code.open(format!("impl From<{err}> for idol_runtime::RequestError<{err}> {{"));
        code.open(format!("fn from(e: {err}) -> Self {{"));
        code.line("Self::Runtime(e)");
        code.close("}");
        code.close("}");
    }
    code.finish()
}

fn method(code: &mut Code, iface: &Interface, op: &Op) {
    if let Some(doc) = &op.doc {
        code.doc(doc);
        code.line("///");
    }
    code.doc(&format!("Operation {} of {}.", op.number, iface.name));
    for (lease, spec) in &op.leases {
        if let Some(max) = spec.max_len {
            code.doc(&format!("`{lease}` may be at most {max} bytes: the server faults callers that lend more."));
        }
    }
    if op.idempotent {
        code.doc("Idempotent: if the server restarts during the call, it is sent again.");
    } else if let Some(err) = op.reply.err() {
        code.doc(&format!(
            "Not idempotent: if the server restarts during the call, returns `{err}`'s server-death variant."
        ));
    }

    let mut params = vec!["&self".to_string()];
    for (arg, ty) in &op.args {
        params.push(format!("{arg}: {}", ty.rust()));
    }
    for (lease, spec) in &op.leases {
        let ty = if spec.write { "&mut [u8]" } else { "&[u8]" };
        params.push(format!("{lease}: {ty}"));
    }
    let ok = op.reply.ok();
    let ret = match &op.reply {
        Reply::Simple(t) => t.rust().to_string(),
        Reply::Result { ok, err } => format!("Result<{}, {err}>", ok.rust()),
    };
    let ret = if ret == "()" { String::new() } else { format!(" -> {ret}") };
    code.open(format!("pub fn {}({}){ret} {{", op.name, params.join(", ")));

    let args_bytes = if op.args.is_empty() {
        "&[]".to_string()
    } else {
        let fields: Vec<String> = op
            .args
            .iter()
            .map(|(arg, ty)| if ty.is_bool() { format!("{arg}: u8::from({arg})") } else { arg.clone() })
            .collect();
        code.line(format!("let args = {} {{ {} }};", codegen::args_struct(iface, op), fields.join(", ")));
        "zerocopy::IntoBytes::as_bytes(&args)".to_string()
    };
    let leases = if op.leases.is_empty() {
        "&[]".to_string()
    } else {
        let list: Vec<String> = op
            .leases
            .iter()
            .map(|(lease, spec)| {
                let ctor = match (spec.read, spec.write) {
                    (true, true) => "read_write",
                    (false, true) => "write_only",
                    _ => "read_only",
                };
                format!("userlib::Lease::{ctor}({lease})")
            })
            .collect();
        code.line(format!("let leases = [{}];", list.join(", ")));
        "&leases".to_string()
    };

    // The reply buffer and how the value is read back out of it.
    let (reply_decl, reply_bytes, value) = match ok {
        Ty::Unit => (None, "&mut []".to_string(), "()".to_string()),
        t => (
            Some(format!("let mut reply = <{} as zerocopy::FromZeros>::new_zeroed();", t.wire())),
            "zerocopy::IntoBytes::as_mut_bytes(&mut reply)".to_string(),
            if t.is_bool() { "reply != 0".to_string() } else { "reply".to_string() },
        ),
    };
    let send = |code: &mut Code| {
        code.open("match idol_runtime::send_tracking(");
        code.line("&self.task,");
        code.line(format!("{}Operation::{} as u16,", iface.name, codegen::variant(op)));
        code.line(format!("{args_bytes},"));
        code.line(format!("{reply_bytes},"));
        code.line(format!("{leases},"));
        code.close(") {");
        code.indent_in();
    };

    let ret_kw = if op.idempotent { "return " } else { "" };
    let done = |v: &str| if ret.is_empty() && v == "()" { String::new() } else { v.to_string() };
    if op.idempotent {
        code.open("loop {");
    }
    if let Some(decl) = &reply_decl {
        code.line(decl);
    }
    send(code);
    match &op.reply {
        Reply::Simple(_) => {
            let v = done(&value);
            let body = if v.is_empty() { "return".to_string() } else { format!("return {v}") };
            // Simple replies are always idempotent (the parser insists).
            code.line(format!("Ok(_) => {body},"));
            code.line("Err(idol_runtime::ServerRestarted) => continue,");
        }
        Reply::Result { err, .. } => {
            code.line(format!("Ok(0) => {ret_kw}Ok({value}),"));
            code.line(format!("Ok(code) => {ret_kw}Err(idol_runtime::decode_error(code)),"));
            if op.idempotent {
                code.line("Err(idol_runtime::ServerRestarted) => continue,");
            } else {
                code.line(format!(
                    "Err(idol_runtime::ServerRestarted) => Err(<{err} as idol_runtime::ServerDeath>::server_died()),"
                ));
            }
        }
    }
    code.close("}");
    if op.idempotent {
        code.close("}");
    }
    code.close("}");
}
