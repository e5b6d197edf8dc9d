//! Making arrays: constants, ranges, seeded random numbers and in-memory `ndarray`s.

use ndarray::{ArrayBase, Axis, Data, Dimension, Slice};
use rask_graph::{DType, Element, Expr as Task, Value};

use crate::array::{block_key, ints, token, Array};
use crate::chunks::{grid, Chunks};

impl Array {
    /// One task per block, `make(block index, block offsets, block shape)`.
    pub(crate) fn generated(
        op: &str,
        shape: &[usize],
        chunks: impl Into<Chunks>,
        dtype: DType,
        make: impl Fn(&[usize], &[usize]) -> Task,
    ) -> Array {
        let chunks = match chunks.into().resolve(shape) {
            Ok(c) => c,
            Err(why) => return Array::invalid(format!("{op}: {why}")),
        };
        let name = token(op);
        let numblocks: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let layer = grid(&numblocks)
            .into_iter()
            .map(|idx| {
                let offsets: Vec<usize> = idx.iter().zip(&chunks).map(|(&i, c)| c[..i].iter().sum()).collect();
                let block: Vec<usize> = idx.iter().zip(&chunks).map(|(&i, c)| c[i]).collect();
                (block_key(&name, &idx), make(&offsets, &block))
            })
            .collect();
        Array::from_layer(name, layer, shape.to_vec(), chunks, dtype, &[])
    }

    /// An array of `shape` filled with `value`, of `dtype`.
    pub fn full(shape: &[usize], chunks: impl Into<Chunks>, value: impl Into<Value>, dtype: DType) -> Array {
        let value = value.into();
        Array::generated("full", shape, chunks, dtype, |_, block| {
            Task::call(
                "array_full",
                [Task::from(ints(block)), Task::from(Value::str(dtype.name())), Task::from(value.clone())],
            )
        })
    }

    /// float64 zeros.
    pub fn zeros(shape: &[usize], chunks: impl Into<Chunks>) -> Array {
        Array::full(shape, chunks, 0.0, DType::F64)
    }

    /// float64 ones.
    pub fn ones(shape: &[usize], chunks: impl Into<Chunks>) -> Array {
        Array::full(shape, chunks, 1.0, DType::F64)
    }

    /// The int64s `start, start + step, …` below `stop` (above it for a negative step), in
    /// chunks of `chunk`: NumPy's `arange`.
    pub fn arange(start: i64, stop: i64, step: i64, chunk: usize) -> Array {
        if step == 0 {
            return Array::invalid("arange: step must not be zero".into());
        }
        let n = ((stop - start) as i128 + step as i128 - step.signum() as i128) / step as i128;
        linear("arange", Value::Int(start), Value::Int(step), n.max(0) as usize, chunk, DType::I64)
    }

    /// The float64s `start, start + step, …` below `stop`.
    pub fn arange_f64(start: f64, stop: f64, step: f64, chunk: usize) -> Array {
        if step == 0.0 || !step.is_finite() {
            return Array::invalid("arange: step must be a finite non-zero number".into());
        }
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        linear("arange", Value::Float(start), Value::Float(step), n, chunk, DType::F64)
    }

    /// `num` evenly spaced float64s from `start` to `stop` inclusive: NumPy's `linspace`.
    pub fn linspace(start: f64, stop: f64, num: usize, chunk: usize) -> Array {
        let step = if num > 1 { (stop - start) / (num - 1) as f64 } else { 0.0 };
        linear("linspace", Value::Float(start), Value::Float(step), num, chunk, DType::F64)
    }

    fn random(kind: &str, shape: &[usize], chunks: impl Into<Chunks>, seed: u64, params: [f64; 2]) -> Array {
        let shape_v = ints(shape);
        let params = Value::list(params.map(Value::Float));
        Array::generated(&format!("random_{kind}"), shape, chunks, DType::F64, |offsets, block| {
            Task::call(
                "array_random",
                [
                    Task::from(Value::str(kind)),
                    Task::from(Value::Int(seed as i64)),
                    Task::from(shape_v.clone()),
                    Task::from(ints(offsets)),
                    Task::from(ints(block)),
                    Task::from(Value::str("float64")),
                    Task::from(params.clone()),
                ],
            )
        })
    }

    /// float64s uniform in [0, 1), seeded: element `i` depends only on the seed and `i`, so
    /// the same seed gives the same array on every executor and with every chunking.
    pub fn random_uniform(shape: &[usize], chunks: impl Into<Chunks>, seed: u64) -> Array {
        Array::random("uniform", shape, chunks, seed, [0.0, 1.0])
    }

    /// Standard normal float64s, seeded as [`Array::random_uniform`] is.
    pub fn random_normal(shape: &[usize], chunks: impl Into<Chunks>, seed: u64) -> Array {
        Array::random("normal", shape, chunks, seed, [0.0, 1.0])
    }

    /// An in-memory array cut into chunks, each a literal in the graph (for data that is
    /// already here; large inputs are better read by the workers, e.g. [`Array::from_npy`]).
    pub fn from_ndarray<S, D, T>(a: &ArrayBase<S, D>, chunks: impl Into<Chunks>) -> Array
    where
        S: Data<Elem = T>,
        D: Dimension,
        T: Element,
    {
        let view = a.view().into_dyn();
        Array::generated("array", a.shape(), chunks, T::DTYPE, |offsets, block| {
            let mut piece = view.view();
            for (axis, (&o, &len)) in offsets.iter().zip(block).enumerate() {
                piece.slice_axis_inplace(Axis(axis), Slice::from(o..o + len));
            }
            let data: Vec<T> = piece.iter().copied().collect();
            Task::from(Value::Array(
                rask_graph::Array::from_shape_vec(block, data).expect("a block's elements fill it"),
            ))
        })
    }
}

fn linear(op: &str, start: Value, step: Value, n: usize, chunk: usize, dtype: DType) -> Array {
    Array::generated(op, &[n], [chunk.max(1)], dtype, |offsets, block| {
        Task::call(
            "array_linear",
            [
                Task::from(start.clone()),
                Task::from(step.clone()),
                Task::from(Value::Int(offsets[0] as i64)),
                Task::from(Value::Int(block[0] as i64)),
                Task::from(Value::str(dtype.name())),
            ],
        )
    })
}
