//! heaptrack's interpreted data, as `heaptrack_interpret` writes it, read in one pass:
//! the heap over time, its highest point within a window (the steady state), and what
//! each allocation stack held at that point.
//!
//! The format is line-based, hexadecimal, one event a line (heaptrack 1.2+, file
//! version 2 and 3): `s` a string (sized from version 3), `i` an instruction pointer
//! with its module, function, file and line and its inlined frames, `t` a trace node
//! (ip, parent), `a` an allocation kind (size, trace), `+`/`-` an allocation or free of a
//! kind, `c` a timestamp (ms since the process started), `R` its RSS (pages), `I` the
//! page size. Frees of memory allocated before the window still count: the heap is the
//! process's, not the window's.
//!
//! The stacks at the peak are kept exact without copying every stack at every new
//! peak: only the stacks that changed since the last peak are copied, so the whole
//! pass costs one step per event.

use std::io::BufRead;

/// A stream that is not heaptrack's interpreted data.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TraceError {
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("no heaptrack data (the profiled process wrote nothing)")]
    Empty,
    #[error("reading heaptrack's data: {0}")]
    Io(String),
}

/// One frame of a stack: a function (or, without symbols, its module), its file and
/// line when the debug info has them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    pub function: String,
    pub file: Option<String>,
    pub line: u32,
}

/// A stack's live allocations at the peak.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStack {
    /// Outermost frame first.
    pub frames: Vec<Frame>,
    pub bytes: u64,
    pub allocations: u64,
}

/// What one pass over the data gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The highest heap of each bucket, `(start ms, bytes)`, from the series' origin to
    /// the last event.
    pub buckets: Vec<(u64, u64)>,
    /// The highest heap of the process's life and when (ms).
    pub life_peak: (u64, u64),
    /// The highest heap within the window and when (ms); `None` when no event of the
    /// data falls into it.
    pub window_peak: Option<(u64, u64)>,
    /// Allocation calls within the window.
    pub window_allocations: u64,
    /// Every stack that held memory at the window's peak, largest first.
    pub live_at_peak: Vec<LiveStack>,
    /// The highest RSS heaptrack saw (its own memory included), bytes.
    pub peak_rss_bytes: u64,
    /// The last timestamp, ms.
    pub end_ms: u64,
}

/// A window of the process's time, in ms since it started, both ends included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from_ms: u64,
    pub to_ms: u64,
}

impl Window {
    fn holds(&self, ms: u64) -> bool {
        (self.from_ms..=self.to_ms).contains(&ms)
    }
}

#[derive(Default)]
struct Ip {
    module: usize,
    /// (function, file, line), innermost first: the function the address is in, then
    /// the ones it was inlined into.
    frames: Vec<(usize, usize, u32)>,
}

/// The state of the pass.
#[derive(Default)]
struct Reader {
    sized_strings: bool,
    strings: Vec<String>,
    ips: Vec<Ip>,
    /// (ip index, parent trace index), trace `n` at `n - 1`; 0 is the root.
    traces: Vec<(usize, usize)>,
    /// (size, trace) of each allocation kind.
    kinds: Vec<(u64, usize)>,
    now_ms: u64,
    heap: i64,
    page_size: u64,
    /// Per trace: bytes and allocations live now, and at the window's peak.
    live: Vec<(i64, i64)>,
    at_peak: Vec<(i64, i64)>,
    /// Traces changed since the last peak was recorded.
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    out: Timeline,
    series: Series,
}

/// The heap series' grid: buckets of `bucket_ms` from `origin_ms` (earlier events are
/// in no bucket).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Series {
    pub origin_ms: u64,
    pub bucket_ms: u64,
}

/// Reads interpreted heaptrack data.
pub fn read(input: impl BufRead, window: Window, series: Series) -> Result<Timeline, TraceError> {
    let mut r = Reader {
        page_size: 4096,
        series: Series {
            bucket_ms: series.bucket_ms.max(1),
            ..series
        },
        ..Reader::default()
    };
    let mut input = input;
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    let mut seen_version = false;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| TraceError::Io(e.to_string()))?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.first() == Some(&b'v') {
            seen_version = true;
        }
        r.line(&line, window)
            .map_err(|message| TraceError::Malformed {
                line: number,
                message,
            })?;
    }
    if !seen_version {
        return Err(TraceError::Empty);
    }
    Ok(r.finish())
}

