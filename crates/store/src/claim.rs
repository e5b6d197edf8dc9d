//! Owning a segment's name without mapping it.
//!
//! The process executor's parent keeps every result its workers make, but reads almost none:
//! it hands their names to the next tasks and lets them go. Mapping each one anyway (open,
//! map, a fault on its first page to read its header, unmap) was a few hundred system calls
//! and faults a run of a shuffle, on the cores the workers need. A [`Claim`] is what it holds
//! instead: the name and the duty to remove it or send it back to its maker — the bytes are
//! mapped only by whoever needs them ([`Segment::open`](crate::Segment::open)).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;

use crate::segment::{shm_open, shm_unlink};

/// A segment's name, owned: dropping the claim removes the name, or sends it to the recycler
/// given to [`Claim::recycle_to`] (removing it if no one listens any more). Existing mappings
/// stay readable either way.
pub struct Claim {
    name: String,
    owns: AtomicBool,
    recycler: Option<mpsc::Sender<String>>,
}

impl Claim {
    /// Takes over `name` from the process that handed it over. Nothing is checked or mapped:
    /// whoever opens it finds out whether it exists.
    pub fn adopt(name: &str) -> Claim {
        Claim { name: name.to_owned(), owns: AtomicBool::new(true), recycler: None }
    }

    /// Instead of removing the name when dropped, sends it to `recycler`, whose receiver
    /// then owns it.
    pub fn recycle_to(mut self, recycler: mpsc::Sender<String>) -> Claim {
        self.recycler = Some(recycler);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Removes the name now (neither removed nor recycled again when dropped). Idempotent.
    pub fn unlink(&self) {
        if self.owns.swap(false, Relaxed) {
            let _ = shm_unlink(&self.name);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.owns.swap(false, Relaxed) {
            return;
        }
        let name = std::mem::take(&mut self.name);
        match &self.recycler {
            Some(recycler) => {
                if let Err(mpsc::SendError(name)) = recycler.send(name) {
                    let _ = shm_unlink(&name);
                }
            }
            None => drop(shm_unlink(&name)),
        }
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Claim({})", self.name)
    }
}

/// The bytes segment `name` holds in `/dev/shm`: from this process's cached mapping of it if
/// there is one, else from the file.
pub fn size_of(name: &str) -> io::Result<usize> {
    if let Some(map) = crate::cache::get(name, false) {
        return Ok(map.len());
    }
    Ok(shm_open(name, libc::O_RDONLY)?.metadata()?.len() as usize)
}
