//! UDP sockets over lwIP's raw API: datagrams queued by the receive callback.

use core::net::{SocketAddr, SocketAddrV4};
use core::task::{Context, Poll};

use portnet::{ErrorKind, SocketOption, SocketOptionName};

use crate::ffi::{self, ERR_OK, UdpPcb};
use crate::state::{Arg, UdpSlot, from_ip, to_addr};
use crate::{Error, Stack};

/// The largest datagram: one Ethernet frame's worth (IP fragmentation is off).
const MAX_DATAGRAM: usize = 1500 - 20 - 8;

/// A UDP socket of the lwIP stack.
#[derive(Debug)]
pub struct UdpSocket<'a, D, C> {
    stack: &'a Stack<D, C>,
    slot: usize,
    peer: Option<SocketAddrV4>,
}

fn v4(addr: SocketAddr) -> Result<SocketAddrV4, Error> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(ErrorKind::Unsupported.into()),
    }
}

fn pcb_of(i: usize) -> Result<UdpPcb, Error> {
    ffi::state()
        .try_borrow()
        .ok()
        .and_then(|st| st.udp[i].pcb)
        .ok_or(ErrorKind::NotConnected.into())
}

impl<D, C: portnet::Clock> portnet::UdpBind for Stack<D, C> {
    type Socket<'a>
        = UdpSocket<'a, D, C>
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<UdpSocket<'_, D, C>, Error> {
        let local = v4(local)?;
        if !local.ip().is_unspecified() && *local.ip() != self.address {
            return Err(ErrorKind::AddrNotAvailable.into());
        }
        self.tick();
        let i = ffi::state()
            .try_borrow_mut()
            .ok()
            .and_then(|mut st| {
                let i = st.udp.iter().position(|s| !s.used)?;
                st.udp[i] = UdpSlot {
                    used: true,
                    ..UdpSlot::default()
                };
                Some(i)
            })
            .ok_or(Error::from(ErrorKind::OutOfResources))?;
        let socket = UdpSocket {
            stack: self,
            slot: i,
            peer: None,
        };
        let pcb =
            UdpPcb::new(Arg::Udp(i).encode()).ok_or(Error::from(ErrorKind::OutOfResources))?;
        let err = pcb.bind(from_ip(*local.ip()), local.port());
        if err != ERR_OK {
            pcb.remove();
            return Err(Error::lwip(err));
        }
        if let Ok(mut st) = ffi::state().try_borrow_mut() {
            st.udp[i].pcb = Some(pcb);
        } else {
            pcb.remove();
            return Err(ErrorKind::Other.into());
        }
        Ok(socket)
    }
}

impl<D, C> Drop for UdpSocket<'_, D, C> {
    fn drop(&mut self) {
        let pcb = ffi::state()
            .try_borrow_mut()
            .ok()
            .and_then(|mut st| core::mem::take(&mut st.udp[self.slot]).pcb);
        if let Some(pcb) = pcb {
            pcb.remove();
        }
    }
}

impl<D, C> portnet::ErrorType for UdpSocket<'_, D, C> {
    type Error = Error;
}

impl<D, C> portnet::SocketOptions for UdpSocket<'_, D, C> {
    fn set_option(&self, option: SocketOption) -> Result<(), Error> {
        match option {
            SocketOption::Ttl(0) => Err(ErrorKind::InvalidInput.into()),
            SocketOption::Ttl(ttl) => {
                pcb_of(self.slot)?.set_ttl(ttl);
                Ok(())
            }
            _ => Err(ErrorKind::Unsupported.into()),
        }
    }
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        match name {
            SocketOptionName::Ttl => Ok(SocketOption::Ttl(pcb_of(self.slot)?.ttl())),
            _ => Err(ErrorKind::Unsupported.into()),
        }
    }
}

impl<D, C> portnet::UdpSocket for UdpSocket<'_, D, C> {
    fn poll_send_to(
        &self,
        _cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Error>> {
        let remote = match v4(remote) {
            Ok(r) => r,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if remote.ip().is_unspecified() || remote.port() == 0 || buf.len() > MAX_DATAGRAM {
            return Poll::Ready(Err(ErrorKind::InvalidInput.into()));
        }
        if !self.stack.routes_to(*remote.ip()) {
            return Poll::Ready(Err(ErrorKind::NetworkUnreachable.into()));
        }
        let pcb = match pcb_of(self.slot) {
            Ok(pcb) => pcb,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let err = pcb.send_to(buf, from_ip(*remote.ip()), remote.port());
        if let Ok(st) = ffi::state().try_borrow() {
            st.wake_runner();
        }
        Poll::Ready(match err {
            ERR_OK => Ok(()),
            // A datagram lwIP cannot buffer is lost, as UDP allows.
            ffi::ERR_MEM => Ok(()),
            err => Err(Error::lwip(err)),
        })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Error>> {
        let Ok(mut st) = ffi::state().try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let slot = &mut st.udp[self.slot];
        loop {
            let Some((p, from)) = slot.pop() else {
                slot.recv_waker = Some(cx.waker().clone());
                return Poll::Pending;
            };
            // Queued before `connect`: the filter applies at delivery too.
            if self.peer.is_some_and(|peer| peer != from) {
                continue;
            }
            let len = p.len();
            p.copy_to(buf);
            return Poll::Ready(Ok((len, SocketAddr::V4(from))));
        }
    }

    fn connect(&mut self, remote: SocketAddr) -> Result<(), Error> {
        let remote = v4(remote)?;
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.peer = Some(remote);
        let mut st = ffi::state()
            .try_borrow_mut()
            .map_err(|_| Error::from(ErrorKind::Other))?;
        st.udp[self.slot].peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.map(SocketAddr::V4)
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        let (ip, port) = pcb_of(self.slot)?.local();
        let local = to_addr(ip, port);
        if local.ip().is_unspecified() {
            return Ok(SocketAddr::new(self.stack.address.into(), port));
        }
        Ok(SocketAddr::V4(local))
    }
}
