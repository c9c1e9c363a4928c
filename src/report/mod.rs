//! The incident report: the record format, the reorder buffer, and the writer actor that alone
//! appends to the file.

mod order;
mod record;
mod writer;

pub use order::{JobMemory, OrderMemory, OrderPolicy, Resolution};
pub use record::{RECORD_HEADER, RECORD_SEPARATOR, Record, format_record, parse_report};
pub use writer::{ReportWriter, ReportWriterError};
