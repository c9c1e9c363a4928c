//! The incident report: the record format and the writer actor that alone appends to the file.

mod record;
mod writer;

pub use record::{RECORD_SEPARATOR, format_record};
pub use writer::{ReportWriter, ReportWriterError, WriterMessage};
