//! A small HTTP/1.1 client for the service's own API over plain HTTP: the benchmark's load
//! generator and the demo's seeder.
//!
//! It keeps one connection per concurrent caller alive and reuses it, and does nothing else (no
//! TLS, redirects, proxies or cookies): the benchmark's clients share two cores with the server and
//! the database, and what the load generator spends per request is taken from what it measures.

use std::sync::Mutex;

use anyhow::Context as _;
use http_body_util::{BodyExt, Full};
pub use hyper::Method;
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A client of one server (`http://host:port`).
pub struct Client {
    /// `host:port`, to connect to and to name in the `Host` header.
    authority: String,
    host: HeaderValue,
    /// Connections not in use, each ready for its next request once its last answer was read.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

/// A status and the whole body of an answer.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON when the status is a success; otherwise an error naming both.
    pub fn json(self, path: &str) -> anyhow::Result<Value> {
        let body: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        anyhow::ensure!(
            self.status.is_success(),
            "{path}: {} {}",
            self.status,
            if body.is_null() { String::from_utf8_lossy(&self.body).into_owned() } else { body.to_string() }
        );
        Ok(body)
    }
}

impl Client {
    /// A client of `base`, which must be `http://host:port` (no path).
    pub fn new(base: &str) -> anyhow::Result<Client> {
        let authority = base
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|authority| !authority.is_empty() && !authority.contains('/'))
            .with_context(|| format!("{base}: expected http://host:port"))?
            .to_owned();
        Ok(Client { host: HeaderValue::from_str(&authority)?, authority, idle: Mutex::new(Vec::new()) })
    }

    /// Sends one request (a JSON body if any, a bearer token if any) and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.host.clone());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(serde_json::to_vec(body)?))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body)?;
        let mut connection = self.connection().await?;
        let response = connection.send_request(request).await.with_context(|| format!("{path}: sending"))?;
        let status = response.status();
        let body = response.into_body().collect().await.with_context(|| format!("{path}: reading"))?.to_bytes();
        // Read to the end, the connection takes its next request; one the server closed is dropped.
        if !connection.is_closed() {
            self.idle.lock().expect("the idle connections").push(connection);
        }
        Ok(Answer { status, body })
    }

    /// Sends one request and answers its JSON body, or an error for any status but a success.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        self.send(method, path, token, body).await?.json(path)
    }

    /// An idle connection still open, or a new one.
    async fn connection(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        loop {
            let idle = self.idle.lock().expect("the idle connections").pop();
            let Some(mut connection) = idle else { break };
            if connection.ready().await.is_ok() {
                return Ok(connection);
            }
        }
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to {}", self.authority))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes the connection.
            let _ = connection.await;
        });
        Ok(sender)
    }
}
