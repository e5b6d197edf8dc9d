//! Creation kernels: constant fills, ranges, and counter-based random numbers.
//!
//! A random element is a hash of the seed and the element's index in the whole array, so the
//! same seed gives the same array however it is chunked and wherever each chunk runs.

use rask_graph::{register, Arity, TaskError, Value};

use super::{dispatch, dtype_arg, output, str_arg, usizes_arg, Num};

/// SplitMix64's finalizer: a bijection of 64-bit words with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) for element `index` of the stream `seed`.
pub(crate) fn uniform(seed: u64, index: u64) -> f64 {
    let h = mix(mix(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d).wrapping_add(index));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal number for element `index` (Box–Muller over two uniforms of its own).
pub(crate) fn normal(seed: u64, index: u64) -> f64 {
    let u1 = uniform(seed, index.wrapping_mul(2));
    let u2 = uniform(seed, index.wrapping_mul(2).wrapping_add(1));
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Calls `f(flat index in the whole array)` for every element of the block at `offsets` of
/// shape `block`, in the block's row-major order.
pub(crate) fn for_each_global(shape: &[usize], offsets: &[usize], block: &[usize], mut f: impl FnMut(u64)) {
    let n = block.len();
    if block.contains(&0) {
        return;
    }
    let strides: Vec<u64> = (0..n).map(|a| shape[a + 1..].iter().product::<usize>() as u64).collect();
    let mut idx = vec![0usize; n];
    let inner = if n == 0 { 1 } else { block[n - 1] };
    loop {
        let base: u64 = (0..n.saturating_sub(1)).map(|a| (offsets[a] + idx[a]) as u64 * strides[a]).sum::<u64>()
            + if n == 0 { 0 } else { offsets[n - 1] as u64 };
        for j in 0..inner as u64 {
            f(base + j);
        }
        // Next row: the odometer over all axes but the last.
        let mut axis = n.saturating_sub(1);
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

/// `array_random(kind, seed, shape, offsets, block, dtype, [low, high] | [mean, std])`.
fn array_random(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_random";
    let kind = str_arg(args, 0, F)?;
    let seed = super::int_arg(args, 1, F)? as u64;
    let (shape, offsets, block) = (usizes_arg(args, 2, F)?, usizes_arg(args, 3, F)?, usizes_arg(args, 4, F)?);
    let dtype = dtype_arg(args, 5, F)?;
    let params: Vec<f64> = args[6].as_seq().unwrap_or_default().iter().filter_map(Value::as_float).collect();
    let (a, b) = (params.first().copied().unwrap_or(0.0), params.get(1).copied().unwrap_or(1.0));
    let draw: fn(u64, u64) -> f64 = match kind {
        "uniform" => uniform,
        "normal" => normal,
        other => return Err(TaskError::value_error(format!("unknown distribution {other:?}"))),
    };
    let scale = if kind == "uniform" { b - a } else { b };
    dispatch!(dtype, |T| output::<T>(&block, |mut out| {
        let data = out.as_slice_mut().expect("fresh output is contiguous");
        let mut at = 0;
        for_each_global(&shape, &offsets, &block, |i| {
            data[at] = T::from_f64(a + scale * draw(seed, i));
            at += 1;
        });
    }))
}
register!("array_random", Arity::Exact(7), array_random);

/// `array_full(block, dtype, value)`.
fn array_full(args: &[Value]) -> Result<Value, TaskError> {
    let block = usizes_arg(args, 0, "array_full")?;
    let dtype = dtype_arg(args, 1, "array_full")?;
    full(&block, dtype, &args[2])
}
register!("array_full", Arity::Exact(3), array_full);

/// A block of `shape` filled with `fill`.
pub(crate) fn full(block: &[usize], dtype: rask_graph::DType, fill: &Value) -> Result<Value, TaskError> {
    dispatch!(dtype, |T| {
        let v = match fill {
            Value::Float(x) => T::from_f64(*x),
            Value::Bool(b) => T::from_i64(*b as i64),
            other => T::from_i64(other.as_int().unwrap_or(0)),
        };
        output::<T>(block, |mut out| out.fill(v))
    })
}

/// `array_linear(start, step, offset, len, dtype)`: `start + step * i` for `i` in
/// `offset..offset + len` (arange and linspace blocks).
fn array_linear(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_linear";
    let num = |i: usize| {
        args[i].as_float().ok_or_else(|| TaskError::type_error(format!("{F}: argument {i} must be a number")))
    };
    let (start, step) = (num(0)?, num(1)?);
    let (offset, len) = (super::int_arg(args, 2, F)?, super::int_arg(args, 3, F)? as usize);
    let dtype = dtype_arg(args, 4, F)?;
    let int_start = args[0].as_int();
    let int_step = args[1].as_int();
    dispatch!(dtype, |T| output::<T>(&[len], |mut out| {
        for (i, o) in out.iter_mut().enumerate() {
            let k = offset + i as i64;
            *o = match (T::FLOAT, int_start, int_step) {
                (false, Some(s), Some(d)) => T::from_i64(s.wrapping_add(d.wrapping_mul(k))),
                _ => T::from_f64(start + step * k as f64),
            };
        }
    }))
}
register!("array_linear", Arity::Exact(5), array_linear);
