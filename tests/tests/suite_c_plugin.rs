//! The socket behaviour suite on a plugin written in C to libioth's ABI (built by the test).
ioth_tests::socket_suite!(ioth_tests::fixtures::c_plugin());
