//! portnet-mqtt: connect, subscribe, publish at QoS 1, receive one message,
//! disconnect, over the stub transport (MQTT 5.0; the client also speaks 3.1.1).
#![no_std]
#![no_main]

use core::pin::pin;

use portnet::future::join;
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};
use portnet_size_skeletons::{BROKER, PortnetWire, block_on, wire_write};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let mut storage = Storage::<256, 256, 1, 1, 0, 1>::new();
        let mut session = Session::new(&mut storage);
        let (mut driver, client, mut rx) = session.split(PortnetWire, PortnetWire);
        let opts = ConnectOptions::new(BROKER, "size").version(Version::V5);
        let app = pin!(async {
            if client.connected().await.is_err() {
                return;
            }
            let _ = client
                .subscribe(&[Subscription::new("size/in", QoS::AtLeastOnce)], &[])
                .await;
            let _ = client
                .publish("size/out", b"hello", PublishOptions::qos(QoS::AtLeastOnce))
                .await;
            let message = rx.recv().await;
            wire_write(message.payload());
            drop(message);
            client.disconnect(ReasonCode::SUCCESS).await;
        });
        let run = pin!(driver.run(&opts));
        let _ = join(run, app).await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
