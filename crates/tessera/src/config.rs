//! Server settings, merged from the command line, `TESSERA_*` environment variables, a TOML
//! file and built-in defaults (in that order of precedence).

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
/// Default console listen address.
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:9001";
/// Default idle time after which a console session ends, in seconds.
pub const DEFAULT_CONSOLE_SESSION_IDLE: u64 = 30 * 60;
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";
/// Default region.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default minimum multipart part size (S3: 5 MiB).
pub const DEFAULT_MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest accepted minimum part size (S3's maximum part size, 5 GiB).
pub const MAX_MIN_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Default bound on the graceful shutdown wait, in seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30;
/// Default idle keep-alive timeout, in seconds (S3 closes idle connections after about 20 s).
pub const DEFAULT_IDLE_TIMEOUT: u64 = 20;
/// Default time a client has to send a request's headers once it started, in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: u64 = 30;
/// Default time a request body (or a response the client stopped reading) may stall, in seconds.
pub const DEFAULT_BODY_TIMEOUT: u64 = 30;
/// Largest default cap on concurrent connections (the default is also bounded by the fd limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Largest default cap on concurrent connections per client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 1_000;
/// Longest accepted timeout setting (a day), in seconds.
const MAX_TIMEOUT: u64 = 86_400;
/// Default age, in seconds, an unreferenced blob or temporary leftover must reach before the
/// background sweep removes it (younger ones may be writes in progress on another node).
pub const DEFAULT_SWEEP_GRACE: u64 = 3600;
/// Longest accepted sweep grace (a week), in seconds.
const MAX_SWEEP_GRACE: u64 = 7 * 86_400;
/// Length of a lifecycle day, in seconds (S3's; shorter ones are for tests).
pub const DEFAULT_LIFECYCLE_DAY: u64 = 86_400;
/// Default time between two lifecycle passes, in seconds.
pub const DEFAULT_LIFECYCLE_INTERVAL: u64 = 3600;

/// Environment variables of the settings.
const SETTING_VARS: &[&str] = &[
    "TESSERA_LISTEN",
    "TESSERA_DATA_DIR",
    "TESSERA_REGION",
    "TESSERA_DOMAIN",
    "TESSERA_TLS_CERT",
    "TESSERA_TLS_KEY",
    "TESSERA_NO_SIGV2",
    "TESSERA_ALLOW_SSE_C_OVER_HTTP",
    "TESSERA_MIN_PART_SIZE",
    "TESSERA_SHUTDOWN_TIMEOUT",
    "TESSERA_IDLE_TIMEOUT",
    "TESSERA_HEADER_READ_TIMEOUT",
    "TESSERA_BODY_TIMEOUT",
    "TESSERA_MAX_CONNECTIONS",
    "TESSERA_MAX_CONNECTIONS_PER_IP",
    "TESSERA_SWEEP_GRACE",
    "TESSERA_LIFECYCLE_DAY",
    "TESSERA_LIFECYCLE_INTERVAL",
    "TESSERA_MASTER_KEY_FILE",
    "TESSERA_CONSOLE_LISTEN",
    "TESSERA_CONSOLE_SESSION_IDLE",
];

/// Other `TESSERA_*` variables the binary reads.
pub const ENV_ROOT_ACCESS_KEY: &str = "TESSERA_ROOT_ACCESS_KEY";
pub const ENV_ROOT_SECRET_KEY: &str = "TESSERA_ROOT_SECRET_KEY";
pub const ENV_LOG: &str = "TESSERA_LOG";
pub const ENV_CONFIG: &str = "TESSERA_CONFIG";
const OTHER_VARS: &[&str] = &[
    ENV_ROOT_ACCESS_KEY,
    ENV_ROOT_SECRET_KEY,
    ENV_LOG,
    ENV_CONFIG,
];

/// An invalid setting: the server refuses to start and exits with code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

macro_rules! config_err {
    ($($arg:tt)*) => { ConfigError(format!($($arg)*)) };
}
pub(crate) use config_err;

/// One source of settings; every field is optional so that sources can be layered.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub domain: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub no_sigv2: Option<bool>,
    pub allow_sse_c_over_http: Option<bool>,
    #[serde(default, deserialize_with = "de_size")]
    pub min_part_size: Option<u64>,
    pub shutdown_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub header_read_timeout: Option<u64>,
    pub body_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub sweep_grace: Option<u64>,
    pub lifecycle_day: Option<u64>,
    pub lifecycle_interval: Option<u64>,
    pub master_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_console_listen")]
    pub console_listen: Option<ConsoleListen>,
    pub console_session_idle: Option<u64>,
}

