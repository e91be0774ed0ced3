//! The only module with `unsafe`: lwIP's C functions, the callbacks lwIP calls,
//! and the global cell the callbacks reach the stack's state through.
//!
//! # The invariants the safe wrappers rely on
//!
//! - A [`TcpPcb`] or [`UdpPcb`] value names a pcb lwIP has not freed. Only this
//!   crate makes them, and it keeps each in exactly one slot of
//!   [`crate::state::State`], which forgets it when lwIP frees the pcb (the
//!   `tcp_err` callback says so) or when the crate hands it back (`tcp_close`,
//!   `tcp_abort`, `udp_remove`), always after detaching the pcb's callbacks.
//! - A [`Pbuf`] owns one reference to a pbuf chain and frees it on drop.
//! - lwIP runs on one thread at a time: only the thread that holds the one live
//!   [`crate::Stack`] (which is neither `Send` nor `Sync`) calls into it, and
//!   lwIP's callbacks run inside those calls. The stack guard's atomic hand-over
//!   orders one stack's use before the next one's.

use core::cell::RefCell;
use core::ffi::{c_int, c_void};
use core::ptr::NonNull;

use crate::state::{self, State};

/// lwIP's `err_t`.
pub(crate) type Err = i8;
pub(crate) const ERR_OK: Err = 0;
pub(crate) const ERR_MEM: Err = -1;

type TcpRecvFn = extern "C" fn(*mut c_void, *mut c_void, *mut c_void, Err) -> Err;
type TcpSentFn = extern "C" fn(*mut c_void, *mut c_void, u16) -> Err;
type TcpErrFn = extern "C" fn(*mut c_void, Err);
type TcpConnectedFn = extern "C" fn(*mut c_void, *mut c_void, Err) -> Err;
type TcpAcceptFn = extern "C" fn(*mut c_void, *mut c_void, Err) -> Err;
type UdpFn = extern "C" fn(*mut c_void, *mut c_void, u32, u16);
type OutputFn = extern "C" fn(*const u8, u16) -> Err;

unsafe extern "C" {
    fn portnet_init(seed: u32);
    fn portnet_set_now(ms: u32);
    fn portnet_netif_add(
        mac: *const u8,
        ip: u32,
        mask: u32,
        gw: u32,
        mtu: u16,
        out: OutputFn,
    ) -> c_int;
    fn portnet_teardown();
    fn portnet_netif_input(frame: *const u8, len: u16) -> Err;
    fn portnet_sleeptime() -> u32;
    fn sys_check_timeouts();

    fn portnet_tcp_new() -> *mut c_void;
    fn portnet_tcp_pcb_pool_size() -> u16;
    fn portnet_tcp_bind(pcb: *mut c_void, ip: u32, port: u16) -> Err;
    fn portnet_tcp_connect(pcb: *mut c_void, ip: u32, port: u16, done: TcpConnectedFn) -> Err;
    fn portnet_tcp_sndbuf(pcb: *const c_void) -> u16;
    fn portnet_tcp_sndqueuelen(pcb: *const c_void) -> u16;
    fn portnet_tcp_unsent(pcb: *const c_void) -> c_int;
    fn portnet_tcp_local(pcb: *const c_void, ip: *mut u32, port: *mut u16);
    fn portnet_tcp_remote(pcb: *const c_void, ip: *mut u32, port: *mut u16);
    fn portnet_tcp_set_nodelay(pcb: *mut c_void, on: c_int);
    fn portnet_tcp_nodelay(pcb: *const c_void) -> c_int;
    fn portnet_tcp_set_ttl(pcb: *mut c_void, ttl: u8);
    fn portnet_tcp_ttl(pcb: *const c_void) -> u8;
    fn portnet_tcp_set_keepalive(pcb: *mut c_void, idle_ms: u32);
    fn portnet_tcp_keepalive(pcb: *const c_void) -> u32;
    fn portnet_tcp_detach(pcb: *mut c_void);
    fn portnet_tcp_closing_in_background() -> c_int;
    fn tcp_listen_with_backlog_and_err(pcb: *mut c_void, backlog: u8, err: *mut Err)
    -> *mut c_void;
    fn tcp_arg(pcb: *mut c_void, arg: *mut c_void);
    fn tcp_recv(pcb: *mut c_void, f: TcpRecvFn);
    fn tcp_sent(pcb: *mut c_void, f: TcpSentFn);
    fn tcp_err(pcb: *mut c_void, f: TcpErrFn);
    fn tcp_accept(pcb: *mut c_void, f: TcpAcceptFn);
    fn tcp_write(pcb: *mut c_void, data: *const c_void, len: u16, flags: u8) -> Err;
    fn tcp_output(pcb: *mut c_void) -> Err;
    fn tcp_recved(pcb: *mut c_void, len: u16);
    fn tcp_shutdown(pcb: *mut c_void, shut_rx: c_int, shut_tx: c_int) -> Err;
    fn tcp_close(pcb: *mut c_void) -> Err;
    fn tcp_abort(pcb: *mut c_void);

    fn portnet_udp_set_handler(f: UdpFn);
    fn portnet_udp_new(arg: *mut c_void) -> *mut c_void;
    fn portnet_udp_bind(pcb: *mut c_void, ip: u32, port: u16) -> Err;
    fn portnet_udp_sendto(pcb: *mut c_void, data: *const u8, len: u16, ip: u32, port: u16) -> Err;
    fn portnet_udp_local(pcb: *const c_void, ip: *mut u32, port: *mut u16);
    fn portnet_udp_set_ttl(pcb: *mut c_void, ttl: u8);
    fn portnet_udp_ttl(pcb: *const c_void) -> u8;
    fn portnet_udp_detach(pcb: *mut c_void);
    fn udp_remove(pcb: *mut c_void);

    fn portnet_pbuf_tot_len(p: *const c_void) -> u16;
    fn pbuf_copy_partial(p: *const c_void, data: *mut c_void, len: u16, offset: u16) -> u16;
    fn pbuf_free_header(p: *mut c_void, size: u16) -> *mut c_void;
    fn pbuf_cat(head: *mut c_void, tail: *mut c_void);
    fn pbuf_free(p: *mut c_void) -> u8;
}

