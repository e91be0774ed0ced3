//! A stack on a medium-IP driver (feature `medium-ip`): the SLIP device of
//! `portnet-slip`, which has no hardware address.

use core::net::Ipv4Addr;

use portnet_links::VirtualClock;
use portnet_slip::State;
use portnet_smoltcp::{Cidr, Config, Error, Stack, StackResources, TcpPool};

#[test]
fn a_stack_accepts_a_medium_ip_driver_with_static_addresses_but_not_dhcp() {
    let mut link = State::<1006, 2>::new();
    let (device, _runner) = link.split();
    let mut resources = StackResources::<4>::new();
    let mut pool = TcpPool::<1, 1024, 1024>::new();
    let sockets = resources.sockets().tcp(&mut pool).unwrap();
    let address = Cidr::new(Ipv4Addr::new(10, 7, 0, 1), 30);
    let stack = Stack::new(
        device,
        VirtualClock::new(),
        Config::ipv4_static(address, None),
        sockets,
    )
    .expect("a medium-IP driver is accepted");
    assert_eq!(stack.ipv4_address(), Some(address.address));

    let mut link = State::<1006, 2>::new();
    let (device, _runner) = link.split();
    let mut resources = StackResources::<4>::new();
    let sockets = resources.sockets();
    let refused = Stack::new(device, VirtualClock::new(), Config::dhcpv4(), sockets);
    assert!(matches!(refused, Err(Error::InvalidConfig)), "{refused:?}");
}