/// Where the web console listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleListen {
    /// No console.
    Off,
    At(SocketAddr),
}

impl Layer {
    /// Fills the fields unset here from `lower` (a source of lower precedence).
    fn or(self, lower: Layer) -> Layer {
        Layer {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            region: self.region.or(lower.region),
            domain: self.domain.or(lower.domain),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            no_sigv2: self.no_sigv2.or(lower.no_sigv2),
            allow_sse_c_over_http: self.allow_sse_c_over_http.or(lower.allow_sse_c_over_http),
            min_part_size: self.min_part_size.or(lower.min_part_size),
            shutdown_timeout: self.shutdown_timeout.or(lower.shutdown_timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            header_read_timeout: self.header_read_timeout.or(lower.header_read_timeout),
            body_timeout: self.body_timeout.or(lower.body_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(lower.max_connections_per_ip),
            sweep_grace: self.sweep_grace.or(lower.sweep_grace),
            lifecycle_day: self.lifecycle_day.or(lower.lifecycle_day),
            lifecycle_interval: self.lifecycle_interval.or(lower.lifecycle_interval),
            master_key_file: self.master_key_file.or(lower.master_key_file),
            console_listen: self.console_listen.or(lower.console_listen),
            console_session_idle: self.console_session_idle.or(lower.console_session_idle),
        }
    }
}

/// PEM files of the TLS certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Bounds on connections: timeouts and caps (the caps' defaults depend on the file descriptor
/// limit, see [`ConnLimits::caps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// A connection with no request in flight and no byte received for this long is closed.
    pub idle_timeout: Duration,
    /// Once the first byte of a request arrived, its headers must be complete within this.
    pub header_read_timeout: Duration,
    /// A request body that sends no byte for this long fails (400 RequestTimeout); a response
    /// the client does not read for this long closes the connection.
    pub body_timeout: Duration,
    /// Cap on concurrent connections; `None`: sized from the file descriptor limit.
    pub max_connections: Option<usize>,
    /// Cap on concurrent connections from one client address; `None`: the default.
    pub max_connections_per_ip: Option<usize>,
}

impl ConnLimits {
    /// The connection caps (global, per client address) given the file descriptor limit.
    ///
    /// Global default: three quarters of the fd limit (the rest is left for blob files, the
    /// database and the listener), at most [`DEFAULT_MAX_CONNECTIONS`]. Per-address default:
    /// [`DEFAULT_MAX_CONNECTIONS_PER_IP`] (far above the 10 to a few hundred connections of one
    /// busy SDK, aws cli or rclone client) but at most half the global cap, so that one address
    /// cannot take the whole budget.
    pub fn caps(&self, fd_limit: u64) -> (usize, usize) {
        let by_fds = usize::try_from(fd_limit / 4 * 3).unwrap_or(usize::MAX);
        let global = self
            .max_connections
            .unwrap_or_else(|| by_fds.min(DEFAULT_MAX_CONNECTIONS))
            .max(1);
        let per_ip = self
            .max_connections_per_ip
            .unwrap_or_else(|| DEFAULT_MAX_CONNECTIONS_PER_IP.min(global / 2))
            .clamp(1, global);
        (global, per_ip)
    }
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub domain: Option<String>,
    pub tls: Option<TlsPaths>,
    pub allow_sigv2: bool,
    /// Accept SSE-C keys over plain HTTP (S3 refuses them): for test rigs only.
    pub allow_sse_c_over_http: bool,
    pub min_part_size: u64,
    pub shutdown_timeout: Duration,
    pub limits: ConnLimits,
    /// Age an unreferenced blob or temporary leftover must reach before the sweep removes it.
    pub sweep_grace: Duration,
    /// Length of a lifecycle day (rule Days count in these).
    pub lifecycle_day: Duration,
    /// Time between two lifecycle passes.
    pub lifecycle_interval: Duration,
    /// The SSE-S3 master key file; `None`: `master.key` in the data dir, created if missing.
    pub master_key_file: Option<PathBuf>,
    /// The web console, if on.
    pub console: Option<ConsoleSettings>,
}

/// Settings of the web console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSettings {
    pub listen: SocketAddr,
    /// The address was set (not the default): failing to listen on it stops the start; the
    /// default address taken by another process only leaves the console off.
    pub explicit: bool,
    /// A session unused for this long ends.
    pub session_idle: Duration,
}