/// The hexadecimal fields of a line after its mode letter.
fn fields(rest: &[u8]) -> impl Iterator<Item = Result<u64, String>> + '_ {
    rest.split(|b| *b == b' ')
        .filter(|f| !f.is_empty())
        .map(|f| {
            std::str::from_utf8(f)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "`{}` is not a hexadecimal number",
                        String::from_utf8_lossy(f)
                    )
                })
        })
}

fn take(it: &mut impl Iterator<Item = Result<u64, String>>, what: &str) -> Result<u64, String> {
    it.next().unwrap_or_else(|| Err(format!("missing {what}")))
}

impl Reader {
    fn line(&mut self, line: &[u8], window: Window) -> Result<(), String> {
        let Some((&mode, rest)) = line.split_first() else {
            return Ok(());
        };
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        match mode {
            b'+' | b'-' => {
                let kind = take(&mut fields(rest), "an allocation index")? as usize;
                let &(size, trace) = self
                    .kinds
                    .get(kind)
                    .ok_or_else(|| format!("allocation index {kind:x} was never defined"))?;
                self.event(mode == b'+', size, trace, window);
            }
            b'c' => {
                let ms = take(&mut fields(rest), "a timestamp")?;
                self.tick(ms, window);
            }
            b'a' => {
                let mut f = fields(rest);
                let size = take(&mut f, "a size")?;
                let trace = take(&mut f, "a trace")? as usize;
                self.kinds.push((size, trace));
                self.grow(trace);
            }
            b't' => {
                let mut f = fields(rest);
                let ip = take(&mut f, "an ip index")? as usize;
                let parent = take(&mut f, "a parent trace")? as usize;
                self.traces.push((ip, parent));
            }
            b'i' => self.ip(rest)?,
            b's' => self.string(rest)?,
            b'R' => {
                let pages = take(&mut fields(rest), "an RSS")?;
                self.out.peak_rss_bytes = self.out.peak_rss_bytes.max(pages * self.page_size);
            }
            b'I' => self.page_size = take(&mut fields(rest), "a page size")?,
            b'v' => {
                let mut f = fields(rest);
                let _heaptrack = take(&mut f, "heaptrack's version")?;
                let file_version = f.next().transpose()?.unwrap_or(0);
                if file_version < 2 {
                    return Err(format!(
                        "file version {file_version}: only heaptrack 1.2 or later's data is read"
                    ));
                }
                self.sized_strings = file_version >= 3;
            }
            // X (command line), A (attached), S (suppression), # (comment), and any
            // event a later heaptrack adds.
            _ => {}
        }
        Ok(())
    }

    fn string(&mut self, rest: &[u8]) -> Result<(), String> {
        let text = if self.sized_strings {
            let space = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            let len = take(&mut fields(&rest[..space]), "a string length")? as usize;
            let body = rest.get(space + 1..).unwrap_or_default();
            body.get(..len)
                .ok_or_else(|| format!("string of {len} bytes is shorter"))?
        } else {
            rest
        };
        self.strings
            .push(String::from_utf8_lossy(text).into_owned());
        Ok(())
    }

    fn ip(&mut self, rest: &[u8]) -> Result<(), String> {
        let values: Vec<u64> = fields(rest).collect::<Result<_, _>>()?;
        let [_address, module, symbol @ ..] = values.as_slice() else {
            return Err("an ip needs an address and a module".into());
        };
        let mut ip = Ip {
            module: *module as usize,
            frames: Vec::new(),
        };
        match symbol {
            [] => {}
            [function] => ip.frames.push((*function as usize, 0, 0)),
            triples => {
                for t in triples.chunks(3) {
                    match t {
                        [function, file, line] => {
                            ip.frames
                                .push((*function as usize, *file as usize, *line as u32));
                        }
                        _ => return Err("an inlined frame needs a function, file and line".into()),
                    }
                }
            }
        }
        self.ips.push(ip);
        Ok(())
    }

    fn grow(&mut self, trace: usize) {
        if self.live.len() <= trace {
            self.live.resize(trace + 1, (0, 0));
            self.at_peak.resize(trace + 1, (0, 0));
            self.is_dirty.resize(trace + 1, false);
        }
    }

