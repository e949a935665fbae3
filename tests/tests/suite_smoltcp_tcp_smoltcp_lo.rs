//! The socket behaviour suite on one smoltcp stack with smoltcp's own TCP (`tcp=smoltcp`)
//! talking to itself over lo.
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_loopback_with("tcp=smoltcp"));
