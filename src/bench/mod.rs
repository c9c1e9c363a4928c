//! Throughput benchmarks of the whole path: for each scenario of a matrix (concurrency and
//! connections, the LLM's latency, the provider's request limit and whether the client is told
//! it), a real `archive` process sends a generated log through its MCP server to a mock LLM
//! running in this process, and the run's figures are set beside the theoretical bound
//! `min(rate limit, concurrency / latency)`.

mod chart;
mod results;
mod run;
mod sample_lines;
mod scenario;

pub use chart::write_chart;
pub use results::{RunResult, RunStatus, print_table, write_csv};
pub use run::{BenchWorkspace, RunSettings, run_scenario};
pub use sample_lines::sample_log_line;
pub use scenario::{ClientLimit, LatencyProfile, Matrix, Scenario, expand_matrix};
