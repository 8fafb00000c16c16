//! The module layering of ARCHITECTURE.md, checked over the source: every module uses only
//! modules of lower layers, so the arrows point one way and there is no cycle.
//!
//! | layer | modules |
//! |---|---|
//! | 0 | `files`, `ids`, `json`, `trades` (the pure trade state machine) |
//! | 1 | `error` |
//! | 2 | `ca`, `config`, `faults` |
//! | 3 | `apps` |
//! | 4 | `store` (all SQL) |
//! | 5 | `messages` (what is signed and sent) |
//! | 6 | `service` (every use case, every `impl Shared`) |
//! | 7 | `views` (state as the API and dashboard show it) |
//! | 8 | `pages` (cashier, dashboard) |
//! | 9 | `protocol` (request checks, answers, methods, mapi) |
//! | 10 | `api`, `downloads`, `gateway` (HTTP: test control, bill files, `/gateway.do`) |
//!
//! No module uses another of its own layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("files", 0),
    ("ids", 0),
    ("json", 0),
    ("trades", 0),
    ("error", 1),
    ("ca", 2),
    ("config", 2),
    ("faults", 2),
    ("apps", 3),
    ("store", 4),
    ("messages", 5),
    ("service", 6),
    ("views", 7),
    ("pages", 8),
    ("protocol", 9),
    ("api", 10),
    ("gateway", 10),
    ("downloads", 10),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, layer)| *layer)
}

/// The source files of each top-level module.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src is readable") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() {
            let files = walk(&path);
            if !files.is_empty() {
                modules.insert(name, files);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !["lib", "main", "layering"].contains(&name.as_str())
        {
            modules.entry(name).or_default().push(path);
        }
    }
    modules
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a folder is readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules a file's code names (`crate::x`), comments left out.
fn uses(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("a source file is readable");
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn every_module_is_in_a_layer() {
    for module in modules().keys() {
        assert!(
            layer(module).is_some(),
            "module {module} has no layer in layering.rs"
        );
    }
}

#[test]
fn arrows_point_down_only() {
    let mut wrong = Vec::new();
    for (module, files) in modules() {
        let Some(own) = layer(&module) else { continue };
        for file in files {
            for used in uses(&file) {
                if used == module {
                    continue;
                }
                match layer(&used) {
                    Some(theirs) if theirs < own => {}
                    Some(theirs) => wrong.push(format!(
                        "{} (layer {own}) uses {used} (layer {theirs})",
                        file.display()
                    )),
                    None => {} // the crate root's items (`crate::SandboxError`...)
                }
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
}
