//! `--album-gain`: one gain per album (rows grouped by `album`).
//!
//! ```text
//!  check_albums (plan): an album's rows must share loudness settings
//!  measure_albums (after the preflight, before any encode):
//!     every album track's pass 1 (Job::measure), `jobs` at once, one budget
//!     per album: audiopack::album_gain(all its tracks' gating blocks) ─► AlbumGain
//!     each track's job rebuilt with JobBuilder::album(gain, its measurement)
//!        (its pass 1 is kept: the encode is the second and last decode)
//!  a track whose measure fails is failed; its album's gain comes from the rest
//! ```
//!
//! The settings digest of an album track records album mode and the
//! album's members digest (SHA-256 over its inputs' SHA-256s), which with
//! the settings decide the gain. So before measuring, every member's input
//! is hashed (read, not decoded): an album whose every package is complete
//! for that digest is skipped whole, without a decode; an album that
//! changed (a track added or removed, a master replaced) gets a new
//! digest, and all its tracks are encoded again with the new gain.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use audiopack::{CpuBudget, TrackMeasurement};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::{Catalog, CatalogError};
use crate::destination::Destination;
use crate::error::{BatchError, ExitClass, error_message};
use crate::report::{TrackEntry, TrackStatus};
use crate::runner::{BatchEvent, Context, JobTemplate, Planned, track_job};
use crate::skip;

/// Every album's rows share one loudness setting (target, ceiling,
/// limiter): one gain cannot serve two targets.
pub(crate) fn check_albums(catalog: &Catalog, planned: &[Planned]) -> Result<(), BatchError> {
    let mut first: BTreeMap<&str, &Planned> = BTreeMap::new();
    for p in planned {
        let Some(album) = p.track.album.as_deref() else {
            continue;
        };
        match first.get(album) {
            None => {
                first.insert(album, p);
            }
            Some(f) if f.job.normalize() == p.job.normalize() => {}
            Some(f) => {
                return Err(CatalogError {
                    source_name: catalog.source.clone(),
                    line: Some(p.track.line),
                    place: Some("column \"album\"".into()),
                    message: format!(
                        "album {album:?} has other loudness settings here than on line {} (one album, one gain)",
                        f.track.line
                    ),
                }
                .into());
            }
        }
    }
    Ok(())
}

fn failed(context: &Context, planned: &Planned, e: &audiopack::Error) -> TrackEntry {
    let class = ExitClass::of(e.kind(), context.signal());
    if !e.is_cancelled() {
        context.failures.fetch_add(1, Ordering::SeqCst);
    }
    let message = error_message(e);
    context.emit(BatchEvent::TrackFailed {
        index: planned.index + 1,
        total: context.total,
        id: planned.entry.id.clone(),
        class: class.name.into(),
        exit_code: class.code,
        message: message.clone(),
    });
    TrackEntry {
        status: TrackStatus::Failed,
        class: class.name.into(),
        exit_code: class.code,
        message: Some(message),
        reason: Some("album measure".into()),
        ..planned.entry.clone()
    }
}

