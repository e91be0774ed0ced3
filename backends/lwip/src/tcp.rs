//! TCP: connections, their halves, and listeners, over lwIP's raw API.
//!
//! A connection is a slot number; its pcb, received pbufs and wakers live in
//! the slot (`crate::state`), where lwIP's callbacks find them. No borrow of
//! the state is held across a call into lwIP, whose callbacks borrow it too.

use core::future::{Future, poll_fn};
use core::net::{IpAddr, SocketAddr, SocketAddrV4};
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use portnet::{ErrorKind, ListenOptions, SocketOption, SocketOptionName};

use crate::ffi::{self, ERR_OK, TcpPcb};
use crate::state::{self, Arg, MAX_BACKLOG, TcpSlot, from_ip, to_addr};
use crate::{Error, Stack};

/// A listener's backlog when `ListenOptions` leaves it to the stack.
const DEFAULT_BACKLOG: usize = 4;

fn conflict() -> Error {
    // The state is borrowed inside a callback: cannot happen from safe code on
    // lwIP's thread; an error rather than a panic if it ever does.
    Error::from(ErrorKind::Other)
}

fn with<R>(f: impl FnOnce(&mut state::State) -> R) -> Result<R, Error> {
    let mut st = ffi::state().try_borrow_mut().map_err(|_| conflict())?;
    Ok(f(&mut st))
}

fn wake_runner() {
    let _ = with(|st| st.wake_runner());
}

fn v4(addr: SocketAddr) -> Result<SocketAddrV4, Error> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        // The port is IPv4-only for now (LWIP_IPV6 0).
        SocketAddr::V6(_) => Err(ErrorKind::Unsupported.into()),
    }
}

/// Frees connection slot `i`: hands its pcb back to lwIP, closing it
/// (`abort`: resetting it).
fn release(i: usize, abort: bool) {
    let pcb = with(|st| {
        let slot = core::mem::take(&mut st.tcp[i]);
        slot.pcb
    })
    .ok()
    .flatten();
    if let Some(pcb) = pcb {
        pcb.detach();
        if abort || pcb.close() != ERR_OK {
            pcb.abort();
        }
    }
    wake_runner();
}

impl<D, C: portnet::Clock> portnet::TcpConnect for Stack<D, C> {
    type Connection<'a>
        = TcpConnection<'a, D, C>
    where
        Self: 'a;

    async fn connect(&self, remote: SocketAddr) -> Result<TcpConnection<'_, D, C>, Error> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(ErrorKind::InvalidInput.into());
        }
        let remote = v4(remote)?;
        if !self.routes_to(*remote.ip()) {
            return Err(ErrorKind::NetworkUnreachable.into());
        }
        self.tick();
        let i = with(|st| {
            let i = st.tcp.iter().position(|s| !s.used)?;
            st.tcp[i] = TcpSlot {
                used: true,
                remote: Some(remote),
                ..TcpSlot::default()
            };
            Some(i)
        })?
        .ok_or(Error::from(ErrorKind::OutOfResources))?;
        // From here on, dropping `conn` (an error, or the future cancelled)
        // frees the slot and the pcb.
        let conn = TcpConnection {
            stack: self,
            slot: i,
        };
        let pcb = TcpPcb::new().ok_or(Error::from(ErrorKind::OutOfResources))?;
        with(|st| st.tcp[i].pcb = Some(pcb))?;
        pcb.attach(Arg::Tcp(i).encode());
        let err = pcb.connect(from_ip(*remote.ip()), remote.port());
        wake_runner();
        if err != ERR_OK {
            return Err(Error::lwip(err));
        }
        poll_fn(|cx| {
            let Ok(mut st) = ffi::state().try_borrow_mut() else {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            let slot = &mut st.tcp[i];
            if let Some(kind) = slot.error.get() {
                return Poll::Ready(Err(Error::from(kind)));
            }
            if slot.connected {
                return Poll::Ready(Ok(()));
            }
            if slot.pcb.is_none() {
                return Poll::Ready(Err(ErrorKind::NotConnected.into()));
            }
            slot.write_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(conn)
    }
}

impl<D, C: portnet::Clock> portnet::TcpListen for Stack<D, C> {
    type Connection<'a>
        = TcpConnection<'a, D, C>
    where
        Self: 'a;
    type Listener<'a>
        = TcpListener<'a, D, C>
    where
        Self: 'a;

    async fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> Result<TcpListener<'_, D, C>, Error> {
        let local = v4(local)?;
        if !local.ip().is_unspecified() && *local.ip() != self.address {
            return Err(ErrorKind::AddrNotAvailable.into());
        }
        let backlog = options.backlog.unwrap_or(DEFAULT_BACKLOG).max(1);
        if backlog > MAX_BACKLOG {
            return Err(ErrorKind::OutOfResources.into());
        }
        self.tick();
        let l = with(|st| {
            let l = st.listeners.iter().position(|s| !s.used)?;
            st.listeners[l] = state::ListenSlot {
                used: true,
                backlog,
                ..state::ListenSlot::default()
            };
            Some(l)
        })?
        .ok_or(Error::from(ErrorKind::OutOfResources))?;
        let listener = TcpListener {
            stack: self,
            slot: l,
        };
        let pcb = TcpPcb::new().ok_or(Error::from(ErrorKind::OutOfResources))?;
        let err = pcb.bind(from_ip(*local.ip()), local.port());
        if err != ERR_OK {
            let _ = pcb.close();
            return Err(Error::lwip(err));
        }
        let pcb = match pcb.listen(Arg::Listener(l).encode()) {
            Ok(pcb) => pcb,
            Err(err) => {
                let _ = pcb.close();
                return Err(Error::lwip(err));
            }
        };
        let (ip, port) = pcb.local();
        with(|st| {
            st.listeners[l].pcb = Some(pcb);
            st.listeners[l].local = Some(to_addr(ip, port));
        })?;
        Ok(listener)
    }
}

