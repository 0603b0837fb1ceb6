//! Packet-path tracing: each stage records its kernel function name, and opens a
//! `tracing` span, when someone observes the packet.

use super::Stack;
use core::fmt;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Opens a `tracing` span (level TRACE) named after a kernel function and records the
/// stage in the packet-path trace. Whether anyone watches is decided once per packet
/// (`Stack::observing`), so an unobserved datapath pays one branch per stage. The span
/// stays entered until the packet's entry call returns ([`Stack::trace_end`]), so a
/// packet's spans nest in the order of its path.
macro_rules! stage {
    ($stack:expr, $name:literal) => {
        if $stack.observing {
            #[cold]
            #[inline(never)]
            fn enter(stack: &mut $crate::stack::Stack) {
                stack.stage_enter($name, tracing::trace_span!($name));
            }
            enter($stack);
        }
    };
}
pub(crate) use stage;

/// Trace lines kept before the oldest are dropped.
const TRACE_MAX_LINES: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Tracer {
    path: Vec<Cow<'static, str>>,
    head: String,
    lines: VecDeque<String>,
    lost: u64,
}

impl Stack {
    /// A stage begins: its span is entered (until trace_end) and it joins the path.
    pub(crate) fn stage_enter(&mut self, name: &'static str, span: tracing::Span) {
        self.trace_stage(name);
        self.enter_span(span);
    }

    pub(super) fn enter_span(&mut self, span: tracing::Span) {
        span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        self.spans.push(span);
    }

    /// A step in the packet-path trace that is not a stage of its own.
    #[inline]
    pub(crate) fn trace_stage(&mut self, name: &'static str) {
        if let Some(t) = &mut self.trace {
            t.path.push(Cow::Borrowed(name));
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn trace_note_str(&mut self, note: &fmt::Arguments<'_>) {
        if let Some(t) = &mut self.trace {
            t.path.push(Cow::Owned(note.to_string()));
        }
    }

    /// Starts a packet's trace line at an entry point, and decides whether this packet's
    /// stages are observed.
    #[inline]
    pub(crate) fn trace_begin(&mut self, ifindex: u32, what: &str) {
        let observing = self.trace.is_some() || tracing::level_enabled!(tracing::Level::TRACE);
        // Spans are only left over (by an entry call that returned early, before
        // trace_end) while `observing` is still set.
        if observing || self.observing {
            self.trace_begin_slow(ifindex, what, observing);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_begin_slow(&mut self, ifindex: u32, what: &str, observing: bool) {
        if !self.spans.is_empty() {
            self.exit_spans();
        }
        self.observing = observing;
        if self.trace.is_none() {
            return;
        }
        let head = match ifindex {
            0 => format!("[{}] {what}:", self.name),
            i => format!("[{}] {what} {}:", self.name, self.dev_name(i)),
        };
        if let Some(t) = &mut self.trace {
            t.path.clear();
            t.head = head;
        }
    }

    /// Ends a packet's entry call: exits its spans, innermost first, and files its trace
    /// line.
    #[inline]
    pub(crate) fn trace_end(&mut self) {
        if self.observing {
            self.trace_end_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_end_slow(&mut self) {
        self.observing = false;
        self.exit_spans();
        let Some(t) = &mut self.trace else { return };
        if t.path.is_empty() {
            return;
        }
        let mut line = core::mem::take(&mut t.head);
        for (i, stage) in t.path.drain(..).enumerate() {
            line.push_str(if i == 0 { " " } else { " → " });
            line.push_str(&stage);
        }
        if t.lines.len() == TRACE_MAX_LINES {
            t.lines.pop_front();
            t.lost += 1;
        }
        t.lines.push_back(line);
    }

    /// Exits the spans of the packet being handled, innermost first.
    #[cold]
    #[inline(never)]
    fn exit_spans(&mut self) {
        while let Some(span) = self.spans.pop() {
            span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }

    /// The packet paths recorded since the last call, one packet per line (needs
    /// `StackConfig::trace`).
    pub fn drain_trace(&mut self) -> Vec<String> {
        self.trace
            .as_mut()
            .map(|t| t.lines.drain(..).collect())
            .unwrap_or_default()
    }

    /// Trace lines dropped because nobody drained them (the newest 4096 are kept).
    pub fn trace_lost(&self) -> u64 {
        self.trace.as_ref().map_or(0, |t| t.lost)
    }

    /// Starts or stops path tracing.
    pub fn set_trace(&mut self, on: bool) {
        if on != self.trace.is_some() {
            self.trace = on.then(Tracer::default);
        }
    }
}
