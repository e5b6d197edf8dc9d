//! Rechunking. Directly, each output block is assembled from the pieces of the input blocks
//! it overlaps; when that would make a task hold more than a bounded number of input bytes
//! (a row-blocked array turned column-blocked reads every input block per output block), it
//! goes in two stages through the common refinement of both chunkings, so no task reads more
//! than the larger of one input block and one output block.

use rask_graph::{Expr as Task, Value};

use crate::array::{block_key, ints, token, Array};
use crate::chunks::{grid, intersect, offsets, Chunks};

/// Input bytes one direct rechunk task may read, at least: larger blocks raise it to twice
/// the larger block.
const MIN_TASK_BYTES: usize = 64 << 20;

/// For each output chunk along an axis: the input chunks it overlaps, each with the range
/// `[from, to)` within that input chunk and where it lands in the output chunk.
fn overlaps(old: &[usize], new: &[usize]) -> Vec<Vec<(usize, usize, usize, usize)>> {
    let (oo, on) = (offsets(old), offsets(new));
    (0..new.len())
        .map(|j| {
            let (lo, hi) = (on[j], on[j + 1]);
            let mut out = Vec::new();
            for i in 0..old.len() {
                let (a, b) = (oo[i].max(lo), oo[i + 1].min(hi));
                if a < b || (lo == hi && i == 0 && out.is_empty()) {
                    out.push((i, a - oo[i], b.max(a) - oo[i], a - lo));
                }
            }
            if out.is_empty() {
                out.push((0, 0, 0, 0));
            }
            out
        })
        .collect()
}

impl Array {
    /// The same array cut into new chunks (sizes per axis, `Chunks::uniform`, or whole),
    /// with bounded memory per task.
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        match chunks.into().resolve(self.shape()) {
            Ok(target) => self.rechunk_exact(target),
            Err(why) => Array::invalid(format!("rechunk: {why}")),
        }
    }

    /// Rechunks to exactly these sizes per axis.
    pub(crate) fn rechunk_exact(&self, target: Vec<Vec<usize>>) -> Array {
        self.rechunk_bounded(target, MIN_TASK_BYTES)
    }

    fn rechunk_bounded(&self, target: Vec<Vec<usize>>, min_task_bytes: usize) -> Array {
        if self.meta.invalid.is_some() || target.as_slice() == self.chunks() {
            return self.clone();
        }
        if let Err(why) = self.require_known("rechunk") {
            return Array::invalid(why);
        }
        let itemsize = self.dtype().itemsize();
        let block_bytes = |chunks: &[Vec<usize>]| {
            chunks.iter().map(|c| c.iter().copied().max().unwrap_or(0)).product::<usize>() * itemsize
        };
        let limit = min_task_bytes.max(2 * block_bytes(self.chunks())).max(2 * block_bytes(&target));
        // The most input bytes one output block of a direct rechunk reads: whole input blocks.
        let per_axis: Vec<usize> = self
            .chunks()
            .iter()
            .zip(&target)
            .map(|(old, new)| {
                overlaps(old, new).iter().map(|o| o.iter().map(|&(i, ..)| old[i]).sum::<usize>()).max().unwrap_or(0)
            })
            .collect();
        let worst = per_axis.iter().product::<usize>() * itemsize;
        if worst <= limit {
            return self.rechunk_direct(&target);
        }
        let middle: Vec<Vec<usize>> = self.chunks().iter().zip(&target).map(|(a, b)| intersect(a, b)).collect();
        self.rechunk_direct(&middle).rechunk_direct(&target)
    }

    fn rechunk_direct(&self, target: &[Vec<usize>]) -> Array {
        if target == self.chunks() {
            return self.clone();
        }
        let source = self.materialize();
        let per_axis: Vec<_> = source.chunks().iter().zip(target).map(|(old, new)| overlaps(old, new)).collect();
        let name = token("rechunk");
        let dtype = Value::str(self.dtype().name());
        let numblocks: Vec<usize> = target.iter().map(Vec::len).collect();
        let layer = grid(&numblocks)
            .into_iter()
            .map(|out_idx| {
                let out_shape: Vec<usize> = out_idx.iter().zip(target).map(|(&j, c)| c[j]).collect();
                let lists: Vec<usize> = out_idx.iter().enumerate().map(|(a, &j)| per_axis[a][j].len()).collect();
                let pieces: Vec<(Task, Task)> = grid(&lists)
                    .into_iter()
                    .map(|pick| {
                        let parts: Vec<_> = pick.iter().enumerate().map(|(a, &k)| per_axis[a][out_idx[a]][k]).collect();
                        let in_idx: Vec<usize> = parts.iter().map(|p| p.0).collect();
                        let in_shape = source.block_shape(&in_idx);
                        let whole = parts.iter().zip(&in_shape).all(|(p, &d)| p.1 == 0 && p.2 == d);
                        let block = source.block_task(&in_idx);
                        let piece = if whole {
                            block
                        } else {
                            let specs = Value::list(parts.iter().map(|p| ints(&[p.1, p.2, 1, 0])));
                            Task::call("array_slice", [block, Task::from(specs), Task::from(Value::list([]))])
                        };
                        let at = ints(&parts.iter().map(|p| p.3).collect::<Vec<_>>());
                        (Task::from(at), piece)
                    })
                    .collect();
                // One piece is the whole output block: it is the task itself, so the slice is
                // the task's result (made in an executor's shared memory, not on the heap as
                // an argument of `array_assemble` would be).
                let task = match <[_; 1]>::try_from(pieces) {
                    Ok([(_, piece)]) => piece,
                    Err(pieces) => {
                        let pieces = Task::list(pieces.into_iter().map(|(at, piece)| Task::list([at, piece])));
                        let dims = Task::from(ints(&out_shape));
                        Task::call("array_assemble", [dims, Task::from(dtype.clone()), pieces])
                    }
                };
                (block_key(&name, &out_idx), task)
            })
            .collect();
        Array::from_layer(name, layer, self.shape().to_vec(), target.to_vec(), self.dtype(), &[&source])
    }
}

