//! Defences around tiny_http: socket timeouts, and a new accept thread
//! whenever tiny_http's own one ends.
//!
//! tiny_http 0.12 serves each open connection on a thread of its own, reads
//! with no timeout, and ends its accept thread on the first accept error (it
//! even panics there when the process runs out of file descriptors). Left as
//! is, 2,000 silent sockets would hold 2,000 threads for ever, and one burst
//! past the open-file limit would close the port for good. The remedies here
//! stay inside std and tiny_http:
//!
//! 1. [`bind`] puts a receive and send timeout on the listening socket. Linux
//!    copies both to every socket `accept` returns, so a connection that sends
//!    nothing for [`IDLE_TIMEOUT`] is closed and its thread ends.
//! 2. The same timeout makes `accept` itself give up after an idle spell, and
//!    any accept error ends tiny_http's accept thread. [`serve`] keeps its own
//!    handle on the socket, notices the end (an error from `recv`, or a panic
//!    in one of tiny_http's unnamed threads), and starts a new `Server` on the
//!    same socket. The port never closes; connections that arrive meanwhile
//!    wait in the kernel's backlog.
//! 3. Workers of the old `Server` keep answering its open connections until
//!    they have been quiet longer than the idle timeout, then end.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};
use tiny_http::{Request, Server};

/// A connection that sends nothing (or writes nothing we can send) for this
/// long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle worker looks up from its queue.
const POLL: Duration = Duration::from_millis(250);

/// Binds `addr` and sets the timeouts that accepted sockets inherit.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    // std offers socket timeouts on streams only; the setsockopt underneath is
    // the same for a listening socket, so borrow a stream's methods for it.
    let socket = TcpStream::from(OwnedFd::from(listener));
    socket.set_read_timeout(Some(IDLE_TIMEOUT))?;
    socket.set_write_timeout(Some(IDLE_TIMEOUT))?;
    Ok(TcpListener::from(OwnedFd::from(socket)))
}

/// Serves requests from `listener` on `workers` threads for ever. Each worker
/// gets its own handler from `new_handler` (and so its own Redis connection).
pub fn serve<H>(
    listener: TcpListener,
    workers: usize,
    new_handler: impl Fn() -> H,
) -> io::Result<()>
where
    H: FnMut(Request) + Send + 'static,
{
    install_panic_hook();
    let mut pause = Duration::ZERO;
    loop {
        let started = Instant::now();
        let Some(server) = start_server(&listener) else {
            pause = next_pause(pause);
            thread::sleep(pause);
            continue;
        };
        let ended = Arc::new(AtomicBool::new(false));
        let (tell_ended, accept_ended) = mpsc::channel();
        for n in 0..workers {
            let worker = Worker {
                server: Arc::clone(&server),
                ended: Arc::clone(&ended),
                tell_ended: tell_ended.clone(),
            };
            let handler = new_handler();
            thread::Builder::new()
                .name(format!("http-worker-{n}"))
                .spawn(move || worker.run(handler))?;
        }
        let panics = TINY_HTTP_PANICS.load(Ordering::SeqCst);
        loop {
            match accept_ended.recv_timeout(POLL) {
                Err(RecvTimeoutError::Timeout)
                    if TINY_HTTP_PANICS.load(Ordering::SeqCst) == panics => {}
                _ => break,
            }
        }
        ended.store(true, Ordering::SeqCst);
        // An accept thread that ends at once (no file descriptors left) must
        // not turn into a loop that starts threads as fast as it can.
        pause = if started.elapsed() < Duration::from_secs(1) {
            next_pause(pause)
        } else {
            Duration::ZERO
        };
        thread::sleep(pause);
    }
}

/// 0, 50 ms, 100 ms, ... up to 800 ms between restarts that fail at once.
fn next_pause(pause: Duration) -> Duration {
    (pause * 2)
        .max(Duration::from_millis(50))
        .min(Duration::from_millis(800))
}

/// A tiny_http `Server` on a second handle to the same listening socket.
fn start_server(listener: &TcpListener) -> Option<Arc<Server>> {
    let handle = match listener.try_clone() {
        Ok(handle) => handle,
        Err(e) => {
            warn!("cannot start accepting connections ({e}); trying again");
            return None;
        }
    };
    match Server::from_listener(handle, None) {
        Ok(server) => Some(Arc::new(server)),
        Err(e) => {
            warn!("cannot start accepting connections ({e}); trying again");
            None
        }
    }
}

/// One thread that takes requests from one `Server`'s queue.
struct Worker {
    server: Arc<Server>,
    /// Set once the `Server`'s accept thread has ended.
    ended: Arc<AtomicBool>,
    tell_ended: Sender<()>,
}

impl Worker {
    fn run(self, mut handle: impl FnMut(Request)) {
        let mut quiet = Duration::ZERO;
        loop {
            match self.server.recv_timeout(POLL) {
                Ok(Some(request)) => {
                    quiet = Duration::ZERO;
                    handle(request);
                }
                Ok(None) => {
                    quiet += POLL;
                    // The old Server's connections have all timed out by now.
                    if self.ended.load(Ordering::SeqCst) && quiet > IDLE_TIMEOUT + POLL {
                        return;
                    }
                }
                // tiny_http hands the accept error to one `recv` and ends its
                // accept thread.
                Err(e) => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        debug!("no connection for {IDLE_TIMEOUT:?}; renewing the accept thread");
                    } else {
                        warn!("accepting connections failed ({e}); starting again");
                    }
                    self.ended.store(true, Ordering::SeqCst);
                    let _ = self.tell_ended.send(());
                }
            }
        }
    }
}

/// Panics in threads without a name: only tiny_http's threads have none here.
static TINY_HTTP_PANICS: AtomicUsize = AtomicUsize::new(0);

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current().name().is_none() {
                TINY_HTTP_PANICS.fetch_add(1, Ordering::SeqCst);
                warn!("a tiny_http thread stopped: {info}");
            } else {
                default_hook(info);
            }
        }));
    });
}
