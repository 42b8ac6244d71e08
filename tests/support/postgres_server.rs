//! A real PostgreSQL per test (Debian's, the archive tier's database): `initdb` into a
//! temporary directory and `pg_ctl` on a free loopback port, stopped when dropped. As
//! root (CI), the server runs as the `postgres` user, since PostgreSQL refuses root.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct PostgresServer {
    dir: PathBuf,
    pub port: u16,
}

impl PostgresServer {
    pub fn start() -> Self {
        let bin = bin_dir();
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("switchboard-pg-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg dir");
        if is_root() {
            // The server's files belong to the user it runs as.
            run(Command::new("chown").arg("-R").arg("postgres").arg(&dir));
        }
        let data = dir.join("data");
        run(as_server(&bin.join("initdb"))
            .args([
                "-U",
                "switchboard",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data));
        let server = PostgresServer { dir, port };
        server.restart();
        server
    }

    /// Starts the server (again, after `stop`) on its port and data.
    pub fn restart(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(as_server(&bin_dir().join("pg_ctl"))
            .args(["-w", "-t", "30", "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "start"]));
        self.wait_until_up();
    }

    /// A connection URL for the `postgres` database as the `switchboard` superuser.
    pub fn url(&self) -> String {
        format!("postgres://switchboard@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would (`immediate`); `restart` brings it back.
    pub fn stop(&self) {
        let bin = bin_dir();
        let _ = as_server(&bin.join("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "PostgreSQL did not start: see {}",
            self.dir.join("log").display()
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where Debian keeps the server's programs (`/usr/lib/postgresql/<major>/bin`), unless
/// `PG_BIN` says otherwise.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .filter(|d| d.join("initdb").exists())
        .unwrap_or_else(|| panic!("no PostgreSQL under /usr/lib/postgresql; install postgresql (README's test command does)"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A server program, run as `postgres` when we are root.
fn as_server(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
