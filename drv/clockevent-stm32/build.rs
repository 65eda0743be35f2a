fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::expose_task_config();
    idol::server::build_server_support("../../idl/clockevent.idol", "server_stub.rs", idol::server::ServiceStyle::InOrder)?;
    Ok(())
}
