//! A media source with a few bytes overwritten in place, so symphonia skips
//! what the [pre-scan](crate::prescan) decided it must not parse (an
//! oversized FLAC block becomes PADDING, a RIFF/AIFF chunk gets an unknown
//! id, a Vorbis comment count shrinks). Same length, same offsets: only
//! what is read changes.

use std::io::{Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// At most 4 bytes replaced at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Patch {
    pub offset: u64,
    len: u8,
    bytes: [u8; 4],
}

impl Patch {
    pub fn new(offset: u64, bytes: &[u8]) -> Patch {
        let len = bytes.len().min(4);
        let mut b = [0u8; 4];
        b[..len].copy_from_slice(&bytes[..len]);
        Patch {
            offset,
            len: len as u8,
            bytes: b,
        }
    }

    fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// `inner` as read through the patches.
pub(crate) struct PatchedSource {
    inner: Box<dyn MediaSource>,
    /// Sorted by offset.
    patches: Vec<Patch>,
    pos: u64,
}

impl PatchedSource {
    pub fn new(inner: Box<dyn MediaSource>, mut patches: Vec<Patch>) -> PatchedSource {
        patches.sort_by_key(|p| p.offset);
        PatchedSource {
            inner,
            patches,
            pos: 0,
        }
    }
}

impl Read for PatchedSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (start, end) = (self.pos, self.pos + n as u64);
        // Patches that may overlap [start, end): those ending after start.
        let first = self.patches.partition_point(|p| p.end() <= start);
        for patch in self.patches[first..].iter().take_while(|p| p.offset < end) {
            for (i, byte) in patch.bytes[..usize::from(patch.len)].iter().enumerate() {
                let at = patch.offset + i as u64;
                if (start..end).contains(&at) {
                    buf[(at - start) as usize] = *byte;
                }
            }
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for PatchedSource {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

impl MediaSource for PatchedSource {
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.inner.byte_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn patches_apply_across_read_boundaries() {
        let data: Vec<u8> = (0u8..32).collect();
        let patches = vec![Patch::new(6, &[0xAA, 0xBB, 0xCC]), Patch::new(1, &[0xEE])];
        let mut src = PatchedSource::new(Box::new(Cursor::new(data.clone())), patches);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = src.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let mut expected = data;
        expected[1] = 0xEE;
        expected[6..9].copy_from_slice(&[0xAA, 0xBB, 0xCC]);
        assert_eq!(out, expected);
        src.seek(SeekFrom::Start(7)).expect("seek");
        let mut two = [0u8; 2];
        src.read_exact(&mut two).expect("read");
        assert_eq!(two, [0xBB, 0xCC]);
    }
}