impl Settings {
    /// Resolves the settings: `cli` over the environment `vars` over the TOML file (from
    /// `config_file`, else `TESSERA_CONFIG`) over the defaults.
    pub fn resolve<I>(
        cli: Layer,
        config_file: Option<PathBuf>,
        vars: I,
    ) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
        let env = env_layer(&vars)?;
        let config_file = match config_file {
            Some(path) => Some(path),
            None => env_var(&vars, ENV_CONFIG)?.map(PathBuf::from),
        };
        let file = match config_file {
            Some(path) => file_layer(&path)?,
            None => Layer::default(),
        };
        Self::validate(cli.or(env).or(file))
    }

    fn validate(layer: Layer) -> Result<Settings, ConfigError> {
        let listen = match layer.listen {
            Some(addr) => addr,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|e| config_err!("invalid default listen address: {e}"))?,
        };
        let data_dir = layer
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(config_err!("invalid data dir: must not be empty"));
        }
        let region = layer.region.unwrap_or_else(|| DEFAULT_REGION.to_owned());
        validate_region(&region)?;
        let domain = match layer.domain {
            Some(domain) => Some(validate_domain(&domain)?),
            None => None,
        };
        let tls = match (layer.tls_cert, layer.tls_key) {
            (Some(cert), Some(key)) => Some(TlsPaths { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(config_err!("a TLS certificate (--tls-cert) is set but no key (--tls-key): give both or neither")),
            (None, Some(_)) => return Err(config_err!("a TLS key (--tls-key) is set but no certificate (--tls-cert): give both or neither")),
        };
        let min_part_size = layer.min_part_size.unwrap_or(DEFAULT_MIN_PART_SIZE);
        if min_part_size == 0 {
            return Err(config_err!(
                "invalid min part size: must be at least 1 byte"
            ));
        }
        if min_part_size > MAX_MIN_PART_SIZE {
            return Err(config_err!(
                "invalid min part size {min_part_size}: must be at most 5 GiB ({MAX_MIN_PART_SIZE} bytes)"
            ));
        }
        let shutdown_timeout =
            Duration::from_secs(layer.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT));
        let timeout = |value: Option<u64>, default: u64, name: &str| {
            let secs = value.unwrap_or(default);
            if (1..=MAX_TIMEOUT).contains(&secs) {
                Ok(Duration::from_secs(secs))
            } else {
                Err(config_err!(
                    "invalid {name} {secs}: must be between 1 and {MAX_TIMEOUT} seconds"
                ))
            }
        };
        let count = |value: Option<usize>, name: &str| match value {
            Some(0) => Err(config_err!("invalid {name} 0: must be at least 1")),
            other => Ok(other),
        };
        let limits = ConnLimits {
            idle_timeout: timeout(layer.idle_timeout, DEFAULT_IDLE_TIMEOUT, "idle timeout")?,
            header_read_timeout: timeout(
                layer.header_read_timeout,
                DEFAULT_HEADER_READ_TIMEOUT,
                "header read timeout",
            )?,
            body_timeout: timeout(layer.body_timeout, DEFAULT_BODY_TIMEOUT, "body timeout")?,
            max_connections: count(layer.max_connections, "max connections")?,
            max_connections_per_ip: count(layer.max_connections_per_ip, "max connections per IP")?,
        };
        let sweep_grace = layer.sweep_grace.unwrap_or(DEFAULT_SWEEP_GRACE);
        if sweep_grace > MAX_SWEEP_GRACE {
            return Err(config_err!(
                "invalid sweep grace {sweep_grace}: must be at most {MAX_SWEEP_GRACE} seconds"
            ));
        }
        let lifecycle_day = timeout(layer.lifecycle_day, DEFAULT_LIFECYCLE_DAY, "lifecycle day")?;
        let lifecycle_interval = timeout(
            layer.lifecycle_interval,
            DEFAULT_LIFECYCLE_INTERVAL,
            "lifecycle interval",
        )?;
        let console_session_idle = timeout(
            layer.console_session_idle,
            DEFAULT_CONSOLE_SESSION_IDLE,
            "console session idle time",
        )?;
        let console = match layer.console_listen {
            Some(ConsoleListen::Off) => None,
            Some(ConsoleListen::At(addr)) => Some(ConsoleSettings {
                listen: addr,
                explicit: true,
                session_idle: console_session_idle,
            }),
            None => Some(ConsoleSettings {
                listen: DEFAULT_CONSOLE_LISTEN
                    .parse()
                    .map_err(|e| config_err!("invalid default console address: {e}"))?,
                explicit: false,
                session_idle: console_session_idle,
            }),
        };
        if console.is_some_and(|c| c.listen == listen && listen.port() != 0) {
            return Err(config_err!(
                "the console cannot listen on the S3 address {listen}: give --console-listen another port, or off"
            ));
        }
        Ok(Settings {
            console,
            listen,
            data_dir,
            region,
            domain,
            tls,
            allow_sigv2: !layer.no_sigv2.unwrap_or(false),
            allow_sse_c_over_http: layer.allow_sse_c_over_http.unwrap_or(false),
            min_part_size,
            shutdown_timeout,
            limits,
            sweep_grace: Duration::from_secs(sweep_grace),
            lifecycle_day,
            lifecycle_interval,
            master_key_file: layer.master_key_file,
        })
    }
}

