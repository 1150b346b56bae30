//! Raw command-line arguments (clap) and their conversion into validated
//! library configuration, once.

use std::path::PathBuf;

use audiopack::{
    ConfigError, IngestConfig, Input, JobBuilder, JobSettings, Layout, Limits, NormalizePreset,
    Output, PublishOptions, S3Options,
};
use audiopack_batch::TrackSettings;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "audiopack",
    version,
    about = "Take an audio master to streaming-ready renditions"
)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (warnings, every measurement).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode a file fully and print what it is: format, codec, rate,
    /// channels, bit depth, exact decoded length, tags.
    Probe {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Measure loudness (EBU R128 / BS.1770-4): integrated, range, true
    /// peak, sample peak.
    Loudness {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Normalize and encode a master into an output directory or onto
    /// S3-compatible storage.
    Ingest(IngestArgs),
    /// Publish an already packaged directory to S3-compatible storage (or
    /// another directory), in manifest-safe order, skipping unchanged
    /// objects.
    Publish(PublishArgs),
    /// Encode a catalog of tracks (CSV or JSON Lines, or an s3:// listing)
    /// to OUT/<id>/ each, resumably, on one shared CPU budget; writes
    /// OUT/batch-report.json (and JUnit XML with --junit).
    Batch(BatchArgs),
    /// Put a catalog on a NATS JetStream work queue, one job per track
    /// (idempotent: a job already queued, running or done is not sent
    /// again).
    Submit(SubmitArgs),
    /// Pull jobs from the queue and run them until stopped (SIGTERM:
    /// finish or hand back the jobs in hand, exit 0).
    Worker(WorkerArgs),
    /// The queue's jobs: counts, rate, ETA and each job's state.
    Status(StatusArgs),
    /// Serve a package or a batch output over local HTTP (MIME types,
    /// byte ranges, CORS, an index page) to audition it before
    /// publishing; Ctrl-C stops it.
    Serve(ServeArgs),
}

/// How to reach S3-compatible storage (credentials come from the standard
/// AWS chain: environment, profile, SSO, instance metadata).
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region (default: the AWS chain, else us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Virtual-hosted-style addressing (bucket.host) even with a custom
    /// endpoint (default there: path-style).
    #[arg(long)]
    pub virtual_hosted: bool,
    /// Objects uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Objects larger than this many MiB are uploaded in parts.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u32).range(5..=5120))]
    pub multipart_threshold: u32,
    /// Multipart part size in MiB (S3 minimum: 5).
    #[arg(long, value_name = "MIB", default_value_t = 8, value_parser = clap::value_parser!(u32).range(5..=5120))]
    pub part_size: u32,
    /// An s3:// input larger than this many MiB is refused before it is
    /// downloaded.
    #[arg(long, value_name = "MIB", default_value_t = audiopack::DEFAULT_MAX_INPUT_BYTES / MIB as u64, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    pub max_input_size: u64,
}

const MIB: usize = 1024 * 1024;

impl StorageArgs {
    pub fn s3_options(&self) -> S3Options {
        S3Options {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            path_style: self.virtual_hosted.then_some(false),
            multipart_threshold: self.multipart_threshold as usize * MIB,
            part_size: self.part_size as usize * MIB,
            max_input_bytes: self.max_input_size.saturating_mul(MIB as u64),
            ..S3Options::default()
        }
    }

    pub fn publish_options(&self, dry_run: bool) -> PublishOptions {
        PublishOptions {
            concurrency: usize::from(self.concurrency),
            dry_run,
            ..PublishOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// A directory written by `audiopack ingest`.
    pub dir: PathBuf,
    /// Destination: s3://bucket/prefix/ or a local directory.
    #[arg(long, short)]
    pub out: String,
    /// List what would be written (and what is already there); write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the publish report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also publish files the package's report.json does not list (by
    /// default a package holding any is refused).
    #[arg(long)]
    pub include_extra: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

impl PublishArgs {
    pub fn publish_options(&self) -> PublishOptions {
        PublishOptions {
            include_extra: self.include_extra,
            ..self.storage.publish_options(self.dry_run)
        }
    }
}

/// Limits and strictness for reading the input.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Accept damaged input: skip undecodable packets, stop at truncation
    /// (reported as warnings) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Most channels accepted.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_channels)]
    pub max_channels: u16,
    /// Longest input accepted, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().max_duration_seconds)]
    pub max_duration: f64,
}

impl InputArgs {
    pub fn to_config(&self) -> IngestConfig {
        IngestConfig {
            limits: Limits {
                max_channels: self.max_channels,
                max_duration_seconds: self.max_duration,
                ..Limits::default()
            },
            strict: !self.lenient,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    Segments,
    SingleFile,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preset {
    /// -14 LUFS, -1 dBTP
    Streaming,
    /// -16 LUFS, -1 dBTP
    Quiet,
    /// -23 LUFS, -1 dBTP (EBU R128)
    Broadcast,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The master: a local file or s3://bucket/key (downloaded first).
    pub file: String,
    /// Output: a local directory (written to a staging directory beside it
    /// and moved into place only on success; an earlier audiopack output is
    /// replaced) or s3://bucket/prefix/ (uploaded while encoding, manifests
    /// last).
    #[arg(long, short)]
    pub out: String,
    #[command(flatten)]
    pub job: JobOptions,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What shapes a job's package, and how it reads and stores: the options
/// `ingest` and every track of `batch` share.
#[derive(Debug, Clone, Args)]
pub struct JobOptions {
    /// Deliverables, comma-separated: hls, dash (CMAF segments and
    /// manifests), ogg (progressive Ogg Opus files).
    #[arg(long, default_value = "hls,dash")]
    pub formats: String,
    /// How CMAF fragments are stored: numbered segment files, or one file
    /// per rendition addressed by byte ranges.
    #[arg(long, value_enum, default_value = "segments")]
    pub layout: LayoutArg,
    /// Segment length in seconds (a multiple of 0.02 s, 1 to 20).
    #[arg(long, value_name = "SECONDS", default_value_t = 6.0)]
    pub segment_duration: f64,
    /// Skip the lossless FLAC tier.
    #[arg(long)]
    pub no_lossless: bool,
    /// Opus bitrates in kbit/s, comma-separated [default: 64,96,128,160;
    /// mono input: 32,48,64,96].
    #[arg(long)]
    pub ladder: Option<String>,
    /// Loudness preset.
    #[arg(long, value_enum, default_value = "streaming")]
    pub preset: Preset,
    /// Integrated loudness target in LUFS (overrides the preset).
    #[arg(long, allow_hyphen_values = true)]
    pub target_lufs: Option<f64>,
    /// True-peak ceiling in dBTP (overrides the preset).
    #[arg(long, allow_hyphen_values = true)]
    pub true_peak: Option<f64>,
    /// Reach the target even on peaky masters, holding peaks with a
    /// look-ahead true-peak limiter (default: lower the gain instead).
    #[arg(long)]
    pub limiter: bool,
    /// Kept for compatibility: every rendition is now decoded and measured
    /// (report.json `renditions[].decoded`, qc.json).
    #[arg(long, hide = true)]
    pub measure_decoded: bool,
    /// Do not write report.html, the self-contained QC page (qc.json is
    /// written either way).
    #[arg(long)]
    pub no_qc_page: bool,
    #[command(flatten)]
    pub encrypt: EncryptArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Common Encryption and DRM signalling.
#[derive(Debug, Clone, Args)]
pub struct EncryptArgs {
    /// Encrypt every CMAF rendition (the lossless tier too): cbcs (AES-CBC,
    /// FairPlay-compatible) or cenc (AES-CTR). Needs --keys.
    #[arg(long, value_name = "SCHEME", requires = "keys")]
    pub encrypt: Option<String>,
    /// Where the keys come from: a JSON key file, a CPIX document, or a
    /// SPEKE v2 key server URL (https://…). Keys are never given on the
    /// command line.
    #[arg(long, value_name = "KEYS", requires = "encrypt")]
    pub keys: Option<String>,
    /// DRM systems to signal, comma-separated: widevine, playready,
    /// fairplay, clearkey [default: widevine,playready,clearkey; plus
    /// fairplay with cbcs when --fairplay-key-uri is given].
    #[arg(long, value_name = "LIST", requires = "encrypt")]
    pub drm_systems: Option<String>,
    /// FairPlay key URI (skd://…), written into the HLS playlists.
    #[arg(long, value_name = "URI", requires = "encrypt")]
    pub fairplay_key_uri: Option<String>,
    /// ClearKey licence server URL (dashif:Laurl in the MPD).
    #[arg(long, value_name = "URL", requires = "encrypt")]
    pub clearkey_license_url: Option<String>,
    /// PlayReady licence acquisition URL (LA_URL in the PlayReady header).
    #[arg(long, value_name = "URL", requires = "encrypt")]
    pub playready_license_url: Option<String>,
    /// Content ID for the Widevine PSSH and the key server [default: the
    /// input's file name without extension].
    #[arg(long, value_name = "ID", requires = "encrypt")]
    pub content_id: Option<String>,
}

impl EncryptArgs {
    fn settings(&self) -> Option<audiopack::EncryptSettings> {
        let (scheme, keys) = (self.encrypt.as_ref()?, self.keys.as_ref()?);
        // A key file is named by its absolute path: settings travel to
        // batch tracks and queue workers whose working directory differs.
        let keys = match audiopack::Keys::parse(keys) {
            audiopack::Keys::File(path) => std::path::absolute(&path)
                .unwrap_or(path)
                .display()
                .to_string(),
            _ => keys.clone(),
        };
        Some(audiopack::EncryptSettings {
            scheme: scheme.clone(),
            keys,
            drm_systems: self.drm_systems.clone(),
            fairplay_key_uri: self.fairplay_key_uri.clone(),
            clearkey_license_url: self.clearkey_license_url.clone(),
            playready_license_url: self.playready_license_url.clone(),
            content_id: self.content_id.clone(),
        })
    }
}

impl IngestArgs {
    /// The job these arguments describe (validated by `build`, except the
    /// event handler and cancellation the caller adds).
    pub fn job(&self) -> Result<JobBuilder, ConfigError> {
        Ok(self
            .job
            .job_for(&TrackSettings::default())?
            .input(Input::parse(&self.file))
            .output(Output::parse(&self.out)))
    }
}

impl JobOptions {
    /// The package-shaping settings, with a catalog row's over them: the
    /// row's `preset` replaces `--preset` and `--target-lufs`, its
    /// `target_lufs` replaces the target.
    pub fn settings(&self, row: &TrackSettings) -> JobSettings {
        let preset = row.preset.unwrap_or(match self.preset {
            Preset::Streaming => NormalizePreset::Streaming,
            Preset::Quiet => NormalizePreset::Quiet,
            Preset::Broadcast => NormalizePreset::Broadcast,
        });
        let target_lufs = match (row.target_lufs, row.preset) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => None,
            (None, None) => self.target_lufs,
        };
        JobSettings {
            preset: audiopack::preset_name(preset).into(),
            target_lufs,
            true_peak_dbtp: self.true_peak,
            limiter: self.limiter,
            formats: self.formats.clone(),
            layout: match self.layout {
                LayoutArg::Segments => Layout::Segments,
                LayoutArg::SingleFile => Layout::SingleFile,
            },
            segment_duration_seconds: self.segment_duration,
            lossless: !self.no_lossless,
            ladder: self.ladder.clone(),
            max_channels: self.input.max_channels,
            max_duration_seconds: self.input.max_duration,
            lenient: self.input.lenient,
            encrypt: self.encrypt.settings(),
            measure_decoded: self.measure_decoded,
            no_qc_page: self.no_qc_page,
        }
    }

    /// The job these options describe, with a catalog row's settings over
    /// them (see [`settings`](Self::settings)), and this machine's storage
    /// settings. No input or output yet.
    pub fn job_for(&self, row: &TrackSettings) -> Result<JobBuilder, ConfigError> {
        Ok(self
            .settings(row)
            .builder()?
            .storage(self.storage.s3_options())
            .concurrency(usize::from(self.storage.concurrency)))
    }
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The catalog: CSV with a header row, or JSON Lines (told apart by
    /// content). Columns: id, input (relative to the catalog's directory,
    /// absolute, or s3://bucket/key), optional album, disc, track, preset,
    /// target_lufs.
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    pub catalog: Option<PathBuf>,
    /// Instead of a catalog: every audio object under s3://bucket/prefix/
    /// (id = its file name without the extension).
    #[arg(long, value_name = "S3_PREFIX")]
    pub from: Option<String>,
    /// Output: a directory or s3://bucket/prefix/; each track's package at
    /// <id>/, the batch report at batch-report.json.
    #[arg(long, short)]
    pub out: String,
    /// CPU threads the whole batch computes on, and tracks at once
    /// [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// One JSON event per line on stdout (the default when stdout is not a
    /// terminal).
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JUnit XML (one test case per track).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Stop starting tracks after N failures.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: Option<u32>,
    /// One gain per album (rows grouped by the album column): measured
    /// over all its tracks together (BS.1770, as ReplayGain 2.0 album
    /// gain), capped so no track's true peak passes the ceiling.
    #[arg(long)]
    pub album_gain: bool,
    #[command(flatten)]
    pub job: JobOptions,
}

/// How to reach the NATS server.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// The NATS server: nats://host:4222, tls://… (TLS), user:password@ or
    /// token@ before the host; comma-separated for a cluster.
    #[arg(long, env = "NATS_URL", value_name = "URL", hide_env_values = true)]
    pub nats: String,
    /// A NATS credentials file (JWT and NKey seed).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
}

impl NatsArgs {
    pub fn options(&self, client_name: &str) -> audiopack_worker::NatsOptions {
        let mut options = audiopack_worker::NatsOptions::new(self.nats.clone());
        options.creds_file = self.nats_creds.clone();
        options.client_name = client_name.into();
        options
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The catalog (as for `batch`): CSV or JSON Lines. Relative inputs are
    /// made absolute: workers need s3:// inputs or a filesystem they all
    /// mount at the same path.
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    pub catalog: Option<PathBuf>,
    /// Instead of a catalog: every audio object under s3://bucket/prefix/.
    #[arg(long, value_name = "S3_PREFIX")]
    pub from: Option<String>,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Output root: s3://bucket/prefix/ (or a directory every worker
    /// shares); each package at <id>/.
    #[arg(long, short)]
    pub out: String,
    /// Seconds without an ack or a heartbeat before a job goes to another
    /// worker (the queue's consumer setting).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub ack_wait: u64,
    /// Deliveries of one job at most (the queue's consumer setting).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..=100))]
    pub max_deliver: i64,
    /// Send again the jobs recorded as failed.
    #[arg(long)]
    pub retry_failed: bool,
    /// Send every job again, whatever its state (workers still skip
    /// packages already complete).
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub job: JobOptions,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// CPU threads this worker computes on, and jobs at once [default: the
    /// number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Exit after taking K jobs.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_jobs: Option<u64>,
    /// Seconds the jobs in hand may still take after SIGTERM before they
    /// are cancelled and handed back.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub grace: f64,
    /// Seconds before a job that failed for a passing reason (network,
    /// storage) is tried again, by attempt; the last repeats.
    #[arg(long, value_name = "SECONDS,…", default_value = "10,60,300")]
    pub retry_backoff: String,
    /// This worker's name in job states [default: host-pid].
    #[arg(long)]
    pub name: Option<String>,
    /// One JSON event per line on stdout (the default when stdout is not a
    /// terminal).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Print one JSON object: total, queued, running, done, failed, jobs.
    #[arg(long)]
    pub json: bool,
    /// Refresh until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The package or batch output directory to serve.
    pub dir: PathBuf,
    /// The port to listen on (0: any free port; the URL printed names it).
    #[arg(long, value_name = "P", default_value_t = 8000)]
    pub port: u16,
    /// The address to listen on: this machine only by default (0.0.0.0
    /// or :: expose the files to the network).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Open the page in the system browser (xdg-open; a note if missing).
    #[arg(long)]
    pub open: bool,
}
