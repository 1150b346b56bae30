//! SIGINT, SIGTERM and SIGHUP cancel the running job: the job stops at its
//! next block, removes what it wrote (staging, spool, downloaded input,
//! open multipart uploads, objects it stored) and the process exits
//! 128 + the signal number (130, 143, 129). A second signal exits at once;
//! the next run then sweeps what this one left (see the pipeline's working
//! directories).

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use audiopack::CancellationToken;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first stop signal received (0: none yet).
#[derive(Clone, Default)]
pub struct StopSignal(Arc<AtomicI32>);

impl StopSignal {
    /// Starts listening on a background thread; the first signal cancels
    /// `cancel`. Without it (the handlers could not be installed) the
    /// signals keep their default action.
    pub fn install(cancel: CancellationToken) -> StopSignal {
        let stop = StopSignal::default();
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            let seen = Arc::clone(&stop.0);
            let spawned = std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    for signal in signals.forever() {
                        if seen
                            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                            .is_err()
                        {
                            // Asked twice: stop now.
                            std::process::exit(128 + signal);
                        }
                        cancel.cancel();
                    }
                });
            drop(spawned);
        }
        stop
    }

    /// The signal number, once one arrived.
    pub fn received(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }
}
