//! Selecting and rearranging: slicing (ranges, steps, integers, new axes), boolean masks,
//! `transpose`, `reshape`, `concatenate` and `stack`.

use ndarray::SliceInfoElem;
use rask_graph::{DType, Expr as Task, Value};

use crate::array::{block_key, ints, token, Arg, Array, Input};
use crate::chunks::{grid, UNKNOWN};

/// One output chunk of a sliced axis: which input block it comes from and the kernel's
/// `[start, end, step, drop]` within that block.
#[derive(Clone, Debug)]
struct Piece {
    block: usize,
    spec: [i64; 4],
    len: usize,
}

/// The pieces of one axis of length `len` cut into `chunks`, for the ndarray-style slice
/// `start..end;step` (negative bounds count from the end; a negative step walks backwards).
fn slice_axis(chunks: &[usize], start: isize, end: Option<isize>, step: isize) -> Result<Vec<Piece>, String> {
    let len = chunks.iter().sum::<usize>() as isize;
    if step == 0 {
        return Err("slice step cannot be zero".into());
    }
    let clamp = |i: isize| if i < 0 { (i + len).max(0) } else { i.min(len) };
    let (lo, hi) = (clamp(start), clamp(end.unwrap_or(len)));
    let hi = hi.max(lo);
    let stride = step.unsigned_abs();
    let count = (hi - lo) as usize;
    let count = count.div_ceil(stride);
    // The selected indices, in output order.
    let first = |k: usize| -> usize {
        if step > 0 {
            lo as usize + k * stride
        } else {
            // ndarray: the range's elements from the end, every |step|-th.
            (hi as usize - 1) - k * stride
        }
    };
    let offsets = crate::chunks::offsets(chunks);
    let block_of = |i: usize| offsets.partition_point(|&o| o <= i) - 1;
    let mut pieces = Vec::new();
    let mut k = 0;
    while k < count {
        let b = block_of(first(k));
        let mut m = k + 1;
        while m < count && block_of(first(m)) == b {
            m += 1;
        }
        let (a, z) = (first(k) - offsets[b], first(m - 1) - offsets[b]);
        let spec =
            if step > 0 { [a as i64, z as i64 + 1, step as i64, 0] } else { [z as i64, a as i64 + 1, step as i64, 0] };
        pieces.push(Piece { block: b, spec, len: m - k });
        k = m;
    }
    if pieces.is_empty() {
        pieces.push(Piece { block: 0, spec: [0, 0, 1, 0], len: 0 });
    }
    Ok(pieces)
}

fn index_axis(chunks: &[usize], axis: usize, i: isize) -> Result<Piece, String> {
    let len = chunks.iter().sum::<usize>() as isize;
    let at = if i < 0 { i + len } else { i };
    if at < 0 || at >= len {
        return Err(format!("index {i} is out of bounds for axis {axis} with size {len}"));
    }
    let offsets = crate::chunks::offsets(chunks);
    let b = offsets.partition_point(|&o| o <= at as usize) - 1;
    let local = at as usize - offsets[b];
    Ok(Piece { block: b, spec: [local as i64, local as i64 + 1, 1, 1], len: 1 })
}