/// A TCP connection of the lwIP stack.
#[derive(Debug)]
pub struct TcpConnection<'a, D, C> {
    stack: &'a Stack<D, C>,
    slot: usize,
}

/// The read half of [`TcpConnection::split`](portnet::TcpStream::split).
#[derive(Debug)]
pub struct TcpReadHalf<'c, D, C> {
    stack: &'c Stack<D, C>,
    slot: usize,
}

/// The write half of [`TcpConnection::split`](portnet::TcpStream::split).
#[derive(Debug)]
pub struct TcpWriteHalf<'c, D, C> {
    stack: &'c Stack<D, C>,
    slot: usize,
}

fn poll_read(i: usize, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let Ok(mut st) = ffi::state().try_borrow_mut() else {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    };
    let slot = &mut st.tcp[i];
    if let Some(rx) = slot.rx.take() {
        let n = rx.copy_to(buf);
        slot.rx = rx.consume(n);
        let pcb = slot.pcb;
        drop(st);
        if let Some(pcb) = pcb {
            // Opens the window by what was read: the bound on buffered data.
            pcb.recved(n);
            wake_runner();
        }
        return Poll::Ready(Ok(n));
    }
    if slot.eof {
        return Poll::Ready(Ok(0));
    }
    if let Some(kind) = slot.error.get() {
        return Poll::Ready(Err(kind.into()));
    }
    if slot.pcb.is_none() {
        return Poll::Ready(Err(ErrorKind::NotConnected.into()));
    }
    slot.read_waker = Some(cx.waker().clone());
    Poll::Pending
}

fn poll_write(i: usize, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, Error>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let pcb = {
        let Ok(st) = ffi::state().try_borrow() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let slot = &st.tcp[i];
        if let Some(kind) = slot.error.get() {
            let kind = match kind {
                ErrorKind::ConnectionReset => kind,
                _ => ErrorKind::BrokenPipe,
            };
            return Poll::Ready(Err(kind.into()));
        }
        if slot.tx_closed {
            return Poll::Ready(Err(ErrorKind::BrokenPipe.into()));
        }
        match slot.pcb {
            Some(pcb) => pcb,
            None => return Poll::Ready(Err(ErrorKind::BrokenPipe.into())),
        }
    };
    let room = pcb.sndbuf().min(buf.len());
    if room > 0 {
        match pcb.write(&buf[..room]) {
            ERR_OK => {
                let _ = pcb.output();
                wake_runner();
                return Poll::Ready(Ok(room));
            }
            ffi::ERR_MEM => {}
            err => return Poll::Ready(Err(Error::lwip(err))),
        }
    }
    // Full: `tcp_sent` wakes us when the peer acknowledges data.
    match ffi::state().try_borrow_mut() {
        Ok(mut st) => st.tcp[i].write_waker = Some(cx.waker().clone()),
        Err(_) => cx.waker().wake_by_ref(),
    }
    Poll::Pending
}

