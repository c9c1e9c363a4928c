//! Signals: waiting for the user to stop a command (Ctrl-C, or SIGTERM from a supervisor), and
//! turning a file-size limit into a write error rather than a silent death.

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_requested() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Makes writes past a file-size limit (`ulimit -f`) fail with "File too large", which the
/// writers report and checkpoints survive, instead of SIGXFSZ killing the process mid-record.
pub fn report_file_size_limits_as_errors() {
    #[cfg(unix)]
    // SAFETY: installing SIG_IGN runs no handler code; it is done before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
