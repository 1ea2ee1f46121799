//! Finding the TOML files the tool ships (scenarios, profiles) by name or path: a path
//! is read as given; a bare name is looked up in the project folder first (so edits to
//! the shipped files take effect) and then in the copy built into the binary.

use std::path::{Path, PathBuf};

/// Where a named file was found.
#[derive(Debug)]
pub enum Found {
    /// A file on disk.
    File(PathBuf),
    /// The copy built into the binary: its name and text.
    Builtin(&'static str, &'static str),
    /// Neither.
    NotFound,
}

/// Resolves `name_or_path` against `folder` (e.g. `scenarios`) and `builtin`.
pub fn find(name_or_path: &str, folder: &str, builtin: &[(&'static str, &'static str)]) -> Found {
    let as_path = PathBuf::from(name_or_path);
    let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    if looks_like_path || as_path.is_file() {
        return Found::File(as_path);
    }
    let local = Path::new(folder).join(format!("{name_or_path}.toml"));
    if local.is_file() {
        return Found::File(local);
    }
    match builtin.iter().find(|(n, _)| *n == name_or_path) {
        Some((name, text)) => Found::Builtin(name, text),
        None => Found::NotFound,
    }
}

/// The file's name without `.toml`, which names what it holds unless the file does.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
