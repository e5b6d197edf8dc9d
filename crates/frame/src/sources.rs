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

/// Partition columns of a hive-partitioned directory (`year=1995/region=EU/part-0.parquet`):
/// each file's values for them, from its folders.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hive {
    pub columns: Vec<(String, crate::Type)>,
    /// Per file, in the order of the files.
    pub values: Vec<Vec<crate::Lit>>,
}

impl Hive {
    /// A one-row batch of file `i`'s partition values (to evaluate filters on).
    pub fn row(&self, i: usize) -> Result<arrow_array::RecordBatch, FrameError> {
        self.batch(i, 1)
    }

    /// File `i`'s partition values repeated `rows` times.
    pub fn batch(&self, i: usize, rows: usize) -> Result<arrow_array::RecordBatch, FrameError> {
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for ((name, t), value) in self.columns.iter().zip(&self.values[i]) {
            let one = crate::expr::literal_array(value, *t)?;
            let zeros = arrow_array::UInt32Array::from(vec![0u32; rows]);
            columns.push(arrow_select::take::take(&one, &zeros, None)?);
            fields.push(arrow_schema::Field::new(name, t.arrow(), true));
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(arrow_array::RecordBatch::try_new_with_options(
            std::sync::Arc::new(arrow_schema::Schema::new(fields)),
            columns,
            &options,
        )?)
    }
}

/// The `*.parquet` files under `dir` in `key=value` folders, with their partition values, or
/// `None` when `dir` has no such folder. Values that all read as integers make an int64
/// column, others utf8; `__HIVE_DEFAULT_PARTITION__` is null.
pub(crate) fn find_hive(dir: &Path) -> Result<Option<(Vec<PathBuf>, Hive)>, FrameError> {
    let err = |e: std::io::Error| FrameError::File { path: dir.display().to_string(), cause: e.to_string() };
    let is_partition = |p: &Path| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().contains('='));
    if !dir.is_dir() || !std::fs::read_dir(dir).map_err(err)?.filter_map(|e| e.ok()).any(|e| is_partition(&e.path())) {
        return Ok(None);
    }
    // (file, [(key, value)]) for every file under partition folders.
    let mut found: Vec<(PathBuf, Vec<(String, String)>)> = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), Vec::new())];
    while let Some((folder, pairs)) = stack.pop() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(&folder).map_err(err)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for path in entries.into_iter().rev() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if path.is_dir() {
                if let Some((k, v)) = name.split_once('=') {
                    let mut more = pairs.clone();
                    more.push((k.to_owned(), v.to_owned()));
                    stack.push((path, more));
                }
            } else if name.ends_with(".parquet") {
                found.push((path, pairs.clone()));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let Some(keys) = found.first().map(|(_, pairs)| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()) else {
        return Err(FrameError::File {
            path: dir.display().to_string(),
            cause: "no .parquet files in its partition folders".into(),
        });
    };
    for (file, pairs) in &found {
        if pairs.iter().map(|(k, _)| k).ne(keys.iter()) {
            return Err(FrameError::File {
                path: file.display().to_string(),
                cause: format!(
                    "partition folders {:?}, where the first file has {keys:?}",
                    pairs.iter().map(|(k, _)| k).collect::<Vec<_>>()
                ),
            });
        }
    }
    const NULL: &str = "__HIVE_DEFAULT_PARTITION__";
    let columns: Vec<(String, crate::Type)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let ints = found.iter().all(|(_, p)| p[i].1 == NULL || p[i].1.parse::<i64>().is_ok());
            (k.clone(), if ints { crate::Type::Int64 } else { crate::Type::Utf8 })
        })
        .collect();
    let values = found
        .iter()
        .map(|(_, pairs)| {
            pairs
                .iter()
                .zip(&columns)
                .map(|((_, v), (_, t))| match (v.as_str(), t) {
                    (NULL, _) => crate::Lit::Null,
                    (v, crate::Type::Int64) => crate::Lit::Int(v.parse().unwrap_or_default()),
                    (v, _) => crate::Lit::Str(v.to_owned()),
                })
                .collect()
        })
        .collect();
    Ok(Some((found.into_iter().map(|(f, _)| f).collect(), Hive { columns, values })))
}
