//! `decode`: an upload's bytes through the whole ingest decode.

use std::io::Cursor;
use std::path::Path;

use audiopack_ingest::{IngestConfig, IngestError, Source};

/// The name the harness gives its input (every error must carry it).
pub(crate) const INPUT_NAME: &str = "fuzz-input";

/// Probes `data` by content and decodes every block to the end with the
/// default limits, strictly (what `audiopack ingest` does); when the strict
/// decode refuses the input, again leniently (`--lenient`: undecodable
/// packets skipped, early ends accepted), which reaches the recovery paths.
/// This is [`audiopack_ingest::scan`] without the file: `Source::open` is
/// `check_input_file` + `File::open` + `Source::from_media`.
pub fn decode(data: &[u8]) {
    if decode_with(data, &IngestConfig::default()).is_err() {
        let lenient = IngestConfig {
            strict: false,
            ..IngestConfig::default()
        };
        let _ = decode_with(data, &lenient);
    }
}

/// Opens `data` as an in-memory source, as the S3 head probe and the
/// ingest tests do.
pub(crate) fn open(data: &[u8], config: &IngestConfig) -> Result<Source, IngestError> {
    Source::from_media(
        Path::new(INPUT_NAME),
        Box::new(Cursor::new(data.to_vec())),
        config,
    )
    .inspect_err(check_error)
}

/// Decodes to the end, checking the block contract; the frames decoded.
fn decode_with(data: &[u8], config: &IngestConfig) -> Result<u64, IngestError> {
    let mut source = open(data, config)?;
    let channels = usize::from(source.info().channels);
    let mut frames = 0u64;
    loop {
        let block = match source.next_block() {
            Ok(Some(block)) => block,
            Ok(None) => break,
            Err(e) => {
                check_error(&e);
                return Err(e);
            }
        };
        assert_eq!(block.len(), channels, "one plane per channel");
        let len = block[0].len();
        assert!(len > 0, "a block holds at least one frame");
        assert!(
            block.iter().all(|plane| plane.len() == len),
            "every plane of a block has the same length"
        );
        frames += len as u64;
    }
    assert_eq!(frames, source.frames(), "frames() counts what was returned");
    assert!(frames > 0, "a clean end means audio was decoded");
    // After the end, the stream stays ended.
    assert!(matches!(source.next_block(), Ok(None)));
    Ok(frames)
}

/// Every ingest error names the input and renders without panicking.
pub(crate) fn check_error(error: &IngestError) {
    let _ = error.kind();
    let message = error.to_string();
    assert!(
        message.starts_with(INPUT_NAME),
        "an ingest error names its file: {message}"
    );
}
