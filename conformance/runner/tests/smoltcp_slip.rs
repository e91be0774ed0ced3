//! The suite on the smoltcp backend over a serial line: two smoltcp stacks,
//! each on a SLIP link, the links joined by a loopback TCP connection.

portnet_conformance::conformance_tests!(portnet_conformance_runner::slip::SlipHarness);
