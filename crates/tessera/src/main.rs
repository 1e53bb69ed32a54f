//! Tessera: an S3-compatible object storage server.

// A panic on a request path takes down the request's task: return an error instead (tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod config;
mod conn;
mod console;
mod credentials;
mod master_key;
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tessera_core::{Background, Options, Tessera};
use tessera_s3::{EndpointConfig, HttpService};

use crate::config::{ConfigError, Layer, Settings};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: an S3-compatible object storage server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 server.
    Serve(Box<ServeArgs>),
    /// Check the blob store of a data dir against its metadata, read-only (safe beside a
    /// running server): prints JSON on stdout, removes nothing.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Manage accounts, IAM users, their access keys and inline policies on a data dir
    /// (safe beside a running server, which sees changes at its next request). Prints JSON.
    Admin(Box<admin::AdminArgs>),
}

#[derive(Subcommand)]
enum BlobsCommand {
    /// Blobs no metadata references and temporary leftovers, older than the grace period:
    /// what the background sweep would remove. With no write in flight and `--grace 0`,
    /// anything listed is a leak.
    Unreferenced {
        #[command(flatten)]
        store: StoreArgs,
        /// Only list those last written more than this many seconds ago
        /// [default: the sweep grace setting, see `serve --sweep-grace`]
        #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
        grace: Option<u64>,
    },
    /// Every committed blob: id, size, modification time (ms since the epoch).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Which data dir, resolved like `serve`'s settings.
#[derive(Args)]
struct StoreArgs {
    /// Data directory [env: TESSERA_DATA_DIR] [default: ./tessera-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TOML settings file [env: TESSERA_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Settings of `tessera serve`. Each can also come from the environment variable shown or the
/// `--config` TOML file (same name, lowercase, without TESSERA_); the command line wins over
/// the environment, which wins over the file.
#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [env: TESSERA_LISTEN] [default: 127.0.0.1:9000]
    #[arg(long, value_name = "IP:PORT", value_parser = config::parse_listen)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (created if missing) [env: TESSERA_DATA_DIR] [default: ./tessera-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Region [env: TESSERA_REGION] [default: us-east-1]
    #[arg(long)]
    region: Option<String>,
    /// Base domain for virtual-host style requests (bucket.DOMAIN) [env: TESSERA_DOMAIN]
    #[arg(long)]
    domain: Option<String>,
    /// TLS certificate chain, PEM (requires --tls-key) [env: TESSERA_TLS_CERT]
    #[arg(long, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM (requires --tls-cert) [env: TESSERA_TLS_KEY]
    #[arg(long, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Reject AWS Signature Version 2 requests [env: TESSERA_NO_SIGV2=true]
    #[arg(long)]
    no_sigv2: bool,
    /// Accept SSE-C customer keys over plain HTTP, which S3 refuses (the key travels in a
    /// header): for test rigs only, such as ceph/s3-tests [env: TESSERA_ALLOW_SSE_C_OVER_HTTP=true]
    #[arg(long)]
    allow_sse_c_over_http: bool,
    /// Minimum multipart part size but for the last part, in bytes or with a unit (5MiB)
    /// [env: TESSERA_MIN_PART_SIZE] [default: 5MiB]
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    min_part_size: Option<u64>,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT [env: TESSERA_SHUTDOWN_TIMEOUT] [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    shutdown_timeout: Option<u64>,
    /// Close a connection idle (no request) for this many seconds [env: TESSERA_IDLE_TIMEOUT] [default: 20]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    idle_timeout: Option<u64>,
    /// Seconds a client has to send a request's headers, from their first byte
    /// [env: TESSERA_HEADER_READ_TIMEOUT] [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    header_read_timeout: Option<u64>,
    /// Fail a request whose body sends nothing for this many seconds (400 RequestTimeout), and
    /// close a connection whose response is not read for as long [env: TESSERA_BODY_TIMEOUT] [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    body_timeout: Option<u64>,
    /// Concurrent connections at most; more are closed on accept [env: TESSERA_MAX_CONNECTIONS]
    /// [default: 3/4 of the open-file limit, at most 10000]
    #[arg(long, value_name = "N", value_parser = config::parse_count)]
    max_connections: Option<usize>,
    /// Concurrent connections from one client address (IPv6: one /64) at most
    /// [env: TESSERA_MAX_CONNECTIONS_PER_IP] [default: 1000, at most half of --max-connections]
    #[arg(long, value_name = "N", value_parser = config::parse_count)]
    max_connections_per_ip: Option<usize>,
    /// Seconds an unreferenced blob or temporary leftover must be old before the background
    /// sweep removes it; nodes sharing a store must not sweep each other's writes in progress
    /// [env: TESSERA_SWEEP_GRACE] [default: 3600]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    sweep_grace: Option<u64>,
    /// Seconds in a lifecycle "day": rule Days count in these, and due times round up to a
    /// multiple of it (midnight UTC with the default); shorter days are for tests
    /// [env: TESSERA_LIFECYCLE_DAY] [default: 86400]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    lifecycle_day: Option<u64>,
    /// Seconds between two passes of the lifecycle worker (abort stale uploads, expire
    /// objects) [env: TESSERA_LIFECYCLE_INTERVAL] [default: 3600]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    lifecycle_interval: Option<u64>,
    /// SSE-S3 master key file (base64 of 32 bytes, or 32 raw bytes); it wraps every SSE-S3
    /// object's data key, so losing it loses those objects [env: TESSERA_MASTER_KEY_FILE]
    /// [default: DATA_DIR/master.key, created with mode 0600 on first start]
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Address of the web console, or `off` [env: TESSERA_CONSOLE_LISTEN] [default:
    /// 127.0.0.1:9001; if that address is taken, the server starts without the console]
    #[arg(long, value_name = "IP:PORT|off", value_parser = config::parse_console_listen)]
    console_listen: Option<config::ConsoleListen>,
    /// End a console session unused for this many seconds
    /// [env: TESSERA_CONSOLE_SESSION_IDLE] [default: 1800]
    #[arg(long, value_name = "SECONDS", value_parser = config::parse_seconds)]
    console_session_idle: Option<u64>,
    /// TOML settings file [env: TESSERA_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    fn into_layer(self) -> (Layer, Option<PathBuf>) {
        let layer = Layer {
            listen: self.listen,
            data_dir: self.data_dir,
            region: self.region,
            domain: self.domain,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            no_sigv2: self.no_sigv2.then_some(true),
            allow_sse_c_over_http: self.allow_sse_c_over_http.then_some(true),
            min_part_size: self.min_part_size,
            shutdown_timeout: self.shutdown_timeout,
            idle_timeout: self.idle_timeout,
            header_read_timeout: self.header_read_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            sweep_grace: self.sweep_grace,
            lifecycle_day: self.lifecycle_day,
            lifecycle_interval: self.lifecycle_interval,
            master_key_file: self.master_key_file,
            console_listen: self.console_listen,
            console_session_idle: self.console_session_idle,
        };
        (layer, self.config)
    }
}

/// mimalloc reuses freed memory instead of handing large buffers back to the kernel: body
/// buffers are allocated and freed at a high rate, and fresh pages are slow to touch on VMs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Blobs(cmd) => blobs(cmd),
        Command::Admin(args) => admin::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: error: {e:#}");
            if refused_start(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether `e` refuses the start for what the operator gave (settings, a data dir written by a
/// newer Tessera) rather than a failure: those exit with code 2.
fn refused_start(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ConfigError>().is_some()
        || e.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<tessera_meta::OpenError>(),
                Some(tessera_meta::OpenError::SchemaTooNew { .. })
            )
        })
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (cli, config_file) = args.into_layer();
    let settings = Settings::resolve(cli, config_file, std::env::vars_os())?;
    init_logging("info")?;
    let tls = match &settings.tls {
        Some(paths) => Some(server::load_tls(&paths.cert, &paths.key)?),
        None => None,
    };
    let env_creds = credentials::from_env(
        config::known_env_var(config::ENV_ROOT_ACCESS_KEY)?,
        config::known_env_var(config::ENV_ROOT_SECRET_KEY)?,
    )?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?;
    runtime.block_on(async move {
        let signals = server::Signals::install().context("cannot install signal handlers")?;
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
        let (creds, source) = credentials::resolve(env_creds, &settings.data_dir)?;
        match &source {
            credentials::Source::Env => tracing::info!("root credentials from environment"),
            credentials::Source::File(path) => tracing::info!(path = %path.display(), "root credentials loaded"),
            credentials::Source::Generated(path) => tracing::info!(path = %path.display(), "root credentials generated"),
        }
        // Loaded at start so that a bad key file stops the server before it serves; it wraps
        // every SSE-S3 object's data key.
        let (master_key, key_source) =
            master_key::resolve(settings.master_key_file.as_deref(), &settings.data_dir)?;
        match &key_source {
            master_key::Source::Configured(path) | master_key::Source::DataDir(path) => tracing::info!(path = %path.display(), id = %master_key.id(), "SSE-S3 master key loaded"),
            master_key::Source::Generated(path) => tracing::info!(path = %path.display(), id = %master_key.id(), "SSE-S3 master key generated; back it up: SSE-S3 objects cannot be read without it"),
        }
        let (service, background) = open_service(&settings, creds.clone(), master_key).await?;

        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local = listener.local_addr().context("cannot read the bound address")?;
        let limits = connection_limits(&settings);
        let url = server::listen_url(local, tls.is_some());
        if let credentials::Source::Generated(path) = &source {
            print!("{}", credentials::banner(
                    &creds,
                    path,
                    &server::client_url(local, tls.is_some()),
                    &settings.region,
                ));
        }
        let console = match &settings.console {
            Some(c) => bind_console(c).await?,
            None => None,
        };
        tracing::info!(url = %url, data_dir = %settings.data_dir.display(), region = %settings.region, "listening");
        println!("tessera listening on {url}");

        let console_loop = console.map(|(console_listener, console_settings)| {
            let mut config = tessera_console::ConsoleConfig::new(
                settings.region.clone(),
                local.to_string(),
                tls.is_some(),
            );
            config.session_idle = console_settings.session_idle;
            config.body_timeout = settings.limits.body_timeout;
            let upstream = Arc::new(console::S3Upstream(service.clone()));
            let app = tessera_console::Console::new(config, upstream);
            let console_url = console_listener
                .local_addr()
                .map(|a| server::listen_url(a, tls.is_some()))
                .unwrap_or_default();
            tracing::info!(url = %console_url, session_idle_secs = console_settings.session_idle.as_secs(), "console listening (sessions are kept in this process: per node)");
            println!("tessera console on {console_url}");
            server::serve(console_listener, tls.clone(), app, signals.nth(1), signals.nth(2), settings.shutdown_timeout, limits)
        });
        let s3_loop = server::serve(listener, tls, service, signals.nth(1), signals.nth(2), settings.shutdown_timeout, limits);
        match console_loop {
            Some(console_loop) => {
                tokio::join!(s3_loop, console_loop);
            }
            None => s3_loop.await,
        }
        background.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Binds the console's listener. The default address taken by another process (a second
/// server on the host) leaves the console off with a warning; an address the operator set
/// must work.
async fn bind_console(
    c: &config::ConsoleSettings,
) -> anyhow::Result<Option<(tokio::net::TcpListener, config::ConsoleSettings)>> {
    match tokio::net::TcpListener::bind(c.listen).await {
        Ok(l) => Ok(Some((l, *c))),
        Err(e) if !c.explicit => {
            tracing::warn!(addr = %c.listen, error = %e, "console not started: cannot listen on its default address (set --console-listen)");
            Ok(None)
        }
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot listen on {} (console)", c.listen)))
        }
    }
}

/// Raises the open-file limit and sizes the connection caps from it.
fn connection_limits(settings: &Settings) -> server::Limits {
    let fd_limit = match server::raise_fd_limit() {
        Ok(l) => {
            let hard = l
                .hard
                .map_or_else(|| "unlimited".to_owned(), |h| h.to_string());
            if l.now > l.before {
                tracing::info!(from = l.before, to = l.now, hard = %hard, "raised the open-file limit (RLIMIT_NOFILE)");
            } else {
                tracing::info!(limit = l.now, hard = %hard, "open-file limit (RLIMIT_NOFILE)");
            }
            l.now
        }
        Err(e) => {
            let l = server::fd_soft_limit();
            tracing::warn!(error = %e, limit = l, "cannot raise the open-file limit (RLIMIT_NOFILE)");
            l
        }
    };
    let (max_connections, max_connections_per_ip) = settings.limits.caps(fd_limit);
    if u64::try_from(max_connections).unwrap_or(u64::MAX) > fd_limit {
        tracing::warn!(max_connections, fd_limit, "--max-connections is above the open-file limit: accepts will fail before the cap is reached");
    }
    tracing::info!(
        fd_limit,
        max_connections,
        max_connections_per_ip,
        idle_timeout_secs = settings.limits.idle_timeout.as_secs(),
        header_read_timeout_secs = settings.limits.header_read_timeout.as_secs(),
        body_timeout_secs = settings.limits.body_timeout.as_secs(),
        "connection limits"
    );
    server::Limits {
        idle_timeout: settings.limits.idle_timeout,
        header_read_timeout: settings.limits.header_read_timeout,
        write_timeout: settings.limits.body_timeout,
        max_connections,
        max_connections_per_ip,
    }
}

/// Disk space held back for the metadata store (`meta.reserve` in the data dir) and released
/// for deletes when the disk is full, so that users can always free space.
const META_RESERVE_BYTES: u64 = 32 << 20;

/// Opens the stores and the domain under the data dir, starts the background work (the blob
/// sweep, the pruning of completed uploads) and builds the S3 service.
async fn open_service(
    settings: &Settings,
    creds: credentials::Credentials,
    master_key: tessera_core::sse::MasterKey,
) -> anyhow::Result<(HttpService, Background)> {
    let data_dir: &Path = &settings.data_dir;
    let meta_path = data_dir.join("meta.sqlite3");
    let meta = tessera_meta::SqliteMetaStore::open_with_reserve(&meta_path, META_RESERVE_BYTES)
        .await
        .with_context(|| format!("cannot open metadata store {}", meta_path.display()))?;
    let blob_dir = data_dir.join("blobs");
    let blobs = tessera_blob::LocalBlobStore::open(&blob_dir)
        .with_context(|| format!("cannot open blob store {}", blob_dir.display()))?;
    let options = Options {
        min_part_size: settings.min_part_size,
        region: settings.region.clone(),
        sweep_grace: settings.sweep_grace,
        lifecycle_day: settings.lifecycle_day,
        lifecycle_interval: settings.lifecycle_interval,
        ..Options::default()
    };
    let tessera = Tessera::open(Arc::new(meta), Arc::new(blobs), options)
        .await
        .context("cannot open Tessera")?
        .with_master_key(master_key);
    // The configured root key always works: it is the first account's root key.
    let root = tessera
        .ensure_root_account(&creds.access_key, &creds.secret_key)
        .await
        .context("cannot set up the root account")?;
    tracing::info!(account = %root.id, name = %root.name, "root account");
    let background = tessera.start_background();
    let service = tessera_s3::build_service(
        Arc::new(tessera),
        EndpointConfig {
            region: settings.region.clone(),
            domain: settings.domain.clone(),
            allow_sigv2: settings.allow_sigv2,
            body_timeout: settings.limits.body_timeout,
            tls: settings.tls.is_some(),
            allow_sse_c_over_http: settings.allow_sse_c_over_http,
        },
    )
    .context("cannot build the S3 service")?;
    Ok((service, background))
}

/// `tessera blobs ...`: opens the data dir's stores read-only (no sweep, no space reserve, no
/// schema change: safe beside a running server) and prints the answer as JSON.
fn blobs(cmd: BlobsCommand) -> anyhow::Result<()> {
    let (store, grace) = match &cmd {
        BlobsCommand::Unreferenced { store, grace } => (store, *grace),
        BlobsCommand::List { store } => (store, None),
    };
    let cli = Layer {
        data_dir: store.data_dir.clone(),
        ..Layer::default()
    };
    let settings = Settings::resolve(cli, store.config.clone(), std::env::vars_os())?;
    init_logging("warn")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?;
    let out = runtime.block_on(async {
        let tessera = open_read_only(&settings).await?;
        let json = match cmd {
            BlobsCommand::Unreferenced { .. } => {
                let grace = grace.map_or(settings.sweep_grace, std::time::Duration::from_secs);
                let found = tessera
                    .unreferenced(grace)
                    .await
                    .context("cannot check the blob store")?;
                serde_json::json!({
                    "grace_seconds": grace.as_secs(),
                    "listed": found.listed,
                    "unreferenced": found.blobs.iter().map(|b| serde_json::json!({
                        "id": b.id.as_str(), "size": b.size, "modified": b.modified,
                    })).collect::<Vec<_>>(),
                    "temporary": found.temporary.iter().map(|t| serde_json::json!({
                        "name": t.name, "modified": t.modified,
                    })).collect::<Vec<_>>(),
                })
            }
            BlobsCommand::List { .. } => {
                let all = tessera
                    .all_blobs()
                    .await
                    .context("cannot list the blob store")?;
                serde_json::json!({
                    "blobs": all.iter().map(|b| serde_json::json!({
                        "id": b.id.as_str(), "size": b.size, "modified": b.modified,
                    })).collect::<Vec<_>>(),
                })
            }
        };
        anyhow::Ok(json)
    })?;
    println!("{out}");
    Ok(())
}

/// The domain over the data dir's stores, metadata read-only, with nothing in the background.
async fn open_read_only(settings: &Settings) -> anyhow::Result<Tessera> {
    let data_dir: &Path = &settings.data_dir;
    let meta_path = data_dir.join("meta.sqlite3");
    let blob_dir = data_dir.join("blobs");
    if !meta_path.is_file() || !blob_dir.is_dir() {
        anyhow::bail!(
            "{} is not a Tessera data dir (no meta.sqlite3 or blobs/)",
            data_dir.display()
        );
    }
    let meta = tessera_meta::SqliteMetaStore::open_read_only(&meta_path)
        .await
        .with_context(|| format!("cannot open metadata store {}", meta_path.display()))?;
    let blobs = tessera_blob::LocalBlobStore::open(&blob_dir)
        .with_context(|| format!("cannot open blob store {}", blob_dir.display()))?;
    let options = Options {
        sweep_grace: settings.sweep_grace,
        ..Options::default()
    };
    Tessera::open(Arc::new(meta), Arc::new(blobs), options)
        .await
        .context("cannot open Tessera")
}

/// Logs to stderr; filter from `TESSERA_LOG`, else `RUST_LOG`, else `level`.
fn init_logging(level: &str) -> Result<(), ConfigError> {
    let (var, filter) = match config::known_env_var(config::ENV_LOG)? {
        Some(f) => (config::ENV_LOG, f),
        None => match config::known_env_var("RUST_LOG")? {
            Some(f) => ("RUST_LOG", f),
            // s3s logs every client error (NoSuchKey, a bad signature...) at ERROR level, and
            // a malformed XML body whole (a client could fill the log with it); the request
            // line Tessera logs for each request already carries the status.
            None => ("default", format!("{level},s3s::ops=off,s3s::http::de=off")),
        },
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|e| config::config_err!("invalid log filter in {var} ({filter:?}): {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
