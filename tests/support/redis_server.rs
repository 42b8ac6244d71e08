//! A real `redis-server` per test on a free loopback port, shared by the test targets
//! (`tests/api`, `tests/desk`) through `#[path]`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of our own; killed when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        for _ in 0..5 {
            let port = free_port();
            // A directory of its own: redis-server loads any dump.rdb where it starts.
            let dir = std::env::temp_dir().join(format!("switchboard-redis-{port}"));
            let _ = std::fs::create_dir_all(&dir);
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run `{bin}` ({e}); install redis-server (README's test command does)"));
            let mut server = RedisServer { child, port };
            if server.wait_until_up() {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_until_up(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut conn) = client.get_connection() {
                    if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Number of data keys stored: proves a refused request stored nothing. Rate-limit
    /// counters (`:rl:{…}`, one second long, written for every authenticated request)
    /// are bookkeeping, not data, and are left out.
    pub fn dbsize(&self) -> i64 {
        let mut conn = self.connection();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("keys");
        keys.iter().filter(|k| !k.contains(":rl:{")).count() as i64
    }

    /// A plain connection, for a test to read or write keys directly.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connection")
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
