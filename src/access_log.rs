//! The access log: a line per answer at INFO, as actix-web's `Logger` wrote it with the format
//! `%a "%{r}xi" %s %b %Dms` and a replacement giving `r` as method and path: the peer's address,
//! `"GET /path"`, the status, the bytes of the body and the milliseconds until it was out. It is
//! logged under `Logger`'s target, so a `RUST_LOG` written for it still applies. The query
//! string (long, personal) and the headers (so the token) are never logged.
//!
//! `Logger` built its line from parts allocated for every request, written or not, and found the
//! peer through `ConnectionInfo`, which parses the forwarding headers it did not use (callgrind:
//! about 10 000 instructions a request, 2 % of a listing). Here nothing is done unless the line
//! will be written, and then it is formatted once.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::web::Bytes;

/// The target the lines are logged under: actix-web's `Logger`'s.
pub const TARGET: &str = "actix_web::middleware::logger";

/// `response`, its line written now when its body's length is known, else once its body has been
/// sent (or given up: a client gone mid-stream), with the bytes sent until then.
pub fn attach<B: MessageBody>(
    response: ServiceResponse<B>,
    started: Instant,
) -> ServiceResponse<Logged<B>> {
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        return response.map_body(|_, body| Logged { body, line: None });
    }
    let req = response.request();
    let mut line = Line {
        peer: req.peer_addr().map(|addr| addr.ip()),
        request: format!("{} {}", req.method(), req.path()),
        status: response.status().as_u16(),
        started,
        bytes: 0,
    };
    response.map_body(|_, body| match body.size() {
        BodySize::Sized(bytes) => {
            line.bytes = bytes;
            line.write();
            Logged { body, line: None }
        }
        BodySize::None => {
            line.write();
            Logged { body, line: None }
        }
        BodySize::Stream => Logged {
            body,
            line: Some(Pending(line)),
        },
    })
}

/// What a line says.
struct Line {
    peer: Option<IpAddr>,
    /// Method and path.
    request: String,
    status: u16,
    started: Instant,
    bytes: u64,
}

impl Line {
    /// The line's text: built in one buffer, numbers by `itoa`, and handed to the log as one
    /// string (env_logger scans each piece it is given for line breaks). The same line by
    /// `format!` cost 3 k instructions more (callgrind, 0.6 % of a 7-room listing).
    fn text(&self) -> String {
        let mut text = String::with_capacity(64 + self.request.len());
        match self.peer {
            Some(ip) => {
                // An address is at most 39 bytes long.
                let _ = write!(text, "{ip}");
            }
            None => text.push('-'),
        }
        text.push_str(" \"");
        text.push_str(&self.request);
        text.push_str("\" ");
        text.push_str(itoa::Buffer::new().format(self.status));
        text.push(' ');
        text.push_str(itoa::Buffer::new().format(self.bytes));
        text.push(' ');
        push_millis(&mut text, self.started.elapsed().as_nanos());
        text.push_str("ms");
        text
    }

    fn write(&self) {
        log::info!(target: TARGET, "{}", self.text());
    }
}

/// Milliseconds with six decimals (`Logger`'s `%D`), from whole nanoseconds.
fn push_millis(text: &mut String, nanos: u128) {
    text.push_str(itoa::Buffer::new().format(nanos / 1_000_000));
    text.push('.');
    let mut buffer = itoa::Buffer::new();
    let fraction = buffer.format(nanos % 1_000_000);
    text.extend(std::iter::repeat_n('0', 6 - fraction.len()));
    text.push_str(fraction);
}

/// A body whose line is written once it is done (a streamed body), or already written.
pub struct Logged<B> {
    body: B,
    line: Option<Pending>,
}

/// A streamed body's line, written when the body is dropped: sent, or given up.
struct Pending(Line);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.write();
    }
}

impl<B: MessageBody + Unpin> MessageBody for Logged<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if let (Poll::Ready(Some(Ok(chunk))), Some(Pending(line))) = (&next, &mut this.line) {
            line.bytes += chunk.len() as u64;
        }
        next
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        match self.line {
            None => self
                .body
                .try_into_bytes()
                .map_err(|body| Logged { body, line: None }),
            Some(_) => Err(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_peer_the_request_the_status_the_bytes_and_the_milliseconds() {
        let line = Line {
            peer: Some("10.1.2.3".parse().unwrap()),
            request: "GET /api/v1/livechat/rooms".into(),
            status: 200,
            started: Instant::now(),
            bytes: 2805,
        };
        let text = line.text();
        let (head, millis) = text.rsplit_once(' ').unwrap();
        assert_eq!(head, r#"10.1.2.3 "GET /api/v1/livechat/rooms" 200 2805"#);
        let number = millis.strip_suffix("ms").unwrap();
        assert_eq!(number.split_once('.').unwrap().1.len(), 6, "{text}");
        assert!(number.parse::<f64>().unwrap() >= 0.0);
        let unknown = Line { peer: None, ..line };
        assert!(unknown.text().starts_with(r#"- "GET "#));
        let v6 = Line {
            peer: Some("::1".parse().unwrap()),
            ..unknown
        };
        assert!(v6.text().starts_with(r#"::1 "GET "#));
    }

    #[test]
    fn milliseconds_have_six_decimals() {
        for (nanos, text) in [
            (0, "0.000000"),
            (5, "0.000005"),
            (1_234_567, "1.234567"),
            (999_999, "0.999999"),
            (12_000_000_000, "12000.000000"),
        ] {
            let mut out = String::new();
            push_millis(&mut out, nanos);
            assert_eq!(out, text);
        }
    }
}
