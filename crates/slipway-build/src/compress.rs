//! Layer compression: block-parallel gzip and multi-threaded zstd, both streaming.
//!
//! gzip: the input is cut into 1 MiB blocks, each compressed on a worker thread with libdeflate
//! into a complete gzip member, and the members are written in input order. A multi-member gzip
//! stream is standard (RFC 1952 §2.2); Go's, Python's and zlib's readers decode it as one
//! stream. At most `2 × threads` blocks are in flight, so memory stays bounded whatever the layer
//! size. libdeflate at the same level compresses slightly better than zlib, which pays for
//! the dictionary each block does not share with the previous one. Blocks are cut at fixed
//! offsets, so the output does not depend on the number of threads.
//!
//! zstd: libzstd's multi-threaded mode with at least one worker, whose output does not depend
//! on the worker count either.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use slipway_types::MediaType;

/// The default gzip level. libdeflate's level 4 compresses about as well as zlib's level 6
/// (`gzip -6`) at well over twice its speed; level 1 would be faster but visibly larger.
pub const DEFAULT_GZIP_LEVEL: i32 = 4;

/// The default zstd level (zstd's own default).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How to compress layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip at `level` (1–12; libdeflate levels, 6 ≈ `gzip -6`).
    Gzip {
        /// Level.
        level: i32,
    },
    /// zstd at `level` (1–19).
    Zstd {
        /// Level.
        level: i32,
    },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip {
            level: DEFAULT_GZIP_LEVEL,
        }
    }
}

impl Compression {
    /// The layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip { .. } => MediaType::OCI_LAYER_GZIP,
            Compression::Zstd { .. } => MediaType::OCI_LAYER_ZSTD,
        }
    }

    /// Checks the level's range.
    pub fn validate(self) -> Result<Compression, String> {
        match self {
            Compression::Gzip { level } if !(1..=12).contains(&level) => {
                Err(format!("gzip level {level} is out of range (1 to 12)"))
            }
            Compression::Zstd { level } if !(1..=19).contains(&level) => {
                Err(format!("zstd level {level} is out of range (1 to 19)"))
            }
            ok => Ok(ok),
        }
    }

    /// An encoder writing into `inner`.
    pub fn encoder<W: Write + Send + 'static>(
        self,
        inner: W,
        threads: usize,
    ) -> io::Result<Encoder<W>> {
        Ok(match self {
            Compression::Gzip { level } => Encoder::Gzip(ParallelGzip::new(inner, level, threads)),
            Compression::Zstd { level } => {
                let mut e = zstd::stream::write::Encoder::new(inner, level)?;
                // zstd's single-threaded mode (0 workers) and its multi-threaded mode frame the
                // output differently, but multi-threaded output is the same for any worker
                // count ≥ 1 (it cuts jobs by level, not by workers; tested below). Always
                // using ≥ 1 worker keeps a layer's digest independent of the machine's cores.
                e.multithread(threads.max(1) as u32)?;
                // Checksums make corrupted layers fail loudly on decompression.
                e.include_checksum(true)?;
                Encoder::Zstd(e)
            }
        })
    }
}

/// A streaming compressor; call [`Encoder::finish`] to flush and get the inner writer back.
pub enum Encoder<W: Write> {
    /// gzip.
    Gzip(ParallelGzip<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> std::fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Gzip(_) => "Encoder::Gzip",
            Encoder::Zstd(_) => "Encoder::Zstd",
        })
    }
}

impl<W: Write + Send + 'static> Encoder<W> {
    /// Flushes everything and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(g) => g.finish(),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write + Send + 'static> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(g) => g.write(buf),
            Encoder::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(g) => g.flush(),
            Encoder::Zstd(z) => z.flush(),
        }
    }
}

const BLOCK: usize = 1 << 20;

type Job = (Vec<u8>, SyncSender<io::Result<Vec<u8>>>);