#[cfg(test)]
mod tests {
    use super::overlaps;
    use crate::{Array, Chunks};

    #[test]
    fn a_rechunk_across_the_grain_goes_in_two_stages_with_the_same_result() {
        let data = ndarray::Array2::from_shape_fn((20, 30), |(i, j)| (i * 30 + j) as f64);
        let rows = Array::from_ndarray(&data, Chunks::uniform(&[2, 30]));
        let target = vec![vec![20], vec![3; 10]];
        // Directly, every output block reads all ten input blocks (4800 bytes); bounded at
        // twice a block (960 bytes), it goes through the 2x3 refinement.
        let staged = rows.rechunk_bounded(target.clone(), 0);
        let direct = rows.rechunk_bounded(target.clone(), usize::MAX);
        assert_eq!(staged.layers.len(), direct.layers.len() + 1, "one more layer: the refinement");
        assert_eq!(staged.chunks(), target.as_slice());
        let ex = rask_exec::SyncExecutor;
        assert_eq!(staged.compute::<f64>(&ex).unwrap(), data.clone().into_dyn());
        assert_eq!(direct.compute::<f64>(&ex).unwrap(), data.into_dyn());
    }

    #[test]
    fn overlaps_place_every_element_once() {
        let o = overlaps(&[4, 4, 2], &[5, 5]);
        assert_eq!(o[0], vec![(0, 0, 4, 0), (1, 0, 1, 4)]);
        assert_eq!(o[1], vec![(1, 1, 4, 0), (2, 0, 2, 3)]);
        assert_eq!(overlaps(&[0], &[0]), vec![vec![(0, 0, 0, 0)]]);
    }
}
