//! Unix: Linux (glibc and musl), macOS and FreeBSD. Only POSIX calls, and
//! one section name that differs between ELF and Mach-O.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use libc::c_int;

/// What stops a program, as the README and the log name it.
pub const STOP_REQUESTS: &str = "Ctrl-C, kill, a closed terminal";

/// The signals whose default action would end a program at once, and that
/// a user or a supervisor sends to end one: SIGHUP (a closed terminal, a
/// dropped ssh session), SIGINT (Ctrl-C), SIGQUIT (Ctrl-\\), SIGTERM
/// (`kill`, systemd, `start-stop-daemon --stop`), and SIGUSR1, SIGUSR2 and
/// SIGALRM, which these programs give no other meaning. SIGKILL cannot be
/// caught: that is what `consumer --reliable` is for.
const STOPPING: [c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

static FIRST_REQUEST: OnceLock<fn() -> bool> = OnceLock::new();

/// From now on the [`STOPPING`] signals call `first`, from a thread of
/// their own; when it returns false (a second signal), the signal does
/// what it does by default: it ends the process. Returns false when the
/// signals cannot be taken over, and then they act as by default.
///
/// They are blocked in every thread (threads inherit the mask, so call
/// this before any thread starts) and taken one at a time by `sigwait`:
/// no handler runs, so no read in any thread is ever interrupted by one.
///
/// A signal ignored when the program started is discarded by the system
/// even while blocked, so `sigwait` would never see it: a shell starts a
/// background job (`web &` in a script) with SIGINT and SIGQUIT ignored.
/// Those are handled all the same, except SIGHUP: an ignored SIGHUP is
/// `nohup`'s way of saying "outlive the terminal", and it stays ignored.
pub fn catch_stop_requests(first: fn() -> bool) -> bool {
    let _ = FIRST_REQUEST.set(first);
    // SAFETY: an all-zero sigset_t is a valid value to hand to sigemptyset,
    // which initialises it; the calls only read and write `set`.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    let blocked = unsafe {
        libc::sigemptyset(&mut set) == 0
            && STOPPING.iter().all(|&signum| libc::sigaddset(&mut set, signum) == 0)
            && libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) == 0
    };
    if !blocked {
        return false;
    }
    // Blocked first, so that none can end the program in between.
    for signum in STOPPING {
        if signum != libc::SIGHUP && ignored(signum) {
            take_back(signum);
        }
    }
    let waiter = thread::Builder::new().name("signals".into()).spawn(move || {
        loop {
            let mut signum: c_int = 0;
            // SAFETY: `set` was initialised above; `signum` is a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut signum) } != 0 {
                continue;
            }
            let first = FIRST_REQUEST.get().is_some_and(|first| first());
            if !first {
                act_as_default(signum);
            }
        }
    });
    if waiter.is_err() {
        // SAFETY: as above; nobody would take the signals, so let them act.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        return false;
    }
    true
}

/// True when `signum` was ignored when the program started.
fn ignored(signum: c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signum, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Gives an ignored `signum` back its default action, so that it reaches
/// `sigwait` (it is blocked, so the default never acts).
fn take_back(signum: c_int) {
    // SAFETY: a plain libc call; SIG_DFL is a valid disposition.
    unsafe { libc::signal(signum, libc::SIG_DFL) };
}

/// Lets `signum` do what it does by default (end the process), now.
fn act_as_default(signum: c_int) {
    // SAFETY: plain libc calls on a local, initialised sigset_t.
    unsafe {
        let mut one: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut one);
        libc::sigaddset(&mut one, signum);
        libc::signal(signum, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
        libc::raise(signum);
    }
}

/// Why a stdout closed at start is refused, in the user's words.
pub const CLOSED_STDOUT: &str = "stdout is closed (started with >&-); nothing printed could be read. \
     To discard the output, send it to /dev/null";

/// Whether descriptor 1 was closed when the process started.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Rust's runtime puts `/dev/null` in place of a closed standard descriptor
/// before `main`, and that looks the same as the `/dev/null` a daemonizer
/// (`daemon(3)`, `start-stop-daemon --background`, Python's
/// `subprocess.DEVNULL`) opens on purpose. So descriptor 1 is looked at
/// once before the runtime does, from the list of functions the C runtime
/// runs before Rust's start-up code (glibc, musl, FreeBSD's libc and
/// macOS's dyld alike): closed then is closed, exactly.
extern "C" fn record_stdout_at_start() {
    // SAFETY: F_GETFD only asks whether descriptor 1 is open.
    let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
}

/// That list is `.init_array` in ELF (Linux, FreeBSD) and
/// `__mod_init_func` in Mach-O (macOS).
#[used]
#[cfg_attr(
    target_vendor = "apple",
    unsafe(link_section = "__DATA,__mod_init_func,mod_init_funcs")
)]
#[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
static RECORD_STDOUT_AT_START: extern "C" fn() = record_stdout_at_start;

pub fn stdout_closed_at_start() -> bool {
    STDOUT_CLOSED_AT_START.load(Ordering::Relaxed)
}

/// Descriptor 1 as a plain file: every write is one `write(2)`, and its
/// error (a closed pipe) comes back as it is.
pub type Stdout = File;

pub fn open_stdout() -> io::Result<Stdout> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// The host's name (`gethostname`, which needs no file: it works in an
/// empty root too).
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; one byte is kept for the NUL.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).trim().to_owned();
    (!name.is_empty()).then_some(name)
}
