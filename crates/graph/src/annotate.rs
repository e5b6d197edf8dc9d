//! Per-task scheduling hints (Dask's `dask.annotate`): priority, retries, resources and worker
//! restrictions. They ride with a key through [`crate::Plan`] to whichever scheduler runs it;
//! the graph crate only stores and checks them, the distributed scheduler obeys them.
//!
//! ```
//! use rask_graph::{Annotations, Expr, Graph};
//!
//! let mut g = Graph::new();
//! g.insert("x", 1);
//! g.annotate(Annotations::new().priority(10).retries(2), |g| {
//!     g.insert("y", Expr::call("inc", [Expr::key("x")]));
//! });
//! assert_eq!(g.annotations(&"y".into()).unwrap().priority, 10);
//! assert!(g.annotations(&"x".into()).is_none());
//! ```

use serde::{Deserialize, Serialize};

/// How a scheduler should treat a task. The default asks for nothing special.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// Higher runs first among ready tasks; equal priorities keep the graph's order.
    pub priority: i32,
    /// A task whose function returns an error is run again up to this many times.
    pub retries: u32,
    /// Abstract resources one run holds on its worker (`("GPU", 1.0)`): it runs only where
    /// they are free, and never more at once than the worker declared.
    pub resources: Vec<(String, f64)>,
    /// Workers allowed to run it, by address (`HOST:PORT`) or host; empty: any.
    pub workers: Vec<String>,
    /// With `workers` set: prefer them, but run elsewhere rather than wait (a locality hint).
    pub allow_other_workers: bool,
}

impl Annotations {
    pub fn new() -> Annotations {
        Annotations::default()
    }

    pub fn priority(mut self, priority: i32) -> Annotations {
        self.priority = priority;
        self
    }

    pub fn retries(mut self, retries: u32) -> Annotations {
        self.retries = retries;
        self
    }

    /// Adds a resource requirement (replacing an earlier one of the same name).
    pub fn resource(mut self, name: &str, amount: f64) -> Annotations {
        self.resources.retain(|(n, _)| n != name);
        self.resources.push((name.to_owned(), amount));
        self
    }

    pub fn workers<S: Into<String>>(mut self, workers: impl IntoIterator<Item = S>) -> Annotations {
        self.workers = workers.into_iter().map(Into::into).collect();
        self
    }

    pub fn allow_other_workers(mut self, allow: bool) -> Annotations {
        self.allow_other_workers = allow;
        self
    }

    /// True when it asks for nothing: such annotations are not stored.
    pub fn is_empty(&self) -> bool {
        *self == Annotations::default()
    }

    /// These annotations with `inner`'s fields laid over them wherever `inner` sets one (a
    /// nested `annotate` scope).
    pub fn overlaid_with(&self, inner: &Annotations) -> Annotations {
        let mut out = self.clone();
        if inner.priority != 0 {
            out.priority = inner.priority;
        }
        if inner.retries != 0 {
            out.retries = inner.retries;
        }
        for (name, amount) in &inner.resources {
            out = out.resource(name, *amount);
        }
        if !inner.workers.is_empty() {
            out.workers = inner.workers.clone();
            out.allow_other_workers = inner.allow_other_workers;
        }
        out
    }

    /// Whether a worker at `addr` (`HOST:PORT`) is one of [`Annotations::workers`] (an entry
    /// that is only a host matches every worker on it). True when no worker is named.
    pub fn names_worker(&self, addr: &str) -> bool {
        let addr = addr.trim_start_matches("tcp://");
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        self.workers.is_empty()
            || self.workers.iter().map(|w| w.trim_start_matches("tcp://")).any(|w| w == addr || w == host)
    }

    /// Refuses what no scheduler could honour: negative or non-finite resource amounts.
    pub fn check(&self) -> Result<(), String> {
        for (name, amount) in &self.resources {
            if name.is_empty() || !amount.is_finite() || *amount < 0.0 {
                return Err(format!("resource {name:?}: the amount {amount} must be a finite number ≥ 0"));
            }
        }
        Ok(())
    }
}

/// Parses `"GPU=2,MEM=64e9"` (`rask worker --resources`) into named amounts.
pub fn parse_resources(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, amount) = item.split_once('=').ok_or_else(|| format!("{item:?}: expected NAME=AMOUNT"))?;
        let amount: f64 = amount.trim().parse().map_err(|_| format!("{item:?}: {amount:?} is not a number"))?;
        if !amount.is_finite() || amount < 0.0 {
            return Err(format!("{item:?}: the amount must be a finite number ≥ 0"));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("{item:?}: the resource needs a name"));
        }
        out.retain(|(n, _)| n != name);
        out.push((name.to_owned(), amount));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_and_refuse_nonsense() {
        assert_eq!(parse_resources("GPU=2, MEM=64e9").unwrap(), vec![("GPU".into(), 2.0), ("MEM".into(), 64e9)]);
        assert!(parse_resources("GPU").unwrap_err().contains("NAME=AMOUNT"));
        assert!(parse_resources("GPU=-1").unwrap_err().contains("≥ 0"));
        assert!(parse_resources("=1").unwrap_err().contains("name"));
    }

    #[test]
    fn worker_names_match_by_address_or_host() {
        let a = Annotations::new().workers(["10.0.0.1", "tcp://10.0.0.2:9000"]);
        assert!(a.names_worker("10.0.0.1:1234"));
        assert!(a.names_worker("10.0.0.2:9000"));
        assert!(!a.names_worker("10.0.0.2:9001"));
        assert!(Annotations::new().names_worker("anything:1"));
    }

    #[test]
    fn inner_scopes_override_only_what_they_set() {
        let outer = Annotations::new().priority(5).retries(2).resource("GPU", 1.0);
        let inner = Annotations::new().retries(4).resource("MEM", 1e9);
        let both = outer.overlaid_with(&inner);
        assert_eq!((both.priority, both.retries), (5, 4));
        assert_eq!(both.resources, vec![("GPU".into(), 1.0), ("MEM".into(), 1e9)]);
    }
}
