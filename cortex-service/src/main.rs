//! The `cortex-service` binary: see [`cortex_service::cli`].

fn main() -> std::process::ExitCode {
    cortex_service::cli::run()
}
