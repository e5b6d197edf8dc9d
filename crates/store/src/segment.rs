//! Shared-memory segments and their names.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::pool::SegmentPool;
use crate::{cache, lease};

/// Every segment of ours starts with this, then the creating process's pid.
const PREFIX: &str = "rask-";
const SHM_DIR: &str = "/dev/shm";

/// A segment mapped read-only (or frozen by its creator). Dropping the handle unmaps it; if the
/// handle owns the name, dropping (or [`Segment::unlink`]) also removes the name, after which
/// no one can open it but existing mappings stay readable. Exactly one handle should own a
/// name: its creator's until handed over, then its adopter's.
pub struct Segment {
    name: String,
    map: Arc<MmapRaw>,
    /// The bytes in use: all of a mapped segment, the written prefix of a recycled one.
    len: usize,
    owns_name: AtomicBool,
    /// Where the name goes instead of being removed when its owning handle is dropped.
    release: Release,
    /// The name was given to another process to map ([`Segment::lend`]), and the segment
    /// keeps no count of its readers: never written again.
    shared: AtomicBool,
    /// The name is a leased segment's (see `lease.rs`): its last bytes count its readers.
    leased: bool,
    /// This handle was opened from a name lent to this process, and gives the lease back when
    /// dropped.
    holds_lease: bool,
}

/// A segment being written by its creator, not yet visible to anyone else. Dropped unfrozen
/// (a task that failed half-way), it goes where its frozen form would: removed, or back to
/// its pool.
pub struct SegmentMut {
    segment: Segment,
    /// Taken from a pool: its bytes are what was last written, not zeros.
    recycled: bool,
}

/// What dropping an owning handle does with the name (an explicit [`Segment::unlink`] always
/// removes it).
enum Release {
    Unlink,
    /// Back to the creator's pool, to be written again.
    Pool(Arc<SegmentPool>),
}