impl Array {
    /// The elements `info` selects, as `ndarray`'s `s![..]` writes them: ranges with steps
    /// (negative steps walk backwards, as in `ndarray`), integers (dropping the axis) and
    /// `NewAxis`; missing trailing axes are whole. Only the blocks the selection touches are
    /// read.
    ///
    /// ```
    /// use rask_array::{s, Array};
    /// let x = Array::arange(0, 12, 1, 5).reshape(&[3, 4]);
    /// let y = x.slice(s![1.., ..;2]);
    /// assert_eq!(y.shape(), &[2, 2]);
    /// ```
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        if let Err(why) = self.require_known("slice") {
            return Array::invalid(why);
        }
        let elems = info.as_ref();
        let indexing = elems.iter().filter(|e| !matches!(e, SliceInfoElem::NewAxis)).count();
        if indexing > self.ndim() {
            return Array::invalid(format!(
                "slice: too many indices for array: array is {}-dimensional, but {indexing} were indexed",
                self.ndim()
            ));
        }
        let full = SliceInfoElem::Slice { start: 0, end: None, step: 1 };
        let elems: Vec<SliceInfoElem> =
            elems.iter().copied().chain(std::iter::repeat_n(full, self.ndim() - indexing)).collect();
        if elems.iter().all(|e| matches!(e, SliceInfoElem::Slice { start: 0, end: None, step: 1 })) {
            return self.clone();
        }
        // Per input axis its pieces; per output axis, the input axis it comes from (None: new).
        let mut pieces: Vec<Vec<Piece>> = Vec::with_capacity(self.ndim());
        let mut out_axes: Vec<Option<usize>> = Vec::new();
        let mut new_axes = Vec::new();
        for e in &elems {
            let axis = pieces.len();
            let made = match *e {
                SliceInfoElem::NewAxis => {
                    new_axes.push(out_axes.len());
                    out_axes.push(None);
                    continue;
                }
                SliceInfoElem::Index(i) => index_axis(&self.chunks()[axis], axis, i).map(|p| vec![p]),
                SliceInfoElem::Slice { start, end, step } => {
                    out_axes.push(Some(axis));
                    slice_axis(&self.chunks()[axis], start, end, step)
                }
            };
            match made {
                Ok(p) => pieces.push(p),
                Err(why) => return Array::invalid(format!("slice: {why}")),
            }
        }
        let chunks: Vec<Vec<usize>> =
            out_axes.iter().map(|a| a.map_or_else(|| vec![1], |a| pieces[a].iter().map(|p| p.len).collect())).collect();
        let shape = chunks.iter().map(|c| c.iter().sum()).collect();
        let name = token("getitem");
        let numblocks: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let new_axes_v = ints(&new_axes);
        let layer = grid(&numblocks)
            .into_iter()
            .map(|out_idx| {
                // Each input axis' piece: from the output axis it became, else (an integer) its only one.
                let mut chosen: Vec<&Piece> = pieces.iter().map(|p| &p[0]).collect();
                for (o, a) in out_axes.iter().enumerate() {
                    if let Some(a) = a {
                        chosen[*a] = &pieces[*a][out_idx[o]];
                    }
                }
                let in_idx: Vec<usize> = chosen.iter().map(|p| p.block).collect();
                let specs = Value::list(chosen.iter().map(|p| Value::list(p.spec.iter().map(|&x| Value::Int(x)))));
                let task = Task::call(
                    "array_slice",
                    [self.block_task(&in_idx), Task::from(specs), Task::from(new_axes_v.clone())],
                );
                (block_key(&name, &out_idx), task)
            })
            .collect();
        Array::from_layer(name, layer, shape, chunks, self.dtype(), &[self])
    }

    /// The elements where `mask` (a bool array of this shape) is true, in row-major order: a
    /// 1-d array whose chunk sizes are unknown until computed (Dask's `x[mask]`).
    pub fn mask(&self, mask: &Array) -> Array {
        if let Some(bad) = Array::first_invalid(&[self, mask]) {
            return bad;
        }
        if mask.shape() != self.shape() || mask.dtype() != DType::Bool {
            return Array::invalid(format!(
                "mask: a boolean index of shape {:?} ({}) for an array of shape {:?}",
                mask.shape(),
                mask.dtype(),
                self.shape()
            ));
        }
        if let Err(why) = self.require_known("mask") {
            return Array::invalid(why);
        }
        // Blocks of whole rows, so that block order is row-major order (NumPy's).
        let mut rows = self.chunks().to_vec();
        rows.iter_mut().skip(1).for_each(|c| *c = vec![c.iter().sum()]);
        let me = self.rechunk_exact(rows.clone());
        let mask = mask.rechunk_exact(rows);
        let name = token("mask");
        let idxs = grid(&me.numblocks());
        let layer: Vec<_> = idxs
            .iter()
            .enumerate()
            .map(|(i, idx)| {
                (block_key(&name, &[i]), Task::call("array_mask", [me.block_task(idx), mask.block_task(idx)]))
            })
            .collect();
        let n = layer.len();
        Array::from_layer(name, layer, vec![UNKNOWN], vec![vec![UNKNOWN; n]], self.dtype(), &[&me, &mask])
    }

    /// The axes permuted: output axis `i` is input axis `axes[i]`.
    pub fn transpose(&self, axes: &[usize]) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..self.ndim()).collect::<Vec<_>>() {
            return Array::invalid(format!(
                "transpose: axes {axes:?} are not a permutation of the array's {} axes",
                self.ndim()
            ));
        }
        let shape = axes.iter().map(|&a| self.shape()[a]).collect();
        let chunks = axes.iter().map(|&a| self.chunks()[a].clone()).collect();
        let input_axes = (0..self.ndim()).map(|i| axes.iter().position(|&a| a == i)).collect();
        let perm = ints(axes);
        let input = Input { array: self.clone(), axes: input_axes };
        Array::map("array_transpose", vec![Arg::Block(0), Arg::Lit(perm)], vec![input], shape, chunks, self.dtype())
    }

    /// The axes reversed (NumPy's `x.T`).
    pub fn t(&self) -> Array {
        let axes: Vec<usize> = (0..self.ndim()).rev().collect();
        self.transpose(&axes)
    }

    /// The same elements in row-major order with a new shape. Where the blocks do not line up
    /// with the new shape, the array is first rechunked so that they do (the axes after the
    /// first changed one become whole).
    pub fn reshape(&self, new_shape: &[usize]) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        if let Err(why) = self.require_known("reshape") {
            return Array::invalid(why);
        }
        let (old, new) = (self.shape(), new_shape);
        if old.iter().product::<usize>() != new.iter().product::<usize>() {
            return Array::invalid(format!("reshape: cannot reshape array of shape {old:?} into shape {new:?}"));
        }
        if old == new {
            return self.clone();
        }
        let squeeze = |s: &[usize]| -> Vec<usize> { s.iter().copied().filter(|&d| d != 1).collect() };
        if squeeze(old) == squeeze(new) {
            return self.reshape_singletons(new);
        }
        if new.iter().product::<usize>() == 0 {
            // No elements: one (empty) block on each side.
            let whole = self.rechunk(crate::Chunks::Whole);
            let in_nd = whole.ndim();
            return whole.reshape_blocks(new, new.iter().map(|&d| vec![d]).collect(), move |_| vec![0; in_nd]);
        }
        let p = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let (in_rest, out_rest) = (&old[p..], &new[p..]);
        let prefix: Vec<Vec<usize>> = self.chunks()[..p].to_vec();
        // (input chunks, output chunks) past the common prefix: the first changed axis keeps
        // a chunking whose blocks are whole rows of both shapes, every later axis is whole.
        let (in_chunks, out_chunks): (Vec<Vec<usize>>, Vec<Vec<usize>>) = {
            let r: u128 = in_rest[1..].iter().map(|&d| d as u128).product();
            let s: u128 = out_rest[1..].iter().map(|&d| d as u128).product();
            let g = (lcm(r, s) / r).min(in_rest[0] as u128) as usize;
            let current = self.chunks()[p].iter().copied().max().unwrap_or(1);
            let rows = (current / g).max(1) * g;
            let along = crate::chunks::split(in_rest[0], rows);
            let outs = along.iter().map(|&c| (c as u128 * r / s) as usize).collect();
            let mut in_chunks = vec![along];
            in_chunks.extend(in_rest[1..].iter().map(|&d| vec![d]));
            let mut out_chunks = vec![outs];
            out_chunks.extend(out_rest[1..].iter().map(|&d| vec![d]));
            (in_chunks, out_chunks)
        };
        let in_all: Vec<Vec<usize>> = prefix.iter().cloned().chain(in_chunks).collect();
        let out_all: Vec<Vec<usize>> = prefix.iter().cloned().chain(out_chunks).collect();
        let source = if in_all.as_slice() != self.chunks() { self.rechunk_exact(in_all) } else { self.clone() };
        // Blocks correspond one to one: the prefix and the first changed axis share block
        // indices; every later axis is one block on both sides.
        let shared = (p + 1).min(new.len()).min(old.len());
        let in_nd = source.ndim();
        source.reshape_blocks(new, out_all, move |out_idx| {
            let mut in_idx = out_idx[..shared].to_vec();
            in_idx.resize(in_nd, 0);
            in_idx
        })
    }

    /// A reshape that only adds or removes length-1 axes: block by block, chunks kept.
    fn reshape_singletons(&self, new: &[usize]) -> Array {
        let big_in: Vec<usize> = (0..self.ndim()).filter(|&a| self.shape()[a] != 1).collect();
        let big_out: Vec<usize> = (0..new.len()).filter(|&a| new[a] != 1).collect();
        let mut chunks: Vec<Vec<usize>> = new.iter().map(|_| vec![1]).collect();
        for (&i, &o) in big_in.iter().zip(&big_out) {
            chunks[o] = self.chunks()[i].clone();
        }
        let in_nd = self.ndim();
        self.reshape_blocks(new, chunks, move |out_idx| {
            let mut in_idx = vec![0; in_nd];
            for (&i, &o) in big_in.iter().zip(&big_out) {
                in_idx[i] = out_idx[o];
            }
            in_idx
        })
    }

    /// Output block `idx` of shape `chunks` is input block `source(idx)` reshaped.
    fn reshape_blocks(&self, new: &[usize], chunks: Vec<Vec<usize>>, source: impl Fn(&[usize]) -> Vec<usize>) -> Array {
        let name = token("reshape");
        let numblocks: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let layer = grid(&numblocks)
            .into_iter()
            .map(|out_idx| {
                let block: Vec<usize> = out_idx.iter().zip(&chunks).map(|(&i, c)| c[i]).collect();
                let dims = ints(&block);
                let task = Task::call("array_reshape", [self.block_task(&source(&out_idx)), Task::from(dims)]);
                (block_key(&name, &out_idx), task)
            })
            .collect();
        Array::from_layer(name, layer, new.to_vec(), chunks, self.dtype(), &[self])
    }
}

