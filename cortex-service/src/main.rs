//! The `cortex-service` binary: see [`service_kit::cli`].

fn main() -> std::process::ExitCode {
    service_kit::cli::run::<cortex_service::Cortex>()
}
