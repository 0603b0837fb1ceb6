//! `skiff pcap replay IN.pcap --config FILE --out OUT.pcap`: a capture fed through a
//! configured stack offline, on the capture's clock. Every record arrives on the first
//! interface; every frame the stack sends, on any interface, goes to the output capture
//! as a device without offloads would carry it. Interfaces are all TAP (Ethernet
//! captures) or all TUN (raw IPv4 captures).

use crate::config::Config;
use crate::up::build_stack;
use skiff_core::Stack;
use skiff_core::shell;
use skiff_core::time::Instant;
use skiff_io::daemon::UdpEcho;
use skiff_io::pcap::{PcapReader, PcapWriter};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Duration;

/// How long after the last record the timers still run (reassembly expiry is 30 s).
const TAIL: Duration = Duration::from_secs(60);

/// Frames in, frames out.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplaySummary {
    pub read: u64,
    pub written: u64,
}

pub fn run(input: &Path, config: &Path, out: &Path) -> Result<ReplaySummary, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let cfg = Config::from_toml(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    let (mut stack, ifindexes, mut echo) = build_stack(&cfg)?;
    let ifindex = ifindexes[0];
    let f = File::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut reader =
        PcapReader::new(BufReader::new(f)).map_err(|e| format!("{}: {e}", input.display()))?;
    let link = crate::up::link_type(&cfg)?;
    if reader.header().link_type != link {
        return Err(format!(
            "{}: link type {:?}; the configured interfaces want {link:?}",
            input.display(),
            reader.header().link_type
        ));
    }
    let w = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut writer =
        PcapWriter::new(BufWriter::new(w), link).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut run = Run {
        origin: None,
        written: 0,
    };
    let mut read = 0;
    let mut last = Instant::ZERO;
    while let Some(rec) = reader
        .next_record()
        .map_err(|e| format!("{}: record {}: {e}", input.display(), read + 1))?
    {
        read += 1;
        let origin = *run.origin.get_or_insert_with(|| {
            // The wall clock is the capture's: timestamps written as when it was taken.
            stack.set_realtime_offset(Duration::from_nanos(rec.ts_nanos));
            rec.ts_nanos
        });
        // The stack's clock starts at the first record; a record from the past is "now".
        let now = Instant::from_nanos(rec.ts_nanos.saturating_sub(origin)).max(last);
        run.timers_until(&mut stack, &mut echo, &mut writer, now)?;
        last = now;
        let Some(mut skb) = stack.alloc_skb(rec.data.len()) else {
            continue;
        };
        if skb.put_slice(&rec.data).is_err() {
            stack.recycle(skb);
            continue;
        }
        stack.netif_receive(now, ifindex, skb);
        run.drain(&mut stack, &mut echo, &mut writer, now)?;
    }
    run.timers_until(
        &mut stack,
        &mut echo,
        &mut writer,
        last.saturating_add(TAIL),
    )?;
    writer
        .flush()
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(ReplaySummary {
        read,
        written: run.written,
    })
}

struct Run {
    /// The first record's timestamp: the stack's time zero.
    origin: Option<u64>,
    written: u64,
}

type Writer = PcapWriter<BufWriter<File>>;

impl Run {
    /// Fires every timer due by `until`, in order.
    fn timers_until(
        &mut self,
        stack: &mut Stack,
        echo: &mut UdpEcho,
        w: &mut Writer,
        until: Instant,
    ) -> Result<(), String> {
        while let Some(t) = stack.poll_timeout().filter(|&t| t <= until) {
            stack.handle_timeout(t);
            self.drain(stack, echo, w, t)?;
            if stack.poll_timeout() == Some(t) {
                // A timer that re-arms for the same instant would spin: time must pass.
                break;
            }
        }
        Ok(())
    }

    /// Runs the services, then records what the stack sent.
    fn drain(
        &mut self,
        stack: &mut Stack,
        echo: &mut UdpEcho,
        w: &mut Writer,
        now: Instant,
    ) -> Result<(), String> {
        echo.poll(stack, now);
        let ts = self.origin.unwrap_or(0).saturating_add(now.as_nanos());
        while let Some((_, segs)) = shell::poll_tx_sw(stack) {
            for seg in segs {
                let r = w.write_packet(ts, &seg.to_contiguous());
                stack.recycle(seg);
                r.map_err(|e| format!("writing the capture: {e}"))?;
                self.written += 1;
            }
        }
        Ok(())
    }
}
