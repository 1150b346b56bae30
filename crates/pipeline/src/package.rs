//! CMAF packaging of one rendition: samples in, segment files (or one
//! single file with a `sidx`) out, inside the staging directory.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use audiopack_manifest::{Resource, Segment};
use std::sync::Arc;

use audiopack_drm::cipher::SampleEncryptor;
use audiopack_drm::{PackageProtection, Scheme, TrackType};
use audiopack_segmenter::{
    Fragmenter, TrackDescription, TrackEncryption, init_segment, segment_index,
};

use crate::config::Layout;
use crate::error::JobError;
use crate::progress::OutputSink;

/// Real audio left after a cut shorter than this goes into the last
/// segment instead of a segment of its own (a 6.5 ms Opus tail made of the
/// pre-skip would be a segment players stumble on). The decision is taken
/// on real time, so the Opus and FLAC tiers make it alike.
const MIN_TAIL_SECONDS: f64 = 0.1;

/// Cuts one rendition into segments as its samples arrive.
pub(crate) struct TrackPackager {
    /// The input file, named in internal errors.
    input: PathBuf,
    layout: Layout,
    dir: PathBuf,
    name: String,
    segment_ticks: u64,
    /// Decode tick where the real audio ends; a tail shorter than
    /// `MIN_TAIL_SECONDS` is merged into the segment before it.
    real_end_ticks: u64,
    min_tail_ticks: u64,
    fragmenter: Fragmenter,
    next_start: u64,
    /// (decode start, decode duration, bytes) per fragment.
    fragments: Vec<(u64, u64, u64)>,
    /// Single-file layout: the fragments, written to a side file first
    /// because the `sidx` in front of them needs their sizes.
    body: Option<BufWriter<File>>,
    /// Common Encryption: the samples are encrypted before they are
    /// fragmented; the init segment says how.
    encryption: Option<TrackCrypto>,
    /// A copy of the sample being encrypted (the caller's stays clear).
    scratch: Vec<u8>,
}

/// What encrypts one rendition.
pub(crate) struct TrackCrypto {
    pub protection: Arc<PackageProtection>,
    pub track: TrackType,
    pub encryptor: SampleEncryptor,
}

impl TrackCrypto {
    pub(crate) fn new(
        protection: &Arc<PackageProtection>,
        track: TrackType,
        index: u16,
        name: &str,
    ) -> Self {
        TrackCrypto {
            encryptor: protection.encryptor(track, index, name),
            protection: Arc::clone(protection),
            track,
        }
    }

    fn description(&self) -> TrackEncryption {
        TrackEncryption {
            scheme: match self.protection.scheme {
                Scheme::Cenc => *b"cenc",
                Scheme::Cbcs => *b"cbcs",
            },
            default_kid: self.protection.kid(self.track).0,
            per_sample_iv_size: self.encryptor.per_sample_iv_size(),
            constant_iv: self.encryptor.constant_iv(),
            pssh: self.protection.pssh_boxes(self.track),
        }
    }
}

/// A packaged rendition, ready for the manifests.
pub(crate) struct PackagedTrack {
    pub name: String,
    pub timescale: u32,
    pub init: Resource,
    pub index: Option<Resource>,
    /// Segments with their decode durations.
    pub segments: Vec<Segment>,
    /// Bytes of every fragment (init excluded).
    pub media_bytes: u64,
    pub segment_bytes: Vec<u64>,
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
}

fn out_err<'a>(path: &'a Path, action: &'static str) -> impl Fn(std::io::Error) -> JobError + 'a {
    move |source| JobError::Output {
        path: path.to_path_buf(),
        action,
        source,
    }
}

