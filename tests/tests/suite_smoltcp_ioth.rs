//! The socket behaviour suite on two smoltcp stacks with our TCP engine (`tcp=ioth`), linked,
//! on an embedded hub.
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_pair_with("tcp=ioth"));
