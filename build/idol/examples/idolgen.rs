//! Prints the generated client or server code of an IDL file, for reading.
//!
//! `cargo run -p idol --example idolgen -- client|server FILE.idol`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: idolgen client|server FILE.idol");
        std::process::exit(2);
    };
    let iface = match idol::parse_file(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    match kind.as_str() {
        "client" => print!("{}", idol::client::generate_client(&iface)),
        "server" => print!("{}", idol::server::generate_server(&iface, idol::server::ServiceStyle::InOrder)),
        other => {
            eprintln!("unknown kind {other:?}: client or server");
            std::process::exit(2);
        }
    }
}