impl TrackPackager {
    pub(crate) fn new(
        input: &Path,
        dir: &Path,
        name: &str,
        layout: Layout,
        timescale: u32,
        segment_ticks: u64,
        real_end_ticks: u64,
    ) -> Result<Self, JobError> {
        let (fragmenter, body) = match layout {
            Layout::Segments => {
                let seg_dir = dir.join(name);
                fs::create_dir_all(&seg_dir).map_err(out_err(&seg_dir, "creating"))?;
                (Fragmenter::new(), None)
            }
            Layout::SingleFile => {
                let path = body_path(dir, name);
                let file = File::create(&path).map_err(out_err(&path, "creating"))?;
                (
                    Fragmenter::without_styp(),
                    Some(BufWriter::with_capacity(256 * 1024, file)),
                )
            }
        };
        Ok(TrackPackager {
            input: input.to_path_buf(),
            layout,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            segment_ticks,
            real_end_ticks,
            min_tail_ticks: (f64::from(timescale) * MIN_TAIL_SECONDS) as u64,
            fragmenter,
            next_start: 0,
            fragments: Vec::new(),
            body,
            encryption: None,
            scratch: Vec::new(),
        })
    }

    /// Encrypts the samples (Common Encryption) when `crypto` is given.
    pub(crate) fn encrypted(mut self, crypto: Option<TrackCrypto>) -> Self {
        if let Some(c) = &crypto {
            let iv_size = c.encryptor.per_sample_iv_size();
            self.fragmenter = std::mem::take(&mut self.fragmenter).with_sample_ivs(iv_size);
        }
        self.encryption = crypto;
        self
    }

