//! The `hive-service` binary: see [`hive_service::cli`].

fn main() -> std::process::ExitCode {
    hive_service::cli::run()
}
