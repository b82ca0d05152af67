//! Settings: defaults, overridden by the environment (or the matching command-line flag).
//! Secrets are wrapped so that they never appear in `Debug` output or logs.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use clap::Args;
use rand::RngCore;

/// A secret string: parsed like any other setting, printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Database to use: `sqlite://path?mode=rwc` or `postgres://user@host/db`. Default: a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Directory for the SQLite database and a generated signing key.
    #[arg(long, env = "LEDGER_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Address the API listens on.
    #[arg(long, env = "LEDGER_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: SocketAddr,
    /// Username of the first admin, created when the database holds nobody.
    #[arg(long, env = "LEDGER_ADMIN_USERNAME", default_value = "admin", global = true)]
    pub admin_username: String,
    /// Password of the first admin; when unset, a random one is generated and printed once.
    #[arg(long, env = "LEDGER_ADMIN_PASSWORD", global = true, hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// `iss` of the access tokens this service issues and accepts.
    #[arg(long, env = "LEDGER_JWT_ISSUER", default_value = "union-ledger", global = true)]
    pub jwt_issuer: String,
    /// `aud` of the access tokens this service issues and accepts.
    #[arg(long, env = "LEDGER_JWT_AUDIENCE", default_value = "union-ledger-api", global = true)]
    pub jwt_audience: String,
    /// HMAC-SHA256 signing key (at least 32 bytes). Set the same key on every server of one deployment.
    #[arg(long, env = "LEDGER_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// The key before the current one: tokens it signed stay valid until they expire.
    #[arg(long, env = "LEDGER_JWT_PREVIOUS_SECRET", global = true, hide_env_values = true)]
    pub jwt_previous_secret: Option<Secret>,
    /// Lifetime of an access token.
    #[arg(long, env = "LEDGER_ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900, global = true)]
    pub access_token_ttl_seconds: u64,
    /// Lifetime of a refresh token (each use rotates it).
    #[arg(long, env = "LEDGER_REFRESH_TOKEN_TTL_SECONDS", default_value_t = 30 * 24 * 3600, global = true)]
    pub refresh_token_ttl_seconds: u64,
    /// Longest time a request may take before it is answered with 503.
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, global = true)]
    pub request_timeout_seconds: u64,
    /// Key for the keyed hashes (HMAC-SHA256) that pseudonymise phone numbers and partner references
    /// in signals (≥ 32 bytes). Set the same key on every server; changing it unlinks old signals.
    #[arg(long, env = "LEDGER_SUBJECT_KEY", global = true, hide_env_values = true)]
    pub subject_key: Option<Secret>,
    /// Months without signals or volunteering after which a member lapses.
    #[arg(long, env = "LEDGER_MEMBERSHIP_LAPSE_MONTHS", default_value_t = 6, global = true)]
    pub membership_lapse_months: u32,
    /// Days a redemption waits for pickup before it is cancelled and its points released.
    #[arg(long, env = "LEDGER_REDEMPTION_EXPIRY_DAYS", default_value_t = 14, global = true)]
    pub redemption_expiry_days: u32,
    /// Requests a second each partner may send to the signal endpoint (twice that in a burst).
    #[arg(long, env = "LEDGER_PARTNER_REQUESTS_PER_SECOND", default_value_t = 20, global = true)]
    pub partner_requests_per_second: u32,
    /// Log lines as JSON (for collectors) instead of text.
    #[arg(long, env = "LEDGER_LOG_JSON", default_value_t = false, global = true)]
    pub log_json: bool,
}

/// The smallest signing key accepted, in bytes (RFC 7518 §3.2: at least the hash size).
const SIGNING_KEY_BYTES_MIN: usize = 32;
const GENERATED_KEY_FILE: &str = "jwt-signing-key";
const GENERATED_SUBJECT_KEY_FILE: &str = "subject-key";

impl Settings {
    /// Settings for an embedded server (tests, tools): everything default but what is given.
    pub fn for_database(database_url: &str, data_dir: &Path) -> Settings {
        Settings {
            database_url: Some(Secret::new(database_url)),
            data_dir: data_dir.to_owned(),
            listen: "127.0.0.1:0".parse().expect("a literal address"),
            admin_username: "admin".into(),
            admin_password: None,
            jwt_issuer: "union-ledger".into(),
            jwt_audience: "union-ledger-api".into(),
            jwt_secret: None,
            jwt_previous_secret: None,
            access_token_ttl_seconds: 900,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            request_timeout_seconds: 30,
            redemption_expiry_days: 14,
            subject_key: None,
            membership_lapse_months: 6,
            partner_requests_per_second: 20,
            log_json: false,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ledger.db").display()),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }

    /// The signing keys: as configured, or generated once and kept in the data directory.
    pub fn signing_keys(&self) -> anyhow::Result<(Vec<u8>, Option<Vec<u8>>)> {
        let previous = match &self.jwt_previous_secret {
            Some(secret) => Some(checked_key(secret.expose(), "LEDGER_JWT_PREVIOUS_SECRET")?),
            None => None,
        };
        Ok((self.key_or_generated(self.jwt_secret.as_ref(), "LEDGER_JWT_SECRET", GENERATED_KEY_FILE)?, previous))
    }

    /// The key of the subject hashes: as configured, or generated once and kept in the data directory.
    pub fn subject_key(&self) -> anyhow::Result<Vec<u8>> {
        self.key_or_generated(self.subject_key.as_ref(), "LEDGER_SUBJECT_KEY", GENERATED_SUBJECT_KEY_FILE)
    }

    fn key_or_generated(&self, configured: Option<&Secret>, variable: &str, file: &str) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = configured {
            return checked_key(secret.expose(), variable);
        }
        let path = self.data_dir.join(file);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return checked_key(existing.trim(), &path.display().to_string());
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
        std::fs::create_dir_all(&self.data_dir)?;
        if let Err(error) = write_private(&path, &encoded) {
            // Another process created it first: use theirs.
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                return checked_key(std::fs::read_to_string(&path)?.trim(), &path.display().to_string());
            }
            return Err(error.into());
        }
        tracing::warn!(
            path = %path.display(),
            "{variable} is not set: generated a key and kept it in the data directory; set {variable} to share one key between servers"
        );
        Ok(encoded.into_bytes())
    }
}

fn checked_key(key: &str, source: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(key.len() >= SIGNING_KEY_BYTES_MIN, "{source} must be at least {SIGNING_KEY_BYTES_MIN} bytes long");
    Ok(key.as_bytes().to_vec())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
