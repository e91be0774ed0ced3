//! rust-mqtt: connect, subscribe, publish at QoS 1, receive one message,
//! disconnect, over the stub transport (MQTT 5.0 feature only, bump buffer, no alloc).
#![no_std]
#![no_main]

use core::num::NonZero;

use portnet_size_skeletons::{EioWire, block_on, wire_write};
use rust_mqtt::Bytes;
use rust_mqtt::buffer::BumpBuffer;
use rust_mqtt::client::Client;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, SubscriptionOptions, TopicReference,
};
use rust_mqtt::config::KeepAlive;
use rust_mqtt::types::{MqttString, TopicFilter, TopicName};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let mut memory = [0u8; 512];
        let mut buffer = BumpBuffer::new(&mut memory);
        let mut client = Client::<'_, '_, _, _, 1, 1, 1, 1, 16, 0, 1>::new(&mut buffer);
        let (Ok(id), Ok(input), Ok(output)) = (
            MqttString::try_from("size"),
            MqttString::try_from("size/in"),
            MqttString::try_from("size/out"),
        ) else {
            return;
        };
        let Some(keep_alive) = NonZero::new(30) else {
            return;
        };
        if client
            .connect(
                EioWire,
                &ConnectOptions::new()
                    .clean_start()
                    .keep_alive(KeepAlive::Seconds(keep_alive)),
                Some(id),
            )
            .await
            .is_err()
        {
            return;
        }
        let (Some(filter), Some(name)) = (
            TopicFilter::new(input.as_borrowed()),
            TopicName::new(output.as_borrowed()),
        ) else {
            return;
        };
        let _ = client
            .subscribe(filter, &SubscriptionOptions::new().at_least_once())
            .await;
        let _ = client
            .publish(
                &PublicationOptions::new(TopicReference::Name(name)).at_least_once(),
                Bytes::from(&b"hello"[..]),
            )
            .await;
        for _ in 0..4 {
            if let Ok(Event::Publish(publish)) = client.poll().await {
                wire_write(publish.message.as_ref());
                break;
            }
        }
        let _ = client.disconnect(&DisconnectOptions::new()).await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