fn poll_close(i: usize, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    let (pcb, eof) = {
        let Ok(mut st) = ffi::state().try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let slot = &mut st.tcp[i];
        if slot.tx_closed {
            return Poll::Ready(Ok(()));
        }
        match slot.pcb {
            Some(pcb) => (pcb, slot.eof),
            None => {
                slot.tx_closed = true;
                return Poll::Ready(match slot.error.get() {
                    Some(kind) if !slot.eof => Err(kind.into()),
                    _ => Ok(()),
                });
            }
        }
    };
    if pcb.has_unsent() {
        // The FIN goes in a segment of its own, after every byte went out once:
        // lwIP would set it on the last unsent data segment, and retransmits a
        // segment whole even when the peer holds part of it; a peer that
        // drops a FIN arriving with data it already has (smoltcp 0.14 does,
        // docs/backends/lwip.md) then never sees the FIN.
        // Frames it sends wake the runner; waking it here for nothing would
        // spin an executor that polls the runner and this future together.
        let _ = pcb.output();
        match ffi::state().try_borrow_mut() {
            Ok(mut st) => st.tcp[i].write_waker = Some(cx.waker().clone()),
            Err(_) => cx.waker().wake_by_ref(),
        }
        return Poll::Pending;
    }
    match pcb.shutdown_tx() {
        ERR_OK => {}
        ffi::ERR_MEM => {
            match ffi::state().try_borrow_mut() {
                Ok(mut st) => st.tcp[i].write_waker = Some(cx.waker().clone()),
                Err(_) => cx.waker().wake_by_ref(),
            }
            return Poll::Pending;
        }
        err => return Poll::Ready(Err(Error::lwip(err))),
    }
    let hand_back = with(|st| {
        let slot = &mut st.tcp[i];
        slot.tx_closed = true;
        // Both directions are done: lwIP finishes the close on its own (and
        // may free the pcb in TIME_WAIT without telling us).
        if eof { slot.pcb.take() } else { None }
    })
    .ok()
    .flatten();
    if let Some(pcb) = hand_back {
        pcb.detach();
        if pcb.close() != ERR_OK {
            pcb.abort();
        }
    }
    wake_runner();
    Poll::Ready(Ok(()))
}

fn addr_of(i: usize, local: bool) -> Result<SocketAddr, Error> {
    with(|st| {
        let slot = &st.tcp[i];
        if local { slot.local } else { slot.remote }
    })?
    .map(SocketAddr::V4)
    .ok_or(ErrorKind::NotConnected.into())
}

fn set_option(pcb: Option<TcpPcb>, option: SocketOption) -> Result<(), Error> {
    let pcb = pcb.ok_or(Error::from(ErrorKind::NotConnected));
    match option {
        SocketOption::NoDelay(on) => pcb?.set_nodelay(on),
        SocketOption::Ttl(0) => return Err(ErrorKind::InvalidInput.into()),
        SocketOption::Ttl(ttl) => pcb?.set_ttl(ttl),
        SocketOption::KeepAlive(None) => pcb?.set_keepalive(0),
        SocketOption::KeepAlive(Some(idle)) => {
            let ms = u32::try_from(idle.as_millis()).map_err(|_| ErrorKind::InvalidInput)?;
            if ms == 0 {
                return Err(ErrorKind::InvalidInput.into());
            }
            pcb?.set_keepalive(ms);
        }
        _ => return Err(ErrorKind::Unsupported.into()),
    }
    Ok(())
}

fn option(pcb: Option<TcpPcb>, name: SocketOptionName) -> Result<SocketOption, Error> {
    let pcb = pcb.ok_or(Error::from(ErrorKind::NotConnected));
    Ok(match name {
        SocketOptionName::NoDelay => SocketOption::NoDelay(pcb?.nodelay()),
        SocketOptionName::Ttl => SocketOption::Ttl(pcb?.ttl()),
        SocketOptionName::KeepAlive => match pcb?.keepalive() {
            0 => SocketOption::KeepAlive(None),
            ms => SocketOption::KeepAlive(Some(Duration::from_millis(ms.into()))),
        },
        _ => return Err(ErrorKind::Unsupported.into()),
    })
}

impl<D, C> Drop for TcpConnection<'_, D, C> {
    fn drop(&mut self) {
        release(self.slot, false);
    }
}

impl<D, C> portnet::ErrorType for TcpConnection<'_, D, C> {
    type Error = Error;
}

impl<D, C> portnet::Read for TcpConnection<'_, D, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        poll_read(self.slot, cx, buf)
    }
}

impl<D, C> portnet::Write for TcpConnection<'_, D, C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Error>> {
        poll_write(self.slot, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Every write ends in tcp_output: nothing waits in this crate.
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_close(self.slot, cx)
    }
}

impl<D, C> portnet::SocketOptions for TcpConnection<'_, D, C> {
    fn set_option(&self, option: SocketOption) -> Result<(), Error> {
        set_option(with(|st| st.tcp[self.slot].pcb)?, option)
    }
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        option(with(|st| st.tcp[self.slot].pcb)?, name)
    }
}

