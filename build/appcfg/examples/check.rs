//! `cargo run -p appcfg --example check -- APP.toml [CHIPS_DIR]`: loads an app
//! file, and prints either its problems or its memory map.

fn main() {
    let mut args = std::env::args_os().skip(1);
    let app = args.next().map(std::path::PathBuf::from).unwrap_or_else(|| "app.toml".into());
    let chips = args.next().map(std::path::PathBuf::from).unwrap_or_else(|| "build/chips".into());
    match appcfg::load(&app, &chips).and_then(|a| appcfg::allocate(&a).map(|al| (a, al))) {
        Ok((app, alloc)) => print!("{}", app.memory_map(&alloc)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
