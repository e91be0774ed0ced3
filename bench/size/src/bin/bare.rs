//! The skeleton without any MQTT client: boot, `block_on`, the stub transport
//! opened through the portnet traits, a write and a read. The MQTT skeletons are
//! this plus their client.
#![no_std]
#![no_main]

use portnet::{ReadExt, TcpConnect, WriteExt};
use portnet_size_skeletons::{BROKER, PortnetWire, block_on};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        if let Ok(mut conn) = PortnetWire.connect(BROKER).await {
            let _ = conn.write_all(b"hello").await;
            let mut buf = [0u8; 16];
            let _ = conn.read(&mut buf).await;
        }
    });
    loop {
        cortex_m::asm::wfi();
    }
}