impl<D, C> portnet::TcpStream for TcpConnection<'_, D, C> {
    type ReadHalf<'c>
        = TcpReadHalf<'c, D, C>
    where
        Self: 'c;
    type WriteHalf<'c>
        = TcpWriteHalf<'c, D, C>
    where
        Self: 'c;

    fn split(&mut self) -> (TcpReadHalf<'_, D, C>, TcpWriteHalf<'_, D, C>) {
        (
            TcpReadHalf {
                stack: self.stack,
                slot: self.slot,
            },
            TcpWriteHalf {
                stack: self.stack,
                slot: self.slot,
            },
        )
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        addr_of(self.slot, true)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Error> {
        addr_of(self.slot, false)
    }

    fn abort(self) {
        release(self.slot, true);
        // Drop runs next and finds the slot empty.
    }
}

impl<D, C> portnet::ErrorType for TcpReadHalf<'_, D, C> {
    type Error = Error;
}

impl<D, C> portnet::Read for TcpReadHalf<'_, D, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        let _ = self.stack;
        poll_read(self.slot, cx, buf)
    }
}

impl<D, C> portnet::ErrorType for TcpWriteHalf<'_, D, C> {
    type Error = Error;
}

impl<D, C> portnet::Write for TcpWriteHalf<'_, D, C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Error>> {
        let _ = self.stack;
        poll_write(self.slot, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_close(self.slot, cx)
    }
}

/// A listening socket of the lwIP stack.
#[derive(Debug)]
pub struct TcpListener<'a, D, C> {
    stack: &'a Stack<D, C>,
    slot: usize,
}

impl<D, C> Drop for TcpListener<'_, D, C> {
    fn drop(&mut self) {
        let l = self.slot;
        let taken = with(|st| {
            let slot = core::mem::take(&mut st.listeners[l]);
            (slot.pcb, slot.queue, slot.queued)
        });
        if let Ok((pcb, queue, queued)) = taken {
            if let Some(pcb) = pcb {
                pcb.detach();
                let _ = pcb.close();
            }
            // Handshakes nobody accepted: reset, as a closed listen socket does.
            for &i in &queue[..queued] {
                release(i, true);
            }
        }
    }
}

impl<D, C> portnet::ErrorType for TcpListener<'_, D, C> {
    type Error = Error;
}

impl<D, C> portnet::SocketOptions for TcpListener<'_, D, C> {
    fn set_option(&self, _option: SocketOption) -> Result<(), Error> {
        Err(ErrorKind::Unsupported.into())
    }
    fn option(&self, _name: SocketOptionName) -> Result<SocketOption, Error> {
        Err(ErrorKind::Unsupported.into())
    }
}

/// The future of [`TcpListener::accept`](portnet::TcpListener::accept): while
/// pending, it counts as a waiting accept (which a completed handshake may
/// take beyond the backlog).
struct Accept<'l, 'a, D, C> {
    listener: &'l TcpListener<'a, D, C>,
    waiting: bool,
}

impl<'a, D, C> Future for Accept<'_, 'a, D, C> {
    type Output = Result<(TcpConnection<'a, D, C>, SocketAddr), Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let l = this.listener.slot;
        let Ok(mut st) = ffi::state().try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        if let Some(i) = st.listeners[l].pop() {
            if core::mem::take(&mut this.waiting) {
                st.listeners[l].waiting -= 1;
            }
            let remote = st.tcp[i].remote;
            drop(st);
            let conn = TcpConnection {
                stack: this.listener.stack,
                slot: i,
            };
            return Poll::Ready(match remote {
                Some(remote) => Ok((conn, SocketAddr::V4(remote))),
                None => Err(ErrorKind::NotConnected.into()),
            });
        }
        if !st.listeners[l].used {
            return Poll::Ready(Err(ErrorKind::NotConnected.into()));
        }
        if !this.waiting {
            this.waiting = true;
            st.listeners[l].waiting += 1;
        }
        st.listeners[l].register(cx.waker());
        Poll::Pending
    }
}

impl<D, C> Drop for Accept<'_, '_, D, C> {
    fn drop(&mut self) {
        if self.waiting {
            let l = self.listener.slot;
            let _ = with(|st| st.listeners[l].waiting = st.listeners[l].waiting.saturating_sub(1));
        }
    }
}

impl<'a, D, C> portnet::TcpListener for TcpListener<'a, D, C> {
    type Connection = TcpConnection<'a, D, C>;

    fn accept(&self) -> impl Future<Output = Result<(TcpConnection<'a, D, C>, SocketAddr), Error>> {
        Accept {
            listener: self,
            waiting: false,
        }
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        let local = with(|st| st.listeners[self.slot].local)?;
        let local = local.ok_or(Error::from(ErrorKind::NotConnected))?;
        if local.ip().is_unspecified() {
            return Ok(SocketAddr::new(
                IpAddr::V4(self.stack.address),
                local.port(),
            ));
        }
        Ok(SocketAddr::V4(local))
    }
}
