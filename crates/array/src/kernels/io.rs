//! File kernels: a block read from or written to its place in a `.npy` file, and a Zarr
//! chunk read or written as its own file. Each task opens the file itself, so workers read
//! and write in parallel and nothing passes through the client.

use std::fs::File;
use std::os::unix::fs::FileExt;

use rask_graph::{register, Arity, TaskError, Value};

use super::{chunk, dispatch, dtype_arg, int_arg, output, str_arg, usizes_arg, view_as};
use rask_graph::Element;

fn io_error(path: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::new("OSError", format!("{path}: {e}"))
}

/// Calls `f(element offset in the whole array, element offset in the block, length)` for each
/// contiguous run of the block at `offsets` of shape `block` within a row-major array of
/// `shape`: whole trailing axes merge into one run.
pub(crate) fn for_each_run(
    shape: &[usize],
    offsets: &[usize],
    block: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let n = shape.len();
    if block.contains(&0) {
        return;
    }
    if n == 0 {
        return f(0, 0, 1);
    }
    // The outermost axis from which the block is contiguous in the file.
    let mut k = n - 1;
    while k > 0 && block[k] == shape[k] {
        k -= 1;
    }
    let run = block[k] * shape[k + 1..].iter().product::<usize>();
    let strides: Vec<usize> = (0..n).map(|a| shape[a + 1..].iter().product()).collect();
    let mut idx = vec![0usize; k];
    let mut local = 0;
    loop {
        let global: usize = (0..k).map(|a| (offsets[a] + idx[a]) * strides[a]).sum::<usize>() + offsets[k] * strides[k];
        f(global, local, run);
        local += run;
        let mut axis = k;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            idx[axis] += 1;
            if idx[axis] < block[axis] {
                break;
            }
            idx[axis] = 0;
        }
    }
}

fn as_bytes_mut<T: rask_graph::Element>(data: &mut [T]) -> &mut [u8] {
    // SAFETY: the element types are plain numbers or bool; the caller only writes bytes that
    // came from a file of the same dtype, whose bools were checked below.
    unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast(), std::mem::size_of_val(data)) }
}

/// `array_read_npy(path, data_offset, dtype, shape, offsets, block)`.
fn array_read_npy(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_read_npy";
    let path = str_arg(args, 0, F)?;
    let start = int_arg(args, 1, F)? as u64;
    let dtype = dtype_arg(args, 2, F)?;
    let (shape, offsets, block) = (usizes_arg(args, 3, F)?, usizes_arg(args, 4, F)?, usizes_arg(args, 5, F)?);
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let size = dtype.itemsize();
    let need = start + (shape.iter().product::<usize>() * size) as u64;
    let have = file.metadata().map_err(|e| io_error(path, e))?.len();
    if have < need {
        return Err(io_error(path, format!("truncated .npy file: {have} bytes, its header promises {need}")));
    }
    let mut failure = None;
    let out = dispatch!(dtype, |T| output::<T>(&block, |mut out| {
        let bytes = as_bytes_mut(out.as_slice_mut().expect("fresh output is contiguous"));
        for_each_run(&shape, &offsets, &block, |global, local, len| {
            if failure.is_none() {
                let dst = &mut bytes[local * size..(local + len) * size];
                if let Err(e) = file.read_exact_at(dst, start + (global * size) as u64) {
                    failure = Some(e);
                }
            }
        });
        if T::DTYPE == rask_graph::DType::Bool {
            bytes.iter_mut().for_each(|b| *b = (*b != 0) as u8);
        }
    }))?;
    match failure {
        Some(e) => Err(io_error(path, e)),
        None => Ok(out),
    }
}
register!("array_read_npy", Arity::Exact(6), array_read_npy);

/// `array_write_npy(chunk, path, data_offset, shape, offsets)`: writes the block in place in a
/// file the client created at full length; returns the bytes written.
fn array_write_npy(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_write_npy";
    let c = chunk(args, 0, F)?;
    let path = str_arg(args, 1, F)?;
    let start = int_arg(args, 2, F)? as u64;
    let (shape, offsets) = (usizes_arg(args, 3, F)?, usizes_arg(args, 4, F)?);
    let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| io_error(path, e))?;
    let bytes = c.buffer().as_slice();
    let size = c.dtype().itemsize();
    let mut result = Ok(());
    for_each_run(&shape, &offsets, c.shape(), |global, local, len| {
        if result.is_ok() {
            result = file.write_all_at(&bytes[local * size..(local + len) * size], start + (global * size) as u64);
        }
    });
    result.map_err(|e| io_error(path, e))?;
    Ok(Value::Int(bytes.len() as i64))
}
register!("array_write_npy", Arity::Exact(5), array_write_npy);

/// `array_read_zarr(path, dtype, chunk_shape, block, fill)`: a Zarr chunk file (uncompressed,
/// little-endian, C order) cut to the block's extent; a missing file is all `fill`.
fn array_read_zarr(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_read_zarr";
    let path = str_arg(args, 0, F)?;
    let dtype = dtype_arg(args, 1, F)?;
    let (full, block) = (usizes_arg(args, 2, F)?, usizes_arg(args, 3, F)?);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return crate::kernels::random::full(&block, dtype, &args[4]);
        }
        Err(e) => return Err(io_error(path, e)),
    };
    let size = dtype.itemsize();
    let want = full.iter().product::<usize>() * size;
    if bytes.len() != want {
        return Err(io_error(
            path,
            format!("corrupt Zarr chunk: {} bytes, a chunk of {full:?} {dtype} has {want}", bytes.len()),
        ));
    }
    if dtype == rask_graph::DType::Bool && bytes.iter().any(|&b| b > 1) {
        return Err(io_error(path, "corrupt Zarr chunk: bool bytes other than 0 and 1"));
    }
    let zeros = vec![0; full.len()];
    dispatch!(dtype, |T| output::<T>(&block, |mut out| {
        let dst = as_bytes_mut(out.as_slice_mut().expect("fresh output is contiguous"));
        for_each_run(&full, &zeros, &block, |global, local, len| {
            dst[local * size..(local + len) * size].copy_from_slice(&bytes[global * size..(global + len) * size]);
        });
    }))
}
register!("array_read_zarr", Arity::Exact(5), array_read_zarr);

/// `array_write_zarr(chunk, path, chunk_shape, fill)`: the block as a whole Zarr chunk (an edge
/// block padded with `fill`); returns the bytes written.
fn array_write_zarr(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_write_zarr";
    let c = chunk(args, 0, F)?;
    let path = str_arg(args, 1, F)?;
    let full = usizes_arg(args, 2, F)?;
    let padded = if c.shape() == full.as_slice() {
        c.clone()
    } else {
        let Value::Array(mut base) = crate::kernels::random::full(&full, c.dtype(), &args[3])? else { unreachable!() };
        dispatch!(c.dtype(), |T| {
            let Value::Array(p) = output::<T>(&full, |mut out| {
                out.assign(&view_as::<T>(&base));
                let mut dst = out.view_mut();
                for (axis, &len) in c.shape().iter().enumerate() {
                    dst.slice_axis_inplace(ndarray::Axis(axis), ndarray::Slice::from(0..len));
                }
                dst.assign(&view_as::<T>(c));
            })?
            else {
                unreachable!()
            };
            base = p;
        });
        base
    };
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(path, e))?;
    }
    std::fs::write(path, padded.buffer().as_slice()).map_err(|e| io_error(path, e))?;
    Ok(Value::Int(padded.buffer().len() as i64))
}
register!("array_write_zarr", Arity::Exact(4), array_write_zarr);
