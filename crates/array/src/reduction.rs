//! Reductions along any set of axes, as trees: each leaf reduces one block (fused with the
//! block's elementwise chain), each inner task combines at most `split_every` partials, and
//! the root turns the last partial into the output block.

use rask_graph::{Expr as Task, Value};

use crate::array::{block_key, token, Array, Layer};
use crate::chunks::grid;
use crate::kernels::reduce::Reduction;

/// Partials combined per task unless a reduction says otherwise (Dask's `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// A reduction and its options, for [`Array::reduce`]:
/// `x.reduce(Reduce::sum().axes(&[0, 2]).keepdims(true).split_every(4))`.
#[derive(Clone, Debug)]
pub struct Reduce {
    kind: Reduction,
    axes: Option<Vec<usize>>,
    keepdims: bool,
    split_every: usize,
    ddof: usize,
    sqrt: bool,
}

macro_rules! kinds {
    ($($name:ident => $kind:ident $(, $sqrt:expr)?);*) => {$(
        #[doc = concat!("`", stringify!($name), "` over every axis unless [`Reduce::axes`] says which.")]
        pub fn $name() -> Reduce {
            #[allow(unused_mut)]
            let mut r = Reduce { kind: Reduction::$kind, axes: None, keepdims: false, split_every: DEFAULT_SPLIT_EVERY, ddof: 0, sqrt: false };
            $(r.sqrt = $sqrt;)?
            r
        }
    )*};
}

impl Reduce {
    kinds!(sum => Sum; prod => Prod; min => Min; max => Max; any => Any; all => All; mean => Mean;
        var => Var; std => Var, true; argmin => ArgMin; argmax => ArgMax);

    /// Reduce these axes (NumPy's `axis=(…)`).
    pub fn axes(mut self, axes: &[usize]) -> Reduce {
        self.axes = Some(axes.to_vec());
        self
    }

    /// Reduce this axis, or every axis for `None`.
    pub fn axis(mut self, axis: Option<usize>) -> Reduce {
        self.axes = axis.map(|a| vec![a]);
        self
    }

    /// Keep reduced axes with length 1.
    pub fn keepdims(mut self, keep: bool) -> Reduce {
        self.keepdims = keep;
        self
    }

    /// Partials combined per task (at least 2).
    pub fn split_every(mut self, n: usize) -> Reduce {
        self.split_every = n.max(2);
        self
    }

    /// Delta degrees of freedom of `var` and `std` (the divisor is `n - ddof`).
    pub fn ddof(mut self, ddof: usize) -> Reduce {
        self.ddof = ddof;
        self
    }

    fn op_name(&self) -> &'static str {
        if self.sqrt {
            "std"
        } else {
            self.kind.name()
        }
    }
}

fn ints(xs: &[usize]) -> Task {
    Task::from(crate::array::ints(xs))
}

/// `tasks` as tasks of `layer` of their own, keyed `(<name>-partial, out_idx…, depth, j)`;
/// returns references to them.
pub(crate) fn partial_keys(
    layer: &mut Layer,
    name: &str,
    out_idx: &[usize],
    depth: usize,
    tasks: Vec<Task>,
) -> Vec<Task> {
    tasks
        .into_iter()
        .enumerate()
        .map(|(j, task)| {
            let mut key_idx = out_idx.to_vec();
            key_idx.extend([depth, j]);
            let key = block_key(&format!("{name}-partial"), &key_idx);
            layer.push((key.clone(), task));
            Task::key(key)
        })
        .collect()
}

/// Combines `level` (the partials of one output block) `split_every` at a time until one
/// expression is left, which the caller's own task takes in; the inner combinations are tasks
/// of `layer`.
pub(crate) fn combine_tree(
    layer: &mut Layer,
    name: &str,
    out_idx: &[usize],
    mut level: Vec<Task>,
    split_every: usize,
    combine: impl Fn(Vec<Task>) -> Task,
) -> Task {
    let mut depth = 0;
    while level.len() > split_every {
        depth += 1;
        let groups: Vec<Task> = level.chunks(split_every).map(|g| combine(g.to_vec())).collect();
        level = partial_keys(layer, name, out_idx, depth, groups);
    }
    if level.len() == 1 {
        level.pop().expect("one left")
    } else {
        combine(level)
    }
}

