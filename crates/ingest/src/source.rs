//! The decoding source: probe by content, validate, stream planar blocks.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_MP3, CODEC_ID_PCM_F32BE, CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F64BE, CODEC_ID_PCM_F64LE,
};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::input_file::check_input_file;
use crate::metadata_budget::{MetadataBudget, with_budget};
use crate::patched::PatchedSource;
use crate::prescan::{Prescan, prescan};
use crate::probe::probe;
use crate::tags::read_tags;

/// What the header says about a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The file as given (used in every message).
    pub path: PathBuf,
    /// Container detected from content: `wav`, `aiff`, `flac`, `mp3`, `ogg`.
    pub format: String,
    /// Codec, e.g. `pcm_s24le`, `flac`, `mp3`, `vorbis`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// WAVEFORMATEXTENSIBLE speaker mask, when the file names positions.
    pub channel_mask: Option<u32>,
    /// Bits per sample of the coded PCM (None for lossy codecs and
    /// plain float WAV).
    pub bits_per_sample: Option<u32>,
    /// Frames the header promises (after gapless trimming), if it says.
    pub declared_frames: Option<u64>,
    /// Descriptive tags under Vorbis comment names (TITLE, ARTIST, …).
    pub tags: BTreeMap<String, String>,
}

/// A decoding stream over one source. Pull blocks with [`next_block`](Self::next_block).
pub struct Source {
    info: SourceInfo,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    strict: bool,
    /// The header's length is exact (not an estimate), so a mismatch is an error.
    exact_length: bool,
    check_finite: bool,
    max_frames: u64,
    block: Vec<Vec<f32>>,
    frames: u64,
    /// MP3: the frame count of the Xing/Info header, checked at the end.
    xing_frames: Option<u32>,
    /// Packets of our track read so far.
    packets: u64,
    finished: bool,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("info", &self.info)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Opens and probes a file. The extension is ignored.
    pub fn open(path: &Path, config: &IngestConfig) -> Result<Source, IngestError> {
        Self::open_as(path, path, config)
    }

    /// Opens and probes the file at `path`, naming it `label` in every
    /// message and in [`SourceInfo::path`] (e.g. the `s3://` URL a local
    /// copy was downloaded from).
    pub fn open_as(
        path: &Path,
        label: &Path,
        config: &IngestConfig,
    ) -> Result<Source, IngestError> {
        let io_err = |source| IngestError::Io {
            path: label.to_path_buf(),
            source,
        };
        // Before opening: a FIFO would block open() until a writer comes.
        check_input_file(path).map_err(|e| e.relabeled(label))?;
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if meta.len() == 0 {
            return Err(IngestError::Empty {
                path: label.to_path_buf(),
            });
        }
        Self::from_media(label, Box::new(file), config)
    }

    /// Opens any seekable reader (an embedder's object, an in-memory
    /// buffer); `label` names it in messages.
    pub fn from_reader(
        label: &Path,
        reader: Box<dyn ReadSeek>,
        config: &IngestConfig,
    ) -> Result<Source, IngestError> {
        let media = SeekableReader::new(reader).map_err(|source| IngestError::Io {
            path: label.to_path_buf(),
            source,
        })?;
        Self::from_media(label, Box::new(media), config)
    }

