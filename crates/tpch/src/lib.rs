//! `rask-tpch`: TPC-H, the workload every dataframe engine publishes, for rask.
//!
//! What it is: [`generate`] writes the 8 tables as Parquet (one folder each) from `tpchgen`,
//! the Rust port of dbgen; [`query`] builds each of the 22 queries with the `Frame` API, with
//! the specification's validation parameters — one function per query in [`queries`], meant
//! to be read as examples of real analytical work in rask; a query's `Frame` computes on any
//! executor and [`to_csv`] writes a result as the expected-answer files are written.
//!
//! What it is not: a SQL engine. The queries are written by hand, as the public Dask and
//! Polars TPC-H benchmarks write theirs.
//!
//! ```no_run
//! use rask_tpch::{generate, query, Tables};
//! let dir = std::path::Path::new("/tmp/tpch");
//! generate(dir, 0.01).unwrap();
//! let q1 = query(1, &Tables::new(dir, 0.01)).unwrap();
//! let result = q1.compute(&rask_exec::ThreadedExecutor::new(2)).unwrap();
//! assert_eq!(result.num_rows(), 4);
//! ```

mod csv;
mod gen;
pub mod queries;

use std::path::{Path, PathBuf};

pub use csv::{differences, to_csv};
pub use gen::{files_for, generate, TABLES};
use rask_frame::{Frame, FrameError};

/// Why a TPC-H step failed.
#[derive(Debug, thiserror::Error)]
pub enum TpchError {
    #[error("{path}: {cause}")]
    Io { path: String, cause: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl TpchError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> TpchError {
        TpchError::Io { path: path.display().to_string(), cause: e.to_string() }
    }
}

/// Where the tables are, and the scale factor they were generated at (Q11's fraction
/// depends on it).
#[derive(Clone, Debug)]
pub struct Tables {
    dir: PathBuf,
    sf: f64,
}

impl Tables {
    pub fn new(dir: impl Into<PathBuf>, sf: f64) -> Tables {
        Tables { dir: dir.into(), sf }
    }

    /// The table `name` (`dir/name/*.parquet`), a partition per file.
    pub fn table(&self, name: &str) -> Result<Frame, FrameError> {
        Frame::read_parquet(self.dir.join(name))
    }

    pub fn scale_factor(&self) -> f64 {
        self.sf
    }
}

/// Query `n` (1 to 22), built lazily.
pub fn query(n: usize, tables: &Tables) -> Result<Frame, TpchError> {
    let build = queries::ALL
        .get(n.wrapping_sub(1))
        .ok_or_else(|| TpchError::Usage(format!("there is no TPC-H query {n}: they are 1 to 22")))?;
    Ok(build(tables)?)
}