/// `TCP_WRITE_FLAG_COPY`: lwIP copies the bytes, so the caller's buffer is free
/// when `tcp_write` returns.
const TCP_WRITE_FLAG_COPY: u8 = 0x01;

/// The stack's state, reachable from lwIP's callbacks, which get no pointer to
/// the stack (their `arg` is a slot number, see [`crate::state::Arg`]).
struct Global(RefCell<State>);

// SAFETY: the cell is only touched by the thread that runs lwIP (see the
// module's invariants): the one live `Stack` is neither `Send` nor `Sync`, every
// access goes through it or through a callback lwIP makes inside a call of it,
// and the guard in `crate::stack` hands the stack over between threads with
// acquire/release ordering.
unsafe impl Sync for Global {}

static STATE: Global = Global(RefCell::new(State::new()));

/// The stack's state. Borrow it only between lwIP calls, never across one:
/// lwIP's callbacks borrow it too.
pub(crate) fn state() -> &'static RefCell<State> {
    &STATE.0
}

/// lwIP's `arg` for a slot.
fn arg_ptr(arg: usize) -> *mut c_void {
    core::ptr::without_provenance_mut(arg)
}

/// Initialises lwIP (once per process) and reseeds its random numbers.
pub(crate) fn init(seed: u32) {
    // SAFETY: no pointers; runs on lwIP's thread (module invariants).
    unsafe { portnet_init(seed) };
    // SAFETY: a function pointer with the signature glue.c declares.
    unsafe { portnet_udp_set_handler(on_udp_recv) };
}

/// The latest `sys_now` given to lwIP.
static NOW: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Bytes of one element of lwIP's TCP pcb pool.
pub(crate) fn tcp_pcb_pool_size() -> usize {
    // SAFETY: reads a constant of lwIP's pool table, which is initialised
    // statically (before `lwip_init`) and never written.
    usize::from(unsafe { portnet_tcp_pcb_pool_size() })
}

/// Connections no handle holds any more that lwIP still sends or closes.
pub(crate) fn tcp_closing_in_background() -> usize {
    // SAFETY: walks lwIP's active pcb list without changing it; lwIP runs only
    // in this thread's calls into it (NO_SYS), none of which is in progress.
    let n = unsafe { portnet_tcp_closing_in_background() };
    usize::try_from(n).unwrap_or(0)
}

/// lwIP's `sys_now` as last set.
pub(crate) fn now() -> u32 {
    NOW.load(core::sync::atomic::Ordering::Relaxed)
}

