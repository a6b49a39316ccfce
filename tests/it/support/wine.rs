//! The Windows binaries (the GNU target, built by `scripts/cross`) run under
//! Wine against a Linux `redis-server` on loopback: real Windows programs,
//! real sockets, real console events.
//!
//! Debian 12's Wine lacks one function that Rust's std imports; the small
//! DLL in `wine/` stands in for it, beside the `.exe`s, in test support
//! only (see its source).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Why the Windows tests are ignored by a plain `cargo test`.
pub const NEEDS_WINE: &str =
    "needs wine64, mingw-w64 and the Windows binaries (scripts/test builds them)";

/// Where the Windows programs and the Wine prefix are, once prepared.
pub struct Wine {
    wine64: PathBuf,
    bin: PathBuf,
    prefix: PathBuf,
}

static PREPARED: OnceLock<Result<Wine, String>> = OnceLock::new();

/// The prepared Wine, the first call preparing it (copies the `.exe`s,
/// builds the stand-in DLL, makes the prefix); panics with what is missing.
pub fn wine() -> &'static Wine {
    match PREPARED.get_or_init(prepare) {
        Ok(wine) => wine,
        Err(why) => panic!("{why} ({NEEDS_WINE})"),
    }
}

impl Wine {
    /// `wine64 <bin>.exe`, for `Program::start_with`.
    pub fn command(&self, bin: &str) -> Command {
        let mut command = Command::new(&self.wine64);
        command
            .arg(self.bin.join(format!("{bin}.exe")))
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all");
        command
    }
}

fn prepare() -> Result<Wine, String> {
    // target/debug/web -> target/
    let target = Path::new(env!("CARGO_BIN_EXE_web"))
        .ancestors()
        .nth(2)
        .ok_or("no target dir")?
        .to_owned();
    let built = target.join("x86_64-pc-windows-gnu/debug");
    let bin = target.join("wine/bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("create {}: {e}", bin.display()))?;
    for exe in ["web.exe", "consumer.exe", "subscriber.exe"] {
        std::fs::copy(built.join(exe), bin.join(exe))
            .map_err(|e| format!("no {}: {e}", built.join(exe).display()))?;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/wine");
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-O2", "-shared", "-o"])
        .arg(bin.join("bcryptprimitives.dll"))
        .arg(source.join("bcryptprimitives.c"))
        .arg(source.join("bcryptprimitives.def"))
        .arg("-ladvapi32"))?;
    let wine64 = ["/usr/bin/wine64", "/usr/lib/wine/wine64"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("no wine64")?;
    let prefix = target.join("wine/prefix");
    run(Command::new(&wine64)
        .args(["wineboot", "-i"])
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all"))?;
    Ok(Wine {
        wine64,
        bin,
        prefix,
    })
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let out = command.stdin(Stdio::null()).output().map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {}; {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
