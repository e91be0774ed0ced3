//! How much of the 16 KiB the stack takes: the RAM between the statics and
//! the stack is painted with a pattern at start-up, and the deepest word the
//! stack overwrote is found later by looking for the first unpainted one.
//!
//! The stack grows down from the top of RAM towards the statics with no guard
//! between them, so on this board an overflow does not fault at once: it
//! overwrites statics. Firmware that prints its peak shows how close it came.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PAINT: u32 = 0x5afe_57ac;
/// Left alone below the stack pointer while painting: the painting function's
/// own frame.
const MARGIN: usize = 64;
/// The board's RAM in words: bounds every loop here.
const RAM_WORDS: usize = 16 * 1024 / 4;

unsafe extern "C" {
    /// The end of the statics (cortex-m-rt's linker script).
    static __sheap: u32;
    /// The top of the stack.
    static _stack_start: u32;
}

fn bottom() -> usize {
    addr_of!(__sheap) as usize
}

fn top() -> usize {
    addr_of!(_stack_start) as usize
}

/// Paints the free RAM below the current stack pointer. Call once, early in
/// `main`.
pub fn paint() {
    let below = cortex_m::register::msp::read() as usize - MARGIN;
    let mut at = bottom();
    for _ in 0..RAM_WORDS {
        if at >= below {
            break;
        }
        // SAFETY: between the end of the statics and below the stack pointer
        // (less a margin for this frame) no live object lives: the words are
        // RAM, word aligned (`__sheap` is), and unused until the stack grows
        // into them.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The deepest the stack has been since [`paint`], in bytes from the top of
/// RAM (an overestimate by at most a word, if the stack wrote the pattern).
pub fn peak() -> usize {
    let mut at = bottom();
    for _ in 0..RAM_WORDS {
        if at >= top() {
            break;
        }
        // SAFETY: a word-aligned read of RAM between the statics and the top
        // of the stack; the value is only compared.
        if unsafe { read_volatile(at as *const u32) } != PAINT {
            break;
        }
        at += 4;
    }
    top() - at
}

/// The RAM the statics take, in bytes (`.data`, `.bss` and `.uninit`).
pub fn statics() -> usize {
    bottom() - 0x2000_0000
}
