//! The async socket API: [`UdpSocket`] mirrors `tokio::net::UdpSocket` over a
//! [`NetStack`]. Readiness comes from the stack: every call or driver round that changes
//! it wakes the tasks waiting in [`UdpSocket::readable`] and [`UdpSocket::writable`].

use crate::net::{self, NetStack};
use skiff_core::socket::{
    MSG_DONTWAIT, MSG_PEEK, RecvMsg, SendMsg, SockError, SockOpt, SockOptName,
};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// An async UDP socket on a [`NetStack`].
///
/// ```
/// use skiff_io::{net::NetStack, tokio::UdpSocket};
/// use skiff_core::{Stack, StackConfig};
///
/// # fn main() -> std::io::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let net = NetStack::new(Stack::new(StackConfig::default()));
///     let server = UdpSocket::bind(&net, "127.0.0.1:9000").await?;
///     let client = UdpSocket::bind(&net, "127.0.0.1:0").await?;
///     client.connect("127.0.0.1:9000").await?;
///
///     let task = tokio::spawn(async move {
///         let mut buf = [0u8; 1500];
///         let (n, from) = server.recv_from(&mut buf).await?;
///         server.send_to(&buf[..n], from).await
///     });
///     client.send(b"ping").await?;
///     let mut buf = [0u8; 1500];
///     let n = client.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     task.await.expect("the server task ran")?;
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: net::UdpSocket,
}

impl UdpSocket {
    pub async fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let inner = net::UdpSocket::bind(net, addr)?;
        inner.set_nonblocking(true)?;
        Ok(UdpSocket { inner })
    }

    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.inner.connect(addr)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Waits until a receive would not say EAGAIN (data or an error is there).
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(|s, fd| s.readable(fd)).await
    }

    /// Waits until the send buffer has room.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(|s, fd| s.writable(fd)).await
    }

    async fn ready(
        &self,
        check: impl Fn(&skiff_core::Stack, skiff_core::socket::SockFd) -> Result<bool, SockError>,
    ) -> io::Result<()> {
        let shared = &self.inner.net.shared;
        loop {
            let notified = shared.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between the two is not lost.
            notified.as_mut().enable();
            if check(&shared.lock().stack, self.inner.fd)? {
                return Ok(());
            }
            notified.await;
        }
    }

    /// Retries `f` on EAGAIN after the readiness `wait` says so.
    async fn io<R>(&self, read: bool, mut f: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        loop {
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            if read {
                self.readable().await?;
            } else {
                self.writable().await?;
            }
        }
    }

    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io(false, || self.try_send(buf)).await
    }

    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = net::to_v4(addr)?;
        self.io(false, || self.try_send_to(buf, addr)).await
    }

    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io(true, || self.try_recv(buf)).await
    }

    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io(true, || self.try_recv_from(buf)).await
    }

    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io(true, || self.try_peek_from(buf)).await
    }

    /// sendmsg() with flags and typed control messages.
    pub async fn sendmsg(&self, msg: &SendMsg<'_>) -> io::Result<usize> {
        self.io(false, || self.try_sendmsg(msg)).await
    }

    /// recvmsg() with flags and the socket's receive control messages.
    pub async fn recvmsg(&self, buf: &mut [u8], flags: u32) -> io::Result<RecvMsg> {
        self.io(true, || self.try_recvmsg(buf, flags)).await
    }

    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_sendmsg(&SendMsg {
            data: buf,
            ..SendMsg::default()
        })
    }

    pub fn try_send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = net::to_v4(addr)?;
        self.try_sendmsg(&SendMsg {
            data: buf,
            addr: Some(addr.into()),
            ..SendMsg::default()
        })
    }

    pub fn try_sendmsg(&self, msg: &SendMsg<'_>) -> io::Result<usize> {
        let msg = SendMsg {
            flags: msg.flags | MSG_DONTWAIT,
            ..*msg
        };
        self.inner.sendmsg(&msg)
    }

    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_recvmsg(buf, 0).map(|m| m.len)
    }

    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_recvmsg(buf, 0).map(|m| {
            let a = m.addr.unwrap_or(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                0,
            ));
            (m.len, a.into())
        })
    }

    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_recvmsg(buf, MSG_PEEK).map(|m| {
            let a = m.addr.unwrap_or(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                0,
            ));
            (m.len, a.into())
        })
    }

    pub fn try_recvmsg(&self, buf: &mut [u8], flags: u32) -> io::Result<RecvMsg> {
        self.inner.recvmsg(buf, flags | MSG_DONTWAIT)
    }

    pub fn setsockopt(&self, opt: SockOpt) -> io::Result<()> {
        self.inner.setsockopt(opt)
    }

    pub fn getsockopt(&self, name: SockOptName) -> io::Result<i64> {
        self.inner.getsockopt(name)
    }

    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.set_broadcast(on)
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.ttl()
    }

    pub fn join_multicast_v4(
        &self,
        group: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> io::Result<()> {
        self.inner.join_multicast_v4(&group, &interface)
    }

    pub fn leave_multicast_v4(
        &self,
        group: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> io::Result<()> {
        self.inner.leave_multicast_v4(&group, &interface)
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::{Stack, StackConfig};

    #[test]
    fn try_forms_do_not_wait_and_readable_wakes_on_arrival() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let net = NetStack::new(Stack::new(StackConfig::default()));
            let rx = UdpSocket::bind(&net, "127.0.0.1:7100").await.unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(
                rx.try_recv(&mut buf).unwrap_err().kind(),
                io::ErrorKind::WouldBlock
            );
            let net2 = net.clone();
            let waiter = tokio::spawn(async move {
                rx.readable().await.unwrap();
                let mut buf = [0u8; 8];
                let (n, _) = rx.try_peek_from(&mut buf).unwrap();
                assert_eq!(rx.recv(&mut buf).await.unwrap(), n);
                buf[..n].to_vec()
            });
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_millis(20));
            let tx = crate::net::UdpSocket::bind(&net2, "127.0.0.1:0").unwrap();
            tx.send_to(b"wake", "127.0.0.1:7100").unwrap();
            assert_eq!(waiter.await.unwrap(), b"wake");
        });
    }
}
