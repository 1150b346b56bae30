//! The job's events on the terminal: a progress bar per pass when stderr
//! is a terminal, and with `-v` one line per phase, rendition, stored
//! object and warning.

use std::io::IsTerminal;
use std::sync::Mutex;

use audiopack::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::human::clean;

/// Renders events; built only from [`Event`]s.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    draw: bool,
    verbose: bool,
}

impl Bar {
    /// Draws only when stderr is a terminal and not in quiet mode.
    pub fn new(quiet: bool, verbose: bool) -> Self {
        Bar {
            bar: Mutex::new(None),
            draw: !quiet && std::io::stderr().is_terminal(),
            verbose: verbose && !quiet,
        }
    }

    fn line(&self, text: &str) {
        if !self.verbose {
            return;
        }
        match self.bar.lock().ok().as_ref().and_then(|b| b.as_ref()) {
            Some(bar) => bar.println(clean(text)),
            None => eprintln!("{}", clean(text)),
        }
    }

    /// One event.
    pub fn handle(&self, event: &Event) {
        match event {
            Event::PhaseStarted {
                phase,
                pass,
                passes,
                total_frames,
            } => {
                self.clear();
                self.line(&format!("pass {pass}/{passes}: {}", phase.label()));
                if self.draw {
                    let bar =
                        ProgressBar::with_draw_target(*total_frames, ProgressDrawTarget::stderr());
                    let template = if total_frames.is_some() {
                        "{msg:24} [{bar:40}] {percent:>3}% {eta}"
                    } else {
                        "{msg:24} {spinner} {pos} frames"
                    };
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.set_message(phase.label());
                    if let Ok(mut slot) = self.bar.lock() {
                        *slot = Some(bar);
                    }
                }
            }
            Event::Progress { frames_done, .. } => {
                if let Ok(slot) = self.bar.lock()
                    && let Some(bar) = slot.as_ref()
                {
                    bar.set_position(*frames_done);
                }
            }
            Event::Fetching { input } => self.line(&format!("downloading {input}")),
            Event::RenditionFinished {
                name, bitrate_bps, ..
            } => {
                self.clear();
                self.line(&format!(
                    "rendition {name}: {:.1} kbit/s",
                    *bitrate_bps as f64 / 1000.0
                ));
            }
            Event::ObjectStored {
                location,
                bytes,
                written,
                ..
            } => {
                let verb = if *written { "stored" } else { "unchanged" };
                self.line(&format!("{verb} {location} ({bytes} B)"));
            }
            Event::Warning { message } => self.line(&format!("warning: {message}")),
            Event::Done { .. } => self.clear(),
            _ => {}
        }
    }

    fn clear(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