/// Sets lwIP's `sys_now` to `ms`.
pub(crate) fn set_now(ms: u32) {
    NOW.store(ms, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: stores an integer.
    unsafe { portnet_set_now(ms) };
}

/// Brings the interface up; lwIP then sends frames through
/// [`crate::state::on_output`]. `mac`: an Ethernet link with that address;
/// `None`: an IP-medium link (frames are IP packets, no ARP).
pub(crate) fn netif_add(mac: Option<[u8; 6]>, ip: u32, mask: u32, gw: u32, mtu: u16) -> Err {
    let mac = mac.as_ref().map_or(core::ptr::null(), |m| m.as_ptr());
    // SAFETY: `mac` is null (glue.c then reads no address) or 6 readable
    // bytes that live to the end of this function, copied before the call
    // returns.
    unsafe { portnet_netif_add(mac, ip, mask, gw, mtu, on_output) as Err }
}

/// Frees everything lwIP holds for the stack and removes the interface.
pub(crate) fn teardown() {
    // SAFETY: no pointers; the slots' pcbs are forgotten by the caller first
    // (the callbacks that remain find no slot and do nothing).
    unsafe { portnet_teardown() };
}

/// Hands a received frame to lwIP.
pub(crate) fn netif_input(frame: &[u8]) -> Err {
    let Ok(len) = u16::try_from(frame.len()) else {
        return -2;
    };
    // SAFETY: `frame` is `len` readable bytes, copied into a pbuf before return.
    unsafe { portnet_netif_input(frame.as_ptr(), len) }
}

/// Runs lwIP's due timers; returns the milliseconds until the next one
/// (`u32::MAX`: none).
pub(crate) fn check_timeouts() -> u32 {
    // SAFETY: no pointers.
    unsafe {
        sys_check_timeouts();
        portnet_sleeptime()
    }
}

/// A TCP pcb lwIP has not freed (module invariants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpPcb(NonNull<c_void>);

impl TcpPcb {
    /// A new IPv4 pcb, or `None` when the pool is empty.
    pub(crate) fn new() -> Option<Self> {
        // SAFETY: no arguments; a null result is handled.
        NonNull::new(unsafe { portnet_tcp_new() }).map(Self)
    }
    pub(crate) fn bind(self, ip: u32, port: u16) -> Err {
        // SAFETY: a live pcb (module invariants).
        unsafe { portnet_tcp_bind(self.0.as_ptr(), ip, port) }
    }
    /// Turns a bound pcb into a listening one; lwIP frees `self` on success.
    pub(crate) fn listen(self, arg: usize) -> Result<Self, Err> {
        let mut err = ERR_OK;
        // SAFETY: a live pcb; `err` is writable.
        let pcb = unsafe { tcp_listen_with_backlog_and_err(self.0.as_ptr(), 255, &mut err) };
        match NonNull::new(pcb) {
            Some(pcb) => {
                // SAFETY: the new live listening pcb; a callback of the right type.
                unsafe {
                    tcp_arg(pcb.as_ptr(), arg_ptr(arg));
                    tcp_accept(pcb.as_ptr(), on_tcp_accept);
                }
                Ok(Self(pcb))
            }
            None => Err(if err == ERR_OK { ERR_MEM } else { err }),
        }
    }
    /// Points the pcb's callbacks at slot `arg`.
    pub(crate) fn attach(self, arg: usize) {
        // SAFETY: a live pcb; callbacks of the types lwIP declares.
        unsafe {
            tcp_arg(self.0.as_ptr(), arg_ptr(arg));
            tcp_recv(self.0.as_ptr(), on_tcp_recv);
            tcp_sent(self.0.as_ptr(), on_tcp_sent);
            tcp_err(self.0.as_ptr(), on_tcp_err);
        }
    }
    pub(crate) fn detach(self) {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_detach(self.0.as_ptr()) };
    }
    pub(crate) fn connect(self, ip: u32, port: u16) -> Err {
        // SAFETY: a live pcb; the callback has lwIP's type.
        unsafe { portnet_tcp_connect(self.0.as_ptr(), ip, port, on_tcp_connected) }
    }
    /// How many bytes `write` can take now.
    pub(crate) fn sndbuf(self) -> usize {
        // SAFETY: a live pcb.
        let (buf, queue) = unsafe {
            (
                portnet_tcp_sndbuf(self.0.as_ptr()),
                portnet_tcp_sndqueuelen(self.0.as_ptr()),
            )
        };
        // A full segment queue refuses writes as a full buffer does.
        if usize::from(queue) >= crate::state::TCP_SND_QUEUELEN - 1 {
            0
        } else {
            usize::from(buf)
        }
    }
    /// Whether written bytes wait that lwIP has not sent once yet.
    pub(crate) fn has_unsent(self) -> bool {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_unsent(self.0.as_ptr()) != 0 }
    }
    pub(crate) fn write(self, data: &[u8]) -> Err {
        let len = data.len().min(usize::from(u16::MAX)) as u16;
        // SAFETY: a live pcb; `data` has `len` readable bytes, which lwIP copies
        // (TCP_WRITE_FLAG_COPY) before returning.
        unsafe {
            tcp_write(
                self.0.as_ptr(),
                data.as_ptr().cast(),
                len,
                TCP_WRITE_FLAG_COPY,
            )
        }
    }
    pub(crate) fn output(self) -> Err {
        // SAFETY: a live pcb.
        unsafe { tcp_output(self.0.as_ptr()) }
    }
    pub(crate) fn recved(self, len: usize) {
        // SAFETY: a live pcb.
        unsafe { tcp_recved(self.0.as_ptr(), len.min(usize::from(u16::MAX)) as u16) };
    }
    pub(crate) fn shutdown_tx(self) -> Err {
        // SAFETY: a live pcb; with shut_rx 0 lwIP does not free it.
        unsafe { tcp_shutdown(self.0.as_ptr(), 0, 1) }
    }
    /// Hands the pcb to lwIP (which may free it at once): detach first and
    /// forget `self`.
    pub(crate) fn close(self) -> Err {
        // SAFETY: a live pcb, forgotten by the caller on return.
        unsafe { tcp_close(self.0.as_ptr()) }
    }
    /// Sends RST and frees the pcb: detach first and forget `self`.
    pub(crate) fn abort(self) {
        // SAFETY: a live pcb, forgotten by the caller on return.
        unsafe { tcp_abort(self.0.as_ptr()) };
    }
    pub(crate) fn local(self) -> (u32, u16) {
        let (mut ip, mut port) = (0, 0);
        // SAFETY: a live pcb; both outputs writable.
        unsafe { portnet_tcp_local(self.0.as_ptr(), &mut ip, &mut port) };
        (ip, port)
    }
    pub(crate) fn remote(self) -> (u32, u16) {
        let (mut ip, mut port) = (0, 0);
        // SAFETY: a live pcb; both outputs writable.
        unsafe { portnet_tcp_remote(self.0.as_ptr(), &mut ip, &mut port) };
        (ip, port)
    }
    pub(crate) fn set_nodelay(self, on: bool) {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_set_nodelay(self.0.as_ptr(), c_int::from(on)) };
    }
    pub(crate) fn nodelay(self) -> bool {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_nodelay(self.0.as_ptr()) != 0 }
    }
    pub(crate) fn set_ttl(self, ttl: u8) {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_set_ttl(self.0.as_ptr(), ttl) };
    }
    pub(crate) fn ttl(self) -> u8 {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_ttl(self.0.as_ptr()) }
    }
    pub(crate) fn set_keepalive(self, idle_ms: u32) {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_set_keepalive(self.0.as_ptr(), idle_ms) };
    }
    pub(crate) fn keepalive(self) -> u32 {
        // SAFETY: a live pcb.
        unsafe { portnet_tcp_keepalive(self.0.as_ptr()) }
    }
}

