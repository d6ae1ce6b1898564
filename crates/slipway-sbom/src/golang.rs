//! Go build information, read natively from ELF, PE and Mach-O executables.
//!
//! The Go linker stores a 32-byte header starting with `\xff Go buildinf:` (the pointer size
//! at byte 14, flags at 15), 16-byte aligned, in the `.go.buildinfo` section (ELF), the
//! `__go_buildinfo` section (Mach-O) or the start of the writable data (PE, and older ELF). Since
//! Go 1.18 (flag `0x2`) the Go version and the module information follow the header inline as
//! varint-length-prefixed strings; before, the header holds two pointers to Go string headers.
//! The module information is the text `go version -m` prints: `path`, `mod`, `dep`, `=>`
//! (replacement of the line before) and `build` lines, between 16-byte sentinels.

use object::{Object, ObjectSection, ObjectSegment};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const ALIGN: usize = 16;
const SEARCH: usize = 64 * 1024;

/// A Go module as the binary records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Module path.
    pub path: String,
    /// Version (`(devel)` for the main module of a local build).
    pub version: String,
    /// `h1:` checksum, when recorded.
    pub sum: Option<String>,
    /// The replacement, when a `replace` directive applied.
    pub replace: Option<Box<Module>>,
}

impl Module {
    /// The module actually linked: the replacement when there is one.
    pub fn effective(&self) -> &Module {
        self.replace.as_deref().unwrap_or(self)
    }
}

/// The build information of one Go executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// Toolchain version, e.g. `go1.22.2`.
    pub go_version: String,
    /// Main package path.
    pub path: Option<String>,
    /// Main module.
    pub main: Option<Module>,
    /// Dependencies, in the binary's order.
    pub deps: Vec<Module>,
    /// Build settings (`-buildmode`, `-ldflags`, `CGO_ENABLED`, `GOARCH`, `vcs.revision`, ...).
    pub settings: Vec<(String, String)>,
}

/// Why a file's build information could not be read. Not-a-Go-binary is `Ok(None)`, not this.
#[derive(Debug, thiserror::Error)]
#[error("Go build info: {0}")]
pub struct GoError(String);

/// Whether `head` (the first 8 bytes of a file) is the magic of an ELF, PE or Mach-O file.
pub fn is_executable_magic(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
        || head.starts_with(b"MZ")
        || head.starts_with(&[0xfe, 0xed, 0xfa, 0xce])
        || head.starts_with(&[0xfe, 0xed, 0xfa, 0xcf])
        || head.starts_with(&[0xce, 0xfa, 0xed, 0xfe])
        || head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        // A universal Mach-O has a handful of architectures where a Java class file (same
        // magic) has its version, 45 and up.
        || (head.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
            && head.len() >= 8
            && u32::from_be_bytes([head[4], head[5], head[6], head[7]]) < 45)
}

/// Most bytes after the header kept by [`find_streamed`]: the version and module strings.
const INLINE_MAX: usize = 4 << 20;

/// Finds the build info header in a stream (the whole file, read once, front to back, a chunk
/// at a time): the header and up to [`INLINE_MAX`] bytes after it. The header is 16-byte
/// aligned in the file, as in its section. For executables the object parser refuses (Go's
/// Mach-O output trips `object`'s section count check).
pub fn find_streamed(mut r: impl std::io::Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut offset = 0usize; // file offset of buf[0]
    let mut filled = 0usize;
    loop {
        let n = r.read(&mut buf[filled..])?;
        let eof = n == 0;
        filled += n;
        // Candidates at 16-byte file offsets whose magic is wholly in the buffer.
        let mut i = (ALIGN - offset % ALIGN) % ALIGN;
        while i + MAGIC.len() <= filled {
            if &buf[i..i + MAGIC.len()] == MAGIC {
                let mut out = buf[i..filled].to_vec();
                let want = 32 + INLINE_MAX;
                let mut chunk = vec![0u8; 64 * 1024];
                while out.len() < want {
                    let n = r.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&chunk[..n]);
                }
                out.truncate(want);
                return Ok(Some(out));
            }
            i += ALIGN;
        }
        if eof {
            return Ok(None);
        }
        // Keep the tail that may hold the start of a magic; stay 16-byte aligned.
        let keep_from = filled.saturating_sub(MAGIC.len()) / ALIGN * ALIGN;
        buf.copy_within(keep_from..filled, 0);
        offset += keep_from;
        filled -= keep_from;
    }
}

/// Reads the build information of `data` (a whole executable). `Ok(None)`: no Go build
/// information in it. An executable the object parser refuses is searched for the build info
/// header directly; when that finds nothing either, the error says so (the caller warns).
pub fn read(data: &[u8]) -> Result<Option<BuildInfo>, GoError> {
    let file = match object::File::parse(data) {
        Ok(f) => f,
        Err(_) if !is_executable_magic(&data[..data.len().min(8)]) => return Ok(None),
        Err(e) => {
            return match find_streamed(data).map_err(|io| GoError(io.to_string()))? {
                Some(header) => decode(&header, None, data),
                None => Err(GoError(format!(
                    "the file looks like an executable but cannot be parsed ({e}), and holds no Go build info header"
                ))),
            };
        }
    };
    let Some((start, _addr)) = data_start(&file, data) else {
        return Ok(None);
    };
    let window = &data[start..data.len().min(start + SEARCH)];
    let Some(off) = find_magic(window) else {
        return Ok(None);
    };
    decode(&window[off..], Some(&file), data)
}

