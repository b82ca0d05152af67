//! Passwords (argon2id) and tokens (HS256 access JWTs, opaque rotating refresh tokens).

use std::collections::HashMap;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::domain::people::{Language, Role};

/// Argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane): the crate's defaults.
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// A hash of a password nobody has, so that an unknown username costs as much as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2().hash_password(b"no such user; nothing to find here").expect("hashing a constant cannot fail").to_string()
});

/// Hashes a password off the async runtime (it takes tens of milliseconds on purpose).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("{error}"))
    })
    .await?
}

/// Checks a password against a stored hash, or against a dummy hash when there is no such user.
pub async fn verify_password(stored_hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// Warms the dummy hash at start so the first unknown-user login is not faster than the rest.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, as a string (RFC 7519).
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub role: Role,
    pub level: Option<i64>,
    /// The session (refresh-token family) this token belongs to.
    pub sid: String,
    /// The default language of the person's level, when one is set there or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Language>,
}

impl Claims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token is malformed or its signature is not valid")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
}

/// Signs and checks access tokens. The algorithm is pinned; the `kid` picks the key, so tokens
/// signed with the previous key stay valid until they expire.
pub struct TokenKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
}

fn key_id(key: &[u8]) -> String {
    let digest = Sha256::new().chain_update(b"union-ledger/kid").chain_update(key).finalize();
    hex::encode(&digest[..8])
}

impl TokenKeys {
    pub fn new(settings: &Settings, current: &[u8], previous: Option<&[u8]>) -> Self {
        let current_kid = key_id(current);
        let mut decoding = HashMap::from([(current_kid.clone(), DecodingKey::from_secret(current))]);
        if let Some(previous) = previous {
            decoding.insert(key_id(previous), DecodingKey::from_secret(previous));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked against the service's clock below, with no leeway.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            current_kid,
            encoding: EncodingKey::from_secret(current),
            decoding,
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            access_ttl_seconds: i64::try_from(settings.access_token_ttl_seconds).unwrap_or(900),
            refresh_ttl_seconds: i64::try_from(settings.refresh_token_ttl_seconds).unwrap_or(86_400),
        }
    }

    pub fn issue(
        &self,
        user_id: i64,
        role: Role,
        level: Option<i64>,
        language: Option<Language>,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl_seconds,
            role,
            level,
            sid: session_id.to_owned(),
            lang: language,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("HS256 signing with a byte key cannot fail")
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let key = header.kid.as_deref().and_then(|kid| self.decoding.get(kid)).ok_or(TokenError::Invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        if data.claims.user_id().is_none() {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

/// A new opaque token (256 random bits, URL-safe) and the hash that is stored instead of it.
pub fn new_opaque_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password for a first admin nobody configured: 24 URL-safe characters.
pub fn random_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
