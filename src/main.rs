use clap::{Parser, Subcommand};
use union_ledger::app::{self, Application};
use union_ledger::clock::SystemClock;
use union_ledger::config::Settings;
use union_ledger::store::{Store, ledger};

#[derive(Parser)]
#[command(name = "union-ledger", version, about = "Points and membership ledger for gig-worker unions")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API (migrating the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin: LEDGER_ADMIN_USERNAME with LEDGER_ADMIN_PASSWORD (or a generated password, printed).
    CreateAdmin,
    /// Check the journal's hash chain and every balance; exit 1 on a discrepancy.
    Verify,
    /// Print the OpenAPI description (YAML).
    Openapi,
    /// Run the benchmark harness against an in-process server on DATABASE_URL (default: a fresh,
    /// temporary SQLite file). Give PostgreSQL an empty database: the harness seeds its own data.
    Bench(union_ledger::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    union_ledger::telemetry::init(cli.settings.log_json);
    let settings = cli.settings;
    match cli.command {
        Command::Serve => Application::build(&settings).await?.run_until_stopped(shutdown_signal()).await,
        Command::Migrate => {
            connect(&settings).await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin => {
            let store = connect(&settings).await?;
            let password = settings.admin_password.as_ref().map(|secret| secret.expose().to_owned());
            let generated = password.is_none();
            let password = password.unwrap_or_else(union_ledger::auth::random_password);
            app::create_admin(&store, &settings.admin_username, &password).await?;
            if generated {
                println!("Created admin '{}' with the generated password: {password}", settings.admin_username);
            } else {
                println!("Created admin '{}'", settings.admin_username);
            }
            Ok(())
        }
        Command::Verify => {
            let store = connect(&settings).await?;
            let report = ledger::verify(store.reader()).await?;
            let view = union_ledger::http::entries::verify_view(report);
            println!("{}", serde_json::to_string_pretty(&view)?);
            if !view.ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Bench(args) => {
            union_ledger::bench::run(&settings, &args).await?;
            Ok(())
        }
        Command::Openapi => {
            print!("{}", union_ledger::http::openapi().to_yaml()?);
            Ok(())
        }
    }
}

async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    Ok(Store::connect(&settings.database_url(), std::sync::Arc::new(SystemClock)).await?)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("stopping: letting requests in flight finish");
}
