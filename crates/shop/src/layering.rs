//! The layering rules of ARCHITECTURE.md, checked over the source: a rule that a test does not
//! hold is a rule the next change breaks.
//!
//! * `http` calls use cases and never touches `store`.
//! * `domain` does no I/O: no database, HTTP or Alipay client, and no other layer of the shop.
//! * SQL lives in `store` only.
//! * Nothing below `http` knows about it.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the source folder is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The source without comments (doc comments name other layers on purpose).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("a source file is readable")
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Files under `folder` (relative to `src/`) whose code mentions any of `forbidden`.
fn offenders(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in sources(&src().join(folder)) {
        let text = code(&file);
        for needle in forbidden {
            if text.contains(needle) {
                found.push(format!("{} mentions {needle}", file.display()));
            }
        }
    }
    found
}

#[test]
fn http_never_touches_the_store() {
    assert_eq!(
        offenders("http", &["crate::store", "sqlx"]),
        Vec::<String>::new()
    );
}

#[test]
fn the_domain_does_no_io_and_knows_no_other_layer() {
    let forbidden = [
        "sqlx",
        "axum",
        "reqwest",
        "tokio",
        "crate::store",
        "crate::http",
        "crate::payments",
        "crate::context",
    ];
    assert_eq!(offenders("domain", &forbidden), Vec::<String>::new());
}

#[test]
fn sql_lives_in_the_store() {
    let mut found = Vec::new();
    for file in sources(&src()) {
        if file.starts_with(src().join("store")) || file.ends_with("layering.rs") {
            continue;
        }
        let text = code(&file);
        for needle in [
            "sqlx::query",
            "SELECT ",
            "INSERT INTO",
            "UPDATE ",
            "DELETE FROM",
        ] {
            if text.contains(needle) {
                found.push(format!("{} has {needle}", file.display()));
            }
        }
    }
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn nothing_below_http_knows_it() {
    for folder in ["domain", "store", "payments"] {
        assert_eq!(offenders(folder, &["crate::http"]), Vec::<String>::new());
    }
    for file in [
        "accounts.rs",
        "catalog.rs",
        "backoffice.rs",
        "operations.rs",
        "jobs.rs",
        "hashers.rs",
    ] {
        let text = code(&src().join(file));
        assert!(!text.contains("crate::http"), "{file} mentions crate::http");
    }
}
