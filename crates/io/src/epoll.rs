//! epoll and signalfd, hand-written on `libc`: what the daemon's event loop sleeps on.
//! Linux fs/eventpoll.c (epoll_create1, epoll_ctl, epoll_wait), fs/signalfd.c.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An epoll instance: level-triggered readability of registered descriptors, each named
/// by a caller's token.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes only flags.
        let raw = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll {
            // SAFETY: `raw` was just returned by epoll_create1 and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 64],
        })
    }

    /// Watches `fd` for input; `wait` reports it as `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer (non-null for old kernels).
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        Ok(())
    }

    /// Sleeps until a watched descriptor is readable or `timeout` passes (`None`: no
    /// limit); returns the ready tokens. EINTR is an empty wakeup.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<u64>> {
        let ms = match timeout {
            None => -1,
            // Round up, so a deadline 0.3 ms away is not a busy loop of zero timeouts.
            Some(t) => {
                libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
            }
        };
        // SAFETY: the buffer holds `events.len()` epoll_events and outlives the call.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(Vec::new()),
                _ => Err(e),
            };
        }
        Ok(self.events[..n as usize].iter().map(|e| e.u64).collect())
    }
}

/// An eventfd: a counter one thread bumps to wake another sleeping in epoll on it
/// (readable while non-zero). Linux fs/eventfd.c.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A non-blocking eventfd at zero.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes an initial value and flags.
        let raw = check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(EventFd {
            // SAFETY: `raw` was just returned by eventfd and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Makes it readable (wakes its waiter). A full counter is already readable.
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, which outlives the call.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Resets it to zero (not readable); returns whether it was signalled.
    pub fn clear(&self) -> bool {
        let mut n: u64 = 0;
        // SAFETY: reads at most 8 bytes into `n`, which is 8 bytes long.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut n).cast(), 8) };
        r == 8 && n > 0
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// SIGINT and SIGTERM as a readable descriptor. Creating it blocks both signals in the
/// calling thread (create it before spawning threads, so they inherit the mask).
#[derive(Debug)]
pub struct ShutdownSignals {
    fd: OwnedFd,
}

impl ShutdownSignals {
    pub fn new() -> io::Result<ShutdownSignals> {
        // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t; the calls only write it.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
        }
        // SAFETY: `set` is initialised; the old mask is not asked for.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: `set` is initialised; -1 asks for a new descriptor.
        let raw =
            check(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
        Ok(ShutdownSignals {
            // SAFETY: `raw` was just returned by signalfd and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// The signal that arrived (SIGINT or SIGTERM), if one is pending.
    pub fn take(&self) -> io::Result<Option<i32>> {
        // SAFETY: signalfd_siginfo is plain data, valid when zeroed.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let len = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads at most `len` bytes into `info`, which is `len` bytes long.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut info).cast(), len) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                _ => Err(e),
            };
        }
        Ok((n as usize == len).then_some(info.ssi_signo as i32))
    }
}

impl AsRawFd for ShutdownSignals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn epoll_reports_readable_descriptors_by_token() {
        let mut ep = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        ep.add(b.as_raw_fd(), 7).unwrap();
        assert!(ep.wait(Some(Duration::from_millis(1))).unwrap().is_empty());
        a.write_all(b"x").unwrap();
        assert_eq!(ep.wait(Some(Duration::from_secs(5))).unwrap(), vec![7]);
        ep.delete(b.as_raw_fd()).unwrap();
        assert!(ep.wait(Some(Duration::ZERO)).unwrap().is_empty());
    }

    #[test]
    fn eventfd_wakes_epoll_until_cleared() {
        let mut ep = Epoll::new().unwrap();
        let ev = EventFd::new().unwrap();
        ep.add(ev.as_raw_fd(), 3).unwrap();
        assert!(ep.wait(Some(Duration::ZERO)).unwrap().is_empty());
        assert!(!ev.clear());
        ev.signal();
        ev.signal();
        assert_eq!(ep.wait(Some(Duration::from_secs(5))).unwrap(), vec![3]);
        assert!(ev.clear());
        assert!(ep.wait(Some(Duration::ZERO)).unwrap().is_empty());
    }
}