impl Array {
    /// Runs a [`Reduce`].
    pub fn reduce(&self, r: Reduce) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        let op = r.op_name();
        let nd = self.ndim();
        let mut axes = r.axes.clone().unwrap_or_else(|| (0..nd).collect());
        axes.sort_unstable();
        axes.dedup();
        if let Some(&bad) = axes.iter().find(|&&a| a >= nd) {
            return Array::invalid(format!("{op}: axis {bad} is out of bounds for array of dimension {nd}"));
        }
        let arg = matches!(r.kind, Reduction::ArgMin | Reduction::ArgMax);
        if arg && r.axes.is_some() && axes.len() != 1 {
            return Array::invalid(format!("{op}: takes one axis or none, not {axes:?}"));
        }
        if arg {
            if let Err(why) = self.require_known(op) {
                return Array::invalid(why);
            }
        }
        let kept: Vec<usize> = (0..nd).filter(|a| !axes.contains(a)).collect();
        let numblocks = self.numblocks();
        let out_grid: Vec<usize> = kept.iter().map(|&a| numblocks[a]).collect();
        let inner_grid: Vec<usize> = axes.iter().map(|&a| numblocks[a]).collect();
        let out_dtype = r.kind.out_dtype(self.dtype());
        let name = token(op);
        let kind = Task::from(Value::str(r.kind.name()));
        let axes_task = ints(&axes);
        let shape = if arg { ints(self.shape()) } else { ints(&[]) };
        let mut layer = Vec::new();
        for out_idx in grid(&out_grid) {
            // Each block's partial is a task of its own (fused with the block's elementwise
            // chain): a combining task then holds small partials, never many input blocks.
            let leaves: Vec<Task> = grid(&inner_grid)
                .into_iter()
                .map(|inner| {
                    let mut idx = vec![0; nd];
                    kept.iter().zip(&out_idx).for_each(|(&a, &i)| idx[a] = i);
                    axes.iter().zip(&inner).for_each(|(&a, &i)| idx[a] = i);
                    let offsets = if arg { ints(&self.block_offsets(&idx)) } else { ints(&[]) };
                    Task::call(
                        "array_reduce_chunk",
                        [kind.clone(), self.block_task(&idx), axes_task.clone(), offsets, shape.clone()],
                    )
                })
                .collect();
            let level = if leaves.len() == 1 { leaves } else { partial_keys(&mut layer, &name, &out_idx, 0, leaves) };
            let combine = |group: Vec<Task>| Task::call("array_reduce_combine", [kind.clone(), Task::list(group)]);
            let top = combine_tree(&mut layer, &name, &out_idx, level, r.split_every, combine);
            let mut key_idx = Vec::with_capacity(nd);
            let mut outs = out_idx.iter();
            for a in 0..nd {
                if !axes.contains(&a) {
                    key_idx.push(*outs.next().expect("one index per kept axis"));
                } else if r.keepdims {
                    key_idx.push(0);
                }
            }
            let finish = Task::call(
                "array_reduce_final",
                [
                    kind.clone(),
                    top,
                    axes_task.clone(),
                    Task::from(Value::Bool(r.keepdims)),
                    Task::from(Value::str(out_dtype.name())),
                    Task::from(Value::Int(r.ddof as i64)),
                    Task::from(Value::Bool(r.sqrt)),
                ],
            );
            layer.push((block_key(&name, &key_idx), finish));
        }
        let mut shape_out = Vec::new();
        let mut chunks_out = Vec::new();
        for a in 0..nd {
            if !axes.contains(&a) {
                shape_out.push(self.shape()[a]);
                chunks_out.push(self.chunks()[a].clone());
            } else if r.keepdims {
                shape_out.push(1);
                chunks_out.push(vec![1]);
            }
        }
        Array::from_layer(name, layer, shape_out, chunks_out, out_dtype, &[self])
    }

    /// The sum over `axis`, or over every axis for `None` (a 0-d array).
    pub fn sum(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::sum().axis(axis))
    }
    /// The sum over one axis (Dask's `x.sum(axis=k)`).
    pub fn sum_axis(&self, axis: usize) -> Array {
        self.sum(Some(axis))
    }
    pub fn prod(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::prod().axis(axis))
    }
    pub fn mean(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::mean().axis(axis))
    }
    pub fn min(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::min().axis(axis))
    }
    pub fn max(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::max().axis(axis))
    }
    /// The population variance (`ddof = 0`, as NumPy's default).
    pub fn var(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::var().axis(axis))
    }
    /// The population standard deviation.
    pub fn std(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::std().axis(axis))
    }
    pub fn any(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::any().axis(axis))
    }
    pub fn all(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::all().axis(axis))
    }
    /// Index of the smallest element along `axis`, or into the flattened array for `None`.
    pub fn argmin(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::argmin().axis(axis))
    }
    pub fn argmax(&self, axis: Option<usize>) -> Array {
        self.reduce(Reduce::argmax().axis(axis))
    }
}