    /// Adds one sample; cuts a segment when it is full.
    pub(crate) fn push(
        &mut self,
        sample: &[u8],
        duration: u32,
        sink: &dyn OutputSink,
    ) -> Result<(), JobError> {
        match self.encryption.as_mut() {
            None => self.fragmenter.push(sample, duration),
            Some(crypto) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(sample);
                let iv = crypto.encryptor.encrypt(&mut self.scratch);
                self.fragmenter
                    .push_encrypted(
                        &self.scratch,
                        duration,
                        iv.as_ref().map_or(&[][..], |iv| &iv[..]),
                    )
                    .map_err(|e| JobError::Internal {
                        input: self.input.clone(),
                        message: format!("{}: {e}", self.name),
                    })?;
            }
        }
        let pending = self.fragmenter.pending_duration();
        let left = self
            .real_end_ticks
            .saturating_sub(self.next_start + pending);
        if pending >= self.segment_ticks && left >= self.min_tail_ticks {
            self.cut(sink)?;
        }
        Ok(())
    }

    fn cut(&mut self, sink: &dyn OutputSink) -> Result<(), JobError> {
        let Some(segment) = self.fragmenter.cut().map_err(|e| JobError::Internal {
            input: self.input.clone(),
            message: format!("{}: {e}", self.name),
        })?
        else {
            return Ok(());
        };
        let len = segment.bytes.len() as u64;
        match (&self.layout, self.body.as_mut()) {
            (Layout::SingleFile, Some(body)) => {
                let path = body_path(&self.dir, &self.name);
                body.write_all(&segment.bytes)
                    .map_err(out_err(&path, "writing"))?;
            }
            _ => {
                let rel = format!("{}/{}.m4s", self.name, segment.sequence);
                let path = self.dir.join(&rel);
                fs::write(&path, &segment.bytes).map_err(out_err(&path, "writing"))?;
                sink.file_ready(&rel)
                    .map_err(|message| JobError::Sink { message })?;
            }
        }
        self.fragments
            .push((self.next_start, segment.duration, len));
        self.next_start += segment.duration;
        Ok(())
    }

    /// Cuts the last segment; called when the samples end.
    pub(crate) fn finish_fragments(&mut self, sink: &dyn OutputSink) -> Result<(), JobError> {
        self.cut(sink)?;
        if let Some(mut body) = self.body.take() {
            let path = body_path(&self.dir, &self.name);
            body.flush().map_err(out_err(&path, "writing"))?;
        }
        Ok(())
    }

    /// Writes the init segment (now that the loudness is known) and, in
    /// the single-file layout, assembles `init + sidx + fragments`.
    pub(crate) fn complete(
        self,
        track: &TrackDescription,
        sink: &dyn OutputSink,
    ) -> Result<PackagedTrack, JobError> {
        let internal = |e: audiopack_segmenter::SegmentError| JobError::Internal {
            input: self.input.clone(),
            message: format!("{}: {e}", self.name),
        };
        let init = match &self.encryption {
            None => init_segment(track),
            Some(crypto) => init_segment(&TrackDescription {
                encryption: Some(crypto.description()),
                ..track.clone()
            }),
        }
        .map_err(internal)?;
        let media_bytes: u64 = self.fragments.iter().map(|f| f.2).sum();
        let segment_bytes: Vec<u64> = self.fragments.iter().map(|f| f.2).collect();
        let mut files = Vec::new();
        let (init_res, index, segments) = match self.layout {
            Layout::Segments => {
                let rel = format!("{}/init.mp4", self.name);
                let path = self.dir.join(&rel);
                fs::write(&path, &init).map_err(out_err(&path, "writing"))?;
                sink.file_ready(&rel)
                    .map_err(|message| JobError::Sink { message })?;
                files.push(rel.clone());
                let segments = self
                    .fragments
                    .iter()
                    .enumerate()
                    .map(|(i, &(start, duration, _))| {
                        let uri = format!("{}/{}.m4s", self.name, i + 1);
                        files.push(uri.clone());
                        Segment {
                            resource: Resource::File { uri },
                            start_ticks: start,
                            duration_ticks: duration,
                        }
                    })
                    .collect();
                (Resource::File { uri: rel }, None, segments)
            }
            Layout::SingleFile => {
                let rel = format!("{}.mp4", self.name);
                let path = self.dir.join(&rel);
                let sidx = segment_index(
                    track.timescale,
                    &self
                        .fragments
                        .iter()
                        .map(|f| (f.2, f.1))
                        .collect::<Vec<_>>(),
                )
                .map_err(internal)?;
                let body = body_path(&self.dir, &self.name);
                let mut out =
                    BufWriter::new(File::create(&path).map_err(out_err(&path, "creating"))?);
                out.write_all(&init).map_err(out_err(&path, "writing"))?;
                out.write_all(&sidx).map_err(out_err(&path, "writing"))?;
                let mut body_file = File::open(&body).map_err(out_err(&body, "reading"))?;
                std::io::copy(&mut body_file, &mut out).map_err(out_err(&path, "writing"))?;
                out.flush().map_err(out_err(&path, "writing"))?;
                fs::remove_file(&body).map_err(out_err(&body, "removing"))?;
                sink.file_ready(&rel)
                    .map_err(|message| JobError::Sink { message })?;
                files.push(rel.clone());
                let init_len = init.len() as u64;
                let sidx_len = sidx.len() as u64;
                let mut offset = init_len + sidx_len;
                let segments = self
                    .fragments
                    .iter()
                    .map(|&(start, duration, bytes)| {
                        let seg = Segment {
                            resource: Resource::Range {
                                uri: rel.clone(),
                                offset,
                                length: bytes,
                            },
                            start_ticks: start,
                            duration_ticks: duration,
                        };
                        offset += bytes;
                        seg
                    })
                    .collect();
                (
                    Resource::Range {
                        uri: rel.clone(),
                        offset: 0,
                        length: init_len,
                    },
                    Some(Resource::Range {
                        uri: rel,
                        offset: init_len,
                        length: sidx_len,
                    }),
                    segments,
                )
            }
        };
        Ok(PackagedTrack {
            name: self.name,
            timescale: track.timescale,
            init: init_res,
            index,
            segments,
            media_bytes,
            segment_bytes,
            files,
        })
    }
}

fn body_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.fragments"))
}