/// Block-parallel gzip writer (see the module docs).
#[allow(missing_debug_implementations)]
pub struct ParallelGzip<W: Write> {
    inner: Option<W>,
    buf: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_in_flight: usize,
    wrote_any: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// A writer compressing at `level` on `threads` worker threads.
    pub fn new(inner: W, level: i32, threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || {
                    let lvl = libdeflater::CompressionLvl::new(level).unwrap_or_default();
                    let mut c = libdeflater::Compressor::new(lvl);
                    loop {
                        let job = rx
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        let Ok((data, reply)) = job else { return };
                        let mut out = vec![0u8; c.gzip_compress_bound(data.len())];
                        let result = c
                            .gzip_compress(&data, &mut out)
                            .map(|n| {
                                out.truncate(n);
                                out
                            })
                            .map_err(|e| {
                                io::Error::other(format!("gzip compression failed: {e:?}"))
                            });
                        let _ = reply.send(result);
                    }
                })
            })
            .collect();
        ParallelGzip {
            inner: Some(inner),
            buf: Vec::with_capacity(BLOCK),
            jobs: Some(tx),
            workers,
            pending: VecDeque::new(),
            max_in_flight: threads * 2,
            wrote_any: false,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        let (reply_tx, reply_rx) = sync_channel(1);
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor already finished"))?
            .send((data, reply_tx))
            .map_err(|_| io::Error::other("gzip worker threads stopped"))?;
        self.pending.push_back(reply_rx);
        self.wrote_any = true;
        while self.pending.len() >= self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let block = rx
                .recv()
                .map_err(|_| io::Error::other("gzip worker thread died"))??;
            self.inner
                .as_mut()
                .ok_or_else(|| io::Error::other("no writer"))?
                .write_all(&block)?;
        }
        Ok(())
    }

    /// Compresses what is left, writes every block in order and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        // An empty input still becomes one (empty) gzip member: a valid gzip stream.
        if !self.buf.is_empty() || !self.wrote_any {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let mut inner = self
            .inner
            .take()
            .ok_or_else(|| io::Error::other("no writer"))?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let take = (BLOCK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == BLOCK {
                self.submit()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        self.jobs = None;
        self.pending.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial.
        (0..n)
            .map(|i| ((i * 7919) % 251) as u8 ^ ((i / 4096) as u8))
            .collect()
    }

    #[test]
    fn gzip_round_trips_through_system_gzip() {
        for size in [0, 10, BLOCK - 1, BLOCK, BLOCK * 3 + 17] {
            let data = sample(size);
            let mut enc = Compression::Gzip { level: 6 }
                .encoder(Vec::new(), 3)
                .unwrap();
            enc.write_all(&data).unwrap();
            let gz = enc.finish().unwrap();
            // An independent decoder: gzip(1).
            let mut child = std::process::Command::new("gzip")
                .args(["-dc"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(&gz).unwrap());
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            writer.join().unwrap();
            assert!(child.wait().unwrap().success());
            assert_eq!(out, data, "size {size}");
        }
    }

    #[test]
    fn zstd_round_trips() {
        let data = sample(BLOCK * 2 + 5);
        let mut enc = Compression::Zstd { level: 3 }
            .encoder(Vec::new(), 2)
            .unwrap();
        enc.write_all(&data).unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(zstd::stream::decode_all(&z[..]).unwrap(), data);
    }

    fn compress(c: Compression, data: &[u8], threads: usize) -> Vec<u8> {
        let mut enc = c.encoder(Vec::new(), threads).unwrap();
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// Regression: zstd layers differed between `taskset -c 0` and two cores, because one
    /// thread meant zstd's single-threaded mode, which frames the output differently.
    #[test]
    fn output_does_not_depend_on_the_thread_count() {
        // Several zstd jobs at level 1 (2 MiB each) and several gzip blocks; written in odd
        // pieces so buffer boundaries differ from job boundaries.
        let data = sample(9 * BLOCK + 12345);
        for c in [
            Compression::Zstd { level: 1 },
            Compression::Zstd { level: 3 },
            Compression::Gzip { level: 4 },
        ] {
            let one = compress(c, &data, 1);
            for threads in [2, 3, 4, 8] {
                let mut enc = c.encoder(Vec::new(), threads).unwrap();
                for piece in data.chunks(65_521) {
                    enc.write_all(piece).unwrap();
                }
                let many = enc.finish().unwrap();
                assert!(one == many, "{c:?}: 1 thread vs {threads} differ");
            }
            if let Compression::Zstd { .. } = c {
                assert_eq!(zstd::stream::decode_all(&one[..]).unwrap(), data);
            }
        }
    }

    #[test]
    fn levels_are_checked() {
        assert!(Compression::Gzip { level: 13 }.validate().is_err());
        assert!(Compression::Zstd { level: 0 }.validate().is_err());
        assert!(Compression::Zstd { level: 19 }.validate().is_ok());
    }
}
