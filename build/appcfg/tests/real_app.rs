//! The repository's own app file and chip files load, allocate and generate.

use appcfg::{allocate, irq_table, load, task_config_rs};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn real_app_loads() {
    let app = load(&repo().join("app.toml"), &repo().join("build/chips")).unwrap_or_else(|e| panic!("{e}"));
    let alloc = allocate(&app).unwrap();
    println!("{}", app.memory_map(&alloc));
    for i in 0..app.tasks.len() {
        println!("{}", task_config_rs(&app, i));
    }
    println!("{:?}", irq_table(&app));
}