    /// Opens any symphonia media source (a file, an in-memory cursor, …);
    /// `path` only names it in messages.
    pub fn from_media(
        path: &Path,
        media: Box<dyn MediaSource>,
        config: &IngestConfig,
    ) -> Result<Source, IngestError> {
        let path_buf = path.to_path_buf();
        let mut media = media;
        if media.byte_len() == Some(0) {
            return Err(IngestError::Empty { path: path_buf });
        }
        let mut budget = MetadataBudget::default();
        let scan = if media.is_seekable() {
            prescan(media.as_mut(), &mut budget).map_err(|source| IngestError::Io {
                path: path_buf.clone(),
                source,
            })?
        } else {
            Prescan::default()
        };
        let mut warnings = scan_verdict(&path_buf, &scan, config)?;
        let media = PatchedSource::new(media, scan.patches);
        let mss = MediaSourceStream::new(Box::new(media), MediaSourceStreamOptions::default());
        let (probed, budget) = with_budget(budget, || {
            contained(|| {
                probe().probe(
                    &Hint::new(),
                    mss,
                    FormatOptions::default(),
                    MetadataOptions::default(),
                )
            })
        });
        warnings.extend(budget.warnings);
        let mut reader = probed.map_err(|e| match e {
            SymError::Unsupported(what) => IngestError::UnknownFormat {
                path: path_buf.clone(),
                detail: what.to_string(),
            },
            other => classify(&path_buf, other, "reading the header"),
        })?;
        let format = match reader.format_info().short_name {
            "wave" => "wav",
            other => other,
        }
        .to_string();
        let track = reader
            .default_track(TrackType::Audio)
            .cloned()
            .ok_or_else(|| IngestError::Unsupported {
                path: path_buf.clone(),
                detail: format!("the {format} file has no audio track"),
            })?;
        let params: AudioCodecParameters = match &track.codec_params {
            Some(CodecParameters::Audio(p)) => p.clone(),
            _ => {
                return Err(IngestError::Unsupported {
                    path: path_buf,
                    detail: "the first track is not audio".into(),
                });
            }
        };
        let limits = &config.limits;
        let malformed = |detail: String| IngestError::Malformed {
            path: path_buf.clone(),
            detail,
        };
        let limit = |detail: String| IngestError::Limit {
            path: path_buf.clone(),
            detail,
        };
        let sample_rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| malformed("the header gives no sample rate".into()))?;
        if sample_rate < limits.min_sample_rate || sample_rate > limits.max_sample_rate {
            return Err(limit(format!(
                "sample rate {sample_rate} Hz is outside {}..={} Hz",
                limits.min_sample_rate, limits.max_sample_rate
            )));
        }
        let channel_count = params.channels.as_ref().map_or(0, |c| c.count());
        if channel_count == 0 {
            return Err(malformed("the header declares no channels".into()));
        }
        if channel_count > usize::from(limits.max_channels) {
            return Err(limit(format!(
                "{channel_count} channels; at most {} are accepted",
                limits.max_channels
            )));
        }
        let channel_mask = match params.channels.as_ref() {
            Some(symphonia::core::audio::Channels::Positioned(pos)) => {
                Some((pos.bits() & 0xFFFF_FFFF) as u32)
            }
            _ => None,
        };
        let max_frames = (limits.max_duration_seconds * f64::from(sample_rate)) as u64;
        if let Some(declared) = track.num_frames
            && declared > max_frames
        {
            return Err(limit(format!(
                "{:.1} s long; at most {:.0} s are accepted",
                declared as f64 / f64::from(sample_rate),
                limits.max_duration_seconds
            )));
        }
        let is_mp3 = params.codec == CODEC_ID_MP3;
        // MP3 without a LAME/Xing header: the length is a guess from the file
        // size, so gapless trimming could cut real audio. No header, no delay
        // to trim either, so decode everything.
        let gapless = !(is_mp3 && track.delay.is_none());
        let exact_length = !is_mp3 || track.delay.is_some();
        let options = AudioDecoderOptions::default().gapless(gapless).verify(true);
        let decoder =
            contained(|| symphonia::default::get_codecs().make_audio_decoder(&params, &options))
                .map_err(|e| match e {
                    SymError::Unsupported(what) => IngestError::Unsupported {
                        path: path_buf.clone(),
                        detail: format!("codec: {what}"),
                    },
                    other => classify(&path_buf, other, "setting up the decoder"),
                })?;
        let codec = decoder.codec_info().short_name.to_string();
        let check_finite = [
            CODEC_ID_PCM_F32LE,
            CODEC_ID_PCM_F32BE,
            CODEC_ID_PCM_F64LE,
            CODEC_ID_PCM_F64BE,
        ]
        .contains(&params.codec);
        let tags = read_tags(reader.as_mut());
        let info = SourceInfo {
            path: path_buf,
            format,
            codec,
            sample_rate,
            channels: channel_count as u16,
            channel_mask,
            bits_per_sample: params.bits_per_sample,
            declared_frames: track.num_frames,
            tags,
        };
        Ok(Source {
            info,
            reader,
            decoder,
            track_id: track.id,
            strict: config.strict,
            exact_length,
            check_finite,
            max_frames,
            block: Vec::new(),
            frames: 0,
            xing_frames: scan.xing_frames.filter(|_| is_mp3),
            packets: 0,
            finished: false,
            warnings,
        })
    }

    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// What lenient mode let through (empty in strict mode).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The next block of decoded audio: one `Vec` per channel, all the same
    /// length (at least one frame). `None` once the stream ended and passed
    /// its end checks.
    pub fn next_block(&mut self) -> Result<Option<&[Vec<f32>]>, IngestError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let packet = match contained(|| self.reader.next_packet()) {
                Ok(Some(p)) => p,
                Ok(None) => return self.end_of_stream().map(|()| None),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return self.unexpected_end().map(|()| None);
                }
                Err(SymError::ResetRequired) => {
                    return Err(IngestError::Unsupported {
                        path: self.info.path.clone(),
                        detail: "chained or multiplexed Ogg streams".into(),
                    });
                }
                Err(e) => return Err(classify(&self.info.path, e, "demuxing")),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            self.packets += 1;
            let decoded = match contained(|| self.decoder.decode(&packet)) {
                Ok(buf) => buf,
                Err(e @ (SymError::DecodeError(_) | SymError::IoError(_))) => {
                    if self.strict {
                        return Err(self.corrupt(e.to_string()));
                    }
                    self.warnings.push(format!(
                        "skipped an undecodable packet at {:.3} s ({e})",
                        self.seconds(self.frames)
                    ));
                    continue;
                }
                Err(e) => return Err(classify(&self.info.path, e, "decoding")),
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            if decoded.num_planes() != usize::from(self.info.channels)
                || decoded.spec().rate() != self.info.sample_rate
            {
                let detail = format!(
                    "the stream changes to {} channels at {} Hz mid-way",
                    decoded.num_planes(),
                    decoded.spec().rate()
                );
                return Err(IngestError::Unsupported {
                    path: self.info.path.clone(),
                    detail,
                });
            }
            decoded.copy_to_vecs_planar::<f32>(&mut self.block);
            if self.check_finite
                && let Some((channel, frame, value)) = first_absurd_sample(&self.block)
            {
                let at = self.frames + frame as u64;
                return Err(IngestError::Corrupt {
                    path: self.info.path.clone(),
                    at_frame: at,
                    at_seconds: self.seconds(at),
                    detail: format!(
                        "float sample {value:e} in channel {} is NaN, infinite or beyond \
                         ±{MAX_FLOAT_SAMPLE:e} (full scale is ±1)",
                        channel + 1
                    ),
                });
            }
            self.frames += frames as u64;
            if self.frames > self.max_frames {
                return Err(IngestError::Limit {
                    path: self.info.path.clone(),
                    detail: format!(
                        "longer than {:.0} s (the header did not say)",
                        self.max_frames as f64 / f64::from(self.info.sample_rate)
                    ),
                });
            }
            return Ok(Some(&self.block));
        }
    }

    fn seconds(&self, frames: u64) -> f64 {
        frames as f64 / f64::from(self.info.sample_rate)
    }

    fn corrupt(&self, detail: String) -> IngestError {
        IngestError::Corrupt {
            path: self.info.path.clone(),
            at_frame: self.frames,
            at_seconds: self.seconds(self.frames),
            detail,
        }
    }

    /// The data stopped before the container said it would.
    fn unexpected_end(&mut self) -> Result<(), IngestError> {
        if self.strict {
            return Err(match self.info.declared_frames {
                Some(expected) if expected > self.frames => IngestError::Truncated {
                    path: self.info.path.clone(),
                    expected,
                    decoded: self.frames,
                },
                _ => IngestError::Malformed {
                    path: self.info.path.clone(),
                    detail: format!("the data ends mid-stream after {} frames", self.frames),
                },
            });
        }
        self.warnings
            .push(format!("the data ends early, after {} frames", self.frames));
        self.finished = true;
        self.check_not_empty()
    }

    /// Clean end: the length and checksum must match what the header said.
    fn end_of_stream(&mut self) -> Result<(), IngestError> {
        self.finished = true;
        self.check_not_empty()?;
        // The declared length of an MP3 comes from this count, and gapless
        // trimming cuts the output to it: more frames than counted is a lie
        // (fewer is what truncation looks like, checked below).
        if let Some(counted) = self.xing_frames
            && u64::from(counted) < self.packets
        {
            let err = IngestError::Malformed {
                path: self.info.path.clone(),
                detail: format!(
                    "the Xing/Info header counts {counted} MP3 frames but the stream holds {}",
                    self.packets
                ),
            };
            if self.strict {
                return Err(err);
            }
            self.warnings.push(err.to_string());
        }
        if let Some(expected) = self.info.declared_frames
            && self.exact_length
            && expected != self.frames
        {
            let err = if self.frames < expected {
                IngestError::Truncated {
                    path: self.info.path.clone(),
                    expected,
                    decoded: self.frames,
                }
            } else {
                IngestError::Malformed {
                    path: self.info.path.clone(),
                    detail: format!(
                        "the header promises {expected} frames but {} were decoded",
                        self.frames
                    ),
                }
            };
            if self.strict {
                return Err(err);
            }
            self.warnings.push(err.to_string());
        }
        if self.decoder.finalize().verify_ok == Some(false) {
            let err =
                self.corrupt("the decoded audio does not match the MD5 in the FLAC header".into());
            if self.strict {
                return Err(err);
            }
            self.warnings.push(err.to_string());
        }
        Ok(())
    }

    fn check_not_empty(&self) -> Result<(), IngestError> {
        if self.frames == 0 {
            return Err(IngestError::Malformed {
                path: self.info.path.clone(),
                detail: "the stream holds no audio samples".into(),
            });
        }
        Ok(())
    }
}

