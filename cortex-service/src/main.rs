//! The `cortex-service` binary: `serve` (default), `migrate`, `openapi`.

use clap::{Parser, Subcommand};
use cortex_service::config::Settings;
use cortex_service::startup::{openapi, prepare_database, Application};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cortex-service",
    version,
    about = "Analysis and response compatible with Cortex"
)]
struct Cli {
    /// Configuration file (TOML); environment variables CORTEX__SECTION__KEY override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and the first-start bootstrap, then exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
        return match serde_json::to_string_pretty(&openapi()) {
            Ok(doc) => {
                println!("{doc}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cortex-service: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cortex-service: {e}");
            return ExitCode::from(2);
        }
    };
    cortex_service::telemetry::init(settings.log.format, &settings.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cortex-service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => prepare_database(&settings).await.map(|_| {
                tracing::info!("database migrated");
            }),
            Command::Serve | Command::Openapi => {
                let app = Application::build(settings.clone()).await?;
                tracing::info!(
                    bind = %settings.http.bind,
                    port = app.port(),
                    "cortex-service listening"
                );
                app.run_until_stopped()
                    .await
                    .map_err(|e| cortex_service::startup::StartupError::Bind(e.to_string()))?;
                tracing::info!("cortex-service stopped");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("cortex-service: {e}");
            ExitCode::FAILURE
        }
    }
}