/// Measures every album track, computes each album's gain and rebuilds
/// its tracks' jobs with it. Failures are recorded in `Planned::failed`.
pub(crate) async fn measure_albums(
    context: &Arc<Context>,
    planned: &mut [Planned],
    template: &JobTemplate,
    budget: &CpuBudget,
) {
    let mut albums: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in planned.iter().enumerate() {
        if let Some(album) = &p.track.album {
            albums.entry(album.clone()).or_default().push(i);
        }
    }
    if albums.is_empty() {
        return;
    }
    // Each album's members digest (its inputs hashed, not decoded); an
    // album whose every package is already complete for it is skipped
    // whole, without measuring.
    let mut members: BTreeMap<String, String> = BTreeMap::new();
    let mut done_albums = Vec::new();
    for (album, indices) in &albums {
        let mut sums = Vec::new();
        for &i in indices {
            let sum = tokio::select! {
                sum = Destination::input_sha256(&context.s3, &planned[i].track.input) => sum.ok(),
                () = context.options.cancel.cancelled() => return,
            };
            match sum {
                Some(sum) => sums.push(sum),
                // Its measure will say what is wrong with the input.
                None => break,
            }
        }
        if sums.len() != indices.len() {
            continue;
        }
        let key = audiopack::album_members_digest(sums.iter().map(String::as_str));
        for (&i, sum) in indices.iter().zip(&sums) {
            // Read once: the track's own skip check uses it too.
            planned[i].entry.input_sha256 = Some(sum.clone());
        }
        let mut complete = true;
        for (&i, sum) in indices.iter().zip(&sums) {
            let p = &planned[i];
            let digest = p.job.album_settings_digest(&key);
            let decision = skip::check(
                &context.destination,
                &context.s3,
                &p.entry.id,
                &p.entry.input,
                &digest,
                Some(sum),
            )
            .await;
            if !matches!(decision, skip::Decision::Skip(_)) {
                complete = false;
                break;
            }
        }
        if complete {
            for &i in indices {
                let p = &mut planned[i];
                // The track's own skip check then finds it done.
                p.entry.settings_digest = p.job.album_settings_digest(&key);
            }
            done_albums.push(album.clone());
        }
        members.insert(album.clone(), key);
    }
    for album in done_albums {
        albums.remove(&album);
    }
    // Pass 1 of every album track, `jobs` at once.
    let slots = Arc::new(Semaphore::new(context.options.jobs.max(1)));
    let mut measuring = JoinSet::new();
    for indices in albums.values() {
        for &i in indices {
            let p = &planned[i];
            let builder = match template(&p.track.settings) {
                Ok(b) => b,
                Err(e) => {
                    planned[i].failed = Some(failed(context, &planned[i], &e.into()));
                    continue;
                }
            };
            let job = match track_job(
                builder,
                &p.track,
                &context.destination,
                &context.s3,
                budget,
                &context.options.cancel,
            ) {
                Ok(job) => job,
                Err(e) => {
                    planned[i].failed = Some(failed(context, &planned[i], &e));
                    continue;
                }
            };
            let slots = Arc::clone(&slots);
            measuring.spawn(async move {
                let _permit = slots.acquire_owned().await;
                // Its own task: a panic there is this track's internal error.
                let result = tokio::spawn(async move { job.measure().await })
                    .await
                    .unwrap_or_else(|e| Err(audiopack::Error::internal(format!("measuring: {e}"))));
                (i, result)
            });
        }
    }
    let mut measured: BTreeMap<usize, TrackMeasurement> = BTreeMap::new();
    while let Some(done) = measuring.join_next().await {
        match done {
            Ok((i, Ok(m))) => {
                measured.insert(i, m);
            }
            Ok((i, Err(e))) => planned[i].failed = Some(failed(context, &planned[i], &e)),
            // The outer task only awaits the inner one: it cannot panic.
            Err(_) => {}
        }
    }
    for (album, indices) in albums {
        let ok: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|i| measured.contains_key(i))
            .collect();
        let Some(&first) = ok.first() else {
            continue;
        };
        let refs: Vec<&TrackMeasurement> = ok.iter().filter_map(|i| measured.get(i)).collect();
        let gain = match audiopack::album_gain(&refs, planned[first].job.normalize()) {
            Ok(gain) => gain,
            Err(e) => {
                for &i in &ok {
                    planned[i].failed = Some(failed(context, &planned[i], &e));
                }
                continue;
            }
        };
        context.emit(BatchEvent::AlbumMeasured {
            album: album.clone(),
            tracks: ok.len(),
            integrated_lufs: gain.integrated_lufs,
            gain_db: gain.gain_db,
            peak_capped: gain.peak_capped,
        });
        for i in ok {
            let Some(measurement) = measured.remove(&i) else {
                continue;
            };
            let p = &planned[i];
            let job = template(&p.track.settings)
                .map_err(audiopack::Error::from)
                .and_then(|b| {
                    let b = b.album(gain, measurement);
                    let b = match members.get(&album) {
                        Some(key) => b.album_members(key.clone()),
                        None => b,
                    };
                    track_job(
                        b,
                        &p.track,
                        &context.destination,
                        &context.s3,
                        budget,
                        &context.options.cancel,
                    )
                });
            match job {
                Ok(job) => {
                    let p = &mut planned[i];
                    p.entry.settings_digest = job.settings_digest();
                    p.entry.album_integrated_lufs = gain.integrated_lufs;
                    p.entry.album_gain_db = Some(gain.gain_db);
                    p.job = job;
                }
                Err(e) => planned[i].failed = Some(failed(context, &planned[i], &e)),
            }
        }
    }
}