/// What the pre-scan found that ends the job before decoding (returned as
/// errors), or that lenient mode lets through (returned as warnings).
fn scan_verdict(
    path: &Path,
    scan: &Prescan,
    config: &IngestConfig,
) -> Result<Vec<String>, IngestError> {
    let malformed = |detail: String| IngestError::Malformed {
        path: path.to_path_buf(),
        detail,
    };
    if let Some(detail) = &scan.malformed {
        return Err(malformed(detail.clone()));
    }
    let mut warnings = Vec::new();
    for lie in &scan.lies {
        if config.strict {
            return Err(malformed(lie.clone()));
        }
        warnings.push(malformed(lie.clone()).to_string());
    }
    // Symphonia cannot even map 27 or more WAV channels; a well-formed
    // header with too many is over the limit, not broken.
    let max = u32::from(config.limits.max_channels);
    if let Some(channels) = scan.channels.filter(|&c| c > max) {
        return Err(IngestError::Limit {
            path: path.to_path_buf(),
            detail: format!("{channels} channels; at most {max} are accepted"),
        });
    }
    if let Some(detail) = &scan.unsupported {
        return Err(IngestError::Unsupported {
            path: path.to_path_buf(),
            detail: detail.clone(),
        });
    }
    Ok(warnings)
}

