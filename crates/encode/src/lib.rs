//! # audiopack-encode
//!
//! The pure signal-processing and encoding stages of audiopack: values in,
//! values or bytes out. Nothing here opens files, reads clocks or touches the
//! network, so every piece is testable on generated signals.
//!
//! ## Design
//!
//! Every streaming stage is a push/pull processor over **planar f32** blocks
//! (one slice per channel), so memory stays bounded whatever the duration:
//!
//! ```text
//!  pass 1:  blocks ─► Downmix? ─► Subsonic ─► Resampler(48 kHz, above 48 kHz only) ─► LoudnessMeter ─► plan_gain ─► GainPlan
//!  pass 2:  blocks ─► Downmix? ─► Subsonic ─► Resampler(48 kHz) ─► Gain (+ TruePeakLimiter) ─┬─► OpusEncoder(64k)  ─► OggOpusWriter
//!                                                                                            ├─► OpusEncoder(96k)  ─► …
//!                                                                                            └─► LoudnessMeter (the output report)
//! ```
//!
//! * [`LoudnessMeter`] measures BS.1770-4 / EBU R128 integrated loudness,
//!   loudness range, true peak and sample peak, and keeps the loudness over
//!   time: [`Bs1770Meter`] (K-weighting, exact gating over the kept 100 ms
//!   blocks) and [`TruePeakMeter`] (polyphase, oversampled by rate to
//!   ≥ 192 kHz with swresample's default kernel, vectorised). Our own: the
//!   `ebur128` crate cost a fifth of a job's CPU across its seven meters.
//! * [`plan_gain`] turns a [`LoudnessReport`] into a [`GainPlan`]: target
//!   minus integrated, capped so the true peak stays under the ceiling unless
//!   the [`TruePeakLimiter`] is asked for; silence gets no gain.
//! * [`SubsonicFilter`] takes DC and near-DC rumble out (10 Hz, 4th order)
//!   before metering, gain and limiter: libopus drops it anyway, and left
//!   in it moves decoded peaks and fools the gain plan.
//! * [`DecodedPeakMeter`] decodes a rendition's packets and meters what the
//!   listener gets (loudness, true peak), so the ceiling is held after the
//!   codec.
//! * [`StereoDownmix`] folds more than two channels to stereo with the
//!   ITU-R BS.775 coefficients (centre and surrounds at −3 dB, LFE dropped).
//! * [`Resampler`] converts once to 48 kHz with rubato's FFT resampler; the
//!   output length is exactly `round(n · 48000 / rate)` and the filter delay
//!   is removed, so time zero stays time zero.
//! * [`OpusEncoder`] turns 48 kHz audio into 20 ms Opus packets (constrained
//!   VBR, complexity 10, signal = music). It records the encoder lookahead as
//!   the pre-skip and pads the tail so the last real sample is encoded; the
//!   container trims the padding (granule position in Ogg, edit list in MP4).
//! * [`OggOpusWriter`] writes RFC 7845 Ogg Opus (OpusHead, OpusTags, granule
//!   positions, end trimming) to any `io::Write`.
//!
//! Time is integer sample counts at an explicit rate; nothing accumulates
//! float seconds.

mod bs1770;
mod decoded_peak;
mod downmix;
mod envelope;
mod error;
mod flac_encoder;
mod gain;
mod ladder;
mod limiter;
mod loudness;
mod ogg_opus;
mod opus_encoder;
mod resample;
mod spectrum;
mod subsonic;
mod true_peak;
mod true_peak_meter;

pub use bs1770::Bs1770Meter;
pub use decoded_peak::{DecodedMeasurement, DecodedPeakMeter};
pub use downmix::{Speaker, StereoDownmix, speakers_from_mask};
pub use envelope::PeakEnvelope;
pub use error::EncodeError;
pub use flac_encoder::{FlacEncoder, FlacFrame};
pub use gain::{
    GainPlan, GainReason, NormalizeConfig, NormalizePreset, apply_gain, db_to_linear, plan_gain,
};
pub use ladder::{Ladder, Rung};
pub use limiter::TruePeakLimiter;
pub use loudness::{LoudnessMeter, LoudnessReport, LoudnessSeries};
pub use ogg_opus::{OggOpusWriter, OpusHead, opus_tags_packet};
pub use opus_encoder::{OPUS_FRAME_SAMPLES, OPUS_RATE, OpusEncoder, OpusPacket, libopus_version};
pub use resample::{Resampler, resampled_len};
pub use spectrum::{SpectrumMeter, spectrum_bands_hz};
pub use subsonic::{SUBSONIC_CUTOFF_HZ, SubsonicFilter};
pub use true_peak_meter::TruePeakMeter;
