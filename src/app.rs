//! Wiring: settings → store → state → router, background jobs, and a graceful stop.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{self, TokenKeys};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::people::{self, Role};
use crate::http::{self, AppState};
use crate::jobs;
use crate::store::{Begun, Store, StoreError, users};

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Connects, migrates, creates the first admin if the database holds nobody, and binds.
    pub async fn build_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        if settings.database_url.is_none() {
            std::fs::create_dir_all(&settings.data_dir)?;
        }
        let store = Store::connect(&settings.database_url(), clock).await?;
        if let Some(password) = bootstrap_admin(&store, settings).await? {
            // Printed once, to the terminal that started the service, never to the logs.
            println!(
                "Created the first admin '{}' with the generated password: {password}\n\
                 Keep it now: it is not shown again. Set LEDGER_ADMIN_PASSWORD to choose it instead.",
                settings.admin_username
            );
        }
        let (current, previous) = settings.signing_keys()?;
        let tokens = TokenKeys::new(settings, &current, previous.as_deref());
        let policy = http::Policy {
            redemption_expiry: chrono::TimeDelta::days(i64::from(settings.redemption_expiry_days)),
            membership_lapse_months: settings.membership_lapse_months,
            partner_requests_per_second: settings.partner_requests_per_second,
        };
        let subjects = crate::domain::membership::SubjectKeys::new(&settings.subject_key()?);
        let state = AppState::new(store, tokens, policy, subjects);
        let router = http::router(state.clone(), settings.request_timeout());
        let listener = TcpListener::bind(settings.listen).await?;
        tokio::task::spawn_blocking(auth::warm_up);
        Ok(Self { listener, router, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|address| address.port()).unwrap_or_default()
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish, stops the jobs
    /// and closes the database.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_jobs, stop_receiver) = watch::channel(false);
        let jobs =
            tokio::spawn(jobs::run(self.state.store.clone(), self.state.policy.membership_lapse_months, stop_receiver));
        tracing::info!(address = %self.listener.local_addr()?, "serving");
        // Answers leave at once: no waiting on Nagle's algorithm for the client's delayed ACK.
        let listener = self.listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, self.router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = stop_jobs.send(true);
        let _ = jobs.await;
        self.state.store.clone().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Creates the first admin when the database holds nobody. Returns the generated password, if any.
pub async fn bootstrap_admin(store: &Store, settings: &Settings) -> anyhow::Result<Option<String>> {
    if users::count(store.reader()).await? > 0 {
        return Ok(None);
    }
    let generated = settings.admin_password.is_none();
    let password =
        settings.admin_password.as_ref().map(|secret| secret.expose().to_owned()).unwrap_or_else(auth::random_password);
    match create_admin(store, &settings.admin_username, &password).await {
        Ok(()) => Ok(generated.then_some(password)),
        // Another server created it at the same moment.
        Err(error) if matches!(error.downcast_ref::<StoreError>(), Some(StoreError::Conflict(_))) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Creates an admin (the `create-admin` command, and the first start).
pub async fn create_admin(store: &Store, username: &str, password: &str) -> anyhow::Result<()> {
    let username = people::username(username).map_err(|invalid| anyhow::anyhow!("{invalid}"))?;
    people::password(password).map_err(|invalid| anyhow::anyhow!("{invalid}"))?;
    let password_hash = auth::hash_password(password.to_owned()).await?;
    let Begun::Fresh(work) = store.begin(None, Some("bootstrap".into()), None).await? else {
        anyhow::bail!("no idempotency key was given, so nothing can be replayed")
    };
    let user = users::create(
        &work,
        users::NewUser {
            username,
            role: Role::Admin,
            level_id: None,
            display_name: "Administrator".into(),
            phone: None,
            phone_key: None,
            password_hash,
        },
    )
    .await?;
    work.audit("user.create", "user", user.id, serde_json::json!({ "role": "admin", "via": "bootstrap" })).await?;
    work.commit_plain().await?;
    tracing::info!(username = %user.username, "created an admin");
    Ok(())
}
