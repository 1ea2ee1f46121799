//! The pipeline's layering, read from `src/`: a module imports (`crate::…`) only the
//! modules below it, never one above it or beside it, so that a stage can be changed
//! without the ones it feeds. A new top-level module must be given its layer here.

use std::path::Path;

/// Top-level modules from the bottom up; a module may import only those of a lower
/// layer (and itself). `main.rs` and `lib.rs` only wire and are not checked.
const LAYERS: &[&[&str]] = &[
    // Leaves every stage uses.
    &[
        "units",
        "latency",
        "error",
        "diagnostic",
        "redact",
        "interrupt",
        "assets",
        "logins",
        "pcmn",
    ],
    &["pg"],
    &["server", "tune"],
    &["seed"],
    &["load", "measure"],
    &["report", "audit"],
    &["experiment"],
    &["engine"],
    &["cli"],
    &["commands"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `(importing module, imported module, file:line)` for every `crate::x` in `src/`.
fn imports() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for (i, _) in code.match_indices("crate::") {
                    let rest = &code[i + "crate::".len()..];
                    let target: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    found.push((
                        module.clone(),
                        target,
                        format!("src/{}:{}", rel.display(), n + 1),
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn stages_import_only_the_layers_below_them() {
    let imports = imports();
    assert!(imports.len() > 100, "src/ was not read");
    let mut wrong = Vec::new();
    for (from, to, at) in &imports {
        if from == to {
            continue;
        }
        let (Some(a), Some(b)) = (layer(from), layer(to)) else {
            wrong.push(format!(
                "{at}: {from} or {to} has no layer in tests/it/structure.rs"
            ));
            continue;
        };
        if b >= a {
            wrong.push(format!("{at}: {from} imports {to}, which is not below it"));
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
}
