//! Finding a source's files: a file, a directory's files of one extension, or a glob.

use std::path::{Path, PathBuf};

use crate::FrameError;

/// The files `path` names: itself, a directory's files ending in `extension`, or a glob whose
/// last component holds one `*`.
pub(crate) fn find(path: &Path, extension: &str) -> Result<Vec<PathBuf>, FrameError> {
    let text = path.to_string_lossy();
    let files = if text.contains('*') {
        let dir = path.parent().unwrap_or(Path::new("."));
        let pattern = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (prefix, suffix) = pattern.split_once('*').unwrap_or((&pattern, ""));
        list(dir, |name| {
            name.starts_with(prefix) && name.ends_with(suffix) && name.len() >= prefix.len() + suffix.len()
        })?
    } else if path.is_dir() {
        list(path, |name| name.ends_with(extension))?
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(FrameError::File { path: text.into_owned(), cause: format!("no {extension} files match") });
    }
    Ok(files)
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, FrameError> {
    let err = |e: std::io::Error| FrameError::File { path: dir.display().to_string(), cause: e.to_string() };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok())
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
