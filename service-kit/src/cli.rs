//! The command line of a service: `serve` (default), `migrate`, `openapi`; exit code 2 for
//! a configuration error, 1 when start-up fails.

use crate::service::Service;
use crate::settings::{CommonSettings, LoadSettings};
use crate::startup::{openapi, prepare_database, Application, StartupError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
struct Cli {
    /// Configuration file (TOML); environment variables PREFIX__SECTION__KEY override it.
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

/// Runs the service's command line.
pub fn run<S: Service>() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let name = S::NAME;
    let matches = Cli::command().name(name).version(S::VERSION).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if matches!(cli.command, Some(Command::Openapi)) {
        return match serde_json::to_string_pretty(&openapi::<S>()) {
            Ok(doc) => {
                println!("{doc}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match S::Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(settings.log().format, &settings.log().level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => prepare_database::<S>(&settings).await.map(|_| {
                tracing::info!("database migrated");
            }),
            Command::Serve | Command::Openapi => {
                let app = Application::<S>::build(settings.clone()).await?;
                tracing::info!(
                    bind = %settings.http().bind,
                    port = app.port(),
                    "listening"
                );
                app.run_until_stopped()
                    .await
                    .map_err(|e| StartupError::Bind(e.to_string()))?;
                tracing::info!("{name} stopped");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
