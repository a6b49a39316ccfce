use std::io::Result as IoResult;
use std::io::{Error as IoError, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connection::Connection;
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
use crate::ssl::SslStream;

pub(crate) enum Stream {
    // redis_mq patch 3: shared, not cloned (see connection.rs)
    Http(Arc<Connection>),
    #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
    Https(SslStream),
}

impl Clone for Stream {
    fn clone(&self) -> Self {
        match self {
            Stream::Http(tcp_stream) => Stream::Http(Arc::clone(tcp_stream)),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => Stream::Https(ssl_stream.clone()),
        }
    }
}

impl From<Connection> for Stream {
    fn from(tcp_stream: Connection) -> Self {
        Stream::Http(Arc::new(tcp_stream))
    }
}

/// redis_mq patch 4: the moment by which the request being read must have
/// arrived in full (head and body); `None` while no request is being read.
/// Shared by the connection's reader and its `ClientConnection`, which sets it.
#[derive(Clone, Default)]
pub(crate) struct ReadDeadline(Arc<Mutex<Option<Instant>>>);

impl ReadDeadline {
    pub(crate) fn set(&self, deadline: Option<Instant>) {
        if let Ok(mut d) = self.0.lock() {
            *d = deadline;
        }
    }

    fn get(&self) -> Option<Instant> {
        self.0.lock().ok().and_then(|d| *d)
    }
}

impl Stream {
    fn secure(&self) -> bool {
        match self {
            Stream::Http(_) => false,
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => true,
        }
    }

    fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.peer_addr(),
        }
    }

    /// redis_mq patch 4: a read waits no longer than `timeout`.
    fn set_read_timeout(&self, timeout: std::time::Duration) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.set_read_timeout(Some(timeout)),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => Ok(()), // not covered by the patch
        }
    }

    fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).read(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).write(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.write(buf),
        }
    }

    fn flush(&mut self) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).flush(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.flush(),
        }
    }
}

pub struct RefinedTcpStream {
    stream: Stream,
    close_read: bool,
    close_write: bool,
    deadline: ReadDeadline,
    // redis_mq patch 4: when the socket's read timeout was last set
    timeout_set_at: Option<Instant>,
}

impl RefinedTcpStream {
    pub(crate) fn new<S>(stream: S) -> (RefinedTcpStream, RefinedTcpStream)
    where
        S: Into<Stream>,
    {
        let stream: Stream = stream.into();

        let (read, write) = (stream.clone(), stream);

        let read = RefinedTcpStream {
            stream: read,
            close_read: true,
            close_write: false,
            deadline: ReadDeadline::default(),
            timeout_set_at: None,
        };

        let write = RefinedTcpStream {
            stream: write,
            close_read: false,
            close_write: true,
            deadline: ReadDeadline::default(),
            timeout_set_at: None,
        };

        (read, write)
    }

    /// Returns true if this struct wraps around a secure connection.
    #[inline]
    pub(crate) fn secure(&self) -> bool {
        self.stream.secure()
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// redis_mq patch 4: the deadline that bounds this half's reads.
    pub(crate) fn deadline(&self) -> ReadDeadline {
        self.deadline.clone()
    }

    /// redis_mq patch 5: a handle that closes the connection for writing.
    pub(crate) fn write_closer(&self) -> WriteCloser {
        WriteCloser(self.stream.clone())
    }
}

/// redis_mq patch 5: closes a connection for writing, so that the client
/// reads end of file after a refusal while the server still drains its input.
pub(crate) struct WriteCloser(Stream);

impl WriteCloser {
    pub(crate) fn close(&mut self) {
        self.0.shutdown(Shutdown::Write).ok();
    }

}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        // redis_mq patch 4: a client that trickles bytes can no longer keep a
        // connection for ever: no read waits past the request's deadline.
        if let Some(deadline) = self.deadline.get() {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(IoError::new(ErrorKind::TimedOut, "request deadline passed"));
            }
            // One setsockopt per 100 ms at most: under load, reads follow
            // each other closely and a deadline 100 ms late changes nothing.
            let stale = self
                .timeout_set_at
                .map_or(true, |t| now.duration_since(t) > Duration::from_millis(100));
            if stale || left < Duration::from_millis(200) {
                self.stream.set_read_timeout(left)?;
                self.timeout_set_at = Some(now);
            }
        }
        self.stream.read(buf).map_err(|e| match e.kind() {
            // what a socket timeout looks like on Unix
            ErrorKind::WouldBlock => IoError::new(ErrorKind::TimedOut, e),
            _ => e,
        })
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.stream.flush()
    }
}
