//! The lazy array: metadata (shape, chunks, dtype), how to get each block, and the task
//! layers that make them.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rask_graph::{DType, Expr as Task, Graph, Key, Value};

use crate::chunks::{grid, UNKNOWN};

/// The tasks one operation adds, keyed by block.
pub(crate) type Layer = Vec<(Key, Task)>;

/// A chunked n-dimensional array, lazy until computed: Dask's `dask.array.Array`.
///
/// Cheap to clone (reference counted). Operations build on it and return new arrays; their
/// mistakes (shapes that do not broadcast, an axis out of range, …) are kept and reported by
/// [`Array::check`] or by the first `compute`, naming the operation, so expressions chain
/// without a `?` at every step.
#[derive(Clone)]
pub struct Array {
    pub(crate) meta: Arc<Meta>,
    pub(crate) blocks: Blocks,
    /// Every layer this array's blocks need, by name.
    pub(crate) layers: Arc<BTreeMap<Arc<str>, Arc<Layer>>>,
}

pub(crate) struct Meta {
    pub(crate) shape: Vec<usize>,
    pub(crate) chunks: Vec<Vec<usize>>,
    pub(crate) dtype: DType,
    pub(crate) invalid: Option<String>,
    /// What keeps persisted blocks alive on a cluster while this array (or one made from it)
    /// exists.
    pub(crate) held: Vec<Arc<dyn Any + Send + Sync>>,
}

/// How one block is obtained.
#[derive(Clone)]
pub(crate) enum Blocks {
    /// Block `(i, j, …)` is the key `(name, i, j, …)`.
    Keys(Arc<str>),
    /// Block `idx` is a call computed from blocks of other arrays: elementwise chains nest
    /// such calls, so they fuse into one task per output block.
    Map(Arc<MapBlocks>),
}

pub(crate) struct MapBlocks {
    pub(crate) func: Arc<str>,
    pub(crate) args: Vec<Arg>,
    pub(crate) inputs: Vec<Input>,
    /// Nested calls under this one; deep chains are cut into layers.
    pub(crate) depth: usize,
}

/// An argument of a [`MapBlocks`] call.
#[derive(Clone)]
pub(crate) enum Arg {
    Block(usize),
    Lit(Value),
}

/// An input of a [`MapBlocks`] call: for each of its axes, the output axis whose block index
/// it takes (`None`: a broadcast axis, always block 0).
#[derive(Clone)]
pub(crate) struct Input {
    pub(crate) array: Array,
    pub(crate) axes: Vec<Option<usize>>,
}

/// Elementwise calls nested deeper than this become a layer of their own.
const MAX_FUSED_DEPTH: usize = 24;

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh name for an operation's layer: `op-<unique>`, so the dashboard groups its tasks
/// under `op`.
pub(crate) fn token(op: &str) -> Arc<str> {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Arc::from(format!("{op}-{:x}{n:06x}", std::process::id()))
}

/// Sizes, offsets or axes as a task argument: a list of ints.
pub(crate) fn ints(xs: &[usize]) -> Value {
    Value::list(xs.iter().map(|&x| Value::Int(x as i64)))
}

pub(crate) fn block_key(name: &str, idx: &[usize]) -> Key {
    Key::tuple(std::iter::once(Key::str(name)).chain(idx.iter().map(|&i| Key::Int(i as i64))))
}

impl Array {
    /// An array that only reports `why` when used.
    pub(crate) fn invalid(why: String) -> Array {
        let meta = Meta { shape: vec![], chunks: vec![], dtype: DType::F64, invalid: Some(why), held: vec![] };
        Array { meta: Arc::new(meta), blocks: Blocks::Keys(Arc::from("invalid")), layers: Arc::default() }
    }

    /// The first error among `arrays`, as an invalid array.
    pub(crate) fn first_invalid(arrays: &[&Array]) -> Option<Array> {
        arrays.iter().find(|a| a.meta.invalid.is_some()).map(|a| (*a).clone())
    }