/// Float PCM beyond this magnitude is not audio but garbage (full scale is
/// ±1; real masters overshoot by a few dB at most). Summing squares of such
/// values overflows the loudness meter, so it is refused like NaN.
const MAX_FLOAT_SAMPLE: f32 = 1e6;

/// The first sample (channel, frame, value) that is NaN, infinite or beyond
/// [`MAX_FLOAT_SAMPLE`], in frame order.
fn first_absurd_sample(block: &[Vec<f32>]) -> Option<(usize, usize, f32)> {
    let absurd = |x: &f32| x.is_nan() || x.abs() > MAX_FLOAT_SAMPLE;
    block
        .iter()
        .enumerate()
        .filter_map(|(c, plane)| plane.iter().position(absurd).map(|f| (f, c, plane[f])))
        .min_by_key(|&(f, c, _)| (f, c))
        .map(|(f, c, v)| (c, f, v))
}

/// Runs a call into symphonia, turning a panic inside it into a decode
/// error. Fuzzing found crafted WAV `fmt ` chunks and Ogg Vorbis codebooks
/// that make symphonia 0.6.1 overflow or fail an `assert!`
/// (`fuzz/regressions/decode/`): such a file is bad input (exit 3), not an
/// internal error. The reader or decoder is not used again after it
/// panicked in strict mode; lenient mode skips the packet like any other
/// undecodable one.
fn contained<T>(call: impl FnOnce() -> Result<T, SymError>) -> Result<T, SymError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or(Err(
        SymError::DecodeError("the decoder failed on this stream (it panicked)"),
    ))
}

