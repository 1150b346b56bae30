//! A progress bar on a terminal, nothing otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;

use audiopack_pipeline::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::signals::StopSignal;

/// The job's progress callbacks: a bar on a terminal, and the stop
/// signals as the job's cancellation.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
    stop: StopSignal,
}

impl Bar {
    /// Draws only when stderr is a terminal and not in quiet mode.
    pub fn new(quiet: bool, stop: StopSignal) -> Self {
        Bar {
            bar: Mutex::new(None),
            enabled: !quiet && std::io::stderr().is_terminal(),
            stop,
        }
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total_frames: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(total_frames, ProgressDrawTarget::stderr());
        let template = if total_frames.is_some() {
            "{msg:20} [{bar:40}] {percent:>3}% {eta}"
        } else {
            "{msg:20} {spinner} {pos} frames"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(phase.to_string());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, frames: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(frames);
        }
    }

    fn cancelled(&self) -> bool {
        self.stop.received().is_some()
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
