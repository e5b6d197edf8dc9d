//! The control block: one anonymous shared mapping (a memfd, inherited by each worker across
//! `exec`) holding the parent's doorbell and, per worker slot, a task ring, the worker's
//! doorbell and a completion ring. Being anonymous, it can never outlive the processes that
//! map it: nothing to clean up after a crash.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::AtomicU64;

use memmap2::{MmapOptions, MmapRaw};

use super::ring::{Bell, Data, Ring, RingHeader};

/// Bytes of each ring's data. A record may be half of it; bigger messages go through a segment.
pub(crate) const RING_CAP: usize = 1 << 20;
const PAGE: usize = 4096;
const SLOT_STRIDE: usize = PAGE + 2 * RING_CAP;

#[repr(C)]
struct SlotHeader {
    tasks: RingHeader,
    worker_bell: Bell,
    done: RingHeader,
    /// Counted up by the worker's heartbeat thread: a worker whose count stands still is
    /// stopped (SIGSTOP) or wedged, even while a long task runs.
    beat: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<SlotHeader>() <= PAGE && std::mem::size_of::<Bell>() <= PAGE);

pub(crate) struct Control {
    file: File,
    map: MmapRaw,
    slots: usize,
}

impl Control {
    /// A zeroed block for `slots` workers (zero is every ring's and bell's idle state).
    pub(crate) fn create(slots: usize) -> io::Result<Control> {
        // SAFETY: a valid C string; the fd is owned by the File. CLOEXEC: only the workers we
        // spawn get it, by clearing the flag in the child between fork and exec.
        let fd = unsafe { libc::memfd_create(c"rask-control".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(Control::size(slots) as u64)?;
        Control::map(file, slots)
    }

    /// A worker's view of the block its parent created, from the inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be the control block's descriptor, owned by nobody else in this process.
    pub(crate) unsafe fn from_fd(fd: RawFd, slots: usize) -> io::Result<Control> {
        let file = File::from_raw_fd(fd);
        if (file.metadata()?.len() as usize) < Control::size(slots) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "control block is smaller than its slots need"));
        }
        Control::map(file, slots)
    }

    fn size(slots: usize) -> usize {
        PAGE + slots * SLOT_STRIDE
    }

    fn map(file: File, slots: usize) -> io::Result<Control> {
        let map = MmapOptions::new().len(Control::size(slots)).map_raw(&file)?;
        Ok(Control { file, map, slots })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    fn at<T>(&self, offset: usize) -> &T {
        assert!(offset + std::mem::size_of::<T>() <= self.map.len());
        // SAFETY: in bounds, page-aligned bases with repr(C) atomics at aligned offsets; all-zero
        // memory is valid for these types; the mapping lives as long as `self`.
        unsafe { &*self.map.as_ptr().add(offset).cast::<T>() }
    }

    fn slot(&self, slot: usize) -> (usize, &SlotHeader) {
        assert!(slot < self.slots, "no slot {slot}");
        let base = PAGE + slot * SLOT_STRIDE;
        (base, self.at(base))
    }

    pub(crate) fn parent_bell(&self) -> &Bell {
        self.at(0)
    }

    /// Worker `slot`'s heartbeat counter.
    pub(crate) fn beat(&self, slot: usize) -> &AtomicU64 {
        &self.slot(slot).1.beat
    }

    /// Parent → worker `slot`.
    pub(crate) fn tasks(&self, slot: usize) -> Ring<'_> {
        let (base, header) = self.slot(slot);
        // SAFETY: the data lies inside the mapping, after the slot's header page.
        let data = unsafe { Data::new(self.map.as_mut_ptr().add(base + PAGE), RING_CAP) };
        Ring::new(&header.tasks, data, &header.worker_bell)
    }

    /// Worker `slot` → parent; the parent sleeps on one bell for all of them.
    pub(crate) fn done(&self, slot: usize) -> Ring<'_> {
        let (base, header) = self.slot(slot);
        // SAFETY: as above, the second data region.
        let data = unsafe { Data::new(self.map.as_mut_ptr().add(base + PAGE + RING_CAP), RING_CAP) };
        Ring::new(&header.done, data, self.parent_bell())
    }
}
