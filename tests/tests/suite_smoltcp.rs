//! The socket behaviour suite on two smoltcp stacks (linked) on an embedded hub, with the
//! default TCP (our engine, `tcp=ioth`).
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_pair());