    fn event(&mut self, alloc: bool, size: u64, trace: usize, window: Window) {
        let (bytes, count) = if alloc {
            (size as i64, 1)
        } else {
            (-(size as i64), -1)
        };
        self.heap += bytes;
        let live = &mut self.live[trace];
        live.0 += bytes;
        live.1 += count;
        if !self.is_dirty[trace] {
            self.is_dirty[trace] = true;
            self.dirty.push(trace);
        }
        if alloc {
            let inside = window.holds(self.now_ms);
            if inside {
                self.out.window_allocations += 1;
            }
            self.observe(inside);
        }
    }

    /// A new heap level: the life's, the bucket's and the window's highest.
    fn observe(&mut self, inside: bool) {
        let heap = self.heap.max(0) as u64;
        if heap > self.out.life_peak.0 {
            self.out.life_peak = (heap, self.now_ms);
        }
        self.advance();
        if let Some(bucket) = self.out.buckets.last_mut() {
            bucket.1 = bucket.1.max(heap);
        }
        if inside && self.out.window_peak.is_none_or(|(peak, _)| heap > peak) {
            self.out.window_peak = Some((heap, self.now_ms));
            for t in self.dirty.drain(..) {
                self.at_peak[t] = self.live[t];
                self.is_dirty[t] = false;
            }
        }
    }

    /// Opens the buckets up to now, each at the level the heap is at.
    fn advance(&mut self) {
        let Series {
            origin_ms,
            bucket_ms,
        } = self.series;
        if self.now_ms < origin_ms {
            return;
        }
        let heap = self.heap.max(0) as u64;
        if self.out.buckets.is_empty() {
            self.out.buckets.push((origin_ms, heap));
        }
        while let Some(&(start, _)) = self.out.buckets.last()
            && start + bucket_ms <= self.now_ms
        {
            self.out.buckets.push((start + bucket_ms, heap));
        }
    }

    fn tick(&mut self, ms: u64, window: Window) {
        self.now_ms = self.now_ms.max(ms);
        // Entering the window is a level within it.
        self.observe(window.holds(self.now_ms));
    }

    fn finish(self) -> Timeline {
        let Reader {
            strings,
            ips,
            traces,
            at_peak,
            mut out,
            now_ms,
            ..
        } = self;
        out.end_ms = now_ms;
        let name = |i: usize| strings.get(i.wrapping_sub(1)).map(String::as_str);
        let mut stacks = Vec::new();
        for (trace, &(bytes, count)) in at_peak.iter().enumerate() {
            if bytes <= 0 || out.window_peak.is_none() {
                continue;
            }
            let mut frames = Vec::new();
            let mut t = trace;
            // Trace nodes only point to earlier ones; the bound guards a corrupt file.
            let mut steps = 0;
            while t != 0 && steps < traces.len() {
                steps += 1;
                let Some(&(ip, parent)) = traces.get(t - 1) else {
                    break;
                };
                if let Some(ip) = ips.get(ip.wrapping_sub(1)) {
                    let module = || {
                        let m = name(ip.module).unwrap_or("?");
                        format!("?? [{}]", m.rsplit('/').next().unwrap_or(m))
                    };
                    if ip.frames.is_empty() {
                        frames.push(Frame {
                            function: module(),
                            file: None,
                            line: 0,
                        });
                    }
                    for &(function, file, line) in &ip.frames {
                        frames.push(Frame {
                            function: name(function).map(demangle).unwrap_or_else(module),
                            file: name(file).map(str::to_owned),
                            line,
                        });
                    }
                }
                t = parent;
            }
            frames.reverse();
            stacks.push(LiveStack {
                frames,
                bytes: bytes as u64,
                allocations: count.max(0) as u64,
            });
        }
        stacks.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        out.live_at_peak = stacks;
        out
    }
}