    /// An array whose blocks are the keys of `layer` (named `name`), made from `deps`.
    pub(crate) fn from_layer(
        name: Arc<str>,
        layer: Layer,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        dtype: DType,
        deps: &[&Array],
    ) -> Array {
        if let Some(bad) = Array::first_invalid(deps) {
            return bad;
        }
        let mut layers = merged(deps);
        layers.insert(name.clone(), Arc::new(layer));
        let held = deps.iter().flat_map(|d| d.meta.held.iter().cloned()).collect();
        let meta = Meta { shape, chunks, dtype, invalid: None, held };
        Array { meta: Arc::new(meta), blocks: Blocks::Keys(name), layers: Arc::new(layers) }
    }

    /// An array whose block `idx` is `func(args)`, the `Arg::Block`s taken from `inputs`.
    pub(crate) fn map(
        func: &str,
        args: Vec<Arg>,
        inputs: Vec<Input>,
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        dtype: DType,
    ) -> Array {
        let arrays: Vec<&Array> = inputs.iter().map(|i| &i.array).collect();
        if let Some(bad) = Array::first_invalid(&arrays) {
            return bad;
        }
        let inputs: Vec<Input> = inputs
            .into_iter()
            .map(|i| match &i.array.blocks {
                Blocks::Map(m) if m.depth >= MAX_FUSED_DEPTH => Input { array: i.array.materialize(), axes: i.axes },
                _ => i,
            })
            .collect();
        let depth = 1 + inputs.iter().map(|i| i.array.depth()).max().unwrap_or(0);
        let deps: Vec<&Array> = inputs.iter().map(|i| &i.array).collect();
        let layers = merged(&deps);
        let held = deps.iter().flat_map(|d| d.meta.held.iter().cloned()).collect();
        let meta = Meta { shape, chunks, dtype, invalid: None, held };
        let blocks = Blocks::Map(Arc::new(MapBlocks { func: Arc::from(func), args, inputs, depth }));
        Array { meta: Arc::new(meta), blocks, layers: Arc::new(layers) }
    }

    fn depth(&self) -> usize {
        match &self.blocks {
            Blocks::Keys(_) => 0,
            Blocks::Map(m) => m.depth,
        }
    }

    /// The expression of block `idx`: a key, or nested calls over keys.
    pub(crate) fn block_task(&self, idx: &[usize]) -> Task {
        if let Some(fused) = self.fused_block_task(idx) {
            return fused;
        }
        match &self.blocks {
            Blocks::Keys(name) => Task::key(block_key(name, idx)),
            Blocks::Map(m) => Task::call(
                &m.func,
                m.args.iter().map(|a| match a {
                    Arg::Lit(v) => Task::from(v.clone()),
                    Arg::Block(i) => {
                        let input = &m.inputs[*i];
                        let sub: Vec<usize> = input.axes.iter().map(|o| o.map_or(0, |o| idx[o])).collect();
                        input.array.block_task(&sub)
                    }
                }),
            ),
        }
    }

    /// This array with its blocks as keys of a layer (a fused chain gets its own layer), for
    /// operations that read a block more than once.
    pub(crate) fn materialize(&self) -> Array {
        if matches!(self.blocks, Blocks::Keys(_)) || self.meta.invalid.is_some() {
            return self.clone();
        }
        let Blocks::Map(m) = &self.blocks else { unreachable!() };
        let name = token(&m.func.replace("array_", ""));
        let layer =
            grid(&self.numblocks()).into_iter().map(|idx| (block_key(&name, &idx), self.block_task(&idx))).collect();
        let mut layers = (*self.layers).clone();
        layers.insert(name.clone(), Arc::new(layer));
        Array { meta: self.meta.clone(), blocks: Blocks::Keys(name), layers: Arc::new(layers) }
    }

