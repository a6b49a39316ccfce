use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::common::{HTTPVersion, Header, Method};
use crate::util::refined_tcp_stream::{ReadDeadline, WriteCloser};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::{Limits, Request};

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // redis_mq patch 2: what this client may take
    limits: Limits,

    // redis_mq patch 4: when the request being read must be complete
    deadline: ReadDeadline,

    // redis_mq patch 5: ends the answer to a refused request
    write_closer: WriteCloser,

    // redis_mq patch 5: requests read from this connection and not answered yet
    in_flight: Arc<InFlightCount>,
}

/// redis_mq patch 5: at most this many requests of one connection are read
/// ahead of their answers (a client that pipelines a million requests no
/// longer fills the server's memory with them).
const MAX_IN_FLIGHT: usize = 4;

/// redis_mq patch 5: how many requests of a connection are read and not
/// answered yet; the connection's thread waits on it, woken by an answer
/// (a sleep-and-look loop here held 1 in 8 requests of a busy keep-alive
/// client for a millisecond: its next request came in before the thread
/// that wrote the answer had counted it).
#[derive(Default)]
struct InFlightCount {
    state: Mutex<InFlightState>,
    answered: Condvar,
}

#[derive(Default)]
struct InFlightState {
    count: usize,
    /// Whether the connection's thread waits: only then does an answer
    /// wake it (a wake-up is a system call, even with nobody to wake).
    waiting: bool,
}

impl InFlightCount {
    fn lock(&self) -> std::sync::MutexGuard<'_, InFlightState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until fewer than `n` requests are in flight.
    fn wait_until_below(&self, n: usize) {
        let mut state = self.lock();
        while state.count >= n {
            state.waiting = true;
            state = self.answered.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting = false;
        }
    }

    fn add(&self) {
        self.lock().count += 1;
    }

    fn answered(&self) {
        let mut state = self.lock();
        state.count -= 1;
        if state.waiting {
            self.answered.notify_one();
        }
    }
}

/// redis_mq patch 5: a request's writer that counts the request as in flight
/// until it has been answered (the writer is dropped).
struct InFlight<W: Write> {
    inner: W,
    count: Arc<InFlightCount>,
}

impl<W: Write> InFlight<W> {
    fn new(inner: W, count: Arc<InFlightCount>) -> InFlight<W> {
        count.add();
        InFlight { inner, count }
    }
}

impl<W: Write> Write for InFlight<W> {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for InFlight<W> {
    fn drop(&mut self) {
        self.count.answered();
    }
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    ReadIoError(IoError),
    // redis_mq patch 5: answered, then the connection is closed
    UriTooLong,
    HeadersTooLarge(HTTPVersion),
    PayloadTooLarge(HTTPVersion),
    /// `Transfer-Encoding` other than chunked, or with `Content-Length`,
    /// or several or a non-numeric `Content-Length` (RFC 9112, 6.3)
    AmbiguousFraming(HTTPVersion),
    UnsupportedVersion,
}

/// redis_mq patch 5: how the body of a request is delimited.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
}

