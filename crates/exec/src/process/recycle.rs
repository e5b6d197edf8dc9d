//! Recycling the workers' segments: the parent claims each result segment a worker hands over
//! and, when its last claim drops (the result released, no running task reading it), sends
//! the name back to the worker that made it, whose pool writes its next results there.

use std::io;
use std::sync::{mpsc, Arc, Weak};

use rask_protocol::{frame, ToWorker};
use rask_store::Claim;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Run, MAX_FRAME, PRUNE_POOLED, RECYCLE_BATCH};

impl Run<'_, '_> {
    /// The claim on a worker's result segment, shared if already held (see [`claim`]).
    pub(super) fn claim(&mut self, name: &str) -> io::Result<Arc<Claim>> {
        self.pool.pooled.remove(name);
        let recycler = (self.exec.pool_cap > 0).then_some(&self.pool.released);
        claim(&mut self.claims, &self.prefix, name, recycler)
    }

    /// Sends segments the run has let go of back to the workers that made them, in batches;
    /// a segment of a worker since replaced is removed instead.
    pub(super) fn recycle(&mut self) {
        while let Ok(name) = self.pool.released_rx.try_recv() {
            let maker = name.strip_prefix(&self.prefix).and_then(maker_of);
            match maker.and_then(|(s, incarnation)| Some((self.pool.slots.get_mut(s)?, incarnation))) {
                Some((slot, incarnation)) if slot.child.is_some() && slot.incarnation == incarnation => {
                    slot.recycle.push(name);
                }
                _ => drop(rask_store::remove(&name)),
            }
        }
        for s in 0..self.pool.slots.len() {
            while !self.pool.slots[s].recycle.is_empty() {
                let slot = &mut self.pool.slots[s];
                let from = slot.recycle.len().saturating_sub(RECYCLE_BATCH);
                self.frame.clear();
                let message = ToWorker::Recycle(slot.recycle[from..].to_vec());
                frame::encode(&message, MAX_FRAME, &mut self.frame).expect("names encode");
                if !self.pool.control.tasks(s).try_push(&self.frame) {
                    break; // a full ring: the worker is busy; the names go with a later call
                }
                self.pool.pooled.extend(slot.recycle.drain(from..));
            }
        }
        // A worker removes what its full pool refuses without saying so: forget such names
        // now and then, so the set stays as small as the pools.
        if self.pool.pooled.len() > self.pool.prune_pooled_at {
            let existing: FxHashSet<String> = rask_store::list().into_iter().collect();
            self.pool.pooled.retain(|name| existing.contains(name));
            self.pool.prune_pooled_at = PRUNE_POOLED.max(2 * self.pool.pooled.len());
        }
    }
}

/// The slot and incarnation of the worker that made a segment, from its name after the
/// executor's prefix (`w<slot>.<incarnation>-<n>`).
fn maker_of(rest: &str) -> Option<(usize, u32)> {
    let (slot, rest) = rest.strip_prefix('w')?.split_once('.')?;
    let (incarnation, _) = rest.split_once('-')?;
    Some((slot.parse().ok()?, incarnation.parse().ok()?))
}

/// The claim on a worker's result segment, shared if already held: the first holder owns the
/// name. Only names under this executor's prefix are taken (and so ever unlinked). With
/// `recycler`, a worker's segment goes there (rather than being removed) when the run drops
/// its last claim. Nothing is mapped (see `held.rs`).
fn claim(
    claims: &mut FxHashMap<String, Weak<Claim>>,
    prefix: &str,
    name: &str,
    recycler: Option<&mpsc::Sender<String>>,
) -> io::Result<Arc<Claim>> {
    if let Some(claim) = claims.get(name).and_then(Weak::upgrade) {
        return Ok(claim);
    }
    if !name.starts_with(prefix) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{name} is not a segment of this executor"),
        ));
    }
    let mut claim = Claim::adopt(name);
    if let Some(recycler) = recycler.filter(|_| name[prefix.len()..].starts_with('w')) {
        claim = claim.recycle_to(recycler.clone());
    }
    let claim = Arc::new(claim);
    claims.insert(name.to_owned(), Arc::downgrade(&claim));
    Ok(claim)
}