/// A function's name as people read it: Rust's v0 symbols (`_R…`, which heaptrack
/// leaves mangled) demangled, legacy ones tidied, without their hash.
fn demangle(name: &str) -> String {
    if name.starts_with("_R") {
        format!("{:#}", rustc_demangle::demangle(name))
    } else {
        crate::measure::flamegraph::tidy_rust_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small file as heaptrack_interpret writes it: two stacks under `main`, one
    /// inlined frame, a free, timestamps every 10 ms.
    const DATA: &str = "v 10400 3
X ./server
I 1000 5e290c
s 8 ./server
s 4 main
s 6 main.rs
i 1000 1 2 3 a
t 1 0
s 10 alloc_buffers<T>
s 6 buf.rs
s 1b make_vec::h0123456789abcdef
s 6 vec.rs
i 1010 1 4 5 14 6 7 3
t 2 1
i 1020 1
t 3 1
a 100 2
a 40 3
+ 0
c a
R 100
+ 0
+ 1
c 14
- 0
+ 1
c 1e
+ 0
+ 0
c 28
- 0
- 0
- 0
c 32
";

    fn window(from: u64, to: u64) -> Window {
        Window {
            from_ms: from,
            to_ms: to,
        }
    }

    const TENS: Series = Series {
        origin_ms: 0,
        bucket_ms: 10,
    };

    #[test]
    fn the_heap_its_peaks_and_buckets_follow_the_events() {
        let t = read(DATA.as_bytes(), window(20, 45), TENS).unwrap();
        // 0x100 + 0x100 + 0x40 by 20 ms; − 0x100 + 0x40 by 30; + 0x200 by 40.
        assert_eq!(t.life_peak, (0x100 + 0x40 + 0x40 + 0x200, 30));
        assert_eq!(t.window_peak, Some((0x100 + 0x40 + 0x40 + 0x200, 30)));
        assert_eq!(t.window_allocations, 3);
        assert_eq!(t.end_ms, 50);
        assert_eq!(t.peak_rss_bytes, 0x100 * 0x1000);
        assert_eq!(
            t.buckets,
            vec![
                (0, 0x100),
                (10, 0x240),
                (20, 0x240),
                (30, 0x380),
                (40, 0x380),
                (50, 0x80)
            ]
        );
    }

    #[test]
    fn the_stacks_at_the_window_peak_are_those_live_then() {
        // The window closes before the last two allocations: its peak is at 20 ms.
        let t = read(DATA.as_bytes(), window(20, 25), TENS).unwrap();
        assert_eq!(t.window_peak, Some((0x240, 20)));
        assert_eq!(t.window_allocations, 1);
        let [big, small] = t.live_at_peak.as_slice() else {
            panic!("{:#?}", t.live_at_peak);
        };
        assert_eq!((big.bytes, big.allocations), (0x200, 2));
        assert_eq!((small.bytes, small.allocations), (0x40, 1));
        let names: Vec<&str> = big.frames.iter().map(|f| f.function.as_str()).collect();
        // Outermost first; the inlined frame's caller before it; Rust's hash tidied.
        assert_eq!(names, ["main", "make_vec", "alloc_buffers<T>"]);
        assert_eq!(big.frames[2].file.as_deref(), Some("buf.rs"));
        assert_eq!(big.frames[2].line, 0x14);
        // Without symbols, the module names the frame.
        assert_eq!(small.frames.last().unwrap().function, "?? [server]");
    }

    #[test]
    fn the_series_starts_at_its_origin_and_names_demangle() {
        let origin = Series {
            origin_ms: 25,
            bucket_ms: 10,
        };
        let t = read(DATA.as_bytes(), window(20, 45), origin).unwrap();
        // The events at 30 ms are in the bucket of 25 to 35 ms.
        assert_eq!(t.buckets, vec![(25, 0x380), (35, 0x380), (45, 0x80)]);
        assert_eq!(
            demangle("_RNvNtCslNYArtu3iFV_5alloc5alloc5alloc"),
            "alloc::alloc::alloc"
        );
        assert_eq!(demangle("main"), "main");
    }

    #[test]
    fn a_window_after_the_data_has_no_peak_and_bad_data_is_refused() {
        let t = read(DATA.as_bytes(), window(1000, 2000), TENS).unwrap();
        assert_eq!(t.window_peak, None);
        assert!(t.live_at_peak.is_empty());
        assert_eq!(
            read("".as_bytes(), window(0, 1), TENS),
            Err(TraceError::Empty)
        );
        let bad = "v 10400 3\n+ 7\n";
        assert!(matches!(
            read(bad.as_bytes(), window(0, 1), TENS),
            Err(TraceError::Malformed { line: 2, .. })
        ));
        let old = "v 10000 1\n";
        assert!(read(old.as_bytes(), window(0, 1), TENS).is_err());
    }
}