fn lcm(a: u128, b: u128) -> u128 {
    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    if a == 0 || b == 0 {
        1
    } else {
        a / gcd(a, b) * b
    }
}

/// The arrays joined along an existing `axis`; the other axes must match (NumPy's
/// `concatenate`). dtypes promote.
pub fn concatenate(arrays: &[&Array], axis: usize) -> Array {
    let Some(first) = arrays.first() else { return Array::invalid("concatenate: need at least one array".into()) };
    if let Some(bad) = Array::first_invalid(arrays) {
        return bad;
    }
    let nd = first.ndim();
    if axis >= nd {
        return Array::invalid(format!("concatenate: axis {axis} is out of bounds for array of dimension {nd}"));
    }
    for a in arrays {
        let same = a.ndim() == nd && (0..nd).all(|i| i == axis || a.shape()[i] == first.shape()[i]);
        if !same {
            return Array::invalid(format!(
                "concatenate: all the input array dimensions except for the concatenation axis must match exactly, \
                 but shapes {:?} and {:?} differ",
                first.shape(),
                a.shape()
            ));
        }
        if let Err(why) = a.require_known("concatenate") {
            return Array::invalid(why);
        }
    }
    let dtype = arrays.iter().skip(1).fold(first.dtype(), |d, a| crate::dtype::result_type(d, a.dtype()));
    let parts: Vec<Array> = arrays
        .iter()
        .map(|a| {
            let mut target = first.chunks().to_vec();
            target[axis] = a.chunks()[axis].clone();
            let a = if a.chunks() != target.as_slice() { a.rechunk_exact(target) } else { (*a).clone() };
            a.astype(dtype)
        })
        .collect();
    let name = token("concatenate");
    let mut layer = Vec::new();
    let mut along = Vec::new();
    for part in &parts {
        for idx in grid(&part.numblocks()) {
            let mut out_idx = idx.clone();
            out_idx[axis] += along.len();
            layer.push((block_key(&name, &out_idx), part.block_task(&idx)));
        }
        along.extend(part.chunks()[axis].iter().copied());
    }
    let mut chunks = first.chunks().to_vec();
    chunks[axis] = along;
    let shape = chunks.iter().map(|c| c.iter().sum()).collect();
    let deps: Vec<&Array> = parts.iter().collect();
    Array::from_layer(name, layer, shape, chunks, dtype, &deps)
}

/// The arrays (all of one shape) stacked along a new `axis` (NumPy's `stack`).
pub fn stack(arrays: &[&Array], axis: usize) -> Array {
    let Some(first) = arrays.first() else { return Array::invalid("stack: need at least one array".into()) };
    if let Some(bad) = Array::first_invalid(arrays) {
        return bad;
    }
    if axis > first.ndim() {
        return Array::invalid(format!(
            "stack: axis {axis} is out of bounds for array of dimension {}",
            first.ndim() + 1
        ));
    }
    if let Some(a) = arrays.iter().find(|a| a.shape() != first.shape()) {
        return Array::invalid(format!(
            "stack: all input arrays must have the same shape, not {:?} and {:?}",
            first.shape(),
            a.shape()
        ));
    }
    let expanded: Vec<Array> = arrays
        .iter()
        .map(|a| {
            let mut shape = a.shape().to_vec();
            shape.insert(axis, 1);
            a.reshape(&shape)
        })
        .collect();
    let refs: Vec<&Array> = expanded.iter().collect();
    concatenate(&refs, axis)
}
