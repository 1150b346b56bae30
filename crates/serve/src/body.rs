//! Response bodies: nothing, a few bytes (pages, errors), or a file range
//! streamed in 64 KiB frames (a file is never read whole into memory).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

const CHUNK: usize = 64 * 1024;

/// The body of every response this server sends.
#[derive(Debug)]
pub enum ResponseBody {
    /// No body (HEAD, 204, 304-like answers).
    Empty,
    /// Bytes in memory, sent once.
    Bytes(Option<Bytes>),
    /// `remaining` bytes of an open file, from its current position.
    File(FileStream),
}

impl ResponseBody {
    /// A body of `bytes`.
    pub fn bytes(bytes: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Bytes(Some(bytes.into()))
    }
}

/// An open file positioned at the range's first byte, and what is left to
/// send of it.
#[derive(Debug)]
pub struct FileStream {
    file: tokio::fs::File,
    remaining: u64,
    buffer: Box<[u8]>,
}

impl FileStream {
    /// Streams `length` bytes of `file` from its current position.
    pub fn new(file: tokio::fs::File, length: u64) -> FileStream {
        let capacity = usize::try_from(length).map_or(CHUNK, |l| l.clamp(1, CHUNK));
        FileStream {
            file,
            remaining: length,
            buffer: vec![0; capacity].into_boxed_slice(),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::File(stream) => {
                if stream.remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = usize::try_from(stream.remaining)
                    .map_or(stream.buffer.len(), |r| r.min(stream.buffer.len()));
                let mut read = ReadBuf::new(&mut stream.buffer[..want]);
                ready!(Pin::new(&mut stream.file).poll_read(cx, &mut read))?;
                let filled = read.filled();
                if filled.is_empty() {
                    // The file shrank while being sent: the client sees a
                    // short body (the connection is closed), never padding.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being sent",
                    ))));
                }
                stream.remaining -= filled.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Bytes(bytes) => bytes.is_none(),
            ResponseBody::File(stream) => stream.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::File(stream) => SizeHint::with_exact(stream.remaining),
        }
    }
}
