//! Files: `.npy` (NumPy's format) and Zarr (v2 and v3, uncompressed) read and written one
//! task per block, by the workers, never gathered to the client.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rask_exec::Executor;
use rask_graph::{DType, Expr as Task, Key, Registry, Value};

use crate::array::{block_key, token, Array};
use crate::chunks::{grid, Chunks};
use crate::ArrayError;

fn file_error(path: &Path, cause: impl std::fmt::Display) -> ArrayError {
    ArrayError::File { path: path.display().to_string(), cause: cause.to_string() }
}

fn ints(xs: &[usize]) -> Task {
    Task::from(crate::array::ints(xs))
}

fn path_value(p: &Path) -> Task {
    Task::from(Value::str(&p.to_string_lossy()))
}

/// NumPy's `descr` of a dtype (little-endian).
fn descr(d: DType) -> &'static str {
    match d {
        DType::F64 => "<f8",
        DType::F32 => "<f4",
        DType::I64 => "<i8",
        DType::I32 => "<i4",
        DType::Bool => "|b1",
    }
}

fn parse_descr(s: &str) -> Result<DType, String> {
    let (order, code) = s.split_at(s.len().min(1));
    if order == ">" && !code.ends_with('1') {
        return Err(format!("big-endian data ({s:?}) is not supported"));
    }
    DType::parse(code)
        .filter(|_| matches!(order, "<" | "|" | "="))
        .ok_or_else(|| format!("dtype {s:?} is not supported (float64, float32, int64, int32 and bool are)"))
}

/// A `.npy` file's dtype, shape and where its data starts.
pub(crate) fn read_npy_header(path: &Path) -> Result<(DType, Vec<usize>, u64), ArrayError> {
    let mut file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut lead = [0u8; 10];
    file.read_exact(&mut lead).map_err(|_| file_error(path, "not a .npy file: shorter than its header"))?;
    if &lead[..6] != b"\x93NUMPY" {
        return Err(file_error(path, "not a .npy file: no \\x93NUMPY magic"));
    }
    let (len, start) = match lead[6] {
        1 => (u16::from_le_bytes([lead[8], lead[9]]) as usize, 10),
        2 | 3 => {
            let mut more = [0u8; 2];
            file.read_exact(&mut more).map_err(|e| file_error(path, e))?;
            (u32::from_le_bytes([lead[8], lead[9], more[0], more[1]]) as usize, 12)
        }
        v => return Err(file_error(path, format!("unsupported .npy version {v}"))),
    };
    if len > 1 << 20 {
        return Err(file_error(path, format!("corrupt .npy header: {len} bytes long")));
    }
    let mut header = vec![0u8; len];
    file.read_exact(&mut header).map_err(|_| file_error(path, "corrupt .npy file: truncated header"))?;
    let header = String::from_utf8_lossy(&header);
    let field = |name: &str| -> Result<&str, ArrayError> {
        let at = header
            .find(&format!("'{name}'"))
            .ok_or_else(|| file_error(path, format!("corrupt .npy header: no '{name}'")))?;
        Ok(header[at + name.len() + 2..].trim_start().trim_start_matches(':').trim_start())
    };
    let d = field("descr")?;
    let d = d
        .strip_prefix('\'')
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| file_error(path, "corrupt .npy header: descr"))?;
    let dtype = parse_descr(d).map_err(|e| file_error(path, e))?;
    if field("fortran_order")?.starts_with("True") {
        return Err(file_error(path, "Fortran-ordered .npy files are not supported (save a C-ordered array)"));
    }
    let s = field("shape")?;
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| file_error(path, "corrupt .npy header: shape"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, format!("corrupt .npy header: shape {inner:?}: {e}")))?;
    let data_start = (start + len) as u64;
    let need = data_start + (shape.iter().product::<usize>() * dtype.itemsize()) as u64;
    let have = file.metadata().map_err(|e| file_error(path, e))?.len();
    if have < need {
        return Err(file_error(path, format!("corrupt .npy file: {have} bytes, its header promises {need}")));
    }
    Ok((dtype, shape, data_start))
}

