//! TLS to the database (issue 15 #11): a throwaway PostgreSQL cluster with `ssl=on` and a
//! certificate made here, reached with `sslmode=require` and with `sslmode=verify-full` against
//! the test's own CA; posada connects, migrates and its connection is encrypted. And TLS to Redis:
//! a `redis-server` listening only with TLS, reached through a `rediss://` URL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use posada_db::Db;

use crate::helpers::{eventually, test_settings};

/// A test CA and a server certificate for 127.0.0.1 and localhost it signed: (CA PEM, server
/// certificate PEM, server key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "posada test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server = server.signed_by(&server_key, &ca).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

/// The newest installed PostgreSQL's `bin` directory.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb/pg_ctl installation")
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Run a PostgreSQL tool; as the `postgres` user when the tests run as root (PostgreSQL refuses
/// to run as root).
fn pg_tool(tool: &Path, args: &[&str]) -> Output {
    let out = if running_as_root() {
        let mut all = vec!["-u", "postgres", "--", tool.to_str().unwrap()];
        all.extend_from_slice(args);
        Command::new("runuser").args(&all).output().unwrap()
    } else {
        Command::new(tool).args(args).output().unwrap()
    };
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        tool.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PostgreSQL cluster of its own on a free port, stopped when dropped.
struct TlsCluster {
    dir: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
}

impl TlsCluster {
    fn start() -> TlsCluster {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("ca.pem"), ca).unwrap();
        std::fs::write(path("server.crt"), cert).unwrap();
        std::fs::write(path("server.key"), key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path("server.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let bin = pg_bin();
        let data = path("data");
        pg_tool(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} -c ssl=on \
             -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key -c fsync=off",
            dir = dir.path().display()
        );
        pg_tool(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                path("postgres.log").to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        TlsCluster {
            ca: path("ca.pem"),
            dir,
            port,
        }
    }

    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let pg_ctl = pg_bin().join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap_or_default(),
            "-m",
            "immediate",
            "stop",
        ];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(args)
                .output()
        } else {
            Command::new(&pg_ctl).args(args).output()
        };
    }
}

async fn encrypted(db: &Db) -> bool {
    let Db::Postgres(pool) = db else {
        panic!("a PostgreSQL pool");
    };
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posada_migrates_a_database_it_reaches_over_tls() {
    posada_integrations::install_crypto_provider();
    let cluster = TlsCluster::start();

    // `sslmode=require`: encrypted, the certificate not checked (what managed databases ask).
    let settings = test_settings(&cluster.url("sslmode=require"));
    let db = posada_server::startup::open_database(&settings)
        .await
        .expect("posada connects with sslmode=require and migrates");
    assert!(encrypted(&db).await, "the connection is TLS");
    assert_eq!(posada_server::migrations::pending(&db).await.unwrap(), 0);
    db.close().await;

    // `sslmode=verify-full` with the CA that signed the server's certificate.
    let url = cluster.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        cluster.ca.display()
    ));
    let db = posada_server::startup::open_database(&test_settings(&url))
        .await
        .expect("the server's certificate verifies against the test CA");
    assert!(encrypted(&db).await);
    db.close().await;

    // Verification is real: without the test CA the certificate is refused.
    let refused =
        posada_server::startup::open_database(&test_settings(&cluster.url("sslmode=verify-full")))
            .await;
    assert!(refused.is_err(), "an unknown CA must not verify");
}

/// A `redis-server` of its own with TLS only (certificates from [`certificates`]), killed when
/// dropped.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    ca_pem: String,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> TlsRedis {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("ca.pem"), &ca).unwrap();
        std::fs::write(path("server.crt"), cert).unwrap();
        std::fs::write(path("server.key"), key).unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(path("server.crt"))
            .arg("--tls-key-file")
            .arg(path("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(path("ca.pem"))
            .args([
                "--tls-auth-clients",
                "no",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (built with TLS) starts");
        TlsRedis {
            child,
            port,
            ca_pem: ca,
            ca: path("ca.pem"),
            _dir: dir,
        }
    }

    /// A client of our own that trusts the test CA.
    fn client(&self) -> redis::Client {
        redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{}", self.port),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(self.ca_pem.clone().into_bytes()),
            },
        )
        .unwrap()
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `posada serve` as a child process, killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_are_shared_through_a_rediss_url() {
    posada_integrations::install_crypto_provider();
    let redis = TlsRedis::start();
    let client = redis.client();
    let mut conn = eventually(Duration::from_secs(30), || async {
        client.get_multiplexed_async_connection().await.ok()
    })
    .await;

    // posada trusts the test CA the way an operator adds one: SSL_CERT_FILE.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prefix = format!("posada-tls:{}", uuid::Uuid::new_v4().simple());
    let _served = Served(
        Command::new(env!("CARGO_BIN_EXE_posada"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("posada.db").display()),
            )
            .env("REDIS_URL", format!("rediss://127.0.0.1:{}", redis.port))
            .env("RATE_LIMIT_REDIS_PREFIX", &prefix)
            .env("SSL_CERT_FILE", &redis.ca)
            .env("LOG_FORMAT", "json")
            .env("POSADA_CONFIG", "/nonexistent/posada.toml")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("the posada binary starts"),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    eventually(Duration::from_secs(60), || async {
        let res = http.get(format!("{base}/api/v1/livez")).send().await.ok()?;
        (res.status() == 200).then_some(())
    })
    .await;
    let res = http
        .get(format!("{base}/api/v1/accommodations"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The request was counted in Redis, over TLS.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let health: serde_json::Value = http
        .get(format!("{base}/api/v1/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["checks"]["redis"]["status"], "healthy", "{health}");
}