/// A UDP pcb lwIP has not freed (module invariants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpPcb(NonNull<c_void>);

impl UdpPcb {
    /// A new IPv4 pcb delivering to slot `arg`, or `None` when the pool is empty.
    pub(crate) fn new(arg: usize) -> Option<Self> {
        // SAFETY: `arg` is an integer in pointer form, never dereferenced.
        NonNull::new(unsafe { portnet_udp_new(arg_ptr(arg)) }).map(Self)
    }
    pub(crate) fn bind(self, ip: u32, port: u16) -> Err {
        // SAFETY: a live pcb.
        unsafe { portnet_udp_bind(self.0.as_ptr(), ip, port) }
    }
    pub(crate) fn send_to(self, data: &[u8], ip: u32, port: u16) -> Err {
        let Ok(len) = u16::try_from(data.len()) else {
            return -6;
        };
        // SAFETY: a live pcb; `data` has `len` readable bytes, copied into a pbuf.
        unsafe { portnet_udp_sendto(self.0.as_ptr(), data.as_ptr(), len, ip, port) }
    }
    pub(crate) fn local(self) -> (u32, u16) {
        let (mut ip, mut port) = (0, 0);
        // SAFETY: a live pcb; both outputs writable.
        unsafe { portnet_udp_local(self.0.as_ptr(), &mut ip, &mut port) };
        (ip, port)
    }
    pub(crate) fn set_ttl(self, ttl: u8) {
        // SAFETY: a live pcb.
        unsafe { portnet_udp_set_ttl(self.0.as_ptr(), ttl) };
    }
    pub(crate) fn ttl(self) -> u8 {
        // SAFETY: a live pcb.
        unsafe { portnet_udp_ttl(self.0.as_ptr()) }
    }
    /// Frees the pcb: forget `self`.
    pub(crate) fn remove(self) {
        // SAFETY: a live pcb, forgotten by the caller; its callback goes first.
        unsafe {
            portnet_udp_detach(self.0.as_ptr());
            udp_remove(self.0.as_ptr());
        }
    }
}

