//! Chunk sizes: how an array's extent along each axis is cut into blocks.

/// A chunk size that is not known until the array is computed (Dask's `nan`): the blocks of a
/// boolean-mask selection.
pub const UNKNOWN: usize = usize::MAX;

/// How to cut an array into chunks, given when an array is made or rechunked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunks {
    /// The same size along each axis (the last chunk of an axis may be smaller); one size per
    /// axis, or one size for every axis.
    Uniform(Vec<usize>),
    /// Explicit sizes per axis, summing to the axis' extent.
    Explicit(Vec<Vec<usize>>),
    /// One chunk: the whole array.
    Whole,
}

impl Chunks {
    /// Chunks of `sizes` along each axis (one size for all axes if only one is given).
    pub fn uniform(sizes: &[usize]) -> Chunks {
        Chunks::Uniform(sizes.to_vec())
    }

    /// Exactly these sizes per axis.
    pub fn explicit(sizes: Vec<Vec<usize>>) -> Chunks {
        Chunks::Explicit(sizes)
    }

    /// The sizes per axis for an array of `shape`, or why they do not fit it.
    pub fn resolve(&self, shape: &[usize]) -> Result<Vec<Vec<usize>>, String> {
        match self {
            Chunks::Whole => Ok(shape.iter().map(|&d| vec![d]).collect()),
            Chunks::Uniform(sizes) => {
                let size_of = |axis: usize| if sizes.len() == 1 { sizes[0] } else { sizes[axis] };
                if !shape.is_empty() && sizes.len() != shape.len() && sizes.len() != 1 {
                    return Err(format!("chunks {sizes:?} do not match the {} axes of shape {shape:?}", shape.len()));
                }
                (0..shape.len())
                    .map(|axis| match size_of(axis) {
                        0 if shape[axis] > 0 => Err(format!("chunk size 0 on axis {axis} of shape {shape:?}")),
                        size => Ok(split(shape[axis], size)),
                    })
                    .collect()
            }
            Chunks::Explicit(per_axis) => {
                if per_axis.len() != shape.len() {
                    return Err(format!("chunks for {} axes given for shape {shape:?}", per_axis.len()));
                }
                for (axis, (sizes, &dim)) in per_axis.iter().zip(shape).enumerate() {
                    if sizes.iter().sum::<usize>() != dim || (dim > 0 && sizes.contains(&0)) {
                        return Err(format!("chunks {sizes:?} on axis {axis} do not sum to its extent {dim}"));
                    }
                }
                Ok(per_axis.iter().map(|s| if s.is_empty() { vec![0] } else { s.clone() }).collect())
            }
        }
    }
}

impl From<&[usize]> for Chunks {
    fn from(sizes: &[usize]) -> Chunks {
        Chunks::uniform(sizes)
    }
}

impl<const N: usize> From<[usize; N]> for Chunks {
    fn from(sizes: [usize; N]) -> Chunks {
        Chunks::uniform(&sizes)
    }
}

/// `dim` cut into pieces of `size` (the last smaller); an empty axis has one empty chunk.
pub(crate) fn split(dim: usize, size: usize) -> Vec<usize> {
    if dim == 0 {
        return vec![0];
    }
    let size = size.clamp(1, dim);
    (0..dim.div_ceil(size)).map(|i| size.min(dim - i * size)).collect()
}

/// Where each chunk starts (`sizes.len() + 1` entries, the last the extent).
pub(crate) fn offsets(sizes: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(sizes.len() + 1);
    let mut at = 0;
    out.push(0);
    for &s in sizes {
        at += s;
        out.push(at);
    }
    out
}

/// Every block index of a grid of `counts` blocks per axis, in row-major order.
pub(crate) fn grid(counts: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = counts.iter().product();
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    let mut idx = vec![0; counts.len()];
    loop {
        out.push(idx.clone());
        let mut axis = counts.len();
        loop {
            if axis == 0 {
                return out;
            }
            axis -= 1;
            idx[axis] += 1;
            if idx[axis] < counts[axis] {
                break;
            }
            idx[axis] = 0;
        }
    }
}

/// The common refinement of two cuttings of one extent: every boundary of either.
pub(crate) fn intersect(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (oa, ob) = (offsets(a), offsets(b));
    let mut bounds: Vec<usize> = oa.iter().chain(&ob).copied().collect();
    bounds.sort_unstable();
    bounds.dedup();
    let pieces: Vec<usize> = bounds.windows(2).map(|w| w[1] - w[0]).collect();
    if pieces.is_empty() {
        vec![0]
    } else {
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_chunks_leave_a_smaller_last_chunk() {
        assert_eq!(Chunks::uniform(&[4, 3]).resolve(&[10, 3]).unwrap(), vec![vec![4, 4, 2], vec![3]]);
        assert_eq!(Chunks::uniform(&[5]).resolve(&[7, 0]).unwrap(), vec![vec![5, 2], vec![0]]);
        assert_eq!(Chunks::Whole.resolve(&[]).unwrap(), Vec::<Vec<usize>>::new());
        assert!(Chunks::explicit(vec![vec![2, 2]]).resolve(&[5]).unwrap_err().contains("do not sum"));
        assert!(Chunks::uniform(&[2, 2, 2]).resolve(&[4, 4]).unwrap_err().contains("2 axes"));
    }

    #[test]
    fn grids_and_refinements() {
        assert_eq!(grid(&[2, 2]), vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
        assert_eq!(grid(&[]), vec![Vec::<usize>::new()]);
        assert_eq!(intersect(&[4, 4, 2], &[5, 5]), vec![4, 1, 3, 2]);
        assert_eq!(offsets(&[4, 4, 2]), vec![0, 4, 8, 10]);
    }
}
