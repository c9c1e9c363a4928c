//! The `log-archiver` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

/// Every entry allocates and frees many small buffers (JSON, HTTP, SSE frames) on several
/// threads, which mimalloc serves faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    log_archiver::cli::main()
}