/// Maps a symphonia error to ours, naming what we were doing.
fn classify(path: &Path, error: SymError, doing: &str) -> IngestError {
    let path = path.to_path_buf();
    match error {
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            IngestError::Malformed {
                path,
                detail: format!("{doing}: truncated: the file ends inside its header or a packet"),
            }
        }
        SymError::IoError(source) => IngestError::Io { path, source },
        SymError::DecodeError(what) => IngestError::Malformed {
            path,
            detail: format!("{doing}: {what}"),
        },
        SymError::Unsupported(what) => IngestError::Unsupported {
            path,
            detail: format!("{doing}: {what}"),
        },
        SymError::LimitError(what) => IngestError::Limit {
            path,
            detail: format!("{doing}: {what}"),
        },
        other => IngestError::Malformed {
            path,
            detail: format!("{doing}: {other}"),
        },
    }
}

/// What [`scan`] found: the header facts and the exact decoded length.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    #[serde(flatten)]
    pub info: SourceInfo,
    /// Decoded frames per channel, after gapless trimming.
    pub frames: u64,
    pub duration_seconds: f64,
    pub warnings: Vec<String>,
}

/// Decodes a whole file once (strictly, unless configured otherwise) and
/// reports its facts and exact length.
pub fn scan(path: &Path, config: &IngestConfig) -> Result<ScanReport, IngestError> {
    let mut source = Source::open(path, config)?;
    while source.next_block()?.is_some() {}
    let frames = source.frames();
    Ok(ScanReport {
        duration_seconds: frames as f64 / f64::from(source.info.sample_rate),
        frames,
        warnings: source.warnings.clone(),
        info: source.info.clone(),
    })
}

/// What [`Source::from_reader`] reads: any seekable byte source.
pub trait ReadSeek: std::io::Read + std::io::Seek + Send + Sync {}

impl<T: std::io::Read + std::io::Seek + Send + Sync> ReadSeek for T {}

/// A [`ReadSeek`] as a symphonia media source: seekable, with its length
/// measured once (so the prescan and length checks run as for a file).
struct SeekableReader {
    inner: Box<dyn ReadSeek>,
    len: u64,
}

impl SeekableReader {
    fn new(mut inner: Box<dyn ReadSeek>) -> std::io::Result<SeekableReader> {
        use std::io::SeekFrom;
        let len = inner.seek(SeekFrom::End(0))?;
        inner.seek(SeekFrom::Start(0))?;
        Ok(SeekableReader { inner, len })
    }
}

impl std::io::Read for SeekableReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl std::io::Seek for SeekableReader {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl MediaSource for SeekableReader {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
