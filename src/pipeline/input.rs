//! Streaming reader for log input: turns a file or stdin (plain or gzip) into
//! numbered log entries, one per physical line, with bounded memory whatever
//! the input size or line length.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::PathBuf;
use std::thread::{self, JoinHandle};

use flate2::bufread::MultiGzDecoder;
use tokio::sync::mpsc;

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Size of the read buffers (and of the decompressor's input buffer).
const BUFFER_BYTES: usize = 64 * 1024;

/// Where entries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    Stdin,
    File(PathBuf),
}

impl InputSource {
    /// Interprets a command-line argument: `-` means stdin, anything else is a path.
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            Self::Stdin
        } else {
            Self::File(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for InputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdin => f.write_str("stdin"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One log entry (one physical line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based physical line number in the input.
    pub line_number: u64,
    /// The line without its line ending (LF or CRLF); when truncated, the
    /// kept part followed by ` [truncated N bytes]`.
    pub text: String,
    /// Bytes that were not UTF-8 were replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
}

/// What the reader yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputItem {
    Entry(Entry),
    /// An empty or whitespace-only line.
    Blank {
        line_number: u64,
    },
}

/// Failure to open or read an input; each message names the input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open input '{input}': {reason}")]
    Open { input: String, reason: io::Error },
    #[error("cannot read input '{input}' at line {line}: {reason}")]
    Read {
        input: String,
        line: u64,
        reason: io::Error,
    },
    #[error("input '{input}' is not a valid gzip stream at line {line}: {reason}")]
    CorruptGzip {
        input: String,
        line: u64,
        reason: io::Error,
    },
    #[error("cannot start the reader thread for input '{input}': {reason}")]
    Spawn { input: String, reason: io::Error },
}

/// The receiving end of the channel fed by a reader thread.
type ItemReceiver = mpsc::Receiver<Result<InputItem, InputError>>;

/// Reads an input line by line, keeping at most `max_line_bytes` input bytes
/// of each line (counted before invalid UTF-8 is replaced).
pub struct EntryReader {
    /// Name of the input, for error messages.
    input: String,
    reader: Box<dyn BufRead + Send>,
    gzip: bool,
    max_line_bytes: usize,
    /// Number of lines yielded so far.
    line_number: u64,
    /// The kept bytes of the current line, reused across lines.
    line: Vec<u8>,
    /// Set at end of input or after an error.
    finished: bool,
}

/// The part of a line beyond `max_line_bytes` that was skipped.
struct Dropped {
    bytes: u64,
    /// Whether the skipped bytes are whitespace, including the start of a character the
    /// limit cut (so a long whitespace-only line is blank, as a short one is).
    whitespace: WhitespaceScan,
}

/// Whether bytes fed in pieces are all whitespace as `char::is_whitespace` says (so UTF-8
/// such as U+3000 and ASCII controls such as VT count, as for `str::trim`), holding at most
/// one partial character between pieces.
struct WhitespaceScan {
    so_far: bool,
    partial: [u8; 4],
    partial_len: usize,
}

impl WhitespaceScan {
    fn new() -> Self {
        Self {
            so_far: true,
            partial: [0; 4],
            partial_len: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if !self.so_far {
                return;
            }
            self.partial[self.partial_len] = byte;
            self.partial_len += 1;
            let char_len = match self.partial[0] {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => {
                    self.so_far = false;
                    return;
                }
            };
            if self.partial_len == char_len {
                self.so_far = std::str::from_utf8(&self.partial[..char_len])
                    .is_ok_and(|text| text.chars().all(char::is_whitespace));
                self.partial_len = 0;
            }
        }
    }

    /// Everything fed was whitespace, ending with a whole character.
    fn all_whitespace(&self) -> bool {
        self.so_far && self.partial_len == 0
    }
}

impl EntryReader {
    /// Opens the source; gzip is detected by its magic bytes (1f 8b), not by the extension, for files AND stdin.
    pub fn open(source: &InputSource, max_line_bytes: usize) -> Result<Self, InputError> {
        let input = source.to_string();
        let raw: Box<dyn Read + Send> = match source {
            InputSource::Stdin => Box::new(io::stdin()),
            InputSource::File(path) => match File::open(path) {
                Ok(file) => Box::new(file),
                Err(source) => {
                    return Err(InputError::Open {
                        input,
                        reason: source,
                    });
                }
            },
        };
        Self::from_raw(input, raw, max_line_bytes)
    }

    /// Reads any byte stream (an in-memory buffer, a pipe, ...) as `open` reads a file: gzip is
    /// detected by its magic bytes, and `name` names the input in error messages.
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
        max_line_bytes: usize,
    ) -> Result<Self, InputError> {
        Self::from_raw(name.into(), Box::new(reader), max_line_bytes)
    }

    /// Sniffs the first bytes of `raw` for gzip and sets up the line reader.
    fn from_raw(
        input: String,
        mut raw: Box<dyn Read + Send>,
        max_line_bytes: usize,
    ) -> Result<Self, InputError> {
        let mut head = [0; 2];
        let head_len = match read_head(&mut raw, &mut head) {
            Ok(len) => len,
            Err(source) => {
                return Err(InputError::Open {
                    input,
                    reason: source,
                });
            }
        };
        let gzip = head[..head_len] == GZIP_MAGIC;
        // Put the sniffed bytes back in front of the rest of the stream.
        let rejoined = io::Cursor::new(head).take(head_len as u64).chain(raw);
        let reader: Box<dyn BufRead + Send> = if gzip {
            let compressed = BufReader::with_capacity(BUFFER_BYTES, rejoined);
            Box::new(BufReader::with_capacity(
                BUFFER_BYTES,
                MultiGzDecoder::new(compressed),
            ))
        } else {
            Box::new(BufReader::with_capacity(BUFFER_BYTES, rejoined))
        };
        Ok(Self {
            input,
            reader,
            gzip,
            max_line_bytes,
            line_number: 0,
            line: Vec::new(),
            finished: false,
        })
    }

    /// Blocking: the next item, or None at end of input.
    ///
    /// After an error the reader is finished and returns `None`.
    pub fn next_item(&mut self) -> Result<Option<InputItem>, InputError> {
        if self.finished {
            return Ok(None);
        }
        match self.read_line() {
            Ok(Some(dropped)) => {
                self.line_number += 1;
                Ok(Some(self.build_item(dropped)))
            }
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(source) => {
                self.finished = true;
                Err(self.read_error(source))
            }
        }
    }

    /// Reads one physical line into `self.line` (at most `max_line_bytes`,
    /// line ending removed), skipping the excess without buffering it.
    /// Returns `None` at end of input.
    fn read_line(&mut self) -> io::Result<Option<Dropped>> {
        self.line.clear();
        let mut dropped = Dropped {
            bytes: 0,
            whitespace: WhitespaceScan::new(),
        };
        let mut started = false;
        let mut ends_with_cr = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                // A final line without a newline is still a line.
                return Ok(started.then_some(dropped));
            }
            started = true;
            let newline = available.iter().position(|&byte| byte == b'\n');
            let content = &available[..newline.unwrap_or(available.len())];
            let room = self.max_line_bytes - self.line.len();
            let (kept, excess) = content.split_at(room.min(content.len()));
            self.line.extend_from_slice(kept);
            if !excess.is_empty() {
                if dropped.bytes == 0 {
                    // The line is full: the start of a character it cuts is dropped too.
                    let keep = utf8_prefix_len(&self.line);
                    dropped.whitespace.feed(&self.line[keep..]);
                }
                dropped.bytes += excess.len() as u64;
                dropped.whitespace.feed(excess);
            }
            if let Some(&last) = content.last() {
                ends_with_cr = last == b'\r';
            }
            let consumed = newline.map_or(available.len(), |index| index + 1);
            self.reader.consume(consumed);
            if newline.is_some() {
                if ends_with_cr {
                    // The excess is the tail of the line, so the '\r' is there if anything was dropped.
                    if dropped.bytes > 0 {
                        dropped.bytes -= 1;
                    } else {
                        self.line.pop();
                    }
                }
                return Ok(Some(dropped));
            }
        }
    }

    /// Turns the line in `self.line` into an item.
    fn build_item(&mut self, mut dropped: Dropped) -> InputItem {
        let line_number = self.line_number;
        let truncated = dropped.bytes > 0;
        if truncated {
            let keep = utf8_prefix_len(&self.line);
            dropped.bytes += (self.line.len() - keep) as u64;
            self.line.truncate(keep);
        }
        let decoded = String::from_utf8_lossy(&self.line);
        if decoded.trim().is_empty() && (!truncated || dropped.whitespace.all_whitespace()) {
            return InputItem::Blank { line_number };
        }
        let invalid_utf8 = matches!(decoded, Cow::Owned(_));
        let mut text = decoded.into_owned();
        if truncated {
            text.push_str(&format!(" [truncated {} bytes]", dropped.bytes));
        }
        InputItem::Entry(Entry {
            line_number,
            text,
            invalid_utf8,
            truncated,
        })
    }

    /// Wraps a read failure on the line being read.
    fn read_error(&self, source: io::Error) -> InputError {
        let input = self.input.clone();
        let line = self.line_number + 1;
        let bad_data = matches!(
            source.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if self.gzip && bad_data {
            InputError::CorruptGzip {
                input,
                line,
                reason: source,
            }
        } else {
            InputError::Read {
                input,
                line,
                reason: source,
            }
        }
    }

    /// Moves the reader to a new thread that feeds a channel of `capacity` items.
    fn spawn(mut self, capacity: usize) -> Result<(ItemReceiver, JoinHandle<()>), InputError> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let input = self.input.clone();
        let thread = thread::Builder::new()
            .name("log-input-reader".to_owned())
            .spawn(move || {
                // The reader returns None after an error, so the error is the last message.
                while let Some(message) = self.next_item().transpose() {
                    if sender.blocking_send(message).is_err() {
                        return; // The receiver was dropped.
                    }
                }
            })
            .map_err(|source| InputError::Spawn {
                input,
                reason: source,
            })?;
        Ok((receiver, thread))
    }
}

