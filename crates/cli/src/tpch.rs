//! `rask tpch gen` and `rask tpch run`: TPC-H data as Parquet, and the 22 queries on any
//! scheduler.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum TpchCommand {
    /// Write the 8 tables at scale factor SF as Parquet: DIR/lineitem/*.parquet, … (SF 1 is
    /// about 1 GB of CSV, 6M lineitem rows).
    Gen {
        #[arg(long)]
        sf: f64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run queries (all 22 by default) and print each one's seconds and rows.
    Run {
        /// A folder `rask tpch gen` wrote.
        #[arg(long)]
        data: PathBuf,
        /// A query number, 1 to 22; repeatable.
        #[arg(long = "query")]
        queries: Vec<usize>,
        /// As for `rask run`.
        #[arg(long, default_value = "threads")]
        scheduler: String,
        /// Write each result as DIR/qNN.csv.
        #[arg(long)]
        output: Option<PathBuf>,
        /// The scale factor the data was generated at (Q11 depends on it); read from
        /// DIR/scale-factor when not given.
        #[arg(long)]
        sf: Option<f64>,
    },
}

pub fn main(command: TpchCommand, out: &mut impl Write) -> Result<(), String> {
    match command {
        TpchCommand::Gen { sf, out: dir } => {
            let start = Instant::now();
            let written = rask_tpch::generate(&dir, sf).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("scale-factor"), format!("{sf}\n")).map_err(|e| e.to_string())?;
            for (table, rows) in written {
                writeln!(out, "{table:>9}: {rows} rows").map_err(|e| e.to_string())?;
            }
            writeln!(out, "wrote SF {sf} to {} in {:.1} s", dir.display(), start.elapsed().as_secs_f64())
                .map_err(|e| e.to_string())
        }
        TpchCommand::Run { data, queries, scheduler, output, sf } => {
            let sf = match sf {
                Some(sf) => sf,
                None => read_scale_factor(&data)?,
            };
            let tables = rask_tpch::Tables::new(&data, sf);
            let executor = super::executor_for(&scheduler)?;
            let queries = if queries.is_empty() { (1..=22).collect() } else { queries };
            if let Some(dir) = &output {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let mut failed = Vec::new();
            for q in queries {
                let start = Instant::now();
                let result = rask_tpch::query(q, &tables)
                    .map_err(|e| e.to_string())
                    .and_then(|frame| frame.compute(executor.as_ref()).map_err(|e| e.to_string()));
                let seconds = start.elapsed().as_secs_f64();
                match result {
                    Ok(batch) => {
                        writeln!(out, "q{q:02}: {seconds:.3} s, {} rows", batch.num_rows())
                            .map_err(|e| e.to_string())?;
                        if let Some(dir) = &output {
                            let path = dir.join(format!("q{q:02}.csv"));
                            std::fs::write(&path, rask_tpch::to_csv(&batch))
                                .map_err(|e| format!("{}: {e}", path.display()))?;
                        }
                    }
                    Err(e) => {
                        writeln!(out, "q{q:02}: failed: {e}").map_err(|e| e.to_string())?;
                        failed.push(q);
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(format!("queries {failed:?} failed"))
            }
        }
    }
}

fn read_scale_factor(data: &Path) -> Result<f64, String> {
    let path = data.join("scale-factor");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (give --sf, or generate the data with `rask tpch gen`)", path.display()))?;
    text.trim().parse().map_err(|e| format!("{}: {e}", path.display()))
}
