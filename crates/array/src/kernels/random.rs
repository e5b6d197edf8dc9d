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

/// The stream of a seed: every element's hash starts from it.
fn stream(seed: u64) -> u64 {
    mix(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d)
}

/// A uniform number in [0, 1) for element `index` of `stream`.
#[inline]
fn uniform(stream: u64, index: u64) -> f64 {
    (mix(stream.wrapping_add(index)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal number for element `index` (Box–Muller over two uniforms of its own).
#[inline]
fn normal(stream: u64, index: u64) -> f64 {
    let u1 = uniform(stream, index.wrapping_mul(2));
    let u2 = uniform(stream, index.wrapping_mul(2).wrapping_add(1));
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Where a block lies: the whole array's shape, the block's offsets and its shape.
type Place<'a> = (&'a [usize], &'a [usize], &'a [usize]);

/// Fills `data` (the block's elements, row-major) with `a + scale * draw(stream, element)`.
fn fill<T: Num>(data: &mut [T], place: Place<'_>, stream: u64, (a, scale): (f64, f64), draw: impl Fn(u64, u64) -> f64) {
    super::io::for_each_run(place.0, place.1, place.2, |global, local, len| {
        for (j, out) in data[local..local + len].iter_mut().enumerate() {
            *out = T::from_f64(a + scale * draw(stream, (global + j) as u64));
        }
    });
}

/// `array_random(kind, seed, shape, offsets, block, dtype, [low, high] | [mean, std])`.
fn array_random(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_random";
    let kind = str_arg(args, 0, F)?;
    let seed = super::int_arg(args, 1, F)? as u64;
    let (shape, offsets, block) = (usizes_arg(args, 2, F)?, usizes_arg(args, 3, F)?, usizes_arg(args, 4, F)?);
    let dtype = dtype_arg(args, 5, F)?;
    if kind != "uniform" && kind != "normal" {
        return Err(TaskError::value_error(format!("unknown distribution {kind:?}")));
    }
    let params: Vec<f64> = args[6].as_seq().unwrap_or_default().iter().filter_map(Value::as_float).collect();
    let (a, b) = (params.first().copied().unwrap_or(0.0), params.get(1).copied().unwrap_or(1.0));
    let scale = if kind == "uniform" { b - a } else { b };
    let stream = stream(seed);
    let place = (&shape[..], &offsets[..], &block[..]);
    dispatch!(dtype, |T| output::<T>(&block, |mut out| {
        let data = out.as_slice_mut().expect("fresh output is contiguous");
        match kind {
            "uniform" => fill(data, place, stream, (a, scale), uniform),
            _ => fill(data, place, stream, (a, scale), normal),
        }
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
