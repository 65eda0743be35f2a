//! `escapement-humility`: the inspector as a standalone command (the same
//! as `cargo xtask humility`, without the default archive of app.toml).

fn main() {
    if let Err(e) = escapement_humility::cli::run(std::env::args_os(), None) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
