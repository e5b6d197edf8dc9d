//! Contractions: `tensordot`, and `matmul`/`dot` on top of it. Each output block sums the
//! products of the block pairs along the contracted axes, as a tree of at most
//! `split_every` products per task.

use rask_graph::{Expr as Task, Value};

use crate::array::{block_key, token, Array};
use crate::chunks::grid;
use crate::reduction::{combine_tree, partial_keys, DEFAULT_SPLIT_EVERY};

impl Array {
    /// The sum of products over `self`'s `axes_a` paired with `other`'s `axes_b` (NumPy's
    /// `tensordot(a, b, axes=(axes_a, axes_b))`): the result's axes are `self`'s other axes,
    /// then `other`'s.
    pub fn tensordot(&self, other: &Array, axes_a: &[usize], axes_b: &[usize]) -> Array {
        if let Some(bad) = Array::first_invalid(&[self, other]) {
            return bad;
        }
        let (a, b) = (self, other);
        let bad_axis = axes_a.iter().any(|&i| i >= a.ndim()) || axes_b.iter().any(|&j| j >= b.ndim());
        if axes_a.len() != axes_b.len()
            || bad_axis
            || axes_a.iter().zip(axes_b).any(|(&i, &j)| a.shape()[i] != b.shape()[j])
        {
            return Array::invalid(format!(
                "tensordot: shape-mismatch for sum: {:?} axes {axes_a:?} against {:?} axes {axes_b:?}",
                a.shape(),
                b.shape()
            ));
        }
        for x in [a, b] {
            if let Err(why) = x.require_known("tensordot") {
                return Array::invalid(why);
            }
        }
        // b's contracted axes cut as a's are, so block pairs line up.
        let mut b_chunks = b.chunks().to_vec();
        for (&i, &j) in axes_a.iter().zip(axes_b) {
            b_chunks[j] = a.chunks()[i].clone();
        }
        let (a, b) = (a.materialize(), b.rechunk_exact(b_chunks).materialize());
        let dtype = crate::dtype::result_type(a.dtype(), b.dtype());
        let free_a: Vec<usize> = (0..a.ndim()).filter(|i| !axes_a.contains(i)).collect();
        let free_b: Vec<usize> = (0..b.ndim()).filter(|i| !axes_b.contains(i)).collect();
        let (na, nb) = (a.numblocks(), b.numblocks());
        let out_grid: Vec<usize> = free_a.iter().map(|&i| na[i]).chain(free_b.iter().map(|&j| nb[j])).collect();
        let inner_grid: Vec<usize> = axes_a.iter().map(|&i| na[i]).collect();
        let ints = |xs: &[usize]| Task::from(crate::array::ints(xs));
        let dtype_v = Task::from(Value::str(dtype.name()));
        let name = token("tensordot");
        let mut layer = Vec::new();
        for out_idx in grid(&out_grid) {
            // The block pairs of the contraction, `split_every` of them summed in one task
            // straight into its output block; more than that, a tree of sums over those.
            let pairs: Vec<[Task; 2]> = grid(&inner_grid)
                .into_iter()
                .map(|k| {
                    let mut ia = vec![0; a.ndim()];
                    let mut ib = vec![0; b.ndim()];
                    free_a.iter().enumerate().for_each(|(n, &i)| ia[i] = out_idx[n]);
                    free_b.iter().enumerate().for_each(|(n, &j)| ib[j] = out_idx[free_a.len() + n]);
                    axes_a.iter().zip(axes_b).zip(&k).for_each(|((&i, &j), &kk)| {
                        ia[i] = kk;
                        ib[j] = kk;
                    });
                    [a.block_task(&ia), b.block_task(&ib)]
                })
                .collect();
            let product = |group: &[[Task; 2]]| {
                let blocks = Task::list(group.iter().flat_map(|p| p.iter().cloned()));
                Task::call("array_tensordot", [ints(axes_a), ints(axes_b), dtype_v.clone(), blocks])
            };
            let top = if pairs.len() <= DEFAULT_SPLIT_EVERY {
                product(&pairs)
            } else {
                let products = pairs.chunks(DEFAULT_SPLIT_EVERY).map(product).collect();
                let level = partial_keys(&mut layer, &name, &out_idx, 0, products);
                let sum = |group: Vec<Task>| Task::call("array_add_all", [dtype_v.clone(), Task::list(group)]);
                combine_tree(&mut layer, &name, &out_idx, level, DEFAULT_SPLIT_EVERY, sum)
            };
            layer.push((block_key(&name, &out_idx), top));
        }
        let shape = free_a.iter().map(|&i| a.shape()[i]).chain(free_b.iter().map(|&j| b.shape()[j])).collect();
        let chunks = free_a
            .iter()
            .map(|&i| a.chunks()[i].clone())
            .chain(free_b.iter().map(|&j| b.chunks()[j].clone()))
            .collect();
        Array::from_layer(name, layer, shape, chunks, dtype, &[&a, &b])
    }

    /// The matrix product (NumPy's `a @ b`) of 1-d and 2-d arrays.
    pub fn matmul(&self, other: &Array) -> Array {
        if let Some(bad) = Array::first_invalid(&[self, other]) {
            return bad;
        }
        match (self.ndim(), other.ndim()) {
            (1 | 2, 1 | 2) => self.tensordot(other, &[self.ndim() - 1], &[0]),
            (x, y) => {
                Array::invalid(format!("matmul: arrays of {x} and {y} dimensions (use tensordot for more than 2)"))
            }
        }
    }

    /// NumPy's `dot` for 1-d and 2-d arrays (the same as [`Array::matmul`]).
    pub fn dot(&self, other: &Array) -> Array {
        self.matmul(other)
    }
}