/// Decodes the header at the start of `header` (and what follows it); `file` resolves the
/// pointers of pre-1.18 binaries.
fn decode(
    header: &[u8],
    file: Option<&object::File<'_>>,
    data: &[u8],
) -> Result<Option<BuildInfo>, GoError> {
    if header.len() < 32 {
        return Err(GoError("truncated header".into()));
    }
    let ptr_size = header[14] as usize;
    let flags = header[15];
    let big_endian = flags & 0x1 != 0;
    let (version, modinfo) = if flags & 0x2 != 0 {
        let rest = &header[32..];
        let (v, n) = varint_string(rest).ok_or_else(|| GoError("bad version string".into()))?;
        let (m, _) =
            varint_string(&rest[n..]).ok_or_else(|| GoError("bad module info string".into()))?;
        (v.to_vec(), m.to_vec())
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return Err(GoError(format!("pointer size {ptr_size}")));
        }
        let Some(file) = file else {
            return Err(GoError(
                "a pre-Go 1.18 build info (pointers into sections) in an executable whose sections cannot be read".into(),
            ));
        };
        let vptr = uint(&header[16..], ptr_size, big_endian);
        let mptr = uint(&header[16 + ptr_size..], ptr_size, big_endian);
        let v = read_go_string(file, data, vptr, ptr_size, big_endian)
            .ok_or_else(|| GoError("version string pointer".into()))?;
        let m = read_go_string(file, data, mptr, ptr_size, big_endian).unwrap_or_default();
        (v, m)
    };
    let version = String::from_utf8(version).map_err(|_| GoError("version is not UTF-8".into()))?;
    if version.is_empty() {
        return Ok(None);
    }
    // The text sits between two 16-byte binary sentinels.
    let b = modinfo.as_slice();
    let b = if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        &b[16..b.len() - 16]
    } else {
        b
    };
    let modinfo =
        String::from_utf8(b.to_vec()).map_err(|_| GoError("module info is not UTF-8".into()))?;
    let mut info = parse_modinfo(&modinfo)?;
    info.go_version = version;
    Ok(Some(info))
}

/// Where to search: the file offset of the build info section or of the first writable data,
/// and its virtual address.
fn data_start(file: &object::File<'_>, data: &[u8]) -> Option<(usize, u64)> {
    for name in [".go.buildinfo", "__go_buildinfo"] {
        if let Some(s) = file.section_by_name(name)
            && let Some((off, _)) = s.file_range()
        {
            return Some((off as usize, s.address()));
        }
    }
    match file.format() {
        object::BinaryFormat::Pe => {
            let s = file.section_by_name(".data")?;
            let (off, _) = s.file_range()?;
            Some((off as usize, s.address()))
        }
        object::BinaryFormat::MachO => {
            let s = file
                .sections()
                .find(|s| s.segment_name().ok().flatten() == Some("__DATA"))?;
            let (off, _) = s.file_range()?;
            Some((off as usize, s.address()))
        }
        _ => {
            // Older ELF: the first writable PT_LOAD segment.
            let seg = file.segments().find(|s| {
                matches!(
                    s.flags(),
                    object::SegmentFlags::Elf { p_flags } if p_flags & 0x2 != 0
                )
            })?;
            let (off, _) = seg.file_range();
            let off = off as usize;
            (off < data.len()).then_some((off, seg.address()))
        }
    }
}

fn find_magic(window: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + MAGIC.len() <= window.len() {
        if &window[i..i + MAGIC.len()] == MAGIC {
            return Some(i);
        }
        i += ALIGN;
    }
    None
}

fn uint(b: &[u8], size: usize, big: bool) -> u64 {
    let mut v = 0u64;
    for i in 0..size.min(b.len()) {
        let byte = if big { b[i] } else { b[size - 1 - i] };
        v = (v << 8) | u64::from(byte);
    }
    v
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn varint_string(b: &[u8]) -> Option<(&[u8], usize)> {
    let (len, n) = varint(b)?;
    let len = usize::try_from(len).ok()?;
    let end = n.checked_add(len)?;
    Some((b.get(n..end)?, end))
}

/// Reads `len` bytes at virtual address `addr`.
fn read_at(file: &object::File<'_>, data: &[u8], addr: u64, len: usize) -> Option<Vec<u8>> {
    for s in file.sections() {
        let (start, size) = (s.address(), s.size());
        if addr >= start && addr < start + size {
            let (off, fsize) = s.file_range()?;
            let rel = addr - start;
            if rel + len as u64 > fsize {
                return None;
            }
            let o = usize::try_from(off + rel).ok()?;
            return data.get(o..o + len).map(<[u8]>::to_vec);
        }
    }
    None
}

fn read_go_string(
    file: &object::File<'_>,
    data: &[u8],
    ptr: u64,
    ptr_size: usize,
    big: bool,
) -> Option<Vec<u8>> {
    let hdr = read_at(file, data, ptr, 2 * ptr_size)?;
    let p = uint(&hdr, ptr_size, big);
    let n = usize::try_from(uint(&hdr[ptr_size..], ptr_size, big)).ok()?;
    if n > 16 << 20 {
        return None;
    }
    read_at(file, data, p, n)
}

fn module(fields: &[&str]) -> Result<Module, GoError> {
    let path = fields.first().copied().unwrap_or_default();
    if path.is_empty() {
        return Err(GoError("module line without a path".into()));
    }
    Ok(Module {
        path: path.to_owned(),
        version: fields.get(1).copied().unwrap_or_default().to_owned(),
        sum: fields
            .get(2)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned()),
        replace: None,
    })
}

