//! [`JobBuilder`]: every setting of a job, validated once by
//! [`JobBuilder::build`] into typed [`ConfigError`]s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use audiopack_encode::{Ladder, NormalizeConfig, NormalizePreset};
use audiopack_ingest::{IngestConfig, Limits};
use audiopack_pipeline::{AlbumGain, CpuBudget, Formats, JobConfig, Layout, TrackMeasurement};
use audiopack_publish::{MIN_PART_SIZE, ObjectPolicy, PublishOptions, S3Options};
use tokio_util::sync::CancellationToken;

use crate::encryption::{Encryption, PreparedEncryption};
use crate::error::{ConfigError, Error};
use crate::event::{Event, EventHandler};
use crate::input::Input;
use crate::job::Job;
use crate::output::Output;

/// Loudness targets no real master needs are refused (LUFS).
const TARGET_LUFS: std::ops::RangeInclusive<f64> = -70.0..=0.0;
/// True-peak ceilings (dBTP).
const CEILING_DBTP: std::ops::RangeInclusive<f64> = -20.0..=0.0;

/// Builds a [`Job`]. Every setter has the CLI's default; only
/// [`input`](Self::input) and [`output`](Self::output) are required.
#[must_use]
#[derive(Default)]
pub struct JobBuilder {
    input: Option<Input>,
    output: Option<Output>,
    handler: Option<EventHandler>,
    cancel: Option<CancellationToken>,
    preset: Option<NormalizePreset>,
    target_lufs: Option<f64>,
    true_peak: Option<f64>,
    limiter: bool,
    ladder: Option<String>,
    formats: Option<Formats>,
    layout: Layout,
    segment_duration: Option<Duration>,
    no_lossless: bool,
    limits: Option<Limits>,
    lenient: bool,
    threads: Option<usize>,
    cpu: Option<CpuBudget>,
    storage: Option<S3Options>,
    concurrency: Option<usize>,
    multipart: Option<(usize, usize)>,
    max_input_bytes: Option<u64>,
    policy: Option<ObjectPolicy>,
    spool_dir: Option<PathBuf>,
    album: Option<(AlbumGain, TrackMeasurement)>,
    album_members: Option<String>,
    preflighted: bool,
    encryption: Option<Encryption>,
    no_qc_page: bool,
}

impl JobBuilder {
    /// The audio to encode.
    pub fn input(mut self, input: Input) -> Self {
        self.input = Some(input);
        self
    }

    /// Where the package goes.
    pub fn output(mut self, output: Output) -> Self {
        self.output = Some(output);
        self
    }

    /// Called with every [`Event`], in order, from the job's threads.
    pub fn on_event(mut self, handler: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Cancels the job when the token is cancelled: it stops within a
    /// block of audio, removes what it wrote and returns
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled).
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// A loudness preset (target LUFS, ceiling): streaming (−14 LUFS,
    /// the default), quiet (−16), broadcast (−23); −1 dBTP each.
    pub fn preset(mut self, preset: NormalizePreset) -> Self {
        self.preset = Some(preset);
        self
    }

    /// Integrated loudness to reach, LUFS (−70..=0), over the preset's.
    pub fn target_lufs(mut self, lufs: f64) -> Self {
        self.target_lufs = Some(lufs);
        self
    }

    /// True-peak ceiling, dBTP (−20..=0), over the preset's.
    pub fn true_peak_ceiling(mut self, dbtp: f64) -> Self {
        self.true_peak = Some(dbtp);
        self
    }

    /// Reach the target through a true-peak limiter instead of lowering
    /// the gain when peaks would pass the ceiling.
    pub fn limiter(mut self, on: bool) -> Self {
        self.limiter = on;
        self
    }

    /// The Opus ladder in kbit/s, comma-separated (`"64,96,160"`); the
    /// default depends on the output channel count.
    pub fn ladder(mut self, kbps: impl Into<String>) -> Self {
        self.ladder = Some(kbps.into());
        self
    }

    /// Which deliverables: HLS and/or DASH over CMAF, Ogg Opus files.
    pub fn formats(mut self, formats: Formats) -> Self {
        self.formats = Some(formats);
        self
    }

    /// Segments (init + numbered `.m4s`) or one file per rendition.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Segment length: 1 to 20 s, a multiple of 20 ms (default 6 s).
    pub fn segment_duration(mut self, duration: Duration) -> Self {
        self.segment_duration = Some(duration);
        self
    }

