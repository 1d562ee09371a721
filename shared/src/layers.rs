//! The crate's layers, kept by a test: every file's imports point down or sideways within
//! its layer, and no files import each other in a circle, however small. A module that
//! declares a child and re-exports its items is not counted as importing it; a child that
//! uses its parent's items is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, bottom layer first (lib.rs and docs/architecture.md draw the same).
const LAYERS: &[&[&str]] = &[
    &[
        "aws",
        "call_log",
        "configuration",
        "deadline",
        "https",
        "keys",
        "secrets",
        "table",
        "telemetry",
        "validation",
    ],
    &["domain"],
    &["store"],
    &["auth", "events", "expiry"],
    &["http"],
    &["api"],
];

/// A module path: `["store", "waitlist"]` for `src/store/waitlist.rs`.
type Module = Vec<String>;

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("cannot read {}", dir.display());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Module = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its tests (a `#[cfg(test)]` module,
/// which by this crate's habit closes the file; tests may use any layer).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths after `prefix` in `code` (`crate::a::b` gives `a::b`), with one level of
/// braces expanded (`crate::{a::b, c}` gives `a::b` and `c`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for entry in group[..end].split(',') {
                found.push(segments(entry.trim()));
            }
        } else {
            found.push(segments(rest));
        }
    }
    found
}

fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    loop {
        let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        out.push(name);
        match rest.strip_prefix("::") {
            Some(more) => rest = more,
            None => break,
        }
    }
    out
}

/// The files of the crate and the modules each imports, as module paths.
fn imports() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: Vec<(Module, PathBuf)> = files
        .iter()
        .filter(|f| !f.ends_with("lib.rs") && !f.ends_with("layers.rs"))
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let known: BTreeSet<Module> = modules.iter().map(|(m, _)| m.clone()).collect();
    // The longest known module a path names (its first segments).
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|candidate| known.contains(candidate))
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let code = code_of(&text);
        let is_mod_rs = file.ends_with("mod.rs");
        // `super` of a file `a/b.rs` is `a`; of `a/b/mod.rs`, also `a`.
        let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets = BTreeSet::new();
        let mut absolute: Vec<Vec<String>> = paths_after(&code, "crate::");
        for path in paths_after(&code, "super::") {
            let mut full = parent.clone();
            full.extend(path.into_iter().skip_while(|s| s == "super"));
            absolute.push(full);
        }
        for path in absolute {
            let Some(target) = resolve(&path) else {
                continue;
            };
            let declares = is_mod_rs && target.starts_with(module);
            if &target != module && !declares {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn layer_of(module: &Module) -> usize {
    let top = module.first().map(String::as_str).unwrap_or_default();
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("the top-level module {top} is in no layer: add it to LAYERS"))
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let mut upward = Vec::new();
    for (module, targets) in imports() {
        for target in targets {
            if layer_of(&target) > layer_of(&module) {
                upward.push(format!("{} -> {}", module.join("::"), target.join("::")));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a layer above:\n{upward:#?}"
    );
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let graph = imports();
    // Depth-first search; a file met again while still on the path closes a circle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(module) {
            Some(Mark::Done) => return None,
            Some(Mark::OnPath) => {
                let start = path.iter().position(|m| m == module).unwrap_or(0);
                let mut circle = path[start..].to_vec();
                circle.push(module.clone());
                return Some(circle);
            }
            None => {}
        }
        marks.insert(module.clone(), Mark::OnPath);
        path.push(module.clone());
        for target in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(target, graph, marks, path) {
                return Some(circle);
            }
        }
        path.pop();
        marks.insert(module.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in graph.keys() {
        let circle = visit(module, &graph, &mut marks, &mut Vec::new());
        let shown: Option<Vec<String>> = circle.map(|c| c.iter().map(|m| m.join("::")).collect());
        assert_eq!(shown, None, "files that import each other in a circle");
    }
}

#[test]
fn the_checks_see_imports() {
    let graph = imports();
    let store = graph
        .get(&vec!["store".to_owned(), "waitlist".to_owned()])
        .expect("store/waitlist.rs is read");
    assert!(store.contains(&vec!["store".to_owned()]), "{store:?}");
    assert!(store.contains(&vec!["domain".to_owned()]), "{store:?}");
    let pipeline = &graph[&vec!["api".to_owned(), "pipeline".to_owned()]];
    assert!(pipeline.contains(&vec!["api".to_owned(), "call".to_owned()]));
}