/// One reference to a pbuf chain.
#[derive(Debug)]
pub(crate) struct Pbuf(NonNull<c_void>);

impl Pbuf {
    /// Takes over the reference lwIP passes to a callback.
    fn from_callback(p: *mut c_void) -> Option<Self> {
        NonNull::new(p).map(Self)
    }
    pub(crate) fn len(&self) -> usize {
        // SAFETY: a pbuf we hold a reference to.
        usize::from(unsafe { portnet_pbuf_tot_len(self.0.as_ptr()) })
    }
    /// Copies the first bytes of the chain into `buf`; returns how many.
    pub(crate) fn copy_to(&self, buf: &mut [u8]) -> usize {
        let len = buf.len().min(usize::from(u16::MAX)) as u16;
        // SAFETY: a held pbuf; `buf` has `len` writable bytes.
        usize::from(unsafe { pbuf_copy_partial(self.0.as_ptr(), buf.as_mut_ptr().cast(), len, 0) })
    }
    /// Drops the first `n` bytes; `None` when nothing is left.
    pub(crate) fn consume(self, n: usize) -> Option<Self> {
        if n >= self.len() {
            return None; // `self` drops: pbuf_free
        }
        let p = self.0.as_ptr();
        core::mem::forget(self);
        // SAFETY: the reference moves into pbuf_free_header, which returns the
        // rest of the chain (holding our reference) or frees it all.
        NonNull::new(unsafe { pbuf_free_header(p, n as u16) }).map(Self)
    }
    /// Appends `tail` to the chain.
    pub(crate) fn append(&mut self, tail: Self) {
        let t = tail.0.as_ptr();
        core::mem::forget(tail);
        // SAFETY: both held; pbuf_cat takes over the tail's reference.
        unsafe { pbuf_cat(self.0.as_ptr(), t) };
    }
}

impl Drop for Pbuf {
    fn drop(&mut self) {
        // SAFETY: our reference, given up here.
        unsafe { pbuf_free(self.0.as_ptr()) };
    }
}

// --- lwIP's callbacks: decode, then hand over to the safe code. ---

extern "C" fn on_output(frame: *const u8, len: u16) -> Err {
    if frame.is_null() {
        return -12;
    }
    // SAFETY: glue.c passes its bounce buffer with `len` bytes, valid for the call.
    let frame = unsafe { core::slice::from_raw_parts(frame, usize::from(len)) };
    state::on_output(frame)
}

extern "C" fn on_tcp_recv(arg: *mut c_void, _pcb: *mut c_void, p: *mut c_void, err: Err) -> Err {
    match state::on_tcp_recv(arg.addr(), Pbuf::from_callback(p), err) {
        Ok(()) => ERR_OK,
        Err(refused) => {
            // lwIP keeps refused data and offers it again: give its reference back.
            core::mem::forget(refused);
            ERR_MEM
        }
    }
}

extern "C" fn on_tcp_sent(arg: *mut c_void, _pcb: *mut c_void, _len: u16) -> Err {
    state::on_tcp_sent(arg.addr());
    ERR_OK
}

extern "C" fn on_tcp_err(arg: *mut c_void, err: Err) {
    state::on_tcp_err(arg.addr(), err);
}

extern "C" fn on_tcp_connected(arg: *mut c_void, _pcb: *mut c_void, err: Err) -> Err {
    state::on_tcp_connected(arg.addr(), err);
    ERR_OK
}

extern "C" fn on_tcp_accept(arg: *mut c_void, pcb: *mut c_void, err: Err) -> Err {
    match NonNull::new(pcb) {
        Some(pcb) if err == ERR_OK => {
            if state::on_tcp_accept(arg.addr(), TcpPcb(pcb)) {
                ERR_OK
            } else {
                // lwIP aborts the connection (RST) when accept says no.
                ERR_MEM
            }
        }
        _ => ERR_OK,
    }
}

extern "C" fn on_udp_recv(arg: *mut c_void, p: *mut c_void, ip: u32, port: u16) {
    if let Some(p) = Pbuf::from_callback(p) {
        state::on_udp_recv(arg.addr(), p, ip, port);
    }
}
