//! Running an array: `compute` (blocks to one `ndarray`), `persist` (blocks kept, a new
//! array over them) and the block assembly both share.

use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn, Slice};
use rask_exec::{Executor, Persisted};
use rask_graph::{Element, Expr as Task, Registry, Value};

use crate::array::{block_key, token, Array, Blocks};
use crate::chunks::{grid, UNKNOWN};
use crate::kernels::{dispatch, view};
use crate::ArrayError;

fn chunk_of(v: &Value) -> Result<&rask_graph::Array, ArrayError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(ArrayError::Invalid(format!("a block computed to a {}, not an array chunk", other.type_name()))),
    }
}

impl Array {
    /// Runs the graph on `executor` and returns the blocks, in row-major block order.
    pub(crate) fn compute_blocks(&self, executor: &dyn Executor) -> Result<Vec<Value>, ArrayError> {
        self.check()?;
        let (graph, keys) = self.graph();
        Ok(executor.get(&graph, &keys, &Registry::new())?)
    }

    /// The whole array, computed on `executor`, as an `ndarray` of `T` (which must be the
    /// array's dtype: see [`Array::astype`]).
    ///
    /// ```
    /// use rask_array::{Array, Chunks};
    /// let x = Array::arange(0, 10, 1, 4);
    /// let y = (&x * 2i64).sum(None);
    /// let total: ndarray::ArrayD<i64> = y.compute(&rask_exec::SyncExecutor).unwrap();
    /// assert_eq!(total.into_iter().next(), Some(90));
    /// ```
    pub fn compute<T: Element>(&self, executor: &dyn Executor) -> Result<ArrayD<T>, ArrayError> {
        self.check()?;
        if self.dtype() != T::DTYPE {
            return Err(ArrayError::Invalid(format!(
                "compute::<{}>() of a {} array: call .astype({:?}) first",
                T::DTYPE,
                self.dtype(),
                T::DTYPE
            )));
        }
        let blocks = self.compute_blocks(executor)?;
        self.assemble::<T>(&blocks)
    }

    /// The whole array as the engine's dynamically typed array value.
    pub fn compute_value(&self, executor: &dyn Executor) -> Result<rask_graph::Array, ArrayError> {
        Ok(Array::compute_all(&[self], executor)?.remove(0))
    }

    /// A 0-d array's (a full reduction's) single value.
    pub fn compute_scalar<T: Element>(&self, executor: &dyn Executor) -> Result<T, ArrayError> {
        let a = self.compute::<T>(executor)?;
        match a.len() {
            1 => Ok(*a.iter().next().expect("one element")),
            n => Err(ArrayError::Invalid(format!("compute_scalar of an array of {n} elements"))),
        }
    }

    /// Several arrays computed in one run, so work they share (a common input) is done once:
    /// Dask's `dask.compute(a, b)`. Each comes back as the engine's array value.
    pub fn compute_all(arrays: &[&Array], executor: &dyn Executor) -> Result<Vec<rask_graph::Array>, ArrayError> {
        let mut graph = rask_graph::Graph::new();
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        for a in arrays {
            a.check()?;
            let (g, k) = a.graph();
            for (key, task) in g.iter() {
                if !graph.contains(key) {
                    graph.insert(key.clone(), task.clone());
                }
            }
            counts.push(k.len());
            keys.extend(k);
        }
        let mut values = executor.get(&graph, &keys, &Registry::new())?.into_iter();
        arrays
            .iter()
            .zip(counts)
            .map(|(a, n)| {
                let blocks: Vec<Value> = values.by_ref().take(n).collect();
                dispatch!(a.dtype(), |T| {
                    let whole = a.assemble::<T>(&blocks)?;
                    let shape = whole.shape().to_vec();
                    rask_graph::Array::from_shape_vec(&shape, whole.into_iter().collect::<Vec<T>>())
                        .map_err(ArrayError::Invalid)
                })
            })
            .collect()
    }