/// Reads `source` on a dedicated thread and sends its items into a bounded
/// channel of `capacity` (at least 1), so memory stays flat whatever the input
/// size; an error is sent as the last message. Dropping the receiver stops the
/// reader at its next item. Open errors are returned directly.
pub fn spawn_reader(
    source: InputSource,
    max_line_bytes: usize,
    capacity: usize,
) -> Result<mpsc::Receiver<Result<InputItem, InputError>>, InputError> {
    let (receiver, _thread) = EntryReader::open(&source, max_line_bytes)?.spawn(capacity)?;
    Ok(receiver)
}

/// Counts the lines of a plain (non-gzip) regular file quickly for a progress
/// total, as many as the reader yields items; None for stdin, gzip or on any error.
pub fn count_lines(source: &InputSource) -> Option<u64> {
    let InputSource::File(path) = source else {
        return None;
    };
    // Checked before opening: opening a FIFO would block until a writer appears.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let mut head = [0; 2];
    let head_len = read_head(&mut file, &mut head).ok()?;
    if head[..head_len] == GZIP_MAGIC {
        return None;
    }
    file.rewind().ok()?;
    let mut buffer = vec![0; BUFFER_BYTES];
    let mut newlines = 0;
    let mut last_byte = None;
    loop {
        let len = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => len,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        newlines += buffer[..len].iter().filter(|&&byte| byte == b'\n').count() as u64;
        last_byte = Some(buffer[len - 1]);
    }
    // A final line without a newline counts too.
    let unterminated = last_byte.is_some_and(|byte| byte != b'\n');
    Some(newlines + u64::from(unterminated))
}