/// redis_mq patch 5: a line longer than the caller's limit.
fn line_too_long() -> IoError {
    IoError::new(ErrorKind::InvalidData, "line too long")
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        limits: Limits,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let deadline = read_socket.deadline();
        let write_closer = read_socket.write_closer();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            limits,
            deadline,
            write_closer,
            in_flight: Arc::default(),
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    fn read_next_line(&mut self, limit: usize) -> IoResult<AsciiString> {
        let mut buf = Vec::new();

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };

            // redis_mq patch 5: a bare LF ends a line too (RFC 9112, 2.2), so
            // such a client is answered at once instead of waiting for a CR.
            if byte == b'\n' {
                if buf.last() == Some(&b'\r') {
                    buf.pop(); // removing the '\r'
                }
                return AsciiString::from_ascii(buf)
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII"));
            }

            // redis_mq patch 5: stop at the limit instead of buffering a line
            // of any length.
            if buf.len() >= limit {
                return Err(line_too_long());
            }

            buf.push(byte);
        }
    }

    /// redis_mq patch 5: checks how the body is delimited (RFC 9112, 6.3).
    /// Anything ambiguous is refused: behind a proxy that reads it the other
    /// way, it would hide a second request in the body.
    fn framing(&self, headers: &[Header], version: &HTTPVersion) -> Result<Framing, ReadError> {
        let ambiguous = || ReadError::AmbiguousFraming(version.clone());
        let encodings: Vec<&Header> = headers
            .iter()
            .filter(|h| h.field.equiv("Transfer-Encoding"))
            .collect();
        let lengths: Vec<&Header> = headers
            .iter()
            .filter(|h| h.field.equiv("Content-Length"))
            .collect();
        match (encodings.as_slice(), lengths.as_slice()) {
            ([], []) => Ok(Framing::Empty),
            ([te], []) if te.value.as_str().trim().eq_ignore_ascii_case("chunked") => {
                Ok(Framing::Chunked)
            }
            ([], [cl]) => {
                let text = cl.value.as_str().trim();
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ambiguous());
                }
                match text.parse::<usize>() {
                    Ok(0) => Ok(Framing::Empty),
                    Ok(n) if n <= self.limits.max_body_len => Ok(Framing::Length(n)),
                    _ => Err(ReadError::PayloadTooLarge(version.clone())),
                }
            }
            _ => Err(ambiguous()),
        }
    }

    /// redis_mq patch 5: reads the whole body now, bounded by `max_body_len`
    /// and by the request's deadline, so that no body is left for the
    /// request's handler to read (or for its drop to drain) at the client's pace.
    fn read_body(&mut self, framing: &Framing, version: &HTTPVersion) -> Result<Vec<u8>, ReadError> {
        let max = self.limits.max_body_len;
        let source = &mut self.next_header_source;
        let mut body = Vec::new();
        match *framing {
            Framing::Empty => {}
            Framing::Length(n) => {
                body.resize(n, 0);
                source.read_exact(&mut body).map_err(ReadError::ReadIoError)?;
            }
            Framing::Chunked => {
                let mut decoder = chunked_transfer::Decoder::new(source);
                (&mut decoder)
                    .take(max as u64 + 1)
                    .read_to_end(&mut body)
                    .map_err(ReadError::ReadIoError)?;
                if body.len() > max {
                    return Err(ReadError::PayloadTooLarge(version.clone()));
                }
            }
        }
        Ok(body)
    }

    /// redis_mq patch 5: answers `status` with `Connection: close`, then reads
    /// and drops what the client still sends for a moment, so that closing
    /// does not reset the connection before the client has read the answer.
    fn refuse(&mut self, status: u16, version: HTTPVersion) {
        use crate::{Response, StatusCode};
        if let Some(mut writer) = self.sink.next() {
            let close = Header::from_bytes(&b"Connection"[..], &b"close"[..])
                .expect("constant header");
            let response = Response::new_empty(StatusCode(status)).with_header(close);
            response.raw_print(&mut writer, version, &[], false, None).ok();
            writer.flush().ok();
        }
        self.write_closer.close();
        self.deadline.set(Some(Instant::now() + Duration::from_secs(1)));
        let mut sink = [0u8; 8192];
        let mut left: usize = 1 << 20;
        while left > 0 {
            match self.next_header_source.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        // redis_mq patch 4: once the earlier requests on this connection are
        // read, this one (head and body) must arrive within the timeout.
        self.next_header_source
            .wait_turn()
            .map_err(ReadError::ReadIoError)?;
        self.deadline
            .set(Some(Instant::now() + self.limits.request_timeout));

        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = match self.read_next_line(self.limits.max_url_len + 32) {
                    Err(e) if e.kind() == ErrorKind::InvalidData => {
                        return Err(ReadError::UriTooLong)
                    }
                    line => line.map_err(ReadError::ReadIoError)?,
                };

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };
            if path.len() > self.limits.max_url_len {
                return Err(ReadError::UriTooLong);
            }
            // redis_mq patch 5: refused before reading further (see next()).
            if version > (1, 1) {
                return Err(ReadError::UnsupportedVersion);
            }

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                let mut header_bytes = 0;
                loop {
                    let line = match self.read_next_line(self.limits.max_header_bytes) {
                        Err(e) if e.kind() == ErrorKind::InvalidData => {
                            return Err(ReadError::HeadersTooLarge(version))
                        }
                        line => line.map_err(ReadError::ReadIoError)?,
                    };

                    if line.is_empty() {
                        break;
                    };
                    // redis_mq patch 5: bounded in bytes and in number.
                    header_bytes += line.len() + 2;
                    if header_bytes > self.limits.max_header_bytes
                        || headers.len() >= self.limits.max_headers
                    {
                        return Err(ReadError::HeadersTooLarge(version));
                    }
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };

        // redis_mq patch 5: the body, checked and read in full before the
        // request is handed out.
        let framing = self.framing(&headers, &version)?;
        let expects_continue = match headers
            .iter()
            .find(|h| h.field.equiv("Expect"))
            .map(|h| h.value.as_str())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            Some(_) => return Err(ReadError::ExpectationFailed(version)),
        };

        // building the writer for the request
        let mut writer = self.sink.next().unwrap();

        // redis_mq patch 5: the client waits for this before it sends the body.
        if expects_continue && !matches!(framing, Framing::Empty) {
            let go_on = format!("HTTP/{}.{} 100 Continue\r\n\r\n", version.0, version.1);
            writer
                .write_all(go_on.as_bytes())
                .and_then(|()| writer.flush())
                .map_err(ReadError::ReadIoError)?;
        }
        let body = self.read_body(&framing, &version)?;
        let upgrade = headers.iter().any(|h| {
            h.field.equiv("Connection") && h.value.as_str().to_ascii_lowercase().contains("upgrade")
        });
        if upgrade {
            // redis_mq patch 4: an upgraded connection is the handler's to read.
            self.deadline.set(None);
        }

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            InFlight::new(writer, Arc::clone(&self.in_flight)),
            body,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        // redis_mq patch 5: wait while too many requests are unanswered (a
        // client that does not pipeline never makes this wait).
        self.in_flight.wait_until_below(MAX_IN_FLIGHT);

        loop {
            // redis_mq patch 5: every refusal is answered with `Connection:
            // close` and flushed before the connection closes (see refuse()).
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    self.refuse(400, HTTPVersion(1, 1));
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) | Err(ReadError::AmbiguousFraming(ver)) => {
                    self.refuse(400, ver);
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                    // request timeout (or an idle keep-alive connection)
                    self.refuse(408, HTTPVersion(1, 1));
                    return None; // closing the connection
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    self.refuse(417, ver);
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::UriTooLong) => {
                    self.refuse(414, HTTPVersion(1, 1));
                    return None;
                }

                Err(ReadError::HeadersTooLarge(ver)) => {
                    self.refuse(431, ver);
                    return None;
                }

                Err(ReadError::PayloadTooLarge(ver)) => {
                    self.refuse(413, ver);
                    return None;
                }

                // redis_mq patch 5: answered before a request exists; the old
                // check answered on a writer that waited for the request's
                // own, which was never released (a thread and two descriptors
                // leaked for each such request).
                Err(ReadError::UnsupportedVersion) => {
                    self.refuse(505, HTTPVersion(1, 1));
                    return None;
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // redis_mq patch 5: with `one_handler_per_connection`, a request
            // goes to a handler only once the ones before it on this
            // connection are answered (read ahead, it is ready at once; a
            // client that does not pipeline never makes this wait).
            if self.limits.one_handler_per_connection {
                self.in_flight.wait_until_below(2);
            }

            // returning the request
            return Some(rq);
        }
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    // redis_mq patch 5: any HTTP/d.d parses, so that the versions this server
    // does not speak (HTTP/2.0, HTTP/9.9) get 505 rather than 400.
    let digit = |b: u8| if b.is_ascii_digit() { Some(b - b'0') } else { None };
    let (major, minor) = match version.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] => match (digit(*major), digit(*minor)) {
            (Some(major), Some(minor)) => (major, minor),
            _ => return Err(ReadError::WrongRequestLine),
        },
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
