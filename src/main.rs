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
    Serve {
        /// Seed a demo city (Jiangmen) on an empty database first, and print who can sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin: LEDGER_ADMIN_USERNAME with LEDGER_ADMIN_PASSWORD (or a generated password, printed).
    CreateAdmin,
    /// Check the journal's hash chain and every balance; exit 1 on a discrepancy.
    Verify,
    /// Print the OpenAPI description (YAML).
    Openapi,
    /// Run the benchmark harness against a server it starts on DATABASE_URL (default: a fresh,
    /// temporary SQLite file). Give PostgreSQL an empty database: the harness seeds its own data.
    Bench(union_ledger::bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Serve { .. } = cli.command {
        limit_malloc_arenas();
    }
    tokio::runtime::Runtime::new()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    union_ledger::telemetry::init(cli.settings.log_json);
    let settings = cli.settings;
    match cli.command {
        Command::Serve { demo: false } => {
            Application::build(&settings).await?.run_until_stopped(shutdown_signal()).await
        }
        Command::Serve { demo: true } => serve_demo(settings).await,
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

/// glibc gives a process up to eight malloc arenas per core, and what one thread frees in its arena
/// serves only the threads that share it: the SQLite connections' threads, the runtime's workers and
/// its blocking threads each kept what a burst had freed (a request of a thousand signals, a month of
/// inference), and after the benchmark's six workloads the server held 170 MiB where any one of them
/// needs under 100. Four arenas kept it under 135 MiB at the same throughput; two cost a third of the
/// statement reads. glibc reads the limit only as a process starts, so `serve` starts itself again,
/// once, with `MALLOC_ARENA_MAX` set; the same process id, arguments and environment otherwise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    const MALLOC_ARENAS: &str = "4";
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() || std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(program) = std::env::current_exe() else { return };
    let error = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", MALLOC_ARENAS)
        .exec();
    eprintln!("could not start again with MALLOC_ARENA_MAX={MALLOC_ARENAS} ({error}); serving with glibc's default");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Serves, seeding the demo city through the API as soon as the server answers.
async fn serve_demo(mut settings: Settings) -> anyhow::Result<()> {
    let password = match &settings.admin_password {
        Some(password) => password.expose().to_owned(),
        None => union_ledger::demo::ADMIN_PASSWORD.to_owned(),
    };
    settings.admin_password = Some(union_ledger::config::Secret::new(&password));
    let application = Application::build(&settings).await?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped(shutdown_signal()));
    let started = std::time::Instant::now();
    let summary = union_ledger::demo::seed(&base, &settings.admin_username, &password).await?;
    println!(
        "Demo city ready in {:.1} s at {base} (API docs: {base}/docs). Sign in as:",
        started.elapsed().as_secs_f64()
    );
    for line in summary.lines {
        println!("  {line}");
    }
    server.await?
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