/// A version 1.0 `.npy` header, padded to 64 bytes.
fn npy_header(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}", descr(dtype));
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// How a Zarr store names its chunk files and what it holds.
struct ZarrMeta {
    dtype: DType,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    fill: Value,
    v3: bool,
}

impl ZarrMeta {
    fn chunk_path(&self, root: &Path, idx: &[usize]) -> PathBuf {
        let parts: Vec<String> =
            if idx.is_empty() { vec!["0".into()] } else { idx.iter().map(|i| i.to_string()).collect() };
        if self.v3 {
            let mut p = root.join("c");
            for part in parts {
                p.push(part);
            }
            p
        } else {
            root.join(parts.join("."))
        }
    }
}

fn zarr_meta(root: &Path) -> Result<ZarrMeta, ArrayError> {
    let (v3, meta_path) =
        if root.join("zarr.json").exists() { (true, root.join("zarr.json")) } else { (false, root.join(".zarray")) };
    let text =
        std::fs::read_to_string(&meta_path).map_err(|e| file_error(&meta_path, format!("not a Zarr array: {e}")))?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_error(&meta_path, format!("corrupt Zarr metadata: {e}")))?;
    let bad = |why: String| file_error(&meta_path, why);
    let dims = |v: Option<&serde_json::Value>, what: &str| -> Result<Vec<usize>, ArrayError> {
        serde_json::from_value(v.cloned().unwrap_or_default())
            .map_err(|e| bad(format!("corrupt Zarr metadata: {what}: {e}")))
    };
    let shape = dims(meta.get("shape"), "shape")?;
    let (dtype, chunks) = if v3 {
        if meta.get("node_type").and_then(|v| v.as_str()) != Some("array") {
            return Err(bad("a Zarr group, not an array".into()));
        }
        let name = meta.get("data_type").and_then(|v| v.as_str()).unwrap_or("?");
        let dtype = DType::parse(name).ok_or_else(|| bad(format!("Zarr data type {name:?} is not supported")))?;
        let codecs = meta.get("codecs").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        for c in &codecs {
            let name = c.get("name").and_then(|v| v.as_str()).unwrap_or("?");
            let endian = c.pointer("/configuration/endian").and_then(|v| v.as_str()).unwrap_or("little");
            if name != "bytes" || endian != "little" {
                return Err(bad(format!(
                    "Zarr codec {name:?} ({endian}) is not supported: rask reads uncompressed little-endian chunks"
                )));
            }
        }
        let sep = meta.pointer("/chunk_key_encoding/configuration/separator").and_then(|v| v.as_str()).unwrap_or("/");
        let enc = meta.pointer("/chunk_key_encoding/name").and_then(|v| v.as_str()).unwrap_or("default");
        if enc != "default" || sep != "/" {
            return Err(bad(format!("Zarr chunk key encoding {enc:?} with separator {sep:?} is not supported")));
        }
        (dtype, dims(meta.pointer("/chunk_grid/configuration/chunk_shape"), "chunk_shape")?)
    } else {
        let d = meta.get("dtype").and_then(|v| v.as_str()).unwrap_or("?");
        let dtype = parse_descr(d).map_err(|e| bad(format!("Zarr dtype: {e}")))?;
        if let Some(c) = meta.get("compressor").filter(|c| !c.is_null()) {
            let id = c.get("id").and_then(|v| v.as_str()).unwrap_or("?");
            return Err(bad(format!(
                "Zarr compressor {id:?} is not supported: rask reads uncompressed chunks (compressor=None)"
            )));
        }
        if meta.get("filters").is_some_and(|f| !f.is_null()) {
            return Err(bad("Zarr filters are not supported".into()));
        }
        if meta.get("order").and_then(|v| v.as_str()).unwrap_or("C") != "C" {
            return Err(bad("Fortran-ordered Zarr chunks are not supported".into()));
        }
        if meta.get("dimension_separator").and_then(|v| v.as_str()).unwrap_or(".") != "." {
            return Err(bad("Zarr v2 chunks with a '/' dimension separator are not supported".into()));
        }
        (dtype, dims(meta.get("chunks"), "chunks")?)
    };
    if chunks.len() != shape.len() || chunks.iter().zip(&shape).any(|(&c, &d)| c == 0 && d > 0) {
        return Err(bad(format!("corrupt Zarr metadata: chunks {chunks:?} for shape {shape:?}")));
    }
    let fill = match meta.get("fill_value") {
        Some(serde_json::Value::Bool(b)) => Value::Bool(*b),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int)
        }
        Some(serde_json::Value::String(s)) if s == "NaN" => Value::Float(f64::NAN),
        _ => Value::Int(0),
    };
    Ok(ZarrMeta { dtype, shape, chunks, fill, v3 })
}

