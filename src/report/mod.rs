//! The incident report: the record formats (text, JSON lines, CSV), reading reports back, the
//! digest of a report's kinds, the reorder buffer, the writer actor that alone appends to the
//! file, and the lock that keeps other processes from writing it too.

pub mod digest;
mod format;
mod lock;
mod order;
mod reader;
mod record;
mod writer;

pub use format::{EntryRecord, ReportFormat};
pub use lock::{ReportLock, ReportLockError};
pub use order::{JobMemory, OrderMemory, OrderPolicy, Resolution};
pub use reader::{ReportReader, detect_format};
pub use record::{
    RECORD_HEADER, RECORD_SEPARATOR, Record, ReportReadError, format_record, parse_report,
};
pub use writer::{ReportWriter, ReportWriterError};
