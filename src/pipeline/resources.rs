//! What the process used, for the summary: its peak resident memory and the CPU time it spent,
//! as the operating system counts them (`getrusage`).

use std::time::Duration;

/// Peak memory and CPU time of this process so far.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ResourceUsage {
    pub peak_rss_bytes: u64,
    /// User plus system CPU time.
    pub cpu_seconds: f64,
}

impl ResourceUsage {
    /// This process's usage so far, where the operating system tells it.
    pub fn of_this_process() -> Option<Self> {
        #[cfg(unix)]
        {
            let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
            // SAFETY: getrusage fills the struct it is given and reads nothing else.
            let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
            if status != 0 {
                return None;
            }
            // SAFETY: a zero status means the struct was filled.
            let usage = unsafe { usage.assume_init() };
            let seconds = |time: libc::timeval| {
                Duration::new(time.tv_sec as u64, (time.tv_usec as u32) * 1_000).as_secs_f64()
            };
            // Linux counts the peak in KiB, macOS in bytes.
            let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
            Some(Self {
                peak_rss_bytes: (usage.ru_maxrss as u64).saturating_mul(unit),
                cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_some_memory_and_time() {
        let spin: u64 = (0..2_000_000u64).map(|n| n % 7).sum();
        assert!(spin > 0);
        let usage = ResourceUsage::of_this_process().unwrap();
        assert!(usage.peak_rss_bytes > 1024 * 1024, "{usage:?}");
        assert!(usage.cpu_seconds > 0.0, "{usage:?}");
    }
}
