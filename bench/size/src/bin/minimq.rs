//! minimq: connect, subscribe, publish at QoS 1, receive one message, over the
//! stub transport (MQTT 5.0, the only version it speaks).
#![no_std]
#![no_main]

#[path = "../busy_time_driver.rs"]
mod busy_time_driver;

use minimq::{Buffers, ConfigBuilder, Publication, QoS, Session, TopicFilter};
use portnet_size_skeletons::{EioWire, block_on, wire_write};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let rx = &mut [0u8; 256];
        let tx = &mut [0u8; 256];
        let Ok(config) = ConfigBuilder::new(Buffers::new(rx, tx)).client_id("size") else {
            return;
        };
        let mut session = Session::new(config);
        let Ok(mut conn) = session.connect(EioWire).await else {
            return;
        };
        let _ = conn.subscribe(&[TopicFilter::new("size/in")], &[]).await;
        let _ = conn
            .publish(Publication::new("size/out", &b"hello"[..]).qos(QoS::AtLeastOnce))
            .await;
        if let Ok(message) = conn.recv().await {
            wire_write(message.payload());
        }
        let _ = conn.disconnect().await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