impl Array {
    /// A `.npy` file, read lazily: one task per block reads only its own bytes.
    pub fn from_npy(path: impl AsRef<Path>, chunks: impl Into<Chunks>) -> Result<Array, ArrayError> {
        let path = std::fs::canonicalize(path.as_ref()).map_err(|e| file_error(path.as_ref(), e))?;
        let (dtype, shape, start) = read_npy_header(&path)?;
        let a = Array::generated("from-npy", &shape, chunks, dtype, |offsets, block| {
            Task::call(
                "array_read_npy",
                [
                    path_value(&path),
                    Task::from(Value::Int(start as i64)),
                    Task::from(Value::str(dtype.name())),
                    ints(&shape),
                    ints(offsets),
                    ints(block),
                ],
            )
        });
        a.check()?;
        Ok(a)
    }

    /// Writes the array to a `.npy` file: the client writes the header and sizes the file,
    /// each block's task writes its own bytes in place.
    pub fn to_npy(&self, path: impl AsRef<Path>, executor: &dyn Executor) -> Result<(), ArrayError> {
        self.check()?;
        self.require_known("to_npy").map_err(ArrayError::Invalid)?;
        let path = path.as_ref();
        let header = npy_header(self.dtype(), self.shape());
        let total = header.len() as u64 + self.nbytes().unwrap_or(0) as u64;
        let mut file = std::fs::File::create(path).map_err(|e| file_error(path, e))?;
        file.write_all(&header).and_then(|_| file.set_len(total)).map_err(|e| file_error(path, e))?;
        drop(file);
        let path = std::fs::canonicalize(path).map_err(|e| file_error(path, e))?;
        let start = Task::from(Value::Int(header.len() as i64));
        self.store_with("to-npy", executor, |me, idx| {
            Task::call(
                "array_write_npy",
                [me.block_task(idx), path_value(&path), start.clone(), ints(me.shape()), ints(&me.block_offsets(idx))],
            )
        })
    }

    /// A Zarr array (v2 `.zarray` or v3 `zarr.json`, uncompressed), one task per Zarr chunk,
    /// then rechunked to `chunks` if given.
    pub fn from_zarr(path: impl AsRef<Path>, chunks: Option<Chunks>) -> Result<Array, ArrayError> {
        let root = std::fs::canonicalize(path.as_ref()).map_err(|e| file_error(path.as_ref(), e))?;
        let meta = zarr_meta(&root)?;
        let zarr_chunks = Chunks::uniform(&meta.chunks);
        let a = Array::generated("from-zarr", &meta.shape, zarr_chunks, meta.dtype, |offsets, block| {
            let idx: Vec<usize> = offsets.iter().zip(&meta.chunks).map(|(&o, &c)| o / c.max(1)).collect();
            Task::call(
                "array_read_zarr",
                [
                    path_value(&meta.chunk_path(&root, &idx)),
                    Task::from(Value::str(meta.dtype.name())),
                    ints(&meta.chunks),
                    ints(block),
                    Task::from(meta.fill.clone()),
                ],
            )
        });
        let a = match chunks {
            Some(c) => a.rechunk(c),
            None => a,
        };
        a.check()?;
        Ok(a)
    }

    /// Writes the array as an uncompressed Zarr v2 array (a directory of chunk files), one
    /// task per chunk. Irregular chunks are first rechunked to their largest size.
    pub fn to_zarr(&self, path: impl AsRef<Path>, executor: &dyn Executor) -> Result<(), ArrayError> {
        self.write_zarr(path.as_ref(), false, executor)
    }

