//! The socket behaviour suite on the kernel backend linked into the program.
ioth_tests::socket_suite!(ioth_tests::fixtures::kernel_linked());