    /// Places computed blocks into one array; unknown chunk sizes are taken from the blocks.
    pub(crate) fn assemble<T: Element>(&self, blocks: &[Value]) -> Result<ArrayD<T>, ArrayError> {
        let numblocks = self.numblocks();
        let idxs = grid(&numblocks);
        let chunks: Vec<&rask_graph::Array> = blocks.iter().map(chunk_of).collect::<Result<_, _>>()?;
        // Actual sizes per axis, read off the blocks along that axis.
        let mut sizes: Vec<Vec<usize>> = self.chunks().to_vec();
        for (idx, c) in idxs.iter().zip(&chunks) {
            if c.shape().len() != self.ndim() || c.dtype() != T::DTYPE {
                return Err(ArrayError::Invalid(format!(
                    "block {idx:?} computed to shape {:?} of {}, expected {} dimensions of {}",
                    c.shape(),
                    c.dtype(),
                    self.ndim(),
                    T::DTYPE
                )));
            }
            for (axis, &i) in idx.iter().enumerate() {
                if sizes[axis][i] == UNKNOWN {
                    sizes[axis][i] = c.shape()[axis];
                }
                if sizes[axis][i] != c.shape()[axis] {
                    return Err(ArrayError::Invalid(format!(
                        "block {idx:?} has shape {:?}, but the array's chunks say {} along axis {axis} \
                         (a map_blocks function that changes block shapes needs map_blocks_with_chunks)",
                        c.shape(),
                        sizes[axis][i]
                    )));
                }
            }
        }
        let shape: Vec<usize> = sizes.iter().map(|s| s.iter().sum()).collect();
        if let [one] = chunks.as_slice() {
            return Ok(view::<T>(one).to_owned());
        }
        let mut out = ArrayD::<T>::default(IxDyn(&shape));
        for (idx, c) in idxs.iter().zip(&chunks) {
            let mut dst = out.view_mut();
            for (axis, &i) in idx.iter().enumerate() {
                let start: usize = sizes[axis][..i].iter().sum();
                dst.slice_axis_inplace(Axis(axis), Slice::from(start..start + sizes[axis][i]));
            }
            dst.assign(&view::<T>(c));
        }
        Ok(out)
    }

    /// Computes every block once and returns an array over the results (Dask's `persist`):
    /// later computations start from them. In-process executors hand the blocks back; a
    /// cluster keeps them on its workers for as long as the returned array (or any array made
    /// from it) lives. Unknown chunk sizes become known where the blocks come back.
    pub fn persist(&self, executor: &dyn Executor) -> Result<Array, ArrayError> {
        self.check()?;
        let me = self.materialize();
        let (graph, keys) = me.graph();
        let name = token("persist");
        let idxs = grid(&self.numblocks());
        match executor.persist(&graph, &keys, &Registry::new())? {
            Persisted::Values(values) => {
                let mut chunks = self.chunks().to_vec();
                for (idx, v) in idxs.iter().zip(&values) {
                    let c = chunk_of(v)?;
                    for (axis, &i) in idx.iter().enumerate() {
                        chunks[axis][i] = c.shape()[axis];
                    }
                }
                let shape = chunks.iter().map(|c| c.iter().sum()).collect();
                let layer = idxs.iter().zip(values).map(|(idx, v)| (block_key(&name, idx), Task::from(v))).collect();
                Ok(Array::from_layer(name, layer, shape, chunks, self.dtype(), &[]))
            }
            Persisted::Held { keys, hold } => {
                // The blocks live on the cluster under their own keys: refer to them as they are.
                let Blocks::Keys(held_name) = &me.blocks else { unreachable!("materialized") };
                debug_assert_eq!(keys.len(), idxs.len());
                let mut a = Array::from_layer(
                    held_name.clone(),
                    Vec::new(),
                    self.shape().to_vec(),
                    self.chunks().to_vec(),
                    self.dtype(),
                    &[],
                );
                let meta = Arc::get_mut(&mut a.meta).expect("a new array's metadata is not shared");
                meta.held.push(hold);
                a.layers = Arc::default();
                Ok(a)
            }
        }
    }
}
