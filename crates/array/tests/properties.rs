//! Every operation against a direct `ndarray` computation, on random shapes (size-0 and
//! size-1 axes included) and random chunkings (uneven, one chunk, one element per chunk).

use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem};
use proptest::prelude::*;
use rask_array::{concatenate, stack, where_, Array, Chunks, DType, Reduce};
use rask_exec::SyncExecutor;

/// Chunk sizes for `dim` cut at random places (from `seed`).
fn cut(dim: usize, mut seed: u64) -> Vec<usize> {
    if dim == 0 {
        return vec![0];
    }
    let mut out = Vec::new();
    let mut left = dim;
    while left > 0 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let size = 1 + (seed >> 33) as usize % left;
        out.push(size);
        left -= size;
    }
    out
}

/// Values in [-2, 2) on a grid of quarters, so ties and exact sums happen.
fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let values = (0..n as u64)
        .map(|i| {
            let h = (seed ^ i.wrapping_mul(0x9e3779b97f4a7c15)).wrapping_mul(0xbf58476d1ce4e5b9);
            ((h >> 40) % 16) as f64 / 4.0 - 2.0
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

#[derive(Clone, Debug)]
struct Case {
    shape: Vec<usize>,
    chunks: Vec<Vec<usize>>,
    seed: u64,
}

impl Case {
    fn reference(&self) -> ArrayD<f64> {
        data(&self.shape, self.seed)
    }
    fn array(&self) -> Array {
        Array::from_ndarray(&self.reference(), Chunks::explicit(self.chunks.clone()))
    }
}

fn case(max_nd: usize) -> impl Strategy<Value = Case> {
    (prop::collection::vec(0usize..6, 1..=max_nd), any::<u64>(), any::<u64>()).prop_map(|(shape, cseed, seed)| {
        let chunks = shape.iter().enumerate().map(|(i, &d)| cut(d, cseed.wrapping_add(i as u64))).collect();
        Case { shape, chunks, seed }
    })
}

fn run(a: &Array) -> ArrayD<f64> {
    a.compute::<f64>(&SyncExecutor).unwrap_or_else(|e| panic!("{a:?}: {e}"))
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(&x, &y)| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * (1.0 + y.abs()))
}

/// `f` of each group of elements that reduce together over `axes` (kept with length 1).
fn reference_reduce(a: &ArrayD<f64>, axes: &[usize], f: impl Fn(&[f64]) -> f64) -> ArrayD<f64> {
    let out_shape: Vec<usize> = (0..a.ndim()).map(|i| if axes.contains(&i) { 1 } else { a.shape()[i] }).collect();
    let mut groups: Vec<Vec<f64>> = vec![Vec::new(); out_shape.iter().product()];
    let strides: Vec<usize> = (0..out_shape.len()).map(|i| out_shape[i + 1..].iter().product()).collect();
    for (idx, &v) in a.indexed_iter() {
        let flat: usize = (0..a.ndim()).map(|i| if axes.contains(&i) { 0 } else { idx[i] * strides[i] }).sum();
        groups[flat].push(v);
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), groups.iter().map(|g| f(g)).collect()).unwrap()
}