    /// The task graph holding every layer, and the keys of this array's blocks in row-major
    /// block order.
    pub(crate) fn graph(&self) -> (Graph, Vec<Key>) {
        let me = self.materialize();
        let Blocks::Keys(name) = &me.blocks else { unreachable!("materialized") };
        let mut graph = Graph::with_capacity(me.layers.values().map(|l| l.len()).sum());
        for layer in me.layers.values() {
            for (k, t) in layer.iter() {
                graph.insert(k.clone(), t.clone());
            }
        }
        let keys = grid(&self.numblocks()).iter().map(|idx| block_key(name, idx)).collect();
        (graph, keys)
    }

    /// The number of blocks along each axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.meta.chunks.iter().map(Vec::len).collect()
    }

    /// The shape of block `idx`.
    pub(crate) fn block_shape(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter().zip(&self.meta.chunks).map(|(&i, c)| c[i]).collect()
    }

    /// Where block `idx` starts along each axis.
    pub(crate) fn block_offsets(&self, idx: &[usize]) -> Vec<usize> {
        idx.iter().zip(&self.meta.chunks).map(|(&i, c)| c[..i].iter().sum()).collect()
    }

    /// The array's shape. An axis whose length is not known before computing (after a
    /// boolean selection) reports [`UNKNOWN`](crate::UNKNOWN).
    pub fn shape(&self) -> &[usize] {
        &self.meta.shape
    }

    pub fn ndim(&self) -> usize {
        self.meta.shape.len()
    }

    /// The chunk sizes along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.meta.chunks
    }

    pub fn dtype(&self) -> DType {
        self.meta.dtype
    }

    /// The number of elements (an error if some chunk sizes are unknown).
    pub fn size(&self) -> Option<usize> {
        self.meta.shape.iter().try_fold(1usize, |n, &d| (d != UNKNOWN).then(|| n * d))
    }

    /// Bytes of the whole array.
    pub fn nbytes(&self) -> Option<usize> {
        self.size().map(|n| n * self.meta.dtype.itemsize())
    }

    /// The error an operation building this array found, if any.
    pub fn check(&self) -> Result<(), crate::ArrayError> {
        match &self.meta.invalid {
            Some(why) => Err(crate::ArrayError::Invalid(why.clone())),
            None => Ok(()),
        }
    }

    /// The number of tasks a compute of this array runs (before the plan fuses or culls).
    pub fn task_count(&self) -> usize {
        self.graph().0.len()
    }

    pub(crate) fn has_unknown_chunks(&self) -> bool {
        self.meta.chunks.iter().any(|c| c.contains(&UNKNOWN))
    }

    /// An error for `op` if some chunk sizes are unknown.
    pub(crate) fn require_known(&self, op: &str) -> Result<(), String> {
        if self.has_unknown_chunks() {
            Err(format!("{op}: the array has unknown chunk sizes (after a boolean selection); persist it first"))
        } else {
            Ok(())
        }
    }
}

fn merged(deps: &[&Array]) -> BTreeMap<Arc<str>, Arc<Layer>> {
    let mut iter = deps.iter();
    let mut layers = iter.next().map(|d| (*d.layers).clone()).unwrap_or_default();
    for d in iter {
        for (name, layer) in d.layers.iter() {
            layers.entry(name.clone()).or_insert_with(|| layer.clone());
        }
    }
    layers
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.meta.invalid {
            return write!(f, "rask_array::Array<invalid: {why}>");
        }
        let shape: Vec<String> =
            self.meta.shape.iter().map(|&d| if d == UNKNOWN { "nan".into() } else { d.to_string() }).collect();
        let chunk: Vec<String> = self
            .meta
            .chunks
            .iter()
            .map(|c| match c.first() {
                Some(&s) if s == UNKNOWN => "nan".into(),
                Some(s) => s.to_string(),
                None => "0".into(),
            })
            .collect();
        write!(
            f,
            "rask_array::Array<shape=({}), dtype={}, chunksize=({}), chunktype=ndarray, {} layers>",
            shape.join(", "),
            self.meta.dtype,
            chunk.join(", "),
            self.layers.len()
        )
    }
}