/// Parses the module information text (what `go version -m` prints after the first line).
pub fn parse_modinfo(text: &str) -> Result<BuildInfo, GoError> {
    let mut info = BuildInfo {
        go_version: String::new(),
        path: None,
        main: None,
        deps: Vec::new(),
        settings: Vec::new(),
    };
    // `=>` applies to the `mod` or `dep` line just before it.
    let mut last_is_main = false;
    for line in text.lines() {
        let mut parts = line.splitn(2, '\t');
        let key = parts.next().unwrap_or_default();
        let rest = parts.next().unwrap_or_default();
        let fields: Vec<&str> = rest.split('\t').collect();
        match key {
            "go" => info.go_version = rest.to_owned(),
            "path" => info.path = Some(rest.to_owned()),
            "mod" => {
                info.main = Some(module(&fields)?);
                last_is_main = true;
            }
            "dep" => {
                info.deps.push(module(&fields)?);
                last_is_main = false;
            }
            "=>" => {
                let r = Box::new(module(&fields)?);
                let target = if last_is_main {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                target
                    .ok_or_else(|| GoError("replacement without a module".into()))?
                    .replace = Some(r);
            }
            "build" => {
                let (k, v) = split_setting(rest)
                    .ok_or_else(|| GoError(format!("bad build line `{rest}`")))?;
                info.settings.push((k, v));
            }
            "" => {}
            _ => {}
        }
    }
    Ok(info)
}

/// `key=value`, where a key or value with spaces, tabs, quotes or `=` is a Go quoted string.
fn split_setting(s: &str) -> Option<(String, String)> {
    let (key, rest) = if s.starts_with('"') {
        let (k, n) = unquote(s)?;
        (k, s.get(n..)?.strip_prefix('=')?)
    } else {
        let (k, v) = s.split_once('=')?;
        (k.to_owned(), v)
    };
    let value = if rest.starts_with('"') {
        unquote(rest)?.0
    } else {
        rest.to_owned()
    };
    Some((key, value))
}

/// A Go double-quoted string at the start of `s`: its value and the bytes it took.
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' => {
                        let h: String = (0..2).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                    }
                    'u' => {
                        let h: String = (0..4).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// Converts an `h1:` checksum (base64 of a SHA-256) to lower-case hex.
pub fn h1_to_hex(sum: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = sum.strip_prefix("h1:")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (bytes.len() == 32).then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_with_replacements_and_quoted_settings() {
        let text = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n\
                    dep\texample.com/a\tv1.0.0\th1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\
                    dep\texample.com/b\tv1.1.0\t\n=>\t../b\t\t\n\
                    build\t-ldflags=\"-s -w -X main.version=1.0\"\nbuild\tCGO_ENABLED=0\n";
        let i = parse_modinfo(text).unwrap();
        assert_eq!(i.path.as_deref(), Some("example.com/hello"));
        assert_eq!(i.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(i.deps.len(), 2);
        assert_eq!(i.deps[1].effective().path, "../b");
        assert_eq!(
            i.settings[0],
            ("-ldflags".into(), "-s -w -X main.version=1.0".into())
        );
        assert_eq!(i.settings[1], ("CGO_ENABLED".into(), "0".into()));
        assert_eq!(
            h1_to_hex("h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn not_go() {
        assert!(read(b"#!/bin/sh\n").unwrap().is_none());
    }

    #[test]
    fn the_streamed_search_finds_an_aligned_header_across_chunks() {
        // A header at a 16-byte offset past the first 256 KiB chunk, and a decoy at an odd one
        // (the search reads through a Read that hands out 1000 bytes at a time).
        let mut data = vec![0u8; 300 * 1024];
        data[1000 + 3..1000 + 3 + MAGIC.len()].copy_from_slice(MAGIC);
        let at = 256 * 1024 + 32; // in the second chunk read
        data[at..at + MAGIC.len()].copy_from_slice(MAGIC);
        data[at + MAGIC.len()] = 8;
        struct Dribble<'a>(&'a [u8]);
        impl std::io::Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1000).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let found = find_streamed(Dribble(&data)).unwrap().unwrap();
        assert_eq!(&found[..MAGIC.len()], MAGIC);
        assert_eq!(found.len(), data.len() - at);
        assert!(find_streamed(&[0u8; 100][..]).unwrap().is_none());
    }
}
