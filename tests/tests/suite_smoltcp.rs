//! The socket behaviour suite on two smoltcp stacks (linked) on an embedded hub.
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_pair());