/// Fills `head` from `reader` as far as the input allows, returning how many
/// bytes were read (fewer only at end of input).
fn read_head(reader: &mut impl Read, head: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(len) => filled += len,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Length of `bytes` without a multi-byte UTF-8 sequence that was cut short
/// at its end, so truncation never splits a character.
fn utf8_prefix_len(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        let is_continuation = byte & 0xC0 == 0x80;
        if !is_continuation {
            let sequence_len = match byte {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if sequence_len > back {
                bytes.len() - back
            } else {
                bytes.len()
            };
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    use std::time::{Duration, Instant};
    use tempfile::NamedTempFile;

    /// The loghub sample logs (`<name>/<name>_2k.log`).
    fn loghub_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/loghub"))
    }

    /// Delivers at most one byte per read, like a slow pipe.
    struct Trickle<R>(R);

    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let len = buf.len().min(1);
            self.0.read(&mut buf[..len])
        }
    }

    fn reader_over(raw: impl Read + Send + 'static, max_line_bytes: usize) -> EntryReader {
        EntryReader::from_raw("test".to_owned(), Box::new(raw), max_line_bytes)
            .expect("in-memory input opens")
    }

    fn collect(mut reader: EntryReader) -> Vec<InputItem> {
        let mut items = Vec::new();
        while let Some(item) = reader.next_item().expect("input reads without error") {
            items.push(item);
        }
        items
    }

    /// Reads `data` both in one piece and byte by byte, checking both agree.
    fn read_bytes(data: &[u8], max_line_bytes: usize) -> Vec<InputItem> {
        let whole = collect(reader_over(io::Cursor::new(data.to_vec()), max_line_bytes));
        let trickled = collect(reader_over(
            Trickle(io::Cursor::new(data.to_vec())),
            max_line_bytes,
        ));
        assert_eq!(whole, trickled, "chunking changed the result");
        whole
    }

    fn entry(line_number: u64, text: &str) -> InputItem {
        InputItem::Entry(Entry {
            line_number,
            text: text.to_owned(),
            invalid_utf8: false,
            truncated: false,
        })
    }

    fn truncated(line_number: u64, text: &str) -> InputItem {
        InputItem::Entry(Entry {
            line_number,
            text: text.to_owned(),
            invalid_utf8: false,
            truncated: true,
        })
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn temp_file(data: &[u8]) -> NamedTempFile {
        let mut file = NamedTempFile::new().unwrap();
        file.write_all(data).unwrap();
        file.flush().unwrap();
        file
    }

    fn file_source(file: &NamedTempFile) -> InputSource {
        InputSource::File(file.path().to_owned())
    }

    fn read_source(source: &InputSource) -> Vec<InputItem> {
        collect(EntryReader::open(source, 64 * 1024).expect("input opens"))
    }

    /// A file of `count` numbered lines, and the text of line `n` (1-based).
    fn numbered_file(count: u64) -> NamedTempFile {
        let mut file = NamedTempFile::new().unwrap();
        let mut writer = io::BufWriter::new(&mut file);
        for n in 1..=count {
            writeln!(writer, "{}", numbered_line(n)).unwrap();
        }
        writer.flush().unwrap();
        drop(writer);
        file
    }

    fn numbered_line(n: u64) -> String {
        format!("2024-01-01 INFO line {n}")
    }

    /// Waits (bounded) until `condition` holds.
    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn parses_and_displays_sources() {
        assert_eq!(InputSource::parse("-"), InputSource::Stdin);
        assert_eq!(
            InputSource::parse("app.log"),
            InputSource::File(PathBuf::from("app.log"))
        );
        assert_eq!(InputSource::Stdin.to_string(), "stdin");
        assert_eq!(
            InputSource::parse("logs/app.log").to_string(),
            "logs/app.log"
        );
    }

    #[test]
    fn handles_lf_and_crlf_with_or_without_final_newline() {
        let expected = vec![entry(1, "first"), entry(2, "second")];
        for data in [
            "first\nsecond\n",
            "first\nsecond",
            "first\r\nsecond\r\n",
            "first\r\nsecond",
            "first\nsecond\r\n",
        ] {
            assert_eq!(read_bytes(data.as_bytes(), 100), expected, "input {data:?}");
        }
    }

    #[test]
    fn strips_only_a_carriage_return_before_newline() {
        assert_eq!(
            read_bytes(b"a\rb\r\r\nend\r", 100),
            vec![entry(1, "a\rb\r"), entry(2, "end\r")]
        );
    }

    #[test]
    fn empty_input_yields_nothing_and_lone_newlines_are_blank() {
        assert_eq!(read_bytes(b"", 100), vec![]);
        assert_eq!(
            read_bytes(b"\n", 100),
            vec![InputItem::Blank { line_number: 1 }]
        );
        assert_eq!(
            read_bytes(b"\r\n\n", 100),
            vec![
                InputItem::Blank { line_number: 1 },
                InputItem::Blank { line_number: 2 }
            ]
        );
    }

    #[test]
    fn blank_lines_are_yielded_and_counted() {
        assert_eq!(
            read_bytes("one\n\n \t\r\n\u{3000}\ntwo\n   ".as_bytes(), 100),
            vec![
                entry(1, "one"),
                InputItem::Blank { line_number: 2 },
                InputItem::Blank { line_number: 3 },
                InputItem::Blank { line_number: 4 },
                entry(5, "two"),
                InputItem::Blank { line_number: 6 },
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let items = read_bytes(b"ok \xff\xfe end\r\nfine\n\xc3\n", 100);
        assert_eq!(
            items,
            vec![
                InputItem::Entry(Entry {
                    line_number: 1,
                    text: "ok \u{FFFD}\u{FFFD} end".to_owned(),
                    invalid_utf8: true,
                    truncated: false,
                }),
                entry(2, "fine"),
                InputItem::Entry(Entry {
                    line_number: 3,
                    text: "\u{FFFD}".to_owned(),
                    invalid_utf8: true,
                    truncated: false,
                }),
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        assert_eq!(
            read_bytes(b"0123456789abc\nshort\n0123456789abc\r\n", 10),
            vec![
                truncated(1, "0123456789 [truncated 3 bytes]"),
                entry(2, "short"),
                truncated(3, "0123456789 [truncated 3 bytes]"),
            ]
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_not_truncated() {
        assert_eq!(
            read_bytes(b"0123456789\r\n0123456789", 10),
            vec![entry(1, "0123456789"), entry(2, "0123456789")]
        );
    }

    #[test]
    fn truncation_never_splits_a_character() {
        // "é" is 2 bytes and "€" is 3: the limit falls inside a character.
        assert_eq!(
            read_bytes("ééééé\n".as_bytes(), 9),
            vec![truncated(1, "éééé [truncated 2 bytes]")]
        );
        assert_eq!(
            read_bytes("€€€€\n".as_bytes(), 8),
            vec![truncated(1, "€€ [truncated 6 bytes]")]
        );
    }

    #[test]
    fn long_whitespace_lines_are_blank() {
        let items = read_bytes(&[b' '; 50], 10);
        assert_eq!(items, vec![InputItem::Blank { line_number: 1 }]);
        let items = read_bytes(b"          x\n", 10);
        assert_eq!(items, vec![truncated(1, "           [truncated 1 bytes]")]);
    }

    #[test]
    fn long_lines_of_any_whitespace_are_blank() {
        // VT and U+3000 are whitespace to `str::trim` but not to `u8::is_ascii_whitespace`,
        // and the limit may cut U+3000 (3 bytes) in the middle.
        assert_eq!(
            read_bytes(b"\x0b\n \x0b\x0b\r\n", 0),
            vec![
                InputItem::Blank { line_number: 1 },
                InputItem::Blank { line_number: 2 }
            ]
        );
        for limit in 0..8 {
            assert_eq!(
                read_bytes(" \u{3000}\u{3000} ".as_bytes(), limit),
                vec![InputItem::Blank { line_number: 1 }],
                "limit {limit}"
            );
        }
        assert_eq!(
            read_bytes(" \u{3000}x".as_bytes(), 2),
            vec![truncated(1, "  [truncated 4 bytes]")]
        );
        assert_eq!(
            read_bytes(b"  \xe3\x80", 2),
            vec![truncated(1, "   [truncated 2 bytes]")]
        );
    }

    #[test]
    fn a_huge_line_is_read_with_bounded_memory() {
        const HUGE: u64 = 32 * 1024 * 1024;
        const MAX: usize = 1000;
        let raw = io::repeat(b'x')
            .take(HUGE)
            .chain(io::Cursor::new(b"\r\nnext\n"));
        let mut reader = reader_over(raw, MAX);
        let Some(InputItem::Entry(first)) = reader.next_item().unwrap() else {
            panic!("expected an entry");
        };
        assert!(first.truncated);
        assert_eq!(first.line_number, 1);
        let marker = format!(" [truncated {} bytes]", HUGE - MAX as u64);
        assert_eq!(first.text, "x".repeat(MAX) + &marker);
        assert!(reader.line.capacity() <= 2 * MAX, "line buffer grew");
        assert_eq!(reader.next_item().unwrap(), Some(entry(2, "next")));
        assert_eq!(reader.next_item().unwrap(), None);
    }

    #[test]
    fn gzip_is_detected_by_content_in_files() {
        // The name has no .gz extension: detection is by the magic bytes.
        let file = temp_file(&gzip(b"alpha\r\n\nbeta"));
        assert_eq!(
            read_source(&file_source(&file)),
            vec![
                entry(1, "alpha"),
                InputItem::Blank { line_number: 2 },
                entry(3, "beta")
            ]
        );
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut data = gzip(b"one\ntw");
        data.extend(gzip(b"o\nthree\n"));
        let file = temp_file(&data);
        assert_eq!(
            read_source(&file_source(&file)),
            vec![entry(1, "one"), entry(2, "two"), entry(3, "three")]
        );
    }

    #[test]
    fn gzip_is_detected_on_a_pipe_delivering_one_byte_at_a_time() {
        let piped = Trickle(io::Cursor::new(gzip(b"from\nstdin\n")));
        assert_eq!(
            collect(reader_over(piped, 100)),
            vec![entry(1, "from"), entry(2, "stdin")]
        );
    }

    #[test]
    fn plain_files_are_read_as_is() {
        let file = temp_file(b"\x1fnot gzip\n");
        assert_eq!(
            read_source(&file_source(&file)),
            vec![entry(1, "\x1fnot gzip")]
        );
        let file = temp_file(b"x");
        assert_eq!(read_source(&file_source(&file)), vec![entry(1, "x")]);
        let file = temp_file(b"");
        assert_eq!(read_source(&file_source(&file)), vec![]);
        let file = temp_file(&gzip(b""));
        assert_eq!(read_source(&file_source(&file)), vec![]);
    }

    #[test]
    fn corrupt_gzip_reports_the_line_then_ends() {
        let mut data = gzip(b"one\ntwo\nthree\n");
        data.truncate(data.len() - 6); // cut into the trailer
        let file = temp_file(&data);
        let name = file.path().display().to_string();
        let mut reader = EntryReader::open(&file_source(&file), 100).unwrap();
        let mut entries = 0;
        let error = loop {
            match reader.next_item() {
                Ok(Some(_)) => entries += 1,
                Ok(None) => panic!("a truncated gzip stream must fail"),
                Err(error) => break error,
            }
        };
        let line = entries + 1;
        assert!(matches!(error, InputError::CorruptGzip { line: l, .. } if l == line));
        let message = error.to_string();
        let expected = format!("input '{name}' is not a valid gzip stream at line {line}: ");
        assert!(message.starts_with(&expected), "{message}");
        assert_eq!(reader.next_item().unwrap(), None);

        let mut garbage = GZIP_MAGIC.to_vec();
        garbage.extend(b"this is not deflate data");
        let file = temp_file(&garbage);
        let error = EntryReader::open(&file_source(&file), 100)
            .unwrap()
            .next_item()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not a valid gzip stream at line 1: ")
        );
    }

    #[test]
    fn open_errors_name_the_input() {
        let missing = InputSource::parse("/nonexistent/x.log");
        let Err(error) = EntryReader::open(&missing, 100) else {
            panic!("a missing file must not open");
        };
        assert_eq!(
            error.to_string(),
            "cannot open input '/nonexistent/x.log': No such file or directory (os error 2)"
        );
        let directory = tempfile::tempdir().unwrap();
        let source = InputSource::File(directory.path().to_owned());
        assert!(matches!(
            EntryReader::open(&source, 100),
            Err(InputError::Open { .. })
        ));
    }

    #[test]
    fn read_errors_name_the_input_and_line() {
        struct FailsAfter(io::Cursor<&'static [u8]>);
        impl Read for FailsAfter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.read(buf)? {
                    0 => Err(io::Error::other("device gone")),
                    len => Ok(len),
                }
            }
        }
        let mut reader = reader_over(FailsAfter(io::Cursor::new(b"a\nb\nc")), 100);
        assert_eq!(reader.next_item().unwrap(), Some(entry(1, "a")));
        assert_eq!(reader.next_item().unwrap(), Some(entry(2, "b")));
        let error = reader.next_item().unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot read input 'test' at line 3: device gone"
        );
        assert_eq!(reader.next_item().unwrap(), None);
    }

    #[test]
    fn count_lines_matches_the_items_read() {
        for data in [&b""[..], b"x", b"\n", b"a\nb", b"a\r\nb\r\n", b"a\n\n\nb\n"] {
            let file = temp_file(data);
            let source = file_source(&file);
            assert_eq!(
                count_lines(&source),
                Some(read_source(&source).len() as u64),
                "input {data:?}"
            );
        }
        let file = numbered_file(100_000);
        assert_eq!(count_lines(&file_source(&file)), Some(100_000));
    }

    #[test]
    fn count_lines_gives_none_when_it_cannot_count() {
        assert_eq!(count_lines(&InputSource::Stdin), None);
        let file = temp_file(&gzip(b"a\nb\n"));
        assert_eq!(count_lines(&file_source(&file)), None);
        assert_eq!(count_lines(&InputSource::parse("/nonexistent/x.log")), None);
        let directory = tempfile::tempdir().unwrap();
        assert_eq!(
            count_lines(&InputSource::File(directory.path().to_owned())),
            None
        );
    }

    #[tokio::test]
    async fn spawn_reader_delivers_every_item_in_order() {
        const LINES: u64 = 300_000;
        let file = numbered_file(LINES);
        let mut receiver = spawn_reader(file_source(&file), 1024, 64).unwrap();
        let mut expected = 1;
        while let Some(message) = receiver.recv().await {
            assert_eq!(message.unwrap(), entry(expected, &numbered_line(expected)));
            expected += 1;
        }
        assert_eq!(expected - 1, LINES);
    }

    #[test]
    fn the_channel_capacity_bounds_what_is_buffered() {
        const CAPACITY: usize = 8;
        let file = numbered_file(300_000);
        let reader = EntryReader::open(&file_source(&file), 1024).unwrap();
        let (mut receiver, thread) = reader.spawn(CAPACITY).unwrap();
        wait_for("the channel to fill", || receiver.len() == CAPACITY);
        thread::sleep(Duration::from_millis(50));
        assert_eq!(receiver.len(), CAPACITY);
        assert!(
            !thread.is_finished(),
            "the reader must wait for the consumer"
        );
        let mut received = 0;
        while let Some(message) = receiver.blocking_recv() {
            message.unwrap();
            received += 1;
            assert!(receiver.len() <= CAPACITY);
        }
        assert_eq!(received, 300_000);
        thread.join().unwrap();
    }

    #[test]
    fn dropping_the_receiver_stops_the_reader() {
        let file = numbered_file(300_000);
        let reader = EntryReader::open(&file_source(&file), 1024).unwrap();
        let (mut receiver, thread) = reader.spawn(4).unwrap();
        assert_eq!(
            receiver.blocking_recv().unwrap().unwrap(),
            entry(1, &numbered_line(1))
        );
        drop(receiver);
        wait_for("the reader thread to end", || thread.is_finished());
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn spawn_reader_sends_the_error_last_and_returns_open_errors() {
        let mut data = gzip(b"one\ntwo\n");
        data.truncate(data.len() - 6);
        let file = temp_file(&data);
        let mut receiver = spawn_reader(file_source(&file), 100, 4).unwrap();
        let mut messages = Vec::new();
        while let Some(message) = receiver.recv().await {
            messages.push(message);
        }
        let last = messages.pop().expect("at least the error arrives");
        assert!(matches!(last, Err(InputError::CorruptGzip { .. })));
        assert!(messages.iter().all(Result::is_ok));

        let missing = InputSource::parse("/nonexistent/x.log");
        assert!(matches!(
            spawn_reader(missing, 100, 4),
            Err(InputError::Open { .. })
        ));
    }

    #[test]
    fn reads_the_loghub_samples_exactly() {
        let dir = loghub_dir();
        let mut checked = 0;
        for system in std::fs::read_dir(&dir).expect("the loghub directory exists") {
            let system = system.unwrap().path();
            let name = system.file_name().unwrap().to_string_lossy().into_owned();
            let path = system.join(format!("{name}_2k.log"));
            if !path.is_file() {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let content = String::from_utf8_lossy(&raw);
            let items = read_source(&InputSource::File(path.clone()));
            assert_eq!(items.len(), 2000, "{}", path.display());
            for (index, (item, line)) in items.iter().zip(content.lines()).enumerate() {
                let line_number = index as u64 + 1;
                let InputItem::Entry(entry) = item else {
                    panic!("{}: line {line_number} is not an entry", path.display());
                };
                assert_eq!(entry.line_number, line_number);
                assert_eq!(entry.text, line, "{} line {line_number}", path.display());
                assert!(!entry.truncated && !entry.invalid_utf8);
            }
            assert_eq!(count_lines(&InputSource::File(path)), Some(2000));
            checked += 1;
        }
        assert!(checked > 0, "no *_2k.log files in {}", dir.display());
    }
}
