//! The socket behaviour suite on two smoltcp stacks with smoltcp's own TCP (`tcp=smoltcp`),
//! linked, on an embedded hub.
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_pair_with("tcp=smoltcp"));
