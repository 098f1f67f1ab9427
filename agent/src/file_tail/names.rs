//! File names as text: a name that is not valid UTF-8 is kept as bytes where it is stored
//! (the path used to open the file) and shown with each invalid byte escaped as `\xNN`, so
//! two such names stay told apart in `log.file.path` and in the log.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` as text, invalid bytes as `\xNN` (a backslash itself stays as it is).
pub fn escaped(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn invalid_bytes_are_escaped_and_valid_text_is_kept() {
        let p = Path::new(OsStr::from_bytes(b"logs/bad\xff\xfename-\xc3\xa9.log"));
        assert_eq!(escaped(p), "logs/bad\\xff\\xfename-é.log");
        assert_eq!(escaped(Path::new("logs/a.log")), "logs/a.log");
    }
}