    /// As [`Array::to_zarr`], in the Zarr v3 format.
    pub fn to_zarr_v3(&self, path: impl AsRef<Path>, executor: &dyn Executor) -> Result<(), ArrayError> {
        self.write_zarr(path.as_ref(), true, executor)
    }

    fn write_zarr(&self, root: &Path, v3: bool, executor: &dyn Executor) -> Result<(), ArrayError> {
        self.check()?;
        self.require_known("to_zarr").map_err(ArrayError::Invalid)?;
        let regular: Vec<usize> = self.chunks().iter().map(|c| c.iter().copied().max().unwrap_or(0).max(1)).collect();
        let me = self.rechunk(Chunks::uniform(&regular));
        std::fs::create_dir_all(root).map_err(|e| file_error(root, e))?;
        let root = std::fs::canonicalize(root).map_err(|e| file_error(root, e))?;
        let meta = ZarrMeta {
            dtype: self.dtype(),
            shape: self.shape().to_vec(),
            chunks: regular.clone(),
            fill: Value::Int(0),
            v3,
        };
        let (name, text) = if v3 {
            let json = serde_json::json!({
                "zarr_format": 3, "node_type": "array", "shape": meta.shape, "data_type": self.dtype().name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": regular}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "fill_value": if self.dtype() == DType::Bool { serde_json::json!(false) } else { serde_json::json!(0) },
                "attributes": {},
            });
            ("zarr.json", json)
        } else {
            let json = serde_json::json!({
                "zarr_format": 2, "shape": meta.shape, "chunks": regular, "dtype": descr(self.dtype()),
                "compressor": null, "fill_value": if self.dtype() == DType::Bool { serde_json::json!(false) } else { serde_json::json!(0) },
                "order": "C", "filters": null, "dimension_separator": ".",
            });
            (".zarray", json)
        };
        let text = serde_json::to_string_pretty(&text).expect("JSON values serialize");
        std::fs::write(root.join(name), text).map_err(|e| file_error(&root.join(name), e))?;
        let full = ints(&regular);
        me.store_with("to-zarr", executor, |me, idx| {
            Task::call(
                "array_write_zarr",
                [
                    me.block_task(idx),
                    path_value(&meta.chunk_path(&root, idx)),
                    full.clone(),
                    Task::from(meta.fill.clone()),
                ],
            )
        })
    }

    /// Runs `write(block)` for every block and waits for all: the blocks never leave the
    /// workers; only byte counts come back.
    fn store_with(
        &self,
        op: &str,
        executor: &dyn Executor,
        write: impl Fn(&Array, &[usize]) -> Task,
    ) -> Result<(), ArrayError> {
        let name = token(op);
        let layer: Vec<(Key, Task)> =
            grid(&self.numblocks()).iter().map(|idx| (block_key(&name, idx), write(self, idx))).collect();
        let written: Vec<Task> = layer.iter().map(|(k, _)| Task::key(k.clone())).collect();
        let stored = Array::from_layer(name.clone(), layer, vec![], vec![], self.dtype(), &[self]);
        let (mut graph, _) = stored.graph();
        let root = Key::tuple([Key::str(&name), Key::str("done")]);
        graph.insert(root.clone(), Task::call("sum", [Task::list(written)]));
        executor.get(&graph, &[root], &Registry::new())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_round_trip() {
        let dir = std::env::temp_dir().join(format!("rask-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (dtype, shape) in [(DType::F64, vec![3, 4]), (DType::Bool, vec![5]), (DType::I32, vec![])] {
            let path = dir.join("h.npy");
            let mut bytes = npy_header(dtype, &shape);
            assert_eq!(bytes.len() % 64, 0);
            bytes.resize(bytes.len() + shape.iter().product::<usize>() * dtype.itemsize(), 0);
            std::fs::write(&path, &bytes).unwrap();
            let (d, s, start) = read_npy_header(&path).unwrap();
            assert_eq!((d, s, start as usize % 64), (dtype, shape, 0));
        }
        std::fs::write(dir.join("bad.npy"), b"\x93NUMPY\x01\x00\x10\x00{'descr': '>f8'").unwrap();
        assert!(read_npy_header(&dir.join("bad.npy")).unwrap_err().to_string().contains("truncated"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
