//! `edgepg-proxy`: see `edgepg-proxy --help` and the crate documentation.

use clap::Parser;
use edgepg_proxy::server::Proxy;
use edgepg_proxy::settings::{Flags, Settings};

fn main() -> std::process::ExitCode {
    // The proxy connects to PostgreSQL on behalf of its clients: libpq's
    // per-user files (`~/.postgresql/postgresql.crt` and its key, `root.crt`,
    // which edgepg's native TLS reads like libpq) are the operator's and must
    // never be presented for a stranger's request. Without HOME (and APPDATA)
    // the client finds none. Done first, before any thread exists.
    std::env::remove_var("HOME");
    std::env::remove_var("APPDATA");
    let settings = match Settings::from_flags(Flags::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("edgepg-proxy: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    edgepg_proxy::log::set_verbose(settings.verbose);
    let mut builder = match settings.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("edgepg-proxy: starting the runtime failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let proxy = match Proxy::bind(settings).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("edgepg-proxy: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        proxy.run(shutdown_signal()).await;
        std::process::ExitCode::SUCCESS
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
