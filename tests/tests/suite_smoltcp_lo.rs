//! The socket behaviour suite on one smoltcp stack talking to itself over lo, with the
//! default TCP (our engine, `tcp=ioth`).
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_loopback());
