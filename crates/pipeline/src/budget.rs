//! A CPU budget: at most `slots` of a job's threads (or of several jobs'
//! threads, when they share one budget) compute at the same time.
//!
//! A job runs one decoding thread and one thread per rendition, meter and
//! lossless tier, connected by bounded channels. Those stages block on each
//! other, so they cannot be tasks of a fixed-size pool (a producer waiting
//! on a full channel whose consumer never gets a pool thread deadlocks).
//! Instead every stage takes a slot around each block's computation and
//! gives it back before it waits on a channel or the output: the threads
//! exist, but only `slots` of them use a core at any moment. A batch runner
//! gives all its jobs one budget sized to the machine.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};

/// Shared by clones: jobs holding clones of one budget share its slots.
#[derive(Clone)]
pub struct CpuBudget {
    inner: Arc<Inner>,
}

struct Inner {
    slots: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl CpuBudget {
    /// At most `slots` computing threads at once (at least 1).
    pub fn new(slots: usize) -> CpuBudget {
        CpuBudget {
            inner: Arc::new(Inner {
                slots: slots.max(1),
                used: Mutex::new(0),
                freed: Condvar::new(),
            }),
        }
    }

    /// How many threads may compute at once.
    pub fn slots(&self) -> usize {
        self.inner.slots
    }

    /// Waits for a free slot; it is given back when the guard drops.
    pub fn acquire(&self) -> CpuSlot<'_> {
        let mut used = self
            .inner
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used >= self.inner.slots {
            used = self
                .inner
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += 1;
        CpuSlot { budget: self }
    }
}

impl fmt::Debug for CpuBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuBudget")
            .field("slots", &self.inner.slots)
            .finish()
    }
}

/// One computing thread's slot, held for one block.
pub struct CpuSlot<'a> {
    budget: &'a CpuBudget,
}

impl Drop for CpuSlot<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .inner
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(1);
        drop(used);
        self.budget.inner.freed.notify_one();
    }
}

/// A slot from `budget`, when there is one.
pub(crate) fn slot(budget: Option<&CpuBudget>) -> Option<CpuSlot<'_>> {
    budget.map(CpuBudget::acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_the_slots_compute_at_once() {
        let budget = CpuBudget::new(2);
        let now = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _slot = budget.acquire();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