    /// The FLAC tier (on by default, for integer PCM and FLAC sources).
    pub fn lossless(mut self, on: bool) -> Self {
        self.no_lossless = !on;
        self
    }

    /// Channel, sample-rate and duration limits of the input.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Skip undecodable packets and accept a short file (listed as
    /// warnings) instead of failing.
    pub fn lenient(mut self, on: bool) -> Self {
        self.lenient = on;
        self
    }

    /// The largest `s3://` input accepted, in bytes.
    pub fn max_input_bytes(mut self, bytes: u64) -> Self {
        self.max_input_bytes = Some(bytes);
        self
    }

    /// At most `n` of the job's threads compute at once.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// A CPU budget shared with other jobs (clones share the slots): how a
    /// batch keeps N jobs on a machine's cores.
    pub fn cpu_budget(mut self, budget: CpuBudget) -> Self {
        self.cpu = Some(budget);
        self
    }

    /// S3 client settings for `s3://` inputs and outputs (endpoint,
    /// region, credentials, timeouts, retries, multipart sizes).
    pub fn storage(mut self, options: S3Options) -> Self {
        self.storage = Some(options);
        self
    }

    /// Objects uploaded at once (1..=256, default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// Objects above `threshold` bytes go up in parts of `part_size`
    /// bytes (each at least 5 MiB).
    pub fn multipart(mut self, threshold: usize, part_size: usize) -> Self {
        self.multipart = Some((threshold, part_size));
        self
    }

    /// Content-Type and Cache-Control of stored objects.
    pub fn object_policy(mut self, policy: ObjectPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Where `s3://` inputs are downloaded and packages spooled before
    /// upload (default: the system temporary directory).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// Encodes with an album's gain ([`crate::album_gain`]) and this
    /// track's pass 1 already done ([`Job::measure`]): the input is read
    /// once more, for the encode.
    pub fn album(mut self, gain: AlbumGain, measured: TrackMeasurement) -> Self {
        self.album = Some((gain, measured));
        self
    }

    /// With [`album`](Self::album): a digest of the album's members (see
    /// [`crate::album_members_digest`]), recorded in the settings digest so
    /// a changed album re-encodes its tracks.
    pub fn album_members(mut self, digest: impl Into<String>) -> Self {
        self.album_members = Some(digest.into());
        self
    }

    /// The destination was checked already (a batch checks its prefix once
    /// for all its tracks): skip the store preflight (HeadBucket and a
    /// multipart create/abort) of this job. A destination that refuses
    /// writes then fails at the first upload instead.
    pub fn preflighted(mut self, done: bool) -> Self {
        self.preflighted = done;
        self
    }

    /// Encrypts every CMAF rendition (the lossless tier too) and writes
    /// DRM key references into the manifests. Ogg downloads are refused
    /// with it (they cannot carry Common Encryption).
    pub fn encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = Some(encryption);
        self
    }

    /// Kept for compatibility; has no effect. Every rendition is now
    /// decoded as it is written and measured (`renditions[].decoded`,
    /// `qc.json`), and the true-peak ceiling is held on what players
    /// decode.
    pub fn measure_decoded(self, _on: bool) -> Self {
        self
    }

    /// Whether to write `report.html`, the self-contained QC page (on by
    /// default; `qc.json` is written either way).
    pub fn qc_page(mut self, on: bool) -> Self {
        self.no_qc_page = !on;
        self
    }