fn validate_region(region: &str) -> Result<(), ConfigError> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(config_err!(
            "invalid region {region:?}: use lowercase letters, digits and '-' (e.g. us-east-1)"
        ))
    }
}

fn validate_domain(domain: &str) -> Result<String, ConfigError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(domain)
    } else {
        Err(config_err!("invalid domain {domain:?}: expected a host name such as s3.example.com (no scheme, port or path)"))
    }
}

/// Reads `name` from `vars`; a set but non-UTF-8 value is an error.
fn env_var(vars: &[(OsString, OsString)], name: &str) -> Result<Option<String>, ConfigError> {
    match vars.iter().rev().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v
            .to_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| config_err!("environment variable {name} is not valid UTF-8")),
    }
}

/// Reads an optional environment variable the binary knows (credentials, log filter).
pub fn known_env_var(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(config_err!(
            "environment variable {name} is not valid UTF-8"
        )),
    }
}

/// The settings from `TESSERA_*` variables; unknown `TESSERA_*` variables are an error.
fn env_layer(vars: &[(OsString, OsString)]) -> Result<Layer, ConfigError> {
    for (key, _) in vars {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("TESSERA_") && !SETTING_VARS.contains(&key) && !OTHER_VARS.contains(&key)
        {
            return Err(config_err!(
                "unknown environment variable {key} (known: {}, {})",
                SETTING_VARS.join(", "),
                OTHER_VARS.join(", ")
            ));
        }
    }
    let get = |name: &str| env_var(vars, name);
    let parse =
        |name: &str, value: &str, what: &str| config_err!("invalid {name} value {value:?}: {what}");
    let mut layer = Layer::default();
    if let Some(v) = get("TESSERA_LISTEN")? {
        layer.listen = Some(parse_listen(&v).map_err(|e| parse("TESSERA_LISTEN", &v, &e))?);
    }
    layer.data_dir = get("TESSERA_DATA_DIR")?.map(PathBuf::from);
    layer.region = get("TESSERA_REGION")?;
    layer.domain = get("TESSERA_DOMAIN")?;
    layer.tls_cert = get("TESSERA_TLS_CERT")?.map(PathBuf::from);
    layer.tls_key = get("TESSERA_TLS_KEY")?.map(PathBuf::from);
    if let Some(v) = get("TESSERA_NO_SIGV2")? {
        layer.no_sigv2 = Some(parse_bool(&v).map_err(|e| parse("TESSERA_NO_SIGV2", &v, &e))?);
    }
    if let Some(v) = get("TESSERA_ALLOW_SSE_C_OVER_HTTP")? {
        layer.allow_sse_c_over_http =
            Some(parse_bool(&v).map_err(|e| parse("TESSERA_ALLOW_SSE_C_OVER_HTTP", &v, &e))?);
    }
    if let Some(v) = get("TESSERA_MIN_PART_SIZE")? {
        layer.min_part_size =
            Some(parse_size(&v).map_err(|e| parse("TESSERA_MIN_PART_SIZE", &v, &e))?);
    }
    if let Some(v) = get("TESSERA_SHUTDOWN_TIMEOUT")? {
        layer.shutdown_timeout =
            Some(parse_seconds(&v).map_err(|e| parse("TESSERA_SHUTDOWN_TIMEOUT", &v, &e))?);
    }
    let seconds = |name: &str| -> Result<Option<u64>, ConfigError> {
        get(name)?
            .map(|v| parse_seconds(&v).map_err(|e| parse(name, &v, &e)))
            .transpose()
    };
    let count = |name: &str| -> Result<Option<usize>, ConfigError> {
        get(name)?
            .map(|v| parse_count(&v).map_err(|e| parse(name, &v, &e)))
            .transpose()
    };
    layer.idle_timeout = seconds("TESSERA_IDLE_TIMEOUT")?;
    layer.header_read_timeout = seconds("TESSERA_HEADER_READ_TIMEOUT")?;
    layer.body_timeout = seconds("TESSERA_BODY_TIMEOUT")?;
    layer.max_connections = count("TESSERA_MAX_CONNECTIONS")?;
    layer.max_connections_per_ip = count("TESSERA_MAX_CONNECTIONS_PER_IP")?;
    layer.sweep_grace = seconds("TESSERA_SWEEP_GRACE")?;
    layer.lifecycle_day = seconds("TESSERA_LIFECYCLE_DAY")?;
    layer.lifecycle_interval = seconds("TESSERA_LIFECYCLE_INTERVAL")?;
    layer.master_key_file = get("TESSERA_MASTER_KEY_FILE")?.map(PathBuf::from);
    if let Some(v) = get("TESSERA_CONSOLE_LISTEN")? {
        layer.console_listen =
            Some(parse_console_listen(&v).map_err(|e| parse("TESSERA_CONSOLE_LISTEN", &v, &e))?);
    }
    layer.console_session_idle = seconds("TESSERA_CONSOLE_SESSION_IDLE")?;
    Ok(layer)
}

