//! `rask-array`: chunked n-dimensional arrays that compile to task graphs — Dask Array in Rust.
//!
//! What it is: a lazy [`Array`] (shape, chunk sizes per axis, dtype, and the task layers that
//! make its blocks) with NumPy's vocabulary — creation (`zeros`, `arange`, seeded random,
//! `.npy` and Zarr files, in-memory `ndarray`s), elementwise arithmetic with broadcasting and
//! NumPy's type promotion, reductions along any axes as `split_every` trees (variance by
//! combining count/mean/M2), slicing with steps and new axes, boolean masks with unknown chunk
//! sizes, `transpose`, `reshape`, `concatenate`, `stack`, bounded-memory `rechunk`,
//! `tensordot`/`matmul`, and `map_blocks`/`blockwise` with registered functions. Nothing runs
//! until `compute`, `persist` or a `to_*` store, on any executor: threads, worker processes or
//! a cluster.
//!
//! How it runs: every block is a task calling a registered `array_*` kernel (in
//! `kernels`), on the engine's array values, which cross processes as shared-memory segments
//! and are viewed in place as `ndarray` arrays. Elementwise operations nest inside one another,
//! so a chain like `sqrt(x*x + 1) * 2 - x` is one task per output block, and reductions fuse
//! their first step into that task too.
//!
//! What it is not: an in-memory array library (that is `ndarray`, used per block), nor a
//! place for closures — functions cross to workers by registered name only.
//!
//! Main types: [`Array`], [`Chunks`], [`Reduce`], [`ArrayError`]; free functions
//! [`concatenate`], [`stack`], [`where_`], [`blockwise`]; [`s!`] builds slices.
//!
//! ```
//! use rask_array::{s, Array, Chunks};
//! use rask_exec::ThreadedExecutor;
//!
//! let x = Array::random_uniform(&[400, 300], Chunks::uniform(&[100, 100]), 42);
//! let y = (&x + &x.slice(s![.., ..;-1])).sum_axis(0);     // lazy
//! let v: ndarray::ArrayD<f64> = y.compute(&ThreadedExecutor::new(2)).unwrap();
//! assert_eq!(v.shape(), &[300]);
//! ```

mod array;
mod chunks;
mod compute;
mod create;
pub mod dtype;
mod fuse;
mod index;
mod io;
mod kernels;
mod linalg;
mod ops;
mod rechunk;
mod reduction;

pub use array::Array;
pub use chunks::{Chunks, UNKNOWN};
pub use index::{concatenate, stack};
/// The `ndarray` this crate computes with and returns (`compute` gives an `ndarray::ArrayD`).
pub use ndarray;
pub use ndarray::s;
pub use ops::{blockwise, where_, Operand};
pub use rask_graph::DType;
pub use reduction::{Reduce, DEFAULT_SPLIT_EVERY};

/// What can go wrong building or running an array.
#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    /// A task failed, or the executor did (the error names the key and the function).
    #[error(transparent)]
    Exec(#[from] rask_exec::ExecError),
    /// An operation was given arrays it cannot combine (shapes, axes, dtypes, chunks).
    #[error("array: {0}")]
    Invalid(String),
    /// A file could not be read or written, or is not what it claims to be.
    #[error("{path}: {cause}")]
    File { path: String, cause: String },
}