impl Segment {
    /// Creates `name` with `len` zero bytes, failing if it exists.
    pub fn create(name: &str, len: usize) -> io::Result<SegmentMut> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty segments are not made: inline the value"));
        }
        Segment::create_sized(name, len, len, None)
    }

    /// Creates `name` with `size >= len` zero bytes of which the first `len` are the value.
    pub(crate) fn create_sized(
        name: &str,
        size: usize,
        len: usize,
        pool: Option<Arc<SegmentPool>>,
    ) -> io::Result<SegmentMut> {
        if lease::is_leased(name) && size < len + lease::TRAILER {
            let why = format!("{name}: a leased segment needs {} bytes beyond its value", lease::TRAILER);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let file = shm_open(name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)?;
        let created = (|| {
            // Reserve the pages now: a sparse file on a full /dev/shm would map fine and then
            // kill the writer with SIGBUS at the first page that cannot be backed.
            // SAFETY: a valid descriptor we own.
            let reserved = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
            if reserved != 0 {
                return Err(io::Error::from_raw_os_error(reserved));
            }
            MmapOptions::new().len(size).map_raw(&file)
        })();
        match created {
            Ok(map) => {
                let map = Arc::new(map);
                cache::put(name, &map, true);
                Ok(SegmentMut::new(name, map, len, pool, false))
            }
            Err(e) => {
                let _ = shm_unlink(name);
                Err(e)
            }
        }
    }

    /// Maps an existing segment read-only. The handle does not own the name. A leased name
    /// (see [`Namespace::leased`]) must have been lent to this process by whoever sent it: the
    /// handle gives that lease back when dropped (and maps the segment writable, for its count).
    pub fn open(name: &str) -> io::Result<Segment> {
        let leased = lease::is_leased(name);
        let map = match cache::get(name, leased) {
            Some(map) => map,
            None => {
                let file = shm_open(name, if leased { libc::O_RDWR } else { libc::O_RDONLY })?;
                let size = file.metadata()?.len() as usize;
                let malformed = if leased { size < lease::TRAILER || size % 4096 != 0 } else { size == 0 };
                if malformed {
                    let why = format!("{name}: a segment of {size} bytes cannot be read");
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                }
                let mut options = MmapOptions::new();
                options.len(size);
                let map = Arc::new(if leased { options.map_raw(&file)? } else { options.map_raw_read_only(&file)? });
                cache::put(name, &map, leased);
                map
            }
        };
        let len = if leased { map.len() - lease::TRAILER } else { map.len() };
        let (owns_name, shared) = (AtomicBool::new(false), AtomicBool::new(false));
        let release = Release::Unlink;
        Ok(Segment { name: name.to_owned(), map, len, owns_name, release, shared, leased, holds_lease: leased })
    }

    /// Maps a recycled segment of ours for writing its first `len` bytes again (not zeroed).
    pub(crate) fn reopen(name: &str, len: usize, pool: Arc<SegmentPool>) -> io::Result<SegmentMut> {
        if let Some(map) = cache::get(name, true).filter(|map| map.len() >= len) {
            // Its pages are mapped and writable in this process already.
            return Ok(SegmentMut::new(name, map, len, Some(pool), true));
        }
        let file = shm_open(name, libc::O_RDWR)?;
        let size = file.metadata()?.len() as usize;
        if size < len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {size} bytes, not {len}")));
        }
        let map = MmapOptions::new().len(size).map_raw(&file)?;
        // The pages exist already (a recycled segment was written before): map the ones about
        // to be written in one call rather than one write fault each (measured: a shuffle on
        // processes 4% faster). Old kernels refuse the advice; the faults then happen as usual.
        // SAFETY: a range inside our own fresh mapping.
        unsafe { libc::madvise(map.as_mut_ptr().cast(), len, libc::MADV_POPULATE_WRITE) };
        let map = Arc::new(map);
        cache::put(name, &map, true);
        Ok(SegmentMut::new(name, map, len, Some(pool), true))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The bytes the segment holds in `/dev/shm`, at least [`Segment::len`].
    pub fn size(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes this handle responsible for removing the name (adopting a handed-over segment one
    /// also reads; one that only keeps the name holds a [`Claim`](crate::Claim) instead).
    pub fn own_name(&self) {
        self.owns_name.store(true, Relaxed);
    }

    /// Says the name is about to go to another process, which maps the segment and may read
    /// it for as long as it keeps that mapping (a cluster peer keeps what it fetched). Call it
    /// before sending the name. A leased segment counts one more reader, which the receiver's
    /// handle gives back when dropped: its creator's pool writes it again only once every
    /// reader is done. Any other segment is never written again: its owner's drop removes the
    /// name rather than returning it to a pool.
    pub fn lend(&self) {
        if self.leased {
            lease::lend(self.lease_count());
        } else {
            self.shared.store(true, Relaxed);
        }
    }

    /// Whether other processes hold leases on this segment now (always false for a segment
    /// that is not leased).
    pub fn is_lent(&self) -> bool {
        self.leased && !lease::unread(self.lease_count())
    }

    fn lease_count(&self) -> &lease::Count {
        // SAFETY: a leased segment is mapped writable whole by every handle (`open`, and its
        // creator's), for as long as the handle lives.
        unsafe { lease::count_of(&self.map) }
    }

    /// Gives up responsibility for the name: its receiver adopts it (or a sweep removes it).
    pub fn hand_over(&self) {
        self.owns_name.store(false, Relaxed);
    }

    /// Removes the name now if this handle owns it; the mapping stays valid. Idempotent.
    pub fn unlink(&self) {
        if self.owns_name.swap(false, Relaxed) {
            let _ = shm_unlink(&self.name);
        }
    }
}

impl AsRef<[u8]> for Segment {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the mapping lives as long as `self`; nobody writes a frozen segment (its
        // creator gave up write access in `freeze`, readers map it read-only).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.len) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.holds_lease {
            lease::give_back(self.lease_count());
        }
        if !self.owns_name.swap(false, Relaxed) {
            return;
        }
        let name = std::mem::take(&mut self.name);
        match &self.release {
            Release::Pool(pool) if self.leased => pool.put_leased(name, self.map.clone()),
            Release::Pool(pool) if !self.shared.load(Relaxed) => pool.put(name, self.map.len()),
            Release::Unlink | Release::Pool(_) => drop(shm_unlink(&name)),
        }
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Segment({}, {} bytes)", self.name, self.len())
    }
}

impl SegmentMut {
    fn new(name: &str, map: Arc<MmapRaw>, len: usize, pool: Option<Arc<SegmentPool>>, recycled: bool) -> SegmentMut {
        let release = pool.map_or(Release::Unlink, Release::Pool);
        let (owns_name, shared) = (AtomicBool::new(true), AtomicBool::new(false));
        let leased = lease::is_leased(name);
        let segment =
            Segment { name: name.to_owned(), map, len, owns_name, release, shared, leased, holds_lease: false };
        SegmentMut { segment, recycled }
    }

    pub fn name(&self) -> &str {
        &self.segment.name
    }

    /// Whether this segment was taken from a pool (its bytes are old contents, not zeros).
    pub fn recycled(&self) -> bool {
        self.recycled
    }

    /// Keeps only the first `len` bytes as the value (a writer that wrote less than it asked
    /// for); the segment's size does not change.
    pub fn truncate(&mut self, len: usize) {
        self.segment.len = self.segment.len.min(len);
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the creator is the only one that knows the name until `freeze`, and `&mut
        // self` makes this borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.segment.map.as_mut_ptr(), self.segment.len) }
    }

    /// Finishes writing. The creator owns the name until it [hands it over](Segment::hand_over)
    /// to whoever it sends the name to; a segment never handed over is removed with its handle.
    pub fn freeze(self) -> Segment {
        // The creator's mapping stays writable at the page level, but `Segment` gives out only
        // shared slices, and every other process maps it read-only.
        self.segment
    }
}