    /// Validates every setting.
    pub fn build(self) -> Result<Job, Error> {
        let input = self.input.ok_or_else(|| {
            ConfigError::new(
                "input",
                "",
                "an input (Input::path, Input::s3, Input::reader)",
            )
        })?;
        input.validate()?;
        let output = self.output.ok_or_else(|| {
            ConfigError::new(
                "output",
                "",
                "an output (Output::dir, Output::s3, Output::store)",
            )
        })?;
        output.validate()?;

        let mut normalize: NormalizeConfig =
            self.preset.unwrap_or(NormalizePreset::Streaming).config();
        if let Some(t) = self.target_lufs {
            if !TARGET_LUFS.contains(&t) {
                return Err(ConfigError::new("target_lufs", t, "-70..=0 LUFS").into());
            }
            normalize.target_lufs = t;
        }
        if let Some(c) = self.true_peak {
            if !CEILING_DBTP.contains(&c) {
                return Err(ConfigError::new("true_peak_ceiling", c, "-20..=0 dBTP").into());
            }
            normalize.true_peak_ceiling_dbtp = c;
        }
        normalize.limiter = self.limiter;

        if let Some(text) = &self.ladder {
            Ladder::parse(text, 2).map_err(|e| ConfigError::new("ladder", text, e.to_string()))?;
        }
        let segment_packets = match self.segment_duration {
            None => audiopack_pipeline::DEFAULT_SEGMENT_PACKETS,
            Some(d) => JobConfig::segment_packets_for(d.as_secs_f64()).map_err(|_| {
                ConfigError::new(
                    "segment_duration",
                    format!("{} s", d.as_secs_f64()),
                    "1 to 20 s, a multiple of 0.02 s",
                )
            })?,
        };
        let formats = self.formats.unwrap_or_default();
        if !(formats.hls || formats.dash || formats.ogg) {
            return Err(
                ConfigError::new("formats", "none", "at least one of hls, dash, ogg").into(),
            );
        }
        let ingest = IngestConfig {
            limits: self.limits.unwrap_or_default(),
            strict: !self.lenient,
        };
        ingest.validate().map_err(|e| {
            ConfigError::new("limits", format!("{:?}", ingest.limits), e.to_string())
        })?;
        let cpu = match (self.cpu, self.threads) {
            (Some(budget), _) => Some(budget),
            (None, Some(0)) => {
                return Err(ConfigError::new("threads", 0, "at least 1").into());
            }
            (None, Some(n)) => Some(CpuBudget::new(n)),
            (None, None) => None,
        };
        let mut storage = self.storage.unwrap_or_default();
        if let Some(bytes) = self.max_input_bytes {
            if bytes == 0 {
                return Err(ConfigError::new("max_input_bytes", 0, "at least 1 byte").into());
            }
            storage.max_input_bytes = bytes;
        }
        if let Some((threshold, part)) = self.multipart {
            if part < MIN_PART_SIZE || threshold < MIN_PART_SIZE {
                return Err(ConfigError::new(
                    "multipart",
                    format!("threshold {threshold} B, parts {part} B"),
                    format!("each at least {MIN_PART_SIZE} bytes (5 MiB)"),
                )
                .into());
            }
            storage.multipart_threshold = threshold;
            storage.part_size = part;
        }
        let uses_s3 = matches!(input.kind, crate::input::InputKind::S3(_))
            || matches!(output.kind, crate::output::OutputKind::S3(_));
        if uses_s3 {
            storage.validate().map_err(|e| {
                ConfigError::new(
                    "storage",
                    storage
                        .endpoint_url
                        .as_deref()
                        .unwrap_or("(default endpoint)"),
                    e.to_string(),
                )
            })?;
        }
        let concurrency = self.concurrency.unwrap_or(8);
        if !(1..=256).contains(&concurrency) {
            return Err(ConfigError::new("concurrency", concurrency, "1..=256").into());
        }
        let publish = PublishOptions {
            concurrency,
            policy: self.policy.unwrap_or_default(),
            ..PublishOptions::default()
        };
        let (album, measured) = match self.album {
            Some((gain, measured)) => (Some(gain), Some(measured)),
            None => (None, None),
        };
        let encryption = match self.encryption {
            Some(spec) => {
                if formats.ogg {
                    return Err(ConfigError::new(
                        "formats",
                        "ogg",
                        "hls and/or dash: Ogg Opus downloads cannot be CENC-encrypted, and \
                         encrypting the streams while writing clear downloads would leave a \
                         clear copy of protected content",
                    )
                    .into());
                }
                Some(PreparedEncryption::prepare(spec, &input.content_stem())?)
            }
            None => None,
        };
        let config = JobConfig {
            ingest,
            normalize,
            ladder: self.ladder,
            formats,
            layout: self.layout,
            segment_packets,
            lossless: !self.no_lossless,
            cpu,
            album,
            album_members: self.album_members,
            protection: encryption.as_ref().and_then(|e| e.resolved.clone()),
            encryption_fingerprint: encryption.as_ref().map(|e| e.fingerprint.clone()),
            measure_decoded: true,
            qc_page: !self.no_qc_page,
        };
        // What the lower layers check, in case a rule exists only there.
        config
            .validate()
            .map_err(|e| ConfigError::new("job", "", e.to_string()))?;
        Ok(Job {
            input,
            output,
            handler: self.handler,
            cancel: self.cancel.unwrap_or_default(),
            config,
            storage,
            publish,
            spool_dir: self.spool_dir,
            measured,
            preflighted: self.preflighted,
            encryption,
        })
    }
}
