//! What the criterion benchmarks share: the async runtime they measure on.

/// A multi-threaded runtime with the machine's two workers, as the binary runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
