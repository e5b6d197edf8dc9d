//! Elementwise chains compiled to one pass. A chain of float64 operators and functions over
//! blocks of the same shape (`sqrt(x*x + 1) * 2 - x`) becomes one `array_fused` call with a
//! small program: the kernel runs it over the block a few hundred elements at a time, so no
//! block-sized temporary is made for each step (NumPy and Dask make one per step).

use rask_graph::{DType, Expr as Task, Value};

use crate::array::{Arg, Array, Blocks};
use crate::dtype::Operand as Kind;
use crate::kernels::elementwise::{Binary, Unary};

/// The program being built: instructions and the leaf blocks they read.
#[derive(Default)]
struct Builder {
    instrs: Vec<Value>,
    leaves: Vec<Task>,
}

/// An operand in the program's encoding: leaf `k` is `Int(k)`, register `r` is `Int(-1 - r)`,
/// a constant is a `Float`.
fn register(r: usize) -> Value {
    Value::Int(-1 - r as i64)
}

/// The operator of an elementwise float64 step (computed in float64, giving float64).
enum Step {
    Binary(Binary),
    Unary(Unary),
}

fn step(a: &Array) -> Option<Step> {
    let Blocks::Map(m) = &a.blocks else { return None };
    let name = match m.args.first() {
        Some(Arg::Lit(Value::Str(s))) => s.clone(),
        _ => return None,
    };
    let kind = |arg: &Arg| match arg {
        Arg::Block(i) => Kind::Array(m.inputs[*i].array.dtype()),
        Arg::Lit(Value::Bool(_)) => Kind::Bool,
        Arg::Lit(Value::Int(_)) => Kind::Int,
        Arg::Lit(_) => Kind::Float,
    };
    // Every input must line up block for block with the output (no broadcasting).
    let aligned =
        m.inputs.iter().all(|i| i.array.ndim() == a.ndim() && i.axes.iter().enumerate().all(|(n, o)| *o == Some(n)));
    if !aligned {
        return None;
    }
    match (&*m.func, m.args.len()) {
        ("array_binary", 3) => {
            let op = Binary::parse(&name)?;
            (op.types(kind(&m.args[1]), kind(&m.args[2])).ok()? == (DType::F64, DType::F64) && !op.is_comparison())
                .then_some(Step::Binary(op))
        }
        ("array_unary", 2) => {
            let op = Unary::parse(&name)?;
            let Arg::Block(i) = m.args[1] else { return None };
            (op.types(m.inputs[i].array.dtype()).ok()? == (DType::F64, DType::F64)).then_some(Step::Unary(op))
        }
        _ => None,
    }
}

impl Builder {
    /// The operand that holds `a`'s block `idx`: a register for a step, else a leaf.
    fn visit(&mut self, a: &Array, idx: &[usize]) -> Option<Value> {
        let Some(op) = step(a) else {
            if a.dtype() != DType::F64 {
                return None;
            }
            let task = a.block_task(idx);
            let k = self.leaves.iter().position(|t| *t == task).unwrap_or_else(|| {
                self.leaves.push(task);
                self.leaves.len() - 1
            });
            return Some(Value::Int(k as i64));
        };
        let Blocks::Map(m) = &a.blocks else { unreachable!("a step is a map") };
        let mut operands = Vec::new();
        for arg in &m.args[1..] {
            operands.push(match arg {
                Arg::Block(i) => self.visit(&m.inputs[*i].array, idx)?,
                Arg::Lit(v) => Value::Float(v.as_float()?),
            });
        }
        let (kind, name) = match op {
            Step::Binary(b) => ("b", b.name()),
            Step::Unary(u) => ("u", u.name()),
        };
        self.instrs.push(Value::list([Value::str(kind), Value::str(name)].into_iter().chain(operands)));
        Some(register(self.instrs.len() - 1))
    }
}

impl Array {
    /// Block `idx` as one `array_fused` call, when this array ends a float64 elementwise
    /// chain of at least two steps.
    pub(crate) fn fused_block_task(&self, idx: &[usize]) -> Option<Task> {
        step(self)?;
        let mut b = Builder::default();
        b.visit(self, idx)?;
        if b.instrs.len() < 2 {
            return None;
        }
        let program = Task::from(Value::list(b.instrs));
        Some(Task::call("array_fused", std::iter::once(program).chain(b.leaves)))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Array, Chunks, DType};
    use rask_graph::Expr;

    fn top_function(a: &Array) -> String {
        match a.block_task(&vec![0; a.ndim()]) {
            Expr::Call(c) => c.func.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn float_chains_fuse_into_one_program_and_others_nest() {
        let x = Array::random_uniform(&[6, 4], Chunks::uniform(&[3, 2]), 1);
        let chain = (&x * &x + 1.0).sqrt() * 2.0 - &x;
        assert_eq!(top_function(&chain), "array_fused");
        let want = x.compute::<f64>(&rask_exec::SyncExecutor).unwrap().mapv(|v| (v * v + 1.0).sqrt() * 2.0 - v);
        let got = chain.compute::<f64>(&rask_exec::SyncExecutor).unwrap();
        assert!(got.iter().zip(want.iter()).all(|(a, b)| (a - b).abs() < 1e-12));
        // One step alone, int arithmetic and broadcasting keep their own kernels.
        assert_eq!(top_function(&(&x + 1.0)), "array_binary");
        let i = x.astype(DType::I64);
        assert_eq!(top_function(&(&i * 2i64 + 1i64)), "array_binary");
        let row = Array::ones(&[4], [2]);
        assert_eq!(top_function(&((&x + &row) * 2.0)), "array_binary");
    }
}
