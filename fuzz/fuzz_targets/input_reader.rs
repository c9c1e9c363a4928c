//! Fuzzes `EntryReader` over arbitrary bytes. The first three bytes choose how the rest is
//! presented (plain, gzip-compressed in one or two members, or raw bytes behind the gzip magic,
//! mostly a corrupt stream), a small `max_line_bytes` (0 to 63) and the size of the chunks the
//! reader is handed. Reading to the end never panics, line numbers run 1, 2, 3, ... with no
//! gap, no entry holds a line feed, an error ends the input, and the chunk size changes nothing.
//! For plain or compressed input every item also matches its line (LF or CRLF removed): a line
//! within the limit is decoded whole, and is blank exactly when it is whitespace; a longer one
//! keeps at most `max_line_bytes` of its bytes (up to 3 fewer, so no character is split),
//! counts the rest in its ` [truncated N bytes]` marker, and is blank only if it is whitespace.
#![no_main]

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use log_archiver::pipeline::input::{EntryReader, InputItem};

/// Sizes of the reads the reader is served.
const CHUNKS: [usize; 8] = [usize::MAX, 1, 2, 3, 5, 8, 64, 4096];

fuzz_target!(|data: &[u8]| {
    let [mode, limit, chunk, body @ ..] = data else {
        return;
    };
    let max_line_bytes = usize::from(limit % 64);
    let chunk = CHUNKS[usize::from(chunk % 8)];
    let sniffed_as_gzip = body.starts_with(&[0x1f, 0x8b]);
    let (input, decoded) = match mode % 4 {
        0 => (body.to_vec(), (!sniffed_as_gzip).then_some(body)),
        1 => (gzip(&[body]), Some(body)),
        2 => {
            let (first, second) = body.split_at(body.len() / 2);
            (gzip(&[first, second]), Some(body))
        }
        _ => ([&[0x1f, 0x8b], body].concat(), None),
    };
    let (whole, whole_error) = read_all(input.clone(), usize::MAX, max_line_bytes);
    let (chunked, chunked_error) = read_all(input, chunk, max_line_bytes);
    for item in whole.iter().chain(&chunked) {
        if let InputItem::Entry(entry) = item {
            assert!(!entry.text.contains('\n'), "{entry:?}");
        }
    }
    let Some(decoded) = decoded else {
        return;
    };
    assert_eq!(whole_error, None);
    assert_eq!(chunked_error, None);
    assert_eq!(whole, chunked, "the chunk size changed the result");
    let lines = split_lines(decoded);
    assert_eq!(whole.len(), lines.len(), "one item per line");
    for (item, line) in whole.iter().zip(lines) {
        check_item(item, line, max_line_bytes);
    }
});

/// Serves a buffer at most `chunk` bytes per read.
struct Chunked {
    data: io::Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(self.chunk);
        self.data.read(&mut buf[..len])
    }
}

/// Each part compressed as one gzip member, one after the other.
fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    let mut compressed = Vec::new();
    for part in parts {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(part).unwrap();
        compressed.extend(encoder.finish().unwrap());
    }
    compressed
}

/// Reads `input` to the end: the items, and the error that ended it, if any. Checks the line
/// numbers as it goes, and that an error ends the input.
fn read_all(
    input: Vec<u8>,
    chunk: usize,
    max_line_bytes: usize,
) -> (Vec<InputItem>, Option<String>) {
    let served = Chunked {
        data: io::Cursor::new(input),
        chunk,
    };
    let mut reader =
        EntryReader::from_reader("fuzz", served, max_line_bytes).expect("in-memory input opens");
    let mut items = Vec::new();
    loop {
        match reader.next_item() {
            Ok(Some(item)) => {
                let line_number = match &item {
                    InputItem::Entry(entry) => entry.line_number,
                    InputItem::Blank { line_number } => *line_number,
                };
                assert_eq!(line_number, items.len() as u64 + 1, "line numbers run on");
                items.push(item);
            }
            Ok(None) => return (items, None),
            Err(error) => {
                assert!(
                    matches!(reader.next_item(), Ok(None)),
                    "an error ends the input"
                );
                return (items, Some(error.to_string()));
            }
        }
    }
}

/// The physical lines of `data`, without their LF or CRLF; a last line without a line feed
/// keeps a final CR.
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&byte| byte == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        lines.pop();
    }
    let terminated = lines.len() - usize::from(!data.is_empty() && !data.ends_with(b"\n"));
    for line in &mut lines[..terminated] {
        if let Some(without_cr) = line.strip_suffix(b"\r") {
            *line = without_cr;
        }
    }
    lines
}

/// Checks one item against the line it was read from.
fn check_item(item: &InputItem, line: &[u8], max_line_bytes: usize) {
    let decoded = String::from_utf8_lossy(line);
    let whitespace = decoded.trim().is_empty();
    let InputItem::Entry(entry) = item else {
        assert!(whitespace, "a blank item for {line:?}");
        return;
    };
    if line.len() <= max_line_bytes {
        assert!(!whitespace, "an entry for the whitespace line {line:?}");
        assert!(!entry.truncated);
        assert_eq!(entry.text, decoded);
        assert_eq!(entry.invalid_utf8, std::str::from_utf8(line).is_err());
        return;
    }
    assert!(
        !whitespace,
        "an entry for the long whitespace line {line:?}: {entry:?}"
    );
    assert!(entry.truncated, "{line:?} is longer than {max_line_bytes}");
    let (kept_text, count) = entry
        .text
        .rsplit_once(" [truncated ")
        .expect("a truncated entry has its marker");
    let dropped: usize = count
        .strip_suffix(" bytes]")
        .and_then(|count| count.parse().ok())
        .expect("the marker counts bytes");
    let kept = line
        .len()
        .checked_sub(dropped)
        .expect("no more dropped than the line holds");
    assert!(
        kept <= max_line_bytes && kept + 3 >= max_line_bytes,
        "kept {kept} of {line:?}"
    );
    assert_eq!(kept_text, String::from_utf8_lossy(&line[..kept]));
    assert_eq!(
        entry.invalid_utf8,
        std::str::from_utf8(&line[..kept]).is_err()
    );
    if let Ok(text) = std::str::from_utf8(line) {
        let boundary = (0..=max_line_bytes)
            .rev()
            .find(|&at| text.is_char_boundary(at));
        assert_eq!(Some(kept), boundary, "cut at the last character boundary");
    }
}
