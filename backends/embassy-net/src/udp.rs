//! UDP: pooled `UdpSocket`s, with the connected sockets embassy-net lacks.

use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::task::{Context, Poll};

use portnet::{ErrorKind, ErrorType};

use crate::pool::{EmbassyStack, Pools, UdpSlot};
use crate::{Error, endpoint, listen_addr, listen_endpoint, poll_once, socket_addr};

/// A UDP socket of [`EmbassyStack`]: one pooled embassy-net `UdpSocket`,
/// closed and given back when dropped (its port is free again at once).
pub struct EmbassyUdp<'s, 'd> {
    pools: Pools<'s, 'd>,
    slot: &'s UdpSlot<'d>,
    peer: Option<SocketAddr>,
}

impl fmt::Debug for EmbassyUdp<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyUdp")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Drop for EmbassyUdp<'_, '_> {
    fn drop(&mut self) {
        self.pools.give_back_udp(self.slot);
    }
}

impl ErrorType for EmbassyUdp<'_, '_> {
    type Error = Error;
}

impl<'d, const TCP: usize, const UDP: usize> portnet::UdpBind for EmbassyStack<'d, TCP, UDP> {
    type Socket<'a>
        = EmbassyUdp<'a, 'd>
    where
        Self: 'a;

    /// Takes a socket from the pool (none free: [`Error::NoSocket`], kind
    /// `OutOfResources`) and runs `UdpSocket::bind`. Port 0 is embassy-net's
    /// ephemeral port.
    ///
    /// # Cancel safety
    ///
    /// Ready at once.
    fn bind(&self, local: SocketAddr) -> impl Future<Output = Result<EmbassyUdp<'_, 'd>, Error>> {
        let pools = self.pools();
        let result = (|| {
            let local = listen_endpoint(local)?;
            let slot = pools.take_udp().ok_or(Error::NoSocket)?;
            // From here the socket goes back to the pool when `socket` drops.
            let socket = EmbassyUdp {
                pools,
                slot,
                peer: None,
            };
            slot.socket.borrow_mut().bind(local).map_err(Error::Bind)?;
            Ok(socket)
        })();
        core::future::ready(result)
    }
}

impl portnet::UdpSocket for EmbassyUdp<'_, '_> {
    /// `UdpSocket::send_to`: `Pending` while the send queue is full; a
    /// datagram larger than the send buffer is kind `InvalidInput`.
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Error>> {
        let remote = match endpoint(remote) {
            Ok(remote) => remote,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.slot
            .socket
            .borrow()
            .poll_send_to(buf, remote, cx)
            .map_err(Error::Send)
    }

    /// Through `UdpSocket::recv_from_with`, which shows the whole datagram:
    /// embassy-net's `recv_from` fails with `Truncated` and loses the datagram
    /// when the buffer is too small, where portnet's rule is to fill the buffer
    /// and report the full length.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Error>> {
        let mut socket = self.slot.socket.borrow_mut();
        // Each round takes one datagram (one from another peer than a
        // connected socket's is dropped); the queue is finite.
        for _ in 0..=self.slot.packets {
            let received = poll_once(
                socket.recv_from_with(|data, meta| {
                    let from = socket_addr(meta.endpoint);
                    if self.peer.is_some_and(|peer| peer != from) {
                        return None;
                    }
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    Some((data.len(), from))
                }),
                cx,
            );
            match received {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(datagram)) => return Poll::Ready(Ok(datagram)),
                Poll::Ready(None) => {}
            }
        }
        // Still more queued (they arrived while this ran): come back for them
        // rather than loop without bound.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// embassy-net has no connected UDP sockets: the adapter keeps the peer,
    /// and receives drop datagrams from anyone else. Nothing is sent, so an
    /// ICMP refusal is never reported.
    fn connect(&mut self, remote: SocketAddr) -> Result<(), Error> {
        endpoint(remote)?;
        self.peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(listen_addr(self.slot.socket.borrow().endpoint()))
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyUdp<'_, '_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
}