fn axes_of(nd: usize, mask: u8) -> Vec<usize> {
    (0..nd).filter(|i| mask & (1 << i) != 0).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48), ..ProptestConfig::default() })]

    #[test]
    fn elementwise_chains_match_ndarray(c in case(3)) {
        let x = c.array();
        let got = run(&((&(&x * &x) + 1.0).sqrt() * 2.0 - &x));
        let r = c.reference();
        let want = r.mapv(|v| (v * v + 1.0).sqrt() * 2.0 - v);
        prop_assert!(close(&got, &want), "{got:?} vs {want:?}");
        let got = run(&where_(&x.gt(0.0), x.exp(), x.abs().clip(Some(0.5), Some(1.5))));
        let want = r.mapv(|v| if v > 0.0 { v.exp() } else { v.abs().clamp(0.5, 1.5) });
        prop_assert!(close(&got, &want));
    }

    #[test]
    fn broadcasting_matches_ndarray(c in case(3), ones in any::<u8>(), drop in 0usize..2) {
        // y: the same shape with some axes of length 1 and maybe fewer leading axes.
        let yshape: Vec<usize> = c.shape.iter().enumerate().map(|(i, &d)| if ones & (1 << i) != 0 { 1 } else { d }).skip(drop.min(c.shape.len() - 1)).collect();
        let yr = data(&yshape, c.seed ^ 7);
        let ychunks: Vec<Vec<usize>> = yshape.iter().map(|&d| cut(d, c.seed)).collect();
        let y = Array::from_ndarray(&yr, Chunks::explicit(ychunks));
        let got = run(&(&c.array() - &y));
        let want = &c.reference() - &yr;
        prop_assert!(close(&got, &want), "{:?} - {:?}", c.shape, yshape);
    }

    #[test]
    fn reductions_match_ndarray(c in case(3), mask in any::<u8>(), keep in any::<bool>(), split in 2usize..5) {
        let axes = axes_of(c.shape.len(), mask);
        let x = c.array();
        let r = c.reference();
        let n = |g: &[f64]| g.len() as f64;
        type Check = (Reduce, Box<dyn Fn(&[f64]) -> f64>);
        let checks: Vec<Check> = vec![
            (Reduce::sum(), Box::new(|g: &[f64]| g.iter().sum())),
            (Reduce::prod(), Box::new(|g: &[f64]| g.iter().product())),
            (Reduce::mean(), Box::new(move |g: &[f64]| g.iter().sum::<f64>() / n(g))),
            (Reduce::var(), Box::new(move |g: &[f64]| { let m = g.iter().sum::<f64>() / n(g); g.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n(g) })),
            (Reduce::std().ddof(1), Box::new(move |g: &[f64]| { let m = g.iter().sum::<f64>() / n(g); (g.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n(g) - 1.0).max(0.0)).sqrt() })),
        ];
        for (spec, f) in checks {
            let spec = spec.axes(&axes).keepdims(true).split_every(split);
            let got = run(&x.reduce(spec.clone()));
            let want = reference_reduce(&r, &axes, &f);
            prop_assert!(close(&got, &want), "{spec:?} over {axes:?}: {got:?} vs {want:?}");
        }
        let empty = axes.iter().any(|&a| c.shape[a] == 0);
        for (spec, pick) in [(Reduce::min(), f64::min as fn(f64, f64) -> f64), (Reduce::max(), f64::max)] {
            let result = x.reduce(spec.clone().axes(&axes).keepdims(keep)).compute::<f64>(&SyncExecutor);
            if empty && r.is_empty() {
                prop_assert!(result.unwrap_err().to_string().contains("zero-size array"));
                continue;
            }
            let want = reference_reduce(&r, &axes, |g| g.iter().copied().fold(g.first().copied().unwrap_or(f64::NAN), pick));
            let got = result.unwrap().into_shape_with_order(IxDyn(want.shape())).unwrap();
            prop_assert!(empty || close(&got, &want), "{spec:?} {got:?} vs {want:?}");
        }
        let any = x.gt(1.0).reduce(Reduce::any().axes(&axes).keepdims(true)).compute::<bool>(&SyncExecutor).unwrap();
        let want = reference_reduce(&r, &axes, |g| g.iter().any(|&v| v > 1.0) as i64 as f64);
        prop_assert_eq!(any.mapv(|b| b as i64 as f64), want);
    }

    #[test]
    fn argmin_and_argmax_match_numpy(c in case(3), axis in 0usize..3) {
        let x = c.array();
        let r = c.reference();
        if r.is_empty() {
            return Ok(());
        }
        let flat: Vec<f64> = r.iter().copied().collect();
        let first = |best: fn(f64, f64) -> bool, g: &[f64]| (0..g.len()).fold(0, |b, i| if best(g[i], g[b]) { i } else { b });
        let got = x.argmin(None).compute_scalar::<i64>(&SyncExecutor).unwrap();
        prop_assert_eq!(got as usize, first(|a, b| a < b, &flat));
        let got = x.argmax(None).compute_scalar::<i64>(&SyncExecutor).unwrap();
        prop_assert_eq!(got as usize, first(|a, b| a > b, &flat));
        let axis = axis % c.shape.len();
        if c.shape[axis] > 0 {
            let got = x.argmax(Some(axis)).compute::<i64>(&SyncExecutor).unwrap();
            let want = r.map_axis(Axis(axis), |lane| first(|a, b| a > b, &lane.to_vec()) as i64);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn slicing_matches_ndarray(c in case(3), specs in prop::collection::vec((-7isize..7, prop::option::of(-7isize..7), prop_oneof![1isize..4, -3isize..0], 0u8..10), 0..4)) {
        let x = c.array();
        let r = c.reference();
        let mut elems = Vec::new();
        let mut axis = 0;
        for (start, end, step, kind) in specs {
            if kind == 0 {
                elems.push(SliceInfoElem::NewAxis);
                continue;
            }
            if axis == c.shape.len() {
                break;
            }
            let len = c.shape[axis] as isize;
            if kind == 1 && len > 0 {
                elems.push(SliceInfoElem::Index(start.rem_euclid(len) - if start < 0 { len } else { 0 }));
            } else {
                // ndarray panics on out-of-range bounds: keep them within [-len, len].
                let fit = |i: isize| i.clamp(-len, len);
                elems.push(SliceInfoElem::Slice { start: fit(start), end: end.map(fit), step });
            }
            axis += 1;
        }
        let short = elems.clone();
        // ndarray wants every axis named; rask takes missing trailing axes as whole.
        elems.extend((axis..c.shape.len()).map(|_| SliceInfoElem::Slice { start: 0, end: None, step: 1 }));
        let info = ndarray::SliceInfo::<Vec<SliceInfoElem>, IxDyn, IxDyn>::try_from(elems.clone()).unwrap();
        let want = std::panic::catch_unwind(|| r.slice(info.clone()).to_owned());
        prop_assume!(want.is_ok());
        let got = run(&x.slice(&elems));
        let want = want.unwrap();
        prop_assert!(close(&got, &want), "{elems:?}");
        prop_assert!(close(&run(&x.slice(&short)), &want), "{short:?}");
    }

    #[test]
    fn transpose_rechunk_and_reshape_match_ndarray(c in case(3), perm_seed in any::<u64>(), split in any::<u64>()) {
        let x = c.array();
        let r = c.reference();
        let mut axes: Vec<usize> = (0..c.shape.len()).collect();
        axes.sort_by_key(|&a| (perm_seed >> (a * 8)) & 0xff);
        prop_assert!(close(&run(&x.transpose(&axes)), &r.clone().permuted_axes(IxDyn(&axes)).as_standard_layout().to_owned()));
        let target: Vec<Vec<usize>> = c.shape.iter().enumerate().map(|(i, &d)| cut(d, split.wrapping_add(i as u64 * 31))).collect();
        let y = x.rechunk(Chunks::explicit(target.clone()));
        prop_assert_eq!(y.chunks(), target.as_slice());
        prop_assert!(close(&run(&y), &r));
        // A reshape: the same elements split into other factors.
        let total: usize = c.shape.iter().product();
        let mut new_shape = Vec::new();
        let mut left = total;
        for f in [2usize, 3, 5] {
            while left > 1 && left % f == 0 && (split >> f) & 1 == 1 {
                new_shape.push(f);
                left /= f;
            }
        }
        new_shape.push(left);
        if split & 1 == 1 {
            new_shape.insert(0, 1);
        }
        let want = r.as_standard_layout().to_owned().into_shape_with_order(IxDyn(&new_shape)).unwrap();
        prop_assert!(close(&run(&x.reshape(&new_shape)), &want), "{:?} -> {new_shape:?}", c.shape);
    }

    #[test]
    fn concatenate_stack_and_mask_match_ndarray(c in case(3), axis in 0usize..3) {
        let axis = axis % c.shape.len();
        let (x, r) = (c.array(), c.reference());
        let other = Case { seed: c.seed ^ 1, chunks: c.shape.iter().map(|&d| cut(d, c.seed)).collect(), ..c.clone() };
        let (y, q) = (other.array(), other.reference());
        let got = run(&concatenate(&[&x, &y], axis));
        prop_assert!(close(&got, &ndarray::concatenate(Axis(axis), &[r.view(), q.view()]).unwrap()));
        let got = run(&stack(&[&x, &y], axis));
        prop_assert!(close(&got, &ndarray::stack(Axis(axis), &[r.view(), q.view()]).unwrap()));
        let picked = run(&x.mask(&x.gt(&y)));
        let want: Vec<f64> = r.iter().zip(q.iter()).filter(|(a, b)| a > b).map(|(&a, _)| a).collect();
        prop_assert_eq!(picked.into_raw_vec_and_offset().0, want);
    }

    #[test]
    fn matmul_and_tensordot_match_ndarray(m in 0usize..7, k in 0usize..7, n in 0usize..7, seed in any::<u64>()) {
        let (a, b) = (data(&[m, k], seed), data(&[k, n], seed ^ 3));
        let ca = Chunks::explicit(vec![cut(m, seed), cut(k, seed >> 3)]);
        let cb = Chunks::explicit(vec![cut(k, seed >> 5), cut(n, seed >> 7)]);
        let (x, y) = (Array::from_ndarray(&a, ca), Array::from_ndarray(&b, cb));
        let want = a.clone().into_dimensionality::<ndarray::Ix2>().unwrap().dot(&b.clone().into_dimensionality::<ndarray::Ix2>().unwrap());
        prop_assert!(close(&run(&x.matmul(&y)), &want.clone().into_dyn()));
        // tensordot over both axes of a against the transpose: the sum of a * a.
        let got = run(&x.tensordot(&x.t(), &[0, 1], &[1, 0]));
        prop_assert!(close(&got, &ndarray::arr0(a.iter().map(|v| v * v).sum::<f64>()).into_dyn()));
    }
}

#[test]
fn dtypes_promote_as_numpy_does() {
    let i = Array::arange(0, 10, 1, 3).astype(DType::I32);
    let f = Array::ones(&[10], [4]).astype(DType::F32);
    assert_eq!((&i + &f).dtype(), DType::F64);
    assert_eq!((&f + 2.5).dtype(), DType::F32);
    assert_eq!((&i + 2i64).dtype(), DType::I32);
    assert_eq!((&i / 2i64).dtype(), DType::F64);
    assert_eq!(i.gt(3i64).dtype(), DType::Bool);
    assert_eq!(i.sum(None).dtype(), DType::I64);
    assert_eq!(f.mean(None).dtype(), DType::F32);
    let v = (&i * 3i64).compute::<i32>(&SyncExecutor).unwrap();
    assert_eq!(v.iter().copied().collect::<Vec<_>>(), (0..10).map(|x| x * 3).collect::<Vec<i32>>());
    let b = i.gt(4i64);
    assert_eq!(b.sum(None).compute_scalar::<i64>(&SyncExecutor).unwrap(), 5);
    assert!(b.all(None).compute_scalar::<bool>(&SyncExecutor).map(|all| !all).unwrap());
    assert_eq!(
        Array::linspace(0.0, 1.0, 5, 2).compute::<f64>(&SyncExecutor).unwrap().into_raw_vec_and_offset().0,
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
}

#[test]
fn random_arrays_do_not_depend_on_chunks() {
    let a = Array::random_normal(&[37, 23], Chunks::uniform(&[10, 7]), 9).compute::<f64>(&SyncExecutor).unwrap();
    let b = Array::random_normal(&[37, 23], Chunks::Whole, 9).compute::<f64>(&SyncExecutor).unwrap();
    let c = Array::random_normal(&[37, 23], Chunks::Whole, 10).compute::<f64>(&SyncExecutor).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mean = a.mean().unwrap();
    let std = a.std(0.0);
    assert!(mean.abs() < 0.15 && (std - 1.0).abs() < 0.1, "mean {mean}, std {std}");
    let u = Array::random_uniform(&[10_000], [1000], 1).compute::<f64>(&SyncExecutor).unwrap();
    assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
    assert!((u.mean().unwrap() - 0.5).abs() < 0.02);
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let x = Array::ones(&[4, 5], [2]);
    let err = |a: Array| a.compute::<f64>(&SyncExecutor).unwrap_err().to_string();
    assert!(err(&x + &Array::ones(&[4], [2])).contains("could not be broadcast together with shapes [4, 5] [4]"));
    assert!(err(x.sum(Some(2))).contains("axis 2 is out of bounds for array of dimension 2"));
    assert!(err(x.reshape(&[3, 7])).contains("cannot reshape array of shape [4, 5] into shape [3, 7]"));
    assert!(err(x.matmul(&x)).contains("shape-mismatch"));
    assert!(err(x.rechunk(Chunks::explicit(vec![vec![3], vec![5]]))).contains("do not sum"));
    assert!(err(x.slice(ndarray::s![7, ..])).contains("index 7 is out of bounds for axis 0 with size 4"));
    assert!(x.map_blocks("no_such_function", DType::F64).check().unwrap_err().to_string().contains("unknown function"));
    assert!(x.compute::<i64>(&SyncExecutor).unwrap_err().to_string().contains("astype"));
    assert!(err(x.transpose(&[0, 0])).contains("not a permutation"));
    assert!((&x - &x.gt(0.0)).dtype() == DType::F64);
    assert!(err(x.gt(0.0) - x.gt(1.0)).contains("boolean subtract"));
    // A mistake travels through every later operation to the first compute.
    let bad = x.sum(Some(5));
    for later in [
        bad.map_blocks_with_chunks("inc", DType::F64, vec![vec![1]]),
        bad.t().rechunk([1]),
        concatenate(&[&x, &bad], 0),
        bad.mean(None) + 1.0,
    ] {
        let e = err(later);
        assert!(e.contains("axis 5 is out of bounds"), "{e}");
    }
}

#[test]
fn long_contractions_sum_a_tree_of_partial_products() {
    // 20 blocks along the contracted axis: three partial sums, then their sum.
    let (a, b) = (data(&[3, 20], 5), data(&[20, 4], 6));
    let x = Array::from_ndarray(&a, Chunks::uniform(&[2, 1]));
    let y = Array::from_ndarray(&b, Chunks::uniform(&[1, 3]));
    let want = a.into_dimensionality::<ndarray::Ix2>().unwrap().dot(&b.into_dimensionality::<ndarray::Ix2>().unwrap());
    assert!(close(&run(&x.matmul(&y)), &want.into_dyn()));
    let i = Array::arange(0, 20, 1, 3).astype(DType::I32);
    assert_eq!(i.dot(&i).compute_scalar::<i32>(&SyncExecutor).unwrap(), (0..20).map(|v| v * v).sum::<i32>());
    let many = [&x.sum(None), &x.mean(None)];
    let both = Array::compute_all(&many, &SyncExecutor).unwrap();
    assert_eq!(both.len(), 2);
    assert!((both[0].as_f64().unwrap()[0] / 60.0 - both[1].as_f64().unwrap()[0]).abs() < 1e-12);
}
