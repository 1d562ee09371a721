//! `cargo xtask generate`: rewrites the files derived from the route table (`template.yaml`,
//! the router in `Cargo.toml`). `cargo xtask check`: exits 1, naming each stale file, when a
//! checked-in one differs from what `generate` would write.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask generate | check";

fn main() -> ExitCode {
    // The workspace: this crate's parent directory.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate"] => xtask::generate(&root).map(|written| {
            if written.is_empty() {
                println!("up to date: {}, {}", xtask::TEMPLATE, xtask::MANIFEST);
            }
            for path in written {
                println!("wrote {path}");
            }
            ExitCode::SUCCESS
        }),
        ["check"] => xtask::stale(&root).map(|stale| {
            if stale.is_empty() {
                return ExitCode::SUCCESS;
            }
            for path in stale {
                eprintln!("stale: {path} differs from what `cargo xtask generate` writes");
            }
            ExitCode::FAILURE
        }),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("xtask: {error}");
        ExitCode::FAILURE
    })
}