/// The settings from a TOML file; unknown keys are an error.
fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| config_err!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        let message = e.message().trim().replace('\n', " ");
        config_err!("invalid config file {}{at}: {message}", path.display())
    })
}

/// Parses a listen address (`IP:PORT`).
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:9000 or [::1]:9000".to_owned())
}

/// Parses the console address: `IP:PORT`, or `off`.
pub fn parse_console_listen(value: &str) -> Result<ConsoleListen, String> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(ConsoleListen::Off);
    }
    value
        .trim()
        .parse()
        .map(ConsoleListen::At)
        .map_err(|_| "expected IP:PORT (e.g. 127.0.0.1:9001) or off".to_owned())
}

/// TOML `console_listen`: `"IP:PORT"` or `"off"`.
fn de_console_listen<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<ConsoleListen>, D::Error> {
    match Option::<String>::deserialize(de)? {
        None => Ok(None),
        Some(s) => parse_console_listen(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Parses a boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// Parses a whole number of seconds.
pub fn parse_seconds(value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of seconds".to_owned())
}

/// Parses a count (a whole number).
pub fn parse_count(value: &str) -> Result<usize, String> {
    value
        .trim()
        .parse()
        .map_err(|_| "expected a whole number".to_owned())
}

/// Parses a size in bytes: a plain integer, or with a suffix `B`, `KiB`/`K`, `MiB`/`M`,
/// `GiB`/`G` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000), case-insensitive.
pub fn parse_size(value: &str) -> Result<u64, String> {
    const ERR: &str =
        "expected a number of bytes, optionally with a unit (e.g. 5242880, 5MiB, 512KiB)";
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() {
        return Err(ERR.to_owned());
    }
    let number: u64 = digits.parse().map_err(|_| ERR.to_owned())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(ERR.to_owned()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| "size is too large".to_owned())
}

/// TOML `min_part_size`: an integer or a string with a unit.
fn de_size<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Int(i64),
        Text(String),
    }
    match Option::<Size>::deserialize(de)? {
        None => Ok(None),
        Some(Size::Int(n)) => u64::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom("min_part_size must not be negative")),
        Some(Size::Text(s)) => parse_size(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(Layer::default(), None, vars(&[("PATH", "/bin")])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(s.data_dir, PathBuf::from("./tessera-data"));
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.domain, None);
        assert_eq!(s.tls, None);
        assert!(s.allow_sigv2);
        assert!(!s.allow_sse_c_over_http);
        assert_eq!(s.min_part_size, 5 * 1024 * 1024);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(20));
        assert_eq!(s.limits.header_read_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.body_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.max_connections, None);
        assert_eq!(s.limits.max_connections_per_ip, None);
        assert_eq!(s.sweep_grace, Duration::from_secs(3600));
    }

    #[test]
    fn master_key_file_from_each_source() {
        let s = Settings::resolve(Layer::default(), None, vars(&[])).unwrap();
        assert_eq!(s.master_key_file, None);
        let env = vars(&[("TESSERA_MASTER_KEY_FILE", "/etc/tessera/env.key")]);
        let s = Settings::resolve(Layer::default(), None, env.clone()).unwrap();
        assert_eq!(
            s.master_key_file,
            Some(PathBuf::from("/etc/tessera/env.key"))
        );
        let cli = Layer {
            master_key_file: Some("cli.key".into()),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, None, env).unwrap();
        assert_eq!(s.master_key_file, Some(PathBuf::from("cli.key")));
    }

    #[test]
    fn sweep_grace_from_each_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "sweep_grace = 60\n").unwrap();
        let s = Settings::resolve(Layer::default(), Some(file.clone()), vars(&[])).unwrap();
        assert_eq!(s.sweep_grace, Duration::from_secs(60));
        let env = vars(&[("TESSERA_SWEEP_GRACE", "0")]);
        let s = Settings::resolve(Layer::default(), Some(file.clone()), env.clone()).unwrap();
        assert_eq!(s.sweep_grace, Duration::ZERO);
        let cli = Layer {
            sweep_grace: Some(5),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, Some(file), env).unwrap();
        assert_eq!(s.sweep_grace, Duration::from_secs(5));
        let e = Settings::resolve(
            Layer {
                sweep_grace: Some(MAX_SWEEP_GRACE + 1),
                ..Layer::default()
            },
            None,
            vars(&[]),
        )
        .unwrap_err();
        assert!(e.0.contains("sweep grace"), "{e}");
        let e = Settings::resolve(
            Layer::default(),
            None,
            vars(&[("TESSERA_SWEEP_GRACE", "1h")]),
        )
        .unwrap_err();
        assert!(e.0.contains("TESSERA_SWEEP_GRACE"), "{e}");
    }

    #[test]
    fn lifecycle_settings_from_each_source() {
        let s = Settings::resolve(Layer::default(), None, vars(&[])).unwrap();
        assert_eq!(s.lifecycle_day, Duration::from_secs(86_400));
        assert_eq!(s.lifecycle_interval, Duration::from_secs(3600));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "lifecycle_day = 60\nlifecycle_interval = 10\n").unwrap();
        let s = Settings::resolve(Layer::default(), Some(file.clone()), vars(&[])).unwrap();
        assert_eq!(s.lifecycle_day, Duration::from_secs(60));
        assert_eq!(s.lifecycle_interval, Duration::from_secs(10));
        let env = vars(&[
            ("TESSERA_LIFECYCLE_DAY", "2"),
            ("TESSERA_LIFECYCLE_INTERVAL", "1"),
        ]);
        let s = Settings::resolve(Layer::default(), Some(file.clone()), env.clone()).unwrap();
        assert_eq!(s.lifecycle_day, Duration::from_secs(2));
        assert_eq!(s.lifecycle_interval, Duration::from_secs(1));
        let cli = Layer {
            lifecycle_day: Some(5),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, Some(file), env).unwrap();
        assert_eq!(s.lifecycle_day, Duration::from_secs(5));
        let zero = Layer {
            lifecycle_interval: Some(0),
            ..Layer::default()
        };
        let e = Settings::resolve(zero, None, vars(&[])).unwrap_err();
        assert!(e.0.contains("lifecycle interval"), "{e}");
        let e = Settings::resolve(
            Layer::default(),
            None,
            vars(&[("TESSERA_LIFECYCLE_DAY", "1d")]),
        )
        .unwrap_err();
        assert!(e.0.contains("TESSERA_LIFECYCLE_DAY"), "{e}");
    }

    #[test]
    fn connection_limits_from_each_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "idle_timeout = 5\nheader_read_timeout = 6\nbody_timeout = 7\nmax_connections = 100\nmax_connections_per_ip = 10\n",
        )
        .unwrap();
        let s = Settings::resolve(Layer::default(), Some(file.clone()), vars(&[])).unwrap();
        assert_eq!(
            s.limits,
            ConnLimits {
                idle_timeout: Duration::from_secs(5),
                header_read_timeout: Duration::from_secs(6),
                body_timeout: Duration::from_secs(7),
                max_connections: Some(100),
                max_connections_per_ip: Some(10),
            }
        );
        let env = vars(&[
            ("TESSERA_IDLE_TIMEOUT", "8"),
            ("TESSERA_MAX_CONNECTIONS_PER_IP", "20"),
        ]);
        let cli = Layer {
            idle_timeout: Some(9),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, Some(file), env).unwrap();
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(9));
        assert_eq!(s.limits.max_connections_per_ip, Some(20));
        assert_eq!(s.limits.body_timeout, Duration::from_secs(7));

        for (var, value) in [
            ("TESSERA_IDLE_TIMEOUT", "0"),
            ("TESSERA_HEADER_READ_TIMEOUT", "soon"),
            ("TESSERA_BODY_TIMEOUT", "100000"),
            ("TESSERA_MAX_CONNECTIONS", "0"),
            ("TESSERA_MAX_CONNECTIONS_PER_IP", "-1"),
        ] {
            let e = Settings::resolve(Layer::default(), None, vars(&[(var, value)])).unwrap_err();
            let words = var
                .trim_start_matches("TESSERA_")
                .to_ascii_lowercase()
                .replace('_', " ");
            assert!(
                e.0.contains(var) || e.0.to_ascii_lowercase().contains(&words),
                "{e}"
            );
        }
    }

    #[test]
    fn connection_caps() {
        let auto = ConnLimits {
            idle_timeout: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            max_connections: None,
            max_connections_per_ip: None,
        };
        assert_eq!(auto.caps(1024), (768, 384));
        assert_eq!(auto.caps(20_000), (10_000, 1_000));
        assert_eq!(auto.caps(1_048_576), (10_000, 1_000));
        assert_eq!(auto.caps(0), (1, 1));
        let set = ConnLimits {
            max_connections: Some(50),
            max_connections_per_ip: Some(500),
            ..auto
        };
        assert_eq!(set.caps(1024), (50, 50));
        let set = ConnLimits {
            max_connections: Some(50_000),
            ..auto
        };
        assert_eq!(set.caps(1024), (50_000, 1_000));
    }

    #[test]
    fn precedence_cli_env_file_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\nregion = \"file-region\"\ndomain = \"file.example\"\nmin_part_size = \"1MiB\"\nno_sigv2 = true\n",
        )
        .unwrap();
        let env = vars(&[
            ("TESSERA_LISTEN", "127.0.0.1:2"),
            ("TESSERA_REGION", "env-region"),
        ]);
        let cli = Layer {
            listen: Some("127.0.0.1:3".parse().unwrap()),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, Some(file.clone()), env.clone()).unwrap();
        assert_eq!(s.listen.port(), 3);
        assert_eq!(s.region, "env-region");
        assert_eq!(s.domain.as_deref(), Some("file.example"));
        assert_eq!(s.min_part_size, 1 << 20);
        assert!(!s.allow_sigv2);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(30));

        let s = Settings::resolve(Layer::default(), Some(file.clone()), env).unwrap();
        assert_eq!(s.listen.port(), 2);

        // TESSERA_CONFIG names the file when --config is absent; env NO_SIGV2=false beats the file.
        let env = vars(&[
            ("TESSERA_CONFIG", file.to_str().unwrap()),
            ("TESSERA_NO_SIGV2", "false"),
        ]);
        let s = Settings::resolve(Layer::default(), None, env).unwrap();
        assert_eq!(s.listen.port(), 1);
        assert!(s.allow_sigv2);
    }

    #[test]
    fn rejects_unknown_env_and_file_keys() {
        let e =
            Settings::resolve(Layer::default(), None, vars(&[("TESSERA_FOO", "1")])).unwrap_err();
        assert!(e.0.contains("TESSERA_FOO"), "{e}");
        for ok in [
            "TESSERA_ROOT_ACCESS_KEY",
            "TESSERA_ROOT_SECRET_KEY",
            "TESSERA_LOG",
            "TESSERA_CONFIG",
        ] {
            let r = Settings::resolve(Layer::default(), None, vars(&[(ok, "")]));
            if ok == "TESSERA_CONFIG" {
                assert!(r.is_err()); // empty path cannot be read
            } else {
                r.unwrap();
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "region = \"a\"\nbogus = 1\n").unwrap();
        let e = Settings::resolve(Layer::default(), Some(file), vars(&[])).unwrap_err();
        assert!(
            e.0.contains("bogus") && e.0.contains("line 2") && !e.0.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn rejects_invalid_values() {
        let bad = |l: Layer| Settings::resolve(l, None, vars(&[])).unwrap_err().0;
        assert!(bad(Layer {
            tls_cert: Some("c.pem".into()),
            ..Layer::default()
        })
        .contains("--tls-key"));
        assert!(bad(Layer {
            tls_key: Some("k.pem".into()),
            ..Layer::default()
        })
        .contains("--tls-cert"));
        assert!(bad(Layer {
            min_part_size: Some(0),
            ..Layer::default()
        })
        .contains("min part size"));
        assert!(bad(Layer {
            region: Some("US East".into()),
            ..Layer::default()
        })
        .contains("region"));
        assert!(bad(Layer {
            domain: Some("http://x/".into()),
            ..Layer::default()
        })
        .contains("domain"));
        let e = Settings::resolve(Layer::default(), None, vars(&[("TESSERA_LISTEN", "nope")]))
            .unwrap_err();
        assert!(e.0.contains("TESSERA_LISTEN"), "{e}");
        let e = Settings::resolve(
            Layer::default(),
            None,
            vars(&[("TESSERA_NO_SIGV2", "maybe")]),
        )
        .unwrap_err();
        assert!(e.0.contains("TESSERA_NO_SIGV2"), "{e}");
    }

    #[test]
    fn console_settings_from_each_source() {
        let s = Settings::resolve(Layer::default(), None, vars(&[])).unwrap();
        assert_eq!(
            s.console,
            Some(ConsoleSettings {
                listen: "127.0.0.1:9001".parse().unwrap(),
                explicit: false,
                session_idle: Duration::from_secs(1800),
            })
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "console_listen = \"0.0.0.0:9101\"\nconsole_session_idle = 60\n",
        )
        .unwrap();
        let s = Settings::resolve(Layer::default(), Some(file.clone()), vars(&[])).unwrap();
        let c = s.console.unwrap();
        assert_eq!(c.listen, "0.0.0.0:9101".parse().unwrap());
        assert!(c.explicit);
        assert_eq!(c.session_idle, Duration::from_secs(60));
        let env = vars(&[
            ("TESSERA_CONSOLE_LISTEN", "off"),
            ("TESSERA_CONSOLE_SESSION_IDLE", "5"),
        ]);
        let s = Settings::resolve(Layer::default(), Some(file.clone()), env.clone()).unwrap();
        assert_eq!(s.console, None);
        let cli = Layer {
            console_listen: Some(ConsoleListen::At("127.0.0.1:7".parse().unwrap())),
            ..Layer::default()
        };
        let s = Settings::resolve(cli, Some(file), env).unwrap();
        let c = s.console.unwrap();
        assert_eq!(c.listen.port(), 7);
        assert_eq!(c.session_idle, Duration::from_secs(5));

        assert_eq!(parse_console_listen(" OFF "), Ok(ConsoleListen::Off));
        assert!(parse_console_listen("9001").is_err());
        let e = Settings::resolve(
            Layer::default(),
            None,
            vars(&[("TESSERA_CONSOLE_LISTEN", "nowhere")]),
        )
        .unwrap_err();
        assert!(e.0.contains("TESSERA_CONSOLE_LISTEN"), "{e}");
        let e = Settings::resolve(
            Layer::default(),
            None,
            vars(&[("TESSERA_CONSOLE_SESSION_IDLE", "0")]),
        )
        .unwrap_err();
        assert!(e.0.contains("console session idle"), "{e}");
        // The console and S3 cannot share an address (port 0 picks two different ports).
        let same = Layer {
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            ..Layer::default()
        };
        let e = Settings::resolve(same, None, vars(&[])).unwrap_err();
        assert!(e.0.contains("console"), "{e}");
        let zero = Layer {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            console_listen: Some(ConsoleListen::At("127.0.0.1:0".parse().unwrap())),
            ..Layer::default()
        };
        Settings::resolve(zero, None, vars(&[])).unwrap();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5242880"), Ok(5242880));
        assert_eq!(parse_size("5MiB"), Ok(5 << 20));
        assert_eq!(parse_size("5 mib"), Ok(5 << 20));
        assert_eq!(parse_size("5M"), Ok(5 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("10B"), Ok(10));
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("5 TiB").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
