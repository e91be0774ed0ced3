//! portnet's MQTT client, unchanged, inside firmware: an address by DHCP, the
//! broker's port as a line of digits on UART0 (the console), then for MQTT 3.1.1
//! and 5.0 in turn it connects to the broker at 10.0.2.2:PORT (QEMU's user
//! networking takes 10.0.2.2 to the host's loopback, where mosquitto listens),
//! subscribes to `board/#`, publishes at QoS 0, 1 and 2, checks that each
//! message comes back once with its payload and QoS, and disconnects. Exits
//! with success through semihosting when all of it worked.
//!
//! `cargo xtask qemu mqtt` starts mosquitto, runs this firmware, and stops both.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, SocketAddr};
    use core::pin::pin;
    use core::time::Duration;

    use cortex_m_semihosting::hprintln;
    use portnet::future::join;
    use portnet_board_mps2_an385::board::{self, CLOCK, net};
    use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
    use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};
    use portnet_smoltcp::{Config, StackResources, TcpPool, UdpPool};
    use static_cell::ConstStaticCell;

    /// The host's loopback, seen from QEMU's user networking.
    const HOST: IpAddr = IpAddr::V4(board::QEMU_HOST);

    static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
        ConstStaticCell::new(StackResources::new());
    static TCP: ConstStaticCell<TcpPool<2, 4096, 4096>> = ConstStaticCell::new(TcpPool::new());
    static UDP: ConstStaticCell<UdpPool<1, 1024, 2>> = ConstStaticCell::new(UdpPool::new());
    static STORAGE: ConstStaticCell<Storage<2048, 2048, 8, 8, 4>> =
        ConstStaticCell::new(Storage::new());

    /// What went wrong, for the report line.
    type Failure = &'static str;

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .and_then(|s| s.udp(UDP.take()))
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::dhcpv4();
        config.random_seed = 0x5eed_0003;
        let stack =
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let storage = STORAGE.take();
        let outcome: Result<(), Failure> = net::run(&stack, async {
            let address = stack.wait_ipv4().await;
            hprintln!("portnet-mqtt firmware at {}, broker port?", address);
            let broker = SocketAddr::new(HOST, board::read_port().await?);
            for (version, id) in [(Version::V3_1_1, "board-311"), (Version::V5, "board-5")] {
                let mut session = Session::new(&mut *storage);
                let (mut driver, client, mut rx) = session.split(&stack, &CLOCK);
                let options = ConnectOptions::new(broker, id).version(version);
                let exchange = pin!(async {
                    client.connected().await.map_err(|_| "connect")?;
                    let topics = [Subscription::new("board/#", QoS::ExactlyOnce)];
                    client
                        .subscribe(&topics, &[])
                        .await
                        .map_err(|_| "subscribe")?;
                    for (qos, topic) in [
                        (QoS::AtMostOnce, "board/0"),
                        (QoS::AtLeastOnce, "board/1"),
                        (QoS::ExactlyOnce, "board/2"),
                    ] {
                        let reason = client
                            .publish(topic, b"from the board", PublishOptions::qos(qos))
                            .await
                            .map_err(|_| "publish")?;
                        if !reason.is_success() {
                            return Err("publish refused");
                        }
                        let message = rx.recv().await;
                        if (message.topic(), message.payload(), message.qos())
                            != (topic, &b"from the board"[..], qos)
                        {
                            return Err("a message came back different");
                        }
                        hprintln!("portnet-mqtt {:?} qos {} ok", version, qos as u8);
                    }
                    client.disconnect(ReasonCode::SUCCESS).await;
                    Ok(())
                });
                let run = pin!(driver.run(&options));
                let both = join(run, exchange);
                match portnet::time::timeout(&CLOCK, Duration::from_secs(60), both).await {
                    Ok((Ok(()), Ok(()))) => {}
                    Ok((Err(_), _)) => return Err("the client's connection failed"),
                    Ok((_, Err(e))) => return Err(e),
                    Err(_) => return Err("no result within 60 s"),
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match outcome {
            Ok(()) => {
                hprintln!("portnet-mqtt firmware done");
                board::exit(true)
            }
            Err(e) => board::fail("mqtt", e),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("mqtt firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
