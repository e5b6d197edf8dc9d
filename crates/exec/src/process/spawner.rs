//! The thread that forks the worker processes.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;

/// The thread that starts worker processes. `PR_SET_PDEATHSIG` fires when the *thread* that
/// forked a child exits, not the process: so workers are forked by this thread, which lives
/// exactly as long as the executor, rather than by whichever thread happened to run a plan.
pub(super) struct Spawner {
    requests: Option<mpsc::Sender<(Command, mpsc::Sender<io::Result<Child>>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spawner {
    pub(super) fn start() -> io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::Sender<io::Result<Child>>)>();
        let thread = std::thread::Builder::new().name("rask-spawner".into()).spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
        })?;
        Ok(Spawner { requests: Some(tx), thread: Some(thread) })
    }

    pub(super) fn spawn(&self, command: Command) -> io::Result<Child> {
        let gone = || io::Error::other("the spawner thread is gone");
        let (tx, rx) = mpsc::channel();
        self.requests.as_ref().ok_or_else(gone)?.send((command, tx)).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
