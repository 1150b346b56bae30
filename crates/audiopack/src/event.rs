//! What a running job tells its caller: [`Event`]s, built from the
//! pipeline's progress callbacks and the publisher's stored objects.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiopack_pipeline::{Codec, Phase, Progress};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Something that happened in a job, in order. Handlers run on the job's
/// threads: keep them short (send the event on, do not block).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// The input is being downloaded (an `s3://` input).
    Fetching {
        /// The object.
        input: String,
    },
    /// A pass over the input begins.
    PhaseStarted {
        /// What the pass is for.
        phase: Phase,
        /// This pass, from 1.
        pass: u32,
        /// The passes the job will make as far as known now: exact without
        /// `--limiter`; with it, dry runs are added as the peaks require,
        /// and the number is exact from [`Phase::Encode`] on.
        passes: u32,
        /// Input frames this pass will read, when the header says.
        total_frames: Option<u64>,
    },
    /// Input frames read so far in the current pass (monotonic within a
    /// pass; at most about 20 a second, and always one at the pass's end).
    Progress {
        /// The current pass's phase.
        phase: Phase,
        /// Frames read in this pass.
        frames_done: u64,
        /// As in [`Event::PhaseStarted`].
        total_frames: Option<u64>,
    },
    /// A rendition is complete (every segment written, init included).
    RenditionFinished {
        /// Its name (`opus_96k`, `flac`).
        name: String,
        /// Its codec.
        codec: Codec,
        /// Measured average bit rate.
        bitrate_bps: u64,
    },
    /// An object is in the store (written, or already there unchanged).
    ObjectStored {
        /// Its path below the output (`opus_96k/3.m4s`).
        key: String,
        /// Where it is (`s3://bucket/prefix/opus_96k/3.m4s`, a path).
        location: String,
        /// Its size.
        bytes: u64,
        /// `false` when an identical object was already there.
        written: bool,
    },
    /// Something the job let through or could not hold (lenient input,
    /// a peak the codec could not keep under the ceiling).
    Warning {
        /// What and where.
        message: String,
    },
    /// The job succeeded; its report follows as the return value.
    Done {
        /// Where the package is.
        output: String,
        /// Wall-clock seconds the job took.
        seconds: f64,
    },
}

/// The callback type of [`crate::JobBuilder::on_event`].
pub type EventHandler = Arc<dyn Fn(&Event) + Send + Sync + 'static>;

/// Progress events at most this often (the last of a pass always goes).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

struct PassState {
    phase: Phase,
    pass: u32,
    done: u64,
    total: Option<u64>,
    last_sent: Option<Instant>,
    sent_done: u64,
}

/// The pipeline's [`Progress`] as events, and the job's cancellation.
pub(crate) struct EventProgress {
    handler: Option<EventHandler>,
    cancel: CancellationToken,
    limiter: bool,
    state: Mutex<PassState>,
}

impl EventProgress {
    pub(crate) fn new(
        handler: Option<EventHandler>,
        cancel: CancellationToken,
        limiter: bool,
    ) -> EventProgress {
        EventProgress {
            handler,
            cancel,
            limiter,
            state: Mutex::new(PassState {
                phase: Phase::Measure,
                pass: 0,
                done: 0,
                total: None,
                last_sent: None,
                sent_done: 0,
            }),
        }
    }

    pub(crate) fn emit(&self, event: &Event) {
        if let Some(handler) = &self.handler {
            handler(event);
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PassState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Progress for EventProgress {
    fn start(&self, phase: Phase, total_frames: Option<u64>) {
        let pass = {
            let mut s = self.state();
            s.pass += 1;
            s.phase = phase;
            s.done = 0;
            s.sent_done = 0;
            s.total = total_frames;
            s.last_sent = None;
            s.pass
        };
        let passes = match phase {
            Phase::Encode => pass,
            _ if self.limiter => pass + 1,
            _ => 2,
        };
        self.emit(&Event::PhaseStarted {
            phase,
            pass,
            passes,
            total_frames,
        });
    }

    fn advance(&self, frames: u64) {
        let event = {
            let mut s = self.state();
            s.done += frames;
            let due = s.last_sent.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL);
            if !due {
                return;
            }
            s.last_sent = Some(Instant::now());
            s.sent_done = s.done;
            Event::Progress {
                phase: s.phase,
                frames_done: s.done,
                total_frames: s.total,
            }
        };
        self.emit(&event);
    }

    fn finish(&self) {
        let event = {
            let mut s = self.state();
            if s.sent_done == s.done && s.last_sent.is_some() {
                return;
            }
            s.sent_done = s.done;
            s.last_sent = Some(Instant::now());
            Event::Progress {
                phase: s.phase,
                frames_done: s.done,
                total_frames: s.total,
            }
        };
        self.emit(&event);
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
