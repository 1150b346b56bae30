//! The smaller operations: probe a file, measure its loudness, publish an
//! already written package.

use std::path::Path;
use std::sync::Arc;

use audiopack_ingest::{IngestConfig, ScanReport};
use audiopack_pipeline::LoudnessOnly;
use audiopack_publish::{
    DirStore, Location, ObjectStore, PublishOptions, PublishReport, S3Options, S3Store,
};
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::event::{EventHandler, EventProgress};
use crate::output::{Output, OutputKind};

/// Decodes the whole file: its facts and exact decoded length.
pub fn probe(input: &Path, config: &IngestConfig) -> Result<ScanReport, Error> {
    Ok(audiopack_pipeline::probe(input, config)?)
}

/// Integrated loudness, loudness range, true and sample peak of a file as
/// uploaded (one pass; [`crate::Event::PhaseStarted`] and
/// [`crate::Event::Progress`] go to `on_event`).
pub fn loudness(
    input: &Path,
    config: &IngestConfig,
    on_event: Option<EventHandler>,
    cancel: &CancellationToken,
) -> Result<LoudnessOnly, Error> {
    let progress = EventProgress::new(on_event, cancel.clone(), false);
    Ok(audiopack_pipeline::loudness(input, config, &progress)?)
}

/// Publishes a package directory `ingest` wrote (checked first: an
/// audiopack report listing every file with its size, nothing unlisted
/// unless `options.include_extra`) to `output`, in manifest-safe order.
/// Cancelling `options.cancel` stops it.
pub async fn publish(
    dir: &Path,
    output: &Output,
    storage: &S3Options,
    options: &PublishOptions,
) -> Result<PublishReport, Error> {
    output.validate()?;
    let store: Arc<dyn ObjectStore> = match &output.kind {
        OutputKind::Dir(path) => Arc::new(DirStore::new(path)),
        OutputKind::Store(store) => Arc::clone(store),
        OutputKind::S3(url) => match Location::parse_destination(url)? {
            Location::S3(url) => Arc::new(S3Store::connect(url, storage.clone()).await?),
            Location::Local(path) => Arc::new(DirStore::new(path)),
        },
    };
    let work = audiopack_publish::publish_package(dir, store, options);
    match &options.cancel {
        Some(token) => tokio::select! {
            result = work => Ok(result?),
            () = token.cancelled() => Err(Error::cancelled(&output.label())),
        },
        None => Ok(work.await?),
    }
}

/// [`publish`] on a runtime of its own, for callers without one (inside a
/// runtime: an [`ErrorKind::Config`](crate::ErrorKind::Config) error).
pub fn publish_blocking(
    dir: &Path,
    output: &Output,
    storage: &S3Options,
    options: &PublishOptions,
) -> Result<PublishReport, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(crate::ConfigError::new(
            "runtime",
            "tokio",
            "publish_blocking called inside an async runtime: await publish instead",
        )
        .into());
    }
    let runtime = crate::job::io_runtime()?;
    runtime.block_on(publish(dir, output, storage, options))
}

/// The gain for an album of measured tracks ([`crate::Job::measure`]):
/// target − the album's integrated loudness (all tracks' gating blocks
/// together), capped without the limiter so no track's true peak passes
/// the ceiling. Give it to each track with [`crate::JobBuilder::album`].
pub fn album_gain(
    tracks: &[&crate::TrackMeasurement],
    normalize: &audiopack_encode::NormalizeConfig,
) -> Result<crate::AlbumGain, Error> {
    Ok(audiopack_pipeline::album_gain(tracks, normalize)?)
}

/// The digest of an album's members that decides its gain: SHA-256 over
/// their inputs' SHA-256s (hex), sorted, so row order does not matter.
pub fn album_members_digest<'a>(input_sha256s: impl IntoIterator<Item = &'a str>) -> String {
    let mut all: Vec<&str> = input_sha256s.into_iter().collect();
    all.sort_unstable();
    crate::sha256_hex(all.join("\n").as_bytes())
}