/// Names segments `rask-<pid>-<tag>-<n>`: the pid finds leftovers of dead processes, the tag
/// those of one executor or worker.
pub struct Namespace {
    prefix: String,
    next: AtomicU64,
    pool: Option<Arc<SegmentPool>>,
    leased: bool,
}

impl Namespace {
    /// Segments of this process under `tag` (letters, digits, `.` and `_` only).
    pub fn new(tag: &str) -> Namespace {
        Namespace::with_pid(std::process::id(), tag)
    }

    /// Segments created on behalf of process `pid` (a worker names its results after the
    /// executor process that will own them).
    pub fn with_pid(pid: u32, tag: &str) -> Namespace {
        Namespace { prefix: format!("{PREFIX}{pid}-{tag}-"), next: AtomicU64::new(0), pool: None, leased: false }
    }

    /// Makes leased segments (see [`Segment::lend`]): each keeps a count of the other
    /// processes holding it, so that one whose name went to other processes still comes back
    /// to this namespace's pool once they are all done with it. Costs 64 bytes a segment, and
    /// every process that opens one maps it writable.
    pub fn leased(mut self) -> Namespace {
        self.leased = true;
        self
    }

    /// Serves new segments from `pool` first, and gives it back those dropped by their owner.
    pub fn with_pool(mut self, pool: Arc<SegmentPool>) -> Namespace {
        self.pool = Some(pool);
        self
    }

    pub fn pool(&self) -> Option<&Arc<SegmentPool>> {
        self.pool.as_ref()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A segment of `len` zero bytes: recycled from the pool (and cleared) if it has one to
    /// fit, else new.
    pub fn create(&self, len: usize) -> io::Result<SegmentMut> {
        let mut segment = self.create_uninit(len)?;
        if segment.recycled() {
            segment.bytes_mut().fill(0);
        }
        Ok(segment)
    }

    /// A segment of `len` bytes the caller overwrites whole: a recycled one keeps its old
    /// contents until then.
    pub fn create_uninit(&self, len: usize) -> io::Result<SegmentMut> {
        let trailer = if self.leased { lease::TRAILER } else { 0 };
        let pool = match &self.pool {
            Some(pool) if len > 0 => pool,
            _ if self.leased && len > 0 => {
                return Segment::create_sized(&self.next_name(), crate::pool::size_class(len + trailer), len, None)
            }
            _ => return Segment::create(&self.next_name(), len),
        };
        if let Some(segment) = pool.take(len) {
            return Ok(segment);
        }
        Segment::create_sized(&self.next_name(), crate::pool::size_class(len + trailer), len, Some(pool.clone()))
    }

    fn next_name(&self) -> String {
        let suffix = if self.leased { lease::SUFFIX } else { "" };
        format!("{}{}{suffix}", self.prefix, self.next.fetch_add(1, Relaxed))
    }

    /// Removes every segment under this namespace's prefix.
    pub fn sweep(&self) -> usize {
        sweep(&self.prefix)
    }
}

/// Removes every segment whose name starts with `prefix`; returns how many.
pub fn sweep(prefix: &str) -> usize {
    list().into_iter().filter(|n| n.starts_with(prefix)).filter(|n| shm_unlink(n).is_ok()).count()
}

/// Removes segments left by processes that no longer exist (a crashed run); returns how many.
pub fn sweep_orphans() -> usize {
    list()
        .into_iter()
        .filter(|name| {
            let pid = name.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse().ok());
            pid.is_some_and(|pid: i32| !process_exists(pid))
        })
        .filter(|n| shm_unlink(n).is_ok())
        .count()
}

/// Removes one segment's name.
pub fn remove(name: &str) -> io::Result<()> {
    shm_unlink(name)
}

/// Names of the segments processes `pids` own (made and not yet handed over) in /dev/shm.
pub fn owned_by(pids: &[u32]) -> Vec<String> {
    list().into_iter().filter(|n| pids.iter().any(|p| n.starts_with(&format!("{PREFIX}{p}-")))).collect()
}

/// Names of our segments currently in /dev/shm.
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(SHM_DIR) else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with(PREFIX)).collect()
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn c_name(name: &str) -> io::Result<CString> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad segment name {name:?}")));
    }
    CString::new(format!("/{name}")).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

pub(crate) fn shm_open(name: &str, flags: i32) -> io::Result<File> {
    let c = c_name(name)?;
    // SAFETY: a valid C string; the returned fd is owned by the File.
    let fd = unsafe { libc::shm_open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return Err(io::Error::new(
            io::Error::last_os_error().kind(),
            format!("{name}: {}", io::Error::last_os_error()),
        ));
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

pub(crate) fn shm_unlink(name: &str) -> io::Result<()> {
    cache::forget(name);
    let c = c_name(name)?;
    // SAFETY: a valid C string.
    if unsafe { libc::shm_unlink(c.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
