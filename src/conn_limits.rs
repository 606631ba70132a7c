//! [`BoundedLines`]: every connection's bytes pass through here on their way to actix's HTTP/1
//! parser, so that a request line or header line longer than [`MAX_LINE`] gets a 431 like every
//! other oversized head.
//!
//! Left to itself, actix answers a head of more than 128 KiB with a 431, but a request line whose
//! URI is between 64 KiB (the `http` crate's limit) and 128 KiB with a bare 400. Here, once a line
//! grows past [`MAX_LINE`] (below both), the rest of the connection's input is replaced by filler
//! without a line break, so actix's own buffer overflows and it answers 431 and closes the
//! connection: one answer, from one place, for every oversized request. A line here is any run of
//! bytes without a `\n`; this service takes no request bodies, so only heads have lines that long.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest request line or header line accepted (32 KiB; nginx's default is 8 KiB).
pub const MAX_LINE: usize = 32 * 1024;

pub struct BoundedLines<S = TcpStream> {
    inner: S,
    /// Bytes since the last line break.
    line: usize,
    /// The limit was passed: only filler is read from now on.
    overflowed: bool,
}

impl<S> BoundedLines<S> {
    pub fn new(inner: S) -> Self {
        BoundedLines {
            inner,
            line: 0,
            overflowed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BoundedLines<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.overflowed {
            put_filler(buf);
            return Poll::Ready(Ok(()));
        }
        let start = buf.filled().len();
        let this = &mut *self;
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let mut cut = None;
        for (i, &byte) in buf.filled()[start..].iter().enumerate() {
            if byte == b'\n' {
                this.line = 0;
            } else {
                this.line += 1;
                if this.line > MAX_LINE {
                    cut = Some(start + i);
                    break;
                }
            }
        }
        if let Some(cut) = cut {
            // Nothing from the overflow on reaches the parser, not even the rest of this read.
            this.overflowed = true;
            buf.set_filled(cut);
            if cut == start {
                // An empty read would mean the end of the connection.
                put_filler(buf);
            }
        }
        Poll::Ready(Ok(()))
    }
}

fn put_filler(buf: &mut ReadBuf<'_>) {
    const FILLER: [u8; 16 * 1024] = [b'x'; 16 * 1024];
    let n = buf.remaining().min(FILLER.len());
    buf.put_slice(&FILLER[..n]);
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BoundedLines<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn read_through(input: Vec<u8>, want: usize) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(&input).await.unwrap();
        let mut bounded = BoundedLines::new(server);
        let mut out = vec![0; want];
        bounded.read_exact(&mut out).await.unwrap();
        out
    }

    #[actix_web::test]
    async fn lines_within_the_limit_pass_unchanged() {
        let head = format!(
            "GET /?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(MAX_LINE - 30)
        );
        let out = read_through(head.clone().into_bytes(), head.len()).await;
        assert_eq!(out, head.as_bytes());
    }

    #[actix_web::test]
    async fn past_the_limit_only_filler_without_line_breaks_follows() {
        let mut input = format!("GET /?q={}", "a".repeat(MAX_LINE)).into_bytes();
        input.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        let out = read_through(input, 200_000).await;
        assert!(!out.contains(&b'\n'));
        assert!(out.ends_with(&[b'x'; 1000]));
    }
}
